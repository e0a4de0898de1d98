// Package secureconv is the login module of WS-SecureConversation
// application messages (configuration type "secure_conversation"): it
// accepts a message signed with the key of a security context that the
// STS (package sts) issued, and authenticates it as the Subject the context
// is bound to.
//
// Two profiles are accepted:
//
//   - M: the signature's KeyInfo names a wsc:DerivedKeyToken whose source
//     is the context (by the #wsu:Id of its SecurityContextToken in the
//     header, or by Identifier); the signature must cover the Body and the
//     Timestamp (WSS4J, CXF's symmetric binding, IRIS).
//   - T: the signature's KeyInfo names the SecurityContextToken and its
//     secret is the HMAC key (WCF TransportWithMessageCredential); it must
//     cover the Timestamp, and is accepted only when the request came over
//     a confidential channel (Request.Secure), or when Config.AllowInsecure
//     is set for a demo.
//
// Every message needs a Timestamp, fresh (wsse.CheckTimestamp with MaxAge
// and FutureSkew) and signed. The SignatureValue is spent in the replay
// cache as soon as its MAC matched (dsig.MACVerifiedHook), until the
// message can no longer be accepted: the signed Timestamp's Expires or
// Created + MaxAge, whichever comes first.
//
// The context is looked up in the sct.Store under the configured issuer. A
// context the store does not hold (never issued, another issuer's, past its
// renew grace) or holds cancelled is wsc:BadContextToken; one past its
// Expires but within its renew grace is wsc:RenewNeeded once the MAC
// matched (only a holder of the key learns it), except for a Renew RST
// (action {wst}/RST/SCT/Renew or /RST/Renew), which must be
// signed with the expired context (the server must hand every request that
// sts.Classify calls an RST to the STS and never forward it upstream or
// answer it with the Subject; Used.Expired marks such an acceptance). A
// store that cannot answer is a
// technical failure wrapping health.ErrUnavailable: the chain fails closed
// (503).
//
// # Faults
//
// Rejections about the context are *authn.Fault whose Err is the
// *wstrust.Fault with the WS-SC code (wsc:BadContextToken, wsc:RenewNeeded,
// wsc:UnknownDerivationSource). A fault renderer finds it with
//
//	var wf *wstrust.Fault
//	if errors.As(fault, &wf) { /* write {wf.Namespace}wf.Local, wf.FaultString() */ }
//
// and authn.Fault.Code holds the nearest WS-Security code for a renderer
// that does not look (BadContextToken: InvalidSecurityToken, RenewNeeded:
// MessageExpired, UnknownDerivationSource: SecurityTokenUnavailable).
// Problems of the signature itself (a MAC that does not match, a digest
// that does not, an unsigned Body) are WS-Security faults, as for every
// other signed message.
//
// # Subject
//
// The Subject is the context's: Principal, Realm, Groups and Attributes as
// they were when it was issued; Method is "SecureConversation", TokenType
// "DerivedKeyToken" (profile M) or "SecurityContextToken" (profile T), and
// the attribute "bootstrap_method" keeps the Method of the credential that
// obtained the context (e.g. "UsernameToken", "Kerberos"). The context used
// is left in Request.Shared under SharedKey (a *Used) so that the STS can
// check that a Renew or Cancel is signed with the context it names.
//
// Processed: the SecurityContextToken(s) of the context, the
// DerivedKeyToken the signature used, the Signature and the Timestamp.
package secureconv

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/dsig"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// Type is the module's type name in the configuration.
const Type = "secure_conversation"

// Values in the Subject.
const (
	// Method is Subject.Method of a message authenticated by a context.
	Method = "SecureConversation"
	// TokenTypeDerivedKey and TokenTypeContext are Subject.TokenType for
	// profiles M and T.
	TokenTypeDerivedKey = "DerivedKeyToken"
	TokenTypeContext    = "SecurityContextToken"
	// AttrBootstrapMethod is the attribute that keeps the Method of the
	// credential the context was issued for.
	AttrBootstrapMethod = "bootstrap_method"
)

// SharedKey is the Request.Shared key under which a successful Login
// leaves the *Used context.
const SharedKey = "secureconv.context"

// Profile is how a message was signed.
type Profile string

// The profiles.
const (
	ProfileM Profile = "M" // a DerivedKeyToken over the context
	ProfileT Profile = "T" // the context's secret itself
)

// Used is the context a message was signed with.
type Used struct {
	// Context is the context as the store returned it (its Key
	// included: do not log it).
	Context *sct.Context
	// Version is the WS-SC version of the tokens in the message.
	Version *wstrust.Version
	Profile Profile
	// Expired reports that the context's Expires had passed (a Renew
	// within the renew grace).
	Expired bool
}

// UsedBy returns the context that authenticated req, or nil.
func UsedBy(req *authn.Request) *Used {
	u, _ := req.Shared[SharedKey].(*Used)
	return u
}

// Defaults of Config.
const (
	DefaultMaxAge     = 5 * time.Minute
	DefaultFutureSkew = 60 * time.Second
)

// Config configures the module, as a chain entry:
//
//	chain:
//	  - name: contexts
//	    type: secure_conversation
//	    flag: sufficient
//	    issuer: "https://authsvc.example.org/sts"   # the STS's issuer
//	    max_age: 5m
//	    future_skew: 60s
//	    allow_insecure: false
type Config struct {
	// Issuer is the STS's issuer (sts.Config.Issuer): only its contexts
	// are looked up.
	Issuer string `yaml:"issuer"`
	// MaxAge bounds the age of the Timestamp's Created (default 5m);
	// FutureSkew how far ahead of our clock it may be (default 60s).
	MaxAge     time.Duration `yaml:"max_age"`
	FutureSkew time.Duration `yaml:"future_skew"`
	// AllowInsecure accepts profile T (the context's secret signing only
	// the Timestamp) over a channel that is not confidential. For demos
	// only: over plain HTTP anyone who sees the message can alter its
	// unsigned Body.
	AllowInsecure bool `yaml:"allow_insecure"`

	// Store holds the contexts (the STS's); Replay records signature
	// values. Both are required; they are wired, not configured here.
	Store  sct.Store    `yaml:"-"`
	Replay replay.Cache `yaml:"-"`
	// Signed bounds the envelopes whose signatures are verified (zero
	// fields: dsig's defaults); wired from limits.max_signed_bytes.
	Signed dsig.Limits `yaml:"-"`
}

// Validate checks the configured values (not Store and Replay) and fills in
// defaults. Errors name the yaml key.
func (c *Config) Validate() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("secure_conversation: issuer is required (the STS's issuer)"))
	} else if len(c.Issuer) > sct.MaxIssuerLen {
		errs = append(errs, fmt.Errorf("secure_conversation: issuer is longer than %d bytes", sct.MaxIssuerLen))
	}
	if c.MaxAge < 0 {
		errs = append(errs, errors.New("secure_conversation: max_age must not be negative"))
	}
	if c.FutureSkew < 0 {
		errs = append(errs, errors.New("secure_conversation: future_skew must not be negative"))
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.FutureSkew == 0 {
		c.FutureSkew = DefaultFutureSkew
	}
	return errors.Join(errs...)
}

// Module is the secure-conversation login module.
type Module struct {
	cfg Config
}

var _ authn.Module = (*Module)(nil)

// New validates cfg and returns the module.
func New(cfg Config) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		return nil, errors.New("secure_conversation: a security-context store is required")
	}
	if cfg.Replay == nil {
		return nil, errors.New("secure_conversation: a replay cache is required")
	}
	return &Module{cfg: cfg}, nil
}

// isSC reports whether a Security header child is a token of WS-SC.
func isSC(e *wsse.Element) bool {
	if e.Local != "SecurityContextToken" && e.Local != "DerivedKeyToken" {
		return false
	}
	for _, v := range wstrust.Versions {
		if e.Space == v.SC {
			return true
		}
	}
	return false
}

// Login implements authn.Module.
func (m *Module) Login(ctx context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
	sec := req.Security()
	if !hasSC(sec) {
		return false, authn.ErrUnsupported
	}
	if !dsig.HasSignature(sec) {
		return false, authn.Reject(wsse.InvalidSecurity, "a SecurityContextToken or DerivedKeyToken without a Signature proves nothing")
	}
	ts := sec.Timestamp
	until, err := m.fresh(ts, req.Now)
	if err != nil {
		return false, err
	}
	r := m.resolver(req, until)
	res, err := dsig.Verify(ctx, req.Envelope, r, &m.cfg.Signed)
	if err != nil {
		return false, m.verifyError(r, err)
	}
	c := r.Context
	if c == nil { // a resolver that returned a key has a context
		return false, authn.Reject(wsse.InvalidSecurity, "signature verified without a security context")
	}
	profile, typ, keyTok := ProfileT, TokenTypeContext, res.KeyInfo.Token
	if r.DKT != nil {
		profile, typ = ProfileM, TokenTypeDerivedKey
	}
	who := fmt.Sprintf("context %s of %q (profile %s)", c.Identifier, c.Subject.Principal, profile)
	expired := c.Expired(req.Now)
	if expired && !isRenew(req) {
		f := wstrust.NewFault(r.Version, wstrust.RenewNeeded, fmt.Sprintf("%s expired at %s (the store keeps it for renewal until %s)",
			who, c.Expires.UTC().Format(time.RFC3339), c.Retention().UTC().Format(time.RFC3339)))
		return false, scFault(f)
	}
	switch {
	case !res.TimestampSigned:
		return false, authn.Reject(wsse.InvalidSecurity, "%s: the signature does not cover the Timestamp", who)
	case profile == ProfileM && !res.BodySigned:
		return false, authn.Reject(wsse.InvalidSecurity, "%s: the signature does not cover the Body", who)
	}
	fillSubject(s, &c.Subject, typ)
	markProcessed(req, res, keyTok, c.Identifier)
	req.SetShared(SharedKey, &Used{Context: c, Version: r.Version, Profile: profile, Expired: expired})
	return true, nil
}

// hasSC reports whether the Security header holds a WS-SC token.
func hasSC(sec *wsse.Security) bool {
	if sec == nil {
		return false
	}
	for i := range sec.Elements {
		if isSC(&sec.Elements[i]) {
			return true
		}
	}
	return false
}

// fresh checks the message's Timestamp, which it must have, and returns
// until when the message could be accepted again: its replay record lasts
// that long.
func (m *Module) fresh(ts *wsse.Timestamp, now time.Time) (time.Time, error) {
	if ts == nil {
		return time.Time{}, authn.Reject(wsse.InvalidSecurity, "a message signed with a security context needs a signed Timestamp; there is none")
	}
	if err := wsse.CheckTimestamp(ts, now, m.cfg.MaxAge, m.cfg.FutureSkew); err != nil {
		var we *wsse.Error
		if errors.As(err, &we) {
			return time.Time{}, &authn.Fault{Code: we.Code, Reason: "Timestamp: " + we.Reason, Err: err}
		}
		return time.Time{}, authn.Reject(wsse.InvalidSecurity, "Timestamp: %v", err).Wrap(err)
	}
	created, _ := wsse.ParseTime(ts.Created) // CheckTimestamp parsed it
	until := created.Add(m.cfg.MaxAge)
	if ts.Expires != "" {
		if exp, err := wsse.ParseTime(ts.Expires); err == nil && exp.Before(until) {
			until = exp
		}
	}
	return until.Add(time.Second), nil
}

// resolver finds the key of the message's signature in the store and
// spends the SignatureValue in the replay cache, until until, once its MAC
// matched.
//
// An expired context (within its renew grace) is let through the resolver
// and refused by Login after its MAC matched, unless the message is a
// Renew: only a holder of the key learns that the context needs renewing,
// and the action is read only then.
func (m *Module) resolver(req *authn.Request, until time.Time) *wstrust.Resolver {
	r := &wstrust.Resolver{
		Env:          req.Envelope,
		Now:          req.Now,
		Direct:       req.Secure || m.cfg.AllowInsecure,
		AllowExpired: true,
		Lookup: func(ctx context.Context, identifier string) (*sct.Context, error) {
			return m.cfg.Store.Get(ctx, m.cfg.Issuer, identifier)
		},
	}
	r.Spend = func(ctx context.Context, value []byte) error {
		owner := replay.Owner{Address: req.Client}
		if r.Context != nil {
			owner.Principal = r.Context.Subject.Principal
		}
		err := replay.AddFor(ctx, m.cfg.Replay, "sc-dsig:"+base64.StdEncoding.EncodeToString(value), until, owner)
		switch {
		case errors.Is(err, replay.ErrReplay):
			return authn.Reject(wsse.InvalidSecurity, "replayed message: its SignatureValue was seen before").Wrap(err)
		case err != nil:
			return unavailable("replay cache", err)
		}
		return nil
	}
	return r
}

// fillSubject makes s the context's Subject, authenticated by a token of
// type typ; the method that bootstrapped the context becomes the
// bootstrap_method attribute.
func fillSubject(s *authn.Subject, cs *sct.Subject, typ string) {
	s.Principal = cs.Principal
	s.Realm = cs.Realm
	s.Method = Method
	s.TokenType = typ
	s.Groups = nil
	s.AddGroups(cs.Groups...)
	for k, vs := range cs.Attributes {
		if k == AttrBootstrapMethod {
			continue
		}
		s.AddAttribute(k, vs...)
	}
	if cs.Method != "" {
		if s.Attributes != nil {
			delete(s.Attributes, AttrBootstrapMethod)
		}
		s.AddAttribute(AttrBootstrapMethod, cs.Method)
	}
}

// markProcessed marks what Login verified: the signature, its key's
// token, the Timestamp, and every SCT of the context identifier in the
// header.
func markProcessed(req *authn.Request, res *dsig.Result, keyTok *wsse.Element, identifier string) {
	sec := req.Security()
	req.MarkProcessedAt(res.Signature.Start)
	req.MarkProcessedAt(sec.Timestamp.Start)
	if keyTok != nil {
		req.MarkProcessedAt(keyTok.Start)
	}
	ns := sec.Namespaces()
	for i := range sec.Elements {
		e := &sec.Elements[i]
		if e.Local != "SecurityContextToken" || !isSC(e) || req.Processed(i) {
			continue
		}
		if t, err := wstrust.ParseSCT(req.Envelope.Raw[e.Start:e.End], ns, nil); err == nil && t.Identifier == identifier {
			req.MarkProcessed(i)
		}
	}
}

// isRenew reports whether req is a Renew RST by its action.
func isRenew(req *authn.Request) bool {
	action, err := wstrust.Action(req.Envelope, header(req, "Content-Type"), header(req, "Soapaction"))
	if err != nil {
		return false
	}
	_, kind := wstrust.Classify(action)
	return kind == wstrust.Renew
}

// header reads a request header, "" when the request carries none.
func header(req *authn.Request, name string) string {
	if req.Header == nil {
		return ""
	}
	return req.Header(name)
}

// verifyError turns an error of dsig.Verify into the module's answer.
func (m *Module) verifyError(r *wstrust.Resolver, err error) error {
	var (
		wf *wstrust.Fault
		af *authn.Fault
		de *dsig.Error
	)
	switch {
	case errors.As(err, &af):
		return err
	case errors.As(err, &wf):
		return scFault(wf)
	case errors.Is(err, dsig.ErrSignatureMismatch):
		what := "the security context's key"
		if r.Context != nil {
			what = "the key of context " + r.Context.Identifier
		}
		return authn.Reject(wsse.FailedCheck, "the SignatureValue does not match SignedInfo under %s (another key, or SignedInfo altered)", what).Wrap(err)
	case errors.As(err, &de):
		return &authn.Fault{Code: de.Code, Reason: "signature: " + de.Reason, Err: err}
	}
	return unavailable("security-context store", err)
}

// unavailable wraps a technical failure so that it is health.ErrUnavailable.
func unavailable(what string, err error) error {
	if errors.Is(err, health.ErrUnavailable) {
		return fmt.Errorf("secure_conversation: %s: %w", what, err)
	}
	return fmt.Errorf("secure_conversation: %s: %w: %w", what, health.ErrUnavailable, err)
}

// scFault is the chain's fault for a WS-SecureConversation or WS-Trust
// fault: its code in its own namespace (the server renders wsc:BadContextToken
// as such), the reason for the log, and the typed fault as its cause.
func scFault(f *wstrust.Fault) *authn.Fault {
	return &authn.Fault{Namespace: f.Namespace, Code: wsse.FaultCode(f.Local), Reason: f.Reason, Err: f}
}

// Open implements the chain entry type secure_conversation (config's type
// table): the module over the top-level secure_conversation section's
// store (env.Contexts) and the shared replay cache.
func (c *Config) Open(env *modenv.Env) (authn.Module, error) {
	if env.Contexts == nil {
		return nil, errors.New("secure_conversation: no security-context store: configure the top-level secure_conversation section")
	}
	cfg := *c
	cfg.Store, cfg.Replay = env.Contexts, env.Replay
	cfg.Signed.MaxBytes = int(env.MaxSignedBytes)
	return New(cfg)
}
