package wstrust

import (
	"context"
	"errors"
	"time"

	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/dsig"
)

// Lookup returns the context with the given Identifier, with the errors of
// sct.Store.Get (sct.ErrNotFound, sct.ErrCancelled, or a technical error):
// a context within its renew grace comes back with Expires in the past. The
// caller binds it to its issuer.
type Lookup func(ctx context.Context, identifier string) (*sct.Context, error)

// Resolver is a dsig.KeyResolver for signatures made with a security
// context's key: profile M, the signature's KeyInfo names a
// DerivedKeyToken in the Security header whose reference names the context
// (by the #wsu:Id of an SCT in the header or by Identifier); profile T, the
// KeyInfo names the SCT itself, in the header by #wsu:Id or by its
// Identifier URI, and its secret is the key (only when Direct is set: WCF's
// TransportWithMessageCredential, on a secure channel).
//
// After a successful ResolveKey, Context, SCT and DKT say which context and
// tokens the key came from (SCT is nil when the KeyInfo named the context
// by its Identifier), Version the WS-SC version of the reference; the caller takes the Subject from Context once
// dsig.Verify succeeded. A Resolver serves one message.
type Resolver struct {
	// Env is the envelope whose signature is verified.
	Env *wsse.Envelope
	// Lookup finds contexts.
	Lookup Lookup
	// Now is the time against which the context's expiry is checked.
	Now time.Time
	// Direct allows profile T: the SCT's secret itself as the MAC key.
	Direct bool
	// AllowExpired accepts a context whose Expires has passed but that the
	// store still holds (within its renew grace): set it for a Renew RST
	// only, which must be signed with the expired context. Without it
	// such a context is refused with wsc:RenewNeeded.
	AllowExpired bool
	// Spend, when set, is called by MACVerified (dsig.MACVerifiedHook) with
	// the signature value once the MAC matched: record it in a replay cache
	// there.
	Spend func(ctx context.Context, signatureValue []byte) error
	// Limits bound the parsing of the tokens (nil: DefaultLimits).
	Limits *Limits

	Context *sct.Context
	SCT     *SCT
	DKT     *DerivedKeyToken
	Version *Version
}

var (
	_ dsig.KeyResolver     = (*Resolver)(nil)
	_ dsig.MACVerifiedHook = (*Resolver)(nil)
)

// ResolveKey implements dsig.KeyResolver. Errors are *Fault, except the
// Lookup's technical errors, which are returned wrapped as they are.
func (r *Resolver) ResolveKey(ctx context.Context, ki *dsig.KeyInfo) ([]byte, error) {
	sec := r.Env.Security
	tok := ki.Token
	if sec != nil && tok == nil && ki.URI != "" {
		return r.byIdentifier(ctx, ki)
	}
	if sec == nil || tok == nil {
		return nil, scFault(nil, UnknownDerivationSource, "the signature's key names no token")
	}
	defer func() {
		if r.Version == nil {
			r.Version = versionOfSC(tok.Space)
		}
	}()
	ns := sec.Namespaces()
	raw := r.Env.Raw[tok.Start:tok.End]
	switch {
	case tok.Local == "DerivedKeyToken" && versionOfSC(tok.Space) != nil:
		v := versionOfSC(tok.Space)
		if ki.ValueType != "" && ki.ValueType != v.TokenTypeDK() {
			return nil, scFault(v, UnknownDerivationSource, "reference to DerivedKeyToken %q with ValueType %q", ki.URI, ki.ValueType)
		}
		dkt, err := ParseDerivedKeyToken(raw, ns, r.Limits)
		if err != nil {
			return nil, err
		}
		r.DKT = dkt
		identifier := dkt.Ref.Identifier
		if dkt.Ref.Local() {
			el := findByID(sec, dkt.Ref.ID)
			if el == nil || el.Local != "SecurityContextToken" || el.Space != v.SC {
				return nil, scFault(v, UnknownDerivationSource, "DerivedKeyToken %q: reference %q names no SecurityContextToken of version %s in the Security header", dkt.ID, dkt.Ref.URI, v)
			}
			t, err := ParseSCT(r.Env.Raw[el.Start:el.End], ns, r.Limits)
			if err != nil {
				return nil, err
			}
			r.SCT, identifier = t, t.Identifier
		}
		c, err := r.context(ctx, v, identifier)
		if err != nil {
			return nil, err
		}
		return dkt.Derive(c.Key), nil
	case tok.Local == "SecurityContextToken" && versionOfSC(tok.Space) != nil:
		v := versionOfSC(tok.Space)
		if !r.Direct {
			return nil, scFault(v, BadContextToken, "a signature made with the SecurityContextToken's key itself is accepted on a secure channel only")
		}
		if ki.ValueType != "" && ki.ValueType != v.TokenTypeSCT() {
			return nil, scFault(v, BadContextToken, "reference to SecurityContextToken %q with ValueType %q", ki.URI, ki.ValueType)
		}
		t, err := ParseSCT(raw, ns, r.Limits)
		if err != nil {
			return nil, err
		}
		r.SCT = t
		c, err := r.context(ctx, v, t.Identifier)
		if err != nil {
			return nil, err
		}
		return c.Key, nil
	}
	return nil, scFault(nil, UnknownDerivationSource, "the signature's key is a {%s}%s, not a DerivedKeyToken or SecurityContextToken", tok.Space, tok.Local)
}

// context looks the context up and checks that it is live, of the SCT's
// instance when the message carries the SCT.
// byIdentifier resolves profile T with the KeyInfo naming the context by
// its Identifier URI (no token in the message to read it from): the
// ValueType, when present, must be the SCT token type of a version; the
// version is otherwise that of the WS-SC tokens in the header, or 1.3.
func (r *Resolver) byIdentifier(ctx context.Context, ki *dsig.KeyInfo) ([]byte, error) {
	var v *Version
	for _, cand := range Versions {
		if ki.ValueType == cand.TokenTypeSCT() {
			v = cand
		}
	}
	if v == nil && ki.ValueType != "" {
		return nil, scFault(nil, UnknownDerivationSource, "the signature's key %q has ValueType %q, not a SecurityContextToken's", ki.URI, ki.ValueType)
	}
	if v == nil {
		v = V13
		for _, e := range r.Env.Security.Elements {
			if sv := versionOfSC(e.Space); sv != nil {
				v = sv
				break
			}
		}
	}
	r.Version = v
	if !r.Direct {
		return nil, scFault(v, BadContextToken, "a signature made with the SecurityContextToken's key itself is accepted on a secure channel only")
	}
	c, err := r.context(ctx, v, ki.URI)
	if err != nil {
		return nil, err
	}
	return c.Key, nil
}

func (r *Resolver) context(ctx context.Context, v *Version, identifier string) (*sct.Context, error) {
	c, err := r.Lookup(ctx, identifier)
	switch {
	case errors.Is(err, sct.ErrNotFound):
		return nil, &Fault{Version: v, Namespace: v.SC, Local: BadContextToken, Reason: "context " + identifier + " unknown, of another issuer, or expired past its renew grace", Err: err}
	case errors.Is(err, sct.ErrCancelled):
		return nil, &Fault{Version: v, Namespace: v.SC, Local: BadContextToken, Reason: "context " + identifier + " was cancelled", Err: err}
	case err != nil:
		return nil, err
	case c == nil || len(c.Key) == 0:
		return nil, scFault(v, BadContextToken, "context %s has no key", identifier)
	}
	if !r.Now.Before(c.Expires) && !r.AllowExpired {
		return nil, scFault(v, RenewNeeded, "context %s expired at %s (the store keeps it for renewal until %s)", identifier,
			c.Expires.UTC().Format(time.RFC3339), c.Retention().UTC().Format(time.RFC3339))
	}
	if r.SCT != nil && r.SCT.Instance != "" && r.SCT.Instance != c.Instance {
		return nil, scFault(v, BadContextToken, "context %s: instance %q was replaced by a renewal", identifier, r.SCT.Instance)
	}
	r.Context = c
	return c, nil
}

// MACVerified implements dsig.MACVerifiedHook with Spend.
func (r *Resolver) MACVerified(ctx context.Context, signatureValue []byte) error {
	if r.Spend == nil {
		return nil
	}
	return r.Spend(ctx, signatureValue)
}

// findByID returns the Security header child with wsu:Id id.
func findByID(sec *wsse.Security, id string) *wsse.Element {
	for i := range sec.Elements {
		if sec.Elements[i].ID == id {
			return &sec.Elements[i]
		}
	}
	return nil
}

// FindSCT returns the SecurityContextToken with wsu:Id id among the Security
// header's children of env, for a CancelTarget or RenewTarget that names it
// by "#id". Errors are *Fault (BadContextToken).
func FindSCT(env *wsse.Envelope, id string, lim *Limits) (*SCT, error) {
	if env == nil || env.Security == nil {
		return nil, scFault(nil, BadContextToken, "no Security header holds SecurityContextToken %q", id)
	}
	el := findByID(env.Security, id)
	if el == nil || el.Local != "SecurityContextToken" || versionOfSC(el.Space) == nil {
		return nil, scFault(nil, BadContextToken, "no SecurityContextToken with wsu:Id %q in the Security header", id)
	}
	return ParseSCT(env.Raw[el.Start:el.End], env.Security.Namespaces(), lim)
}
