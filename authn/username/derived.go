package username

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/dsig"
)

// TypeDerivedKey is the token type of a derived-key UsernameToken (Salt and
// Iteration instead of a Password) proven by a signature.
const TypeDerivedKey = "DerivedKey"

// Parts a derived-key signature can be required to cover (Policy.SignedParts).
const (
	PartBody          = "Body"
	PartTimestamp     = "Timestamp" // when the Security header has one
	PartUsernameToken = "UsernameToken"
)

// DefaultSignedParts is what a derived-key signature must cover when
// Policy.SignedParts is nil.
var DefaultSignedParts = []string{PartBody, PartTimestamp}

func (p *Policy) checkDerived() error {
	if !p.DerivedKey {
		return nil
	}
	if p.MinIterations == 0 {
		p.MinIterations = DefaultMinIterations
	}
	if p.MaxIterations == 0 {
		p.MaxIterations = DefaultMaxIterations
	}
	if p.MinIterations < 1 || p.MaxIterations < p.MinIterations {
		return fmt.Errorf("iterations must satisfy 1 <= min_iterations (%d) <= max_iterations (%d)", p.MinIterations, p.MaxIterations)
	}
	if p.SignedParts == nil {
		p.SignedParts = slices.Clone(DefaultSignedParts)
	}
	if len(p.SignedParts) == 0 {
		return errors.New("signed_parts is empty: a signature that covers nothing proves nothing about the message")
	}
	for _, s := range p.SignedParts {
		switch s {
		case PartBody, PartTimestamp, PartUsernameToken:
		default:
			return fmt.Errorf("signed_parts: unknown part %q (want %s, %s or %s)", s, PartBody, PartTimestamp, PartUsernameToken)
		}
	}
	return nil
}

// loginDerived authenticates a derived-key UsernameToken: the message must
// carry a signature made with the key derived from the user's secret, the
// token's Salt and Iteration, covering the parts the policy names; and it
// must be fresh through a signed Timestamp or a signed token with Nonce and
// Created. The signature value goes into the replay cache.
func (m *Module) loginDerived(ctx context.Context, req *authn.Request, s *authn.Subject, sec *wsse.Security, ut *wsse.UsernameToken) (bool, error) {
	p := &m.cfg.Policy
	name := ut.Username
	if !p.DerivedKey {
		return false, authn.Reject(wsse.UnsupportedSecurityToken, "user %q: derived-key UsernameToken is not enabled in this module", name)
	}
	if !ut.HasSalt {
		return false, authn.Reject(wsse.InvalidSecurityToken, "user %q: Iteration without a Salt", name)
	}
	salt, err := parseSalt(ut.Salt, SaltUseMAC)
	if err != nil {
		return false, authn.Reject(wsse.InvalidSecurityToken, "user %q: %v", name, err)
	}
	iter, err := parseIteration(ut.Iteration, ut.HasIteration)
	if err != nil {
		return false, authn.Reject(wsse.InvalidSecurityToken, "user %q: %v", name, err)
	}
	if iter < p.MinIterations || iter > p.MaxIterations {
		// WSS4J answers FailedAuthentication here too.
		return false, authn.Reject(wsse.FailedAuthentication, "user %q: Iteration %d outside [%d, %d]", name, iter, p.MinIterations, p.MaxIterations)
	}
	if !dsig.HasSignature(sec) {
		return false, authn.Reject(wsse.InvalidSecurity, "user %q: derived-key UsernameToken without a Signature proves nothing", name)
	}

	// Freshness: cheap checks before the key derivation and the DOM.
	var nonce []byte
	if ut.HasNonce {
		if ut.NonceEncType != "" && ut.NonceEncType != wsse.Base64Binary {
			return false, authn.Reject(wsse.InvalidSecurityToken, "user %q: Nonce EncodingType %q is not Base64Binary", name, ut.NonceEncType)
		}
		nonce, err = base64.StdEncoding.DecodeString(ut.Nonce)
		if err != nil || len(nonce) == 0 || len(nonce) > p.MaxNonceBytes {
			return false, authn.Reject(wsse.InvalidSecurityToken, "user %q: Nonce is not Base64 of 1 to %d bytes", name, p.MaxNonceBytes)
		}
	} else if p.RequireNonce {
		return false, authn.Reject(wsse.InvalidSecurityToken, "user %q: %s without a Nonce", name, TypeDerivedKey)
	}
	var tokCreated time.Time
	if ut.HasCreated {
		tokCreated, err = wsse.ParseTime(ut.Created)
		if err != nil {
			return false, authn.Reject(wsse.InvalidSecurityToken, "user %q: malformed Created %q", name, ut.Created)
		}
		if age := req.Now.Sub(tokCreated); age > p.MaxAge {
			return false, authn.Reject(wsse.MessageExpired, "user %q: Created %s is %s old, more than %s", name, ut.Created, age.Round(time.Second), p.MaxAge)
		} else if -age > p.FutureSkew {
			return false, authn.Reject(wsse.MessageExpired, "user %q: Created %s is %s in the future, more than %s", name, ut.Created, (-age).Round(time.Second), p.FutureSkew)
		}
	} else if p.RequireCreated {
		return false, authn.Reject(wsse.InvalidSecurityToken, "user %q: %s without Created", name, TypeDerivedKey)
	}
	ts := sec.Timestamp
	switch {
	case ts != nil:
		if err := wsse.CheckTimestamp(ts, req.Now, p.MaxAge, p.FutureSkew); err != nil {
			return false, timestampFault(name, err)
		}
	case !ut.HasNonce || !ut.HasCreated:
		return false, authn.Reject(wsse.InvalidSecurity, "user %q: derived-key token needs a signed Timestamp, or a signed token with Nonce and Created", name)
	}

	// The signature, with the key derived from the user's secret. An unknown
	// user gets a key derived from a random secret: the same work, and a
	// MAC that does not match.
	var user *registry.User
	known := false
	var utElem *wsse.Element
	for i := range sec.Elements {
		if sec.Elements[i].Start == ut.Start {
			utElem = &sec.Elements[i]
		}
	}
	resolve := func(ctx context.Context, ki *dsig.KeyInfo) ([]byte, error) {
		if ki.Token == nil || ki.Token.Start != ut.Start {
			return nil, authn.Reject(wsse.InvalidSecurity, "user %q: the signature's key is not this UsernameToken's", name)
		}
		if ki.ValueType != "" && ki.ValueType != dsig.UsernameTokenValueType {
			return nil, authn.Reject(wsse.InvalidSecurity, "user %q: token reference ValueType %q", name, ki.ValueType)
		}
		secret, u, err := m.cfg.Secrets.LookupSecret(ctx, name)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			secret = m.dummy
		case err != nil:
			return nil, fmt.Errorf("username: looking up secret of %q: %w", name, err)
		default:
			user, known = u, true
		}
		k := DeriveKey(secret, salt, iter)
		return k[:], nil
	}
	// Replay: the signature value is recorded as soon as its MAC matches,
	// before the references are digested (dsig.MACVerifiedHook), so that a
	// genuine SignedInfo is spent on its first use even if its digests then
	// fail: a captured message sent again with another Body costs one DOM
	// and one MAC, not a canonicalization of the new Body each time. The
	// record lasts as long as any message accepted now could stay
	// acceptable (max_age plus the allowed clock skew), whatever the
	// message's own, possibly unsigned, Timestamp says.
	spend := func(ctx context.Context, value []byte) error {
		if user == nil { // the dummy key of an unknown user matched: never
			return authn.Reject(wsse.FailedAuthentication, "user %q: %s: unknown user, wrong password or altered SignedInfo", name, TypeDerivedKey)
		}
		owner := replay.Owner{Principal: user.Name, Address: req.Client}
		until := req.Now.Add(p.MaxAge + p.FutureSkew)
		if err := replay.AddFor(ctx, m.cfg.Replay, "ut-dsig:"+base64.StdEncoding.EncodeToString(value), until, owner); err != nil {
			if errors.Is(err, replay.ErrReplay) {
				return authn.Reject(wsse.InvalidSecurity, "user %q: replayed signed message", name).Wrap(err)
			}
			return fmt.Errorf("username: replay cache: %w", err)
		}
		return nil
	}
	res, err := dsig.Verify(ctx, req.Envelope, spendingResolver{resolve, spend}, nil)
	if err != nil {
		var de *dsig.Error
		switch {
		case errors.Is(err, dsig.ErrSignatureMismatch):
			return false, authn.Reject(wsse.FailedAuthentication, "user %q: %s: unknown user, wrong password or altered SignedInfo", name, TypeDerivedKey)
		case errors.As(err, &de):
			return false, &authn.Fault{Code: de.Code, Reason: fmt.Sprintf("user %q: signature: %s", name, de.Reason), Err: err}
		}
		return false, err
	}
	if !known || user == nil {
		return false, authn.Reject(wsse.FailedAuthentication, "user %q: %s: unknown user, wrong password or altered SignedInfo", name, TypeDerivedKey)
	}

	// What the signature must cover.
	for _, part := range p.SignedParts {
		switch {
		case part == PartBody && !res.BodySigned:
			return false, authn.Reject(wsse.InvalidSecurity, "user %q: the signature does not cover the Body", name)
		case part == PartTimestamp && ts != nil && !res.TimestampSigned:
			return false, authn.Reject(wsse.InvalidSecurity, "user %q: the signature does not cover the Timestamp", name)
		case part == PartUsernameToken && !res.Covers(utElem):
			return false, authn.Reject(wsse.InvalidSecurity, "user %q: the signature does not cover the UsernameToken", name)
		}
	}
	// Freshness must rest on signed data: an unsigned Timestamp or Created
	// could be refreshed by anyone replaying the message once its
	// signature has left the replay cache.
	if !res.TimestampSigned && !(ut.HasNonce && ut.HasCreated && res.Covers(utElem)) {
		return false, authn.Reject(wsse.InvalidSecurity, "user %q: neither a signed Timestamp nor a signed token with Nonce and Created makes the message fresh", name)
	}

	owner := replay.Owner{Principal: user.Name, Address: req.Client}
	if nonce != nil {
		from := req.Now
		if ut.HasCreated && tokCreated.After(from) {
			from = tokCreated
		}
		if err := replay.AddFor(ctx, m.cfg.Replay, "ut-nonce:"+string(nonce), from.Add(p.MaxAge), owner); err != nil {
			if errors.Is(err, replay.ErrReplay) {
				return false, authn.Reject(wsse.InvalidSecurity, "user %q: replayed Nonce %s", name, ut.Nonce).Wrap(err)
			}
			return false, fmt.Errorf("username: replay cache: %w", err)
		}
	}
	m.fillSubject(req, s, user, TypeDerivedKey)
	// Processed here: the token, the signature its key verified and the
	// Timestamp checked above.
	req.MarkProcessedAt(ut.Start)
	if res.Signature != nil {
		req.MarkProcessedAt(res.Signature.Start)
	}
	if ts != nil {
		req.MarkProcessedAt(ts.Start)
	}
	return true, nil
}

func timestampFault(name string, err error) error {
	var we *wsse.Error
	if errors.As(err, &we) {
		return &authn.Fault{Code: we.Code, Reason: fmt.Sprintf("user %q: %s", name, we.Reason), Err: err}
	}
	return authn.Reject(wsse.InvalidSecurity, "user %q: Timestamp: %v", name, err)
}

// spendingResolver resolves the derived key and spends the signature value
// in the replay cache once its MAC matched (dsig.MACVerifiedHook).
type spendingResolver struct {
	resolve func(context.Context, *dsig.KeyInfo) ([]byte, error)
	spend   func(context.Context, []byte) error
}

func (r spendingResolver) ResolveKey(ctx context.Context, ki *dsig.KeyInfo) ([]byte, error) {
	return r.resolve(ctx, ki)
}

func (r spendingResolver) MACVerified(ctx context.Context, value []byte) error {
	return r.spend(ctx, value)
}

var _ dsig.MACVerifiedHook = spendingResolver{}
