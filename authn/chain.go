package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authsvc/authsvc/wsse"
)

// Flag is a JAAS control flag.
//
// The chain runs its entries in order. Each module's login ends in one of
// three outcomes: success, failure (a rejection or a technical error), or
// ignored (no credential of the module's kind in the request). The flags
// decide what happens next:
//
//	flag        on success                         on failure                 when ignored
//	----------  ---------------------------------  -------------------------  --------------------
//	required    continue                           remember failure, continue  = failure
//	requisite   continue                           stop: chain fails           = failure
//	sufficient  stop: chain succeeds, unless an     continue                   continue
//	            earlier required/requisite failed
//	            (then continue)
//	optional    continue                           continue                   continue
//
// At the end of the list the chain succeeds when every required and
// requisite entry succeeded and, if there is none, when at least one
// sufficient or optional entry succeeded. A successful chain must have a
// principal; a module that only enriches (groups from a directory) cannot
// authenticate anyone on its own. And it must leave no child of the
// request's Security header unprocessed: every child must have been marked
// (Request.MarkProcessed) by a module that succeeded, or be of a type given
// to WithPassThrough; otherwise the chain fails with InvalidSecurity (a
// signature or encryption nobody verified) or UnsupportedSecurityToken
// (anything else). Marks of a module that did not succeed are discarded.
//
// One deliberate difference from JAAS: JAAS ignores a required module whose
// login returns false, so a chain of "username required, kerberos optional"
// lets a Kerberos-only request through without any UsernameToken. Here a
// required or requisite module that finds no credential of its kind fails,
// because what an operator marks required must have been satisfied.
//
// The fault a failed chain returns is the first failure of a required or
// requisite entry; without one, a technical failure of any entry (so the
// client retries instead of hearing "wrong password" while a directory is
// down), else the first rejection, else the fault of the first required or
// requisite entry that found no credential, else UnsupportedSecurityToken
// (or InvalidSecurity when the request has no Security header at all). A
// required entry that found no credential thus does not hide another
// module's rejection: with "password optional, enrich required", a wrong
// password is FailedAuthentication, not "the required module found no
// credential".
type Flag int

// The control flags.
const (
	Required Flag = iota + 1
	Requisite
	Sufficient
	Optional
)

func (f Flag) String() string {
	switch f {
	case Required:
		return "required"
	case Requisite:
		return "requisite"
	case Sufficient:
		return "sufficient"
	case Optional:
		return "optional"
	}
	return fmt.Sprintf("Flag(%d)", int(f))
}

// ParseFlag parses a flag name as written in the configuration.
func ParseFlag(s string) (Flag, error) {
	switch strings.ToLower(s) {
	case "required":
		return Required, nil
	case "requisite":
		return Requisite, nil
	case "sufficient":
		return Sufficient, nil
	case "optional":
		return Optional, nil
	}
	return 0, fmt.Errorf("authn: unknown control flag %q (want required, requisite, sufficient or optional)", s)
}

// Entry is one module in a chain.
type Entry struct {
	Name   string
	Flag   Flag
	Module Module
}

// Outcome is what one entry's login came to.
type Outcome int

// Outcomes of a login.
const (
	Succeeded Outcome = iota
	Rejected
	Errored
	Ignored
)

func (o Outcome) String() string {
	return [...]string{"success", "rejected", "error", "ignored"}[o]
}

// Challenger is an optional interface for modules that can ask a client
// without credentials for one (HTTP Negotiate's WWW-Authenticate).
type Challenger interface {
	Challenge() string
}

// Chain runs login modules under JAAS control flags. It is immutable once
// built and safe for concurrent use.
type Chain struct {
	entries []Entry
	// Observe, when set, is told each entry's outcome and how long its
	// login took (for metrics).
	observe func(entry string, o Outcome, err error, d time.Duration)
	// passThrough are the Security header element types that may stay
	// unprocessed (an upstream verifies them).
	passThrough []QName
	// timestamp, when set, is the policy of the Timestamp pre-step.
	timestamp *TimestampPolicy
}

// NewChain checks the entries and builds a chain.
func NewChain(entries ...Entry) (*Chain, error) {
	if len(entries) == 0 {
		return nil, errors.New("authn: a chain needs at least one module")
	}
	seen := make(map[string]bool, len(entries))
	for i, e := range entries {
		if e.Name == "" {
			return nil, fmt.Errorf("authn: chain entry %d has no name", i)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("authn: two chain entries are named %q", e.Name)
		}
		seen[e.Name] = true
		if e.Flag < Required || e.Flag > Optional {
			return nil, fmt.Errorf("authn: chain entry %q has no valid control flag", e.Name)
		}
		if e.Module == nil {
			return nil, fmt.Errorf("authn: chain entry %q has no module", e.Name)
		}
	}
	return &Chain{entries: append([]Entry(nil), entries...)}, nil
}

// WithObserver returns a copy of the chain that reports every entry's
// outcome and the duration of its login to fn.
func (c *Chain) WithObserver(fn func(entry string, o Outcome, err error, d time.Duration)) *Chain {
	c2 := *c
	c2.observe = fn
	return &c2
}

// WithPassThrough returns a copy of the chain that lets Security header
// children of the named types through when no module processed them (an
// upstream verifies them itself). Without it, a successful chain still
// fails when the request's Security header holds a child that no module
// marked processed (see MarkProcessed): InvalidSecurity for a signature or
// encryption, UnsupportedSecurityToken for anything else.
func (c *Chain) WithPassThrough(names ...QName) *Chain {
	c2 := *c
	c2.passThrough = append([]QName(nil), names...)
	return &c2
}

// TimestampPolicy says how the Security header's wsu:Timestamp is checked.
type TimestampPolicy struct {
	// Required rejects messages without a Timestamp.
	Required bool
	// MaxAge is how old Created may be (0: only Expires limits it).
	MaxAge time.Duration
	// FutureSkew is how far ahead Created may be (default 60 s).
	FutureSkew time.Duration
}

// WithTimestamp returns a copy of the chain that checks the freshness of the
// Security header's wsu:Timestamp under p before any module runs (a
// pre-step, see Precheck), and marks the Timestamp processed when it
// passes. A request without a SOAP envelope (HTTP Negotiate) has no
// Timestamp to check.
func (c *Chain) WithTimestamp(p TimestampPolicy) *Chain {
	if p.FutureSkew == 0 {
		p.FutureSkew = 60 * time.Second
	}
	c2 := *c
	c2.timestamp = &p
	return &c2
}

// Precheck runs the chain's pre-steps on req (the Timestamp freshness
// check, see WithTimestamp) and returns their *Fault, if any. Authenticate
// runs them itself unless a Precheck of req passed already: a caller that
// must refuse a stale message before doing other work (the server consults
// the brute-force store) calls Precheck first.
func (c *Chain) Precheck(req *Request) error {
	if req.prechecked {
		return nil
	}
	if f := c.checkTimestamp(req); f != nil {
		return f
	}
	req.prechecked = true
	return nil
}

// checkTimestamp is the Timestamp pre-step.
func (c *Chain) checkTimestamp(req *Request) *Fault {
	p := c.timestamp
	if p == nil || req.Envelope == nil {
		return nil
	}
	sec := req.Envelope.Security
	if sec == nil || sec.Timestamp == nil {
		if p.Required {
			return Reject(wsse.InvalidSecurity, "no Timestamp in the Security header and the policy requires one")
		}
		return nil
	}
	if err := wsse.CheckTimestamp(sec.Timestamp, req.Now, p.MaxAge, p.FutureSkew); err != nil {
		return AsFault(err)
	}
	req.MarkProcessedAt(sec.Timestamp.Start)
	return nil
}

// PassThrough returns the element types set by WithPassThrough.
func (c *Chain) PassThrough() []QName { return append([]QName(nil), c.passThrough...) }

// Entries returns the chain's entries in order.
func (c *Chain) Entries() []Entry { return append([]Entry(nil), c.entries...) }

// subjectBuf holds a Subject and room for the names of the modules that
// succeed, in one allocation.
type subjectBuf struct {
	s       Subject
	modules [2]string
}

// Authenticate runs the chain. It returns the Subject, or a *Fault.
//
// It runs the pre-steps first (Precheck, unless the caller did), then each
// entry in order: run classifies the entry's outcome, decide applies the
// flag table to it, and finish turns the tally into the Subject or the
// fault.
func (c *Chain) Authenticate(ctx context.Context, req *Request) (*Subject, error) {
	if err := c.Precheck(req); err != nil {
		return nil, err
	}
	buf := &subjectBuf{}
	s := &buf.s
	s.Modules = buf.modules[:0]
	var t tally
	var fs faults
	for _, e := range c.entries {
		if err := ctx.Err(); err != nil {
			return nil, &Fault{Code: wsse.SecurityTokenUnavailable, Reason: "request abandoned", Temporary: true, Err: err}
		}
		r := c.run(ctx, e, req, s)
		fs.note(e.Flag, r)
		var stop bool
		if t, stop = decide(t, e.Flag, r.outcome); stop {
			break
		}
	}
	return c.finish(req, s, t, &fs)
}

// entryResult is one entry's login, classified.
type entryResult struct {
	outcome Outcome
	// fault is the failure's fault (nil on success), naming the entry.
	fault *Fault
	// challenge is the module's HTTP challenge when it found no credential
	// (authn.Challenger), "" otherwise.
	challenge string
	// missing: a required or requisite entry found no credential (its
	// failure is the flag's, not the module's).
	missing bool
}

// run runs one entry's login and classifies its outcome. A module that did
// not succeed leaves no trace: its changes to the Subject and its marks on
// the request are undone. A required or requisite module that found no
// credential of its kind is a rejection. The observer sees the outcome the
// module gave, before that last rule.
func (c *Chain) run(ctx context.Context, e Entry, req *Request, s *Subject) entryResult {
	saved := s.clone()
	marks := len(req.processed)
	var started time.Time
	if c.observe != nil {
		started = time.Now()
	}
	ok, err := e.Module.Login(ctx, req, s)
	r := classify(ok, err)
	if r.outcome == Succeeded {
		s.Modules = append(s.Modules, e.Name)
	} else {
		*s = saved
		// A module that did not succeed processed nothing.
		req.processed = req.processed[:marks]
	}
	if r.fault != nil {
		r.fault.Module = e.Name
	}
	if c.observe != nil {
		oerr := err
		if oerr == nil && r.fault != nil {
			oerr = r.fault // a plain false: the observer sees why
		}
		c.observe(e.Name, r.outcome, oerr, time.Since(started))
	}
	if r.outcome != Ignored {
		return r
	}
	ch, isCh := e.Module.(Challenger)
	if isCh {
		r.challenge = ch.Challenge()
	}
	if e.Flag == Required || e.Flag == Requisite {
		r.outcome = Rejected
		r.missing = true
		r.fault = &Fault{Code: wsse.UnsupportedSecurityToken, Module: e.Name,
			Reason: "the " + e.Flag.String() + " module found no credential of its kind", Challenge: r.challenge}
		if req.Security() == nil {
			r.fault.Code = wsse.InvalidSecurity
		}
	}
	return r
}

// classify maps a module's answer to an outcome (see Module): success,
// ignored (ErrUnsupported), a rejection (false, or a *Fault that is not
// temporary), or a technical failure (any other error, and a temporary
// fault). The fault is a copy the chain may annotate.
func classify(ok bool, err error) entryResult {
	switch {
	case ok && err == nil:
		return entryResult{outcome: Succeeded}
	case errors.Is(err, ErrUnsupported):
		return entryResult{outcome: Ignored}
	case err == nil:
		return entryResult{outcome: Rejected, fault: &Fault{Code: wsse.FailedAuthentication, Reason: "rejected"}}
	}
	var f *Fault
	if errors.As(err, &f) && !f.Temporary {
		fc := *f
		return entryResult{outcome: Rejected, fault: &fc}
	}
	fc := *AsFault(err)
	fc.Temporary = true
	return entryResult{outcome: Errored, fault: &fc}
}

// tally is what the entries run so far came to, as far as the flag table
// is concerned.
type tally struct {
	failed     bool // a required or requisite entry did not succeed
	hasReqd    bool // a required or requisite entry ran
	optSuccess bool // a sufficient or optional entry succeeded
}

// decide is the flag table (see Flag): the tally after an entry with flag f
// came to outcome o, and whether the chain stops there. It is pure.
func decide(t tally, f Flag, o Outcome) (tally, bool) {
	ok := o == Succeeded
	switch f {
	case Required, Requisite:
		t.hasReqd = true
		if !ok {
			t.failed = true
			return t, f == Requisite
		}
	case Sufficient:
		if ok {
			t.optSuccess = true
			return t, !t.failed
		}
	case Optional:
		if ok {
			t.optSuccess = true
		}
	}
	return t, false
}

// succeeded reports whether a chain whose entries came to t succeeds: every
// required and requisite entry succeeded and, if there was none, at least
// one sufficient or optional entry did.
func (t tally) succeeded() bool { return !t.failed && (t.hasReqd || t.optSuccess) }

// faults are the candidates for the fault of a failed chain.
type faults struct {
	decisive  *Fault // first failure of a required/requisite entry
	technical *Fault // first technical failure
	rejection *Fault // first rejection
	missing   *Fault // first required/requisite entry that found no credential
	challenge string // first challenge of an ignored module
}

func (fs *faults) note(f Flag, r entryResult) {
	if fs.challenge == "" {
		fs.challenge = r.challenge
	}
	if r.missing {
		if fs.missing == nil {
			fs.missing = r.fault
		}
		return
	}
	switch r.outcome {
	case Succeeded:
		return
	case Rejected:
		if fs.rejection == nil {
			fs.rejection = r.fault
		}
	case Errored:
		if fs.technical == nil {
			fs.technical = r.fault
		}
	}
	if (f == Required || f == Requisite) && fs.decisive == nil {
		fs.decisive = r.fault
	}
}

// pick is the fault of a failed chain: the first failure of a required or
// requisite entry; else a technical failure (so the client retries instead
// of hearing "wrong password" while a directory is down); else the first
// rejection; else the first required or requisite entry that found no
// credential (a required enricher after optional logins that all failed
// must not hide their "wrong password" or "replayed" behind "no
// credential"); else no module found a credential.
func (fs *faults) pick(req *Request) *Fault {
	for _, f := range []*Fault{fs.decisive, fs.technical, fs.rejection, fs.missing} {
		if f != nil {
			return f
		}
	}
	f := &Fault{Code: wsse.UnsupportedSecurityToken, Reason: "no module found a credential it supports", Challenge: fs.challenge}
	if req.Security() == nil {
		f.Code = wsse.InvalidSecurity
		f.Reason = "no Security header and no other credential"
	}
	return f
}

// finish turns the tally into the answer. A successful chain must have a
// principal, and must have processed every element of the request's
// Security header (or pass it through): a signature or token nobody
// verified must not ride along.
func (c *Chain) finish(req *Request, s *Subject, t tally, fs *faults) (*Subject, error) {
	if !t.succeeded() {
		return nil, fs.pick(req)
	}
	if s.Principal == "" {
		return nil, &Fault{Code: wsse.FailedAuthentication, Reason: "the modules that succeeded established no principal"}
	}
	if f := checkProcessed(req, c.passThrough); f != nil {
		return nil, f
	}
	s.AuthTime = req.Now
	return s, nil
}
