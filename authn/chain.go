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
// down), else the first rejection, else UnsupportedSecurityToken (or
// InvalidSecurity when the request has no Security header at all).
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
func (c *Chain) Authenticate(ctx context.Context, req *Request) (*Subject, error) {
	buf := &subjectBuf{}
	s := &buf.s
	s.Modules = buf.modules[:0]
	var (
		decisive   *Fault // first failure of a required/requisite entry
		technical  *Fault
		rejection  *Fault
		hasReqd    bool
		optSuccess bool
		challenge  string
	)
	finish := func() (*Subject, error) {
		if decisive == nil && (hasReqd || optSuccess) {
			if s.Principal == "" {
				return nil, &Fault{Code: wsse.FailedAuthentication, Reason: "the modules that succeeded established no principal"}
			}
			// Every element of our Security header must have been
			// processed by a module that succeeded (or be passed through):
			// a signature or token nobody verified must not ride along.
			if f := checkProcessed(req, c.passThrough); f != nil {
				return nil, f
			}
			s.AuthTime = req.Now
			return s, nil
		}
		f := decisive
		if f == nil {
			f = technical
		}
		if f == nil {
			f = rejection
		}
		if f == nil {
			f = &Fault{Code: wsse.UnsupportedSecurityToken, Reason: "no module found a credential it supports"}
			if req.Security() == nil {
				f.Code = wsse.InvalidSecurity
				f.Reason = "no Security header and no other credential"
			}
			f.Challenge = challenge
		}
		return nil, f
	}

	for _, e := range c.entries {
		if err := ctx.Err(); err != nil {
			return nil, &Fault{Code: wsse.SecurityTokenUnavailable, Reason: "request abandoned", Temporary: true, Err: err}
		}
		saved := s.clone()
		marks := len(req.processed)
		var started time.Time
		if c.observe != nil {
			started = time.Now()
		}
		ok, err := e.Module.Login(ctx, req, s)
		var outcome Outcome
		var fault *Fault
		switch {
		case ok && err == nil:
			outcome = Succeeded
			s.Modules = append(s.Modules, e.Name)
		case errors.Is(err, ErrUnsupported):
			outcome = Ignored
			if ch, isCh := e.Module.(Challenger); isCh && challenge == "" {
				challenge = ch.Challenge()
			}
		default:
			if err == nil {
				err = &Fault{Code: wsse.FailedAuthentication, Reason: "rejected"}
			}
			var f *Fault
			if errors.As(err, &f) && !f.Temporary {
				outcome = Rejected
				fc := *f
				fault = &fc
			} else {
				outcome = Errored
				fault = AsFault(err)
				if !fault.Temporary {
					fc := *fault
					fc.Temporary = true
					fault = &fc
				}
			}
			fault.Module = e.Name
		}
		if outcome != Succeeded {
			*s = saved
			// A module that did not succeed processed nothing.
			req.processed = req.processed[:marks]
		}
		if c.observe != nil {
			c.observe(e.Name, outcome, err, time.Since(started))
		}
		if outcome == Ignored && (e.Flag == Required || e.Flag == Requisite) {
			outcome = Rejected
			fault = &Fault{Code: wsse.UnsupportedSecurityToken, Module: e.Name,
				Reason: "the " + e.Flag.String() + " module found no credential of its kind"}
			if req.Security() == nil {
				fault.Code = wsse.InvalidSecurity
			}
			if ch, isCh := e.Module.(Challenger); isCh {
				fault.Challenge = ch.Challenge()
			}
		}
		switch outcome {
		case Rejected:
			if rejection == nil {
				rejection = fault
			}
		case Errored:
			if technical == nil {
				technical = fault
			}
		}

		switch e.Flag {
		case Required, Requisite:
			hasReqd = true
			if outcome != Succeeded && decisive == nil {
				decisive = fault
			}
			if outcome != Succeeded && e.Flag == Requisite {
				return finish()
			}
		case Sufficient:
			if outcome == Succeeded {
				optSuccess = true
				if decisive == nil {
					return finish()
				}
			}
		case Optional:
			if outcome == Succeeded {
				optSuccess = true
			}
		}
	}
	return finish()
}
