package username

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

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
	name := ut.Username
	salt, iter, err := m.derivation(sec, ut)
	if err != nil {
		return false, err
	}
	// Freshness: cheap checks before the key derivation and the DOM.
	var nonceBuf [256]byte
	nonce, created, err := m.checkFresh(req, ut, TypeDerivedKey, false, &nonceBuf)
	if err != nil {
		return false, err
	}
	ts := sec.Timestamp
	switch {
	case ts != nil:
		p := &m.cfg.Policy
		if err := wsse.CheckTimestamp(ts, req.Now, p.MaxAge, p.FutureSkew); err != nil {
			return false, timestampFault(name, err)
		}
	case !ut.HasNonce || !ut.HasCreated:
		return false, authn.Reject(wsse.InvalidSecurity, "user %q: derived-key token needs a signed Timestamp, or a signed token with Nonce and Created", name)
	}

	dk := &derivedKey{m: m, req: req, ut: ut, salt: salt, iter: iter}
	res, err := dsig.Verify(ctx, req.Envelope, dk, &m.cfg.Signed)
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
	if !dk.known || dk.user == nil {
		return false, authn.Reject(wsse.FailedAuthentication, "user %q: %s: unknown user, wrong password or altered SignedInfo", name, TypeDerivedKey)
	}
	if err := m.checkSigned(sec, ut, res); err != nil {
		return false, err
	}
	if err := m.spendNonce(ctx, req, ut, nonce, created, dk.user); err != nil {
		return false, err
	}
	m.fillSubject(req, s, dk.user, TypeDerivedKey)
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

// derivation checks that derived-key tokens are enabled, that the token's
// Salt and Iteration are acceptable and that the message is signed, and
// returns the salt and the iteration count.
func (m *Module) derivation(sec *wsse.Security, ut *wsse.UsernameToken) ([]byte, int, error) {
	p := &m.cfg.Policy
	name := ut.Username
	if !p.DerivedKey {
		return nil, 0, authn.Reject(wsse.UnsupportedSecurityToken, "user %q: derived-key UsernameToken is not enabled in this module", name)
	}
	if !ut.HasSalt {
		return nil, 0, authn.Reject(wsse.InvalidSecurityToken, "user %q: Iteration without a Salt", name)
	}
	salt, err := parseSalt(ut.Salt, SaltUseMAC)
	if err != nil {
		return nil, 0, authn.Reject(wsse.InvalidSecurityToken, "user %q: %v", name, err)
	}
	iter, err := parseIteration(ut.Iteration, ut.HasIteration)
	if err != nil {
		return nil, 0, authn.Reject(wsse.InvalidSecurityToken, "user %q: %v", name, err)
	}
	if iter < p.MinIterations || iter > p.MaxIterations {
		// WSS4J answers FailedAuthentication here too.
		return nil, 0, authn.Reject(wsse.FailedAuthentication, "user %q: Iteration %d outside [%d, %d]", name, iter, p.MinIterations, p.MaxIterations)
	}
	if !dsig.HasSignature(sec) {
		return nil, 0, authn.Reject(wsse.InvalidSecurity, "user %q: derived-key UsernameToken without a Signature proves nothing", name)
	}
	return salt, iter, nil
}

// checkSigned checks that a verified signature covers what the policy
// names, and that the message's freshness rests on signed data.
func (m *Module) checkSigned(sec *wsse.Security, ut *wsse.UsernameToken, res *dsig.Result) error {
	name := ut.Username
	var utElem *wsse.Element
	for i := range sec.Elements {
		if sec.Elements[i].Start == ut.Start {
			utElem = &sec.Elements[i]
		}
	}
	for _, part := range m.cfg.Policy.SignedParts {
		switch {
		case part == PartBody && !res.BodySigned:
			return authn.Reject(wsse.InvalidSecurity, "user %q: the signature does not cover the Body", name)
		case part == PartTimestamp && sec.Timestamp != nil && !res.TimestampSigned:
			return authn.Reject(wsse.InvalidSecurity, "user %q: the signature does not cover the Timestamp", name)
		case part == PartUsernameToken && !res.Covers(utElem):
			return authn.Reject(wsse.InvalidSecurity, "user %q: the signature does not cover the UsernameToken", name)
		}
	}
	// Freshness must rest on signed data: an unsigned Timestamp or Created
	// could be refreshed by anyone replaying the message once its
	// signature has left the replay cache.
	if !res.TimestampSigned && !(ut.HasNonce && ut.HasCreated && res.Covers(utElem)) {
		return authn.Reject(wsse.InvalidSecurity, "user %q: neither a signed Timestamp nor a signed token with Nonce and Created makes the message fresh", name)
	}
	return nil
}

func timestampFault(name string, err error) error {
	var we *wsse.Error
	if errors.As(err, &we) {
		return &authn.Fault{Code: we.Code, Reason: fmt.Sprintf("user %q: %s", name, we.Reason), Err: err}
	}
	return authn.Reject(wsse.InvalidSecurity, "user %q: Timestamp: %v", name, err)
}

// derivedKey is the KeyResolver of a derived-key token's signature: it
// derives the key from the user's secret and the token's Salt and
// Iteration, and spends the signature value in the replay cache once its
// MAC matched (dsig.MACVerifiedHook). An unknown user gets a key derived
// from a random secret: the same work, and a MAC that does not match.
type derivedKey struct {
	m    *Module
	req  *authn.Request
	ut   *wsse.UsernameToken
	salt []byte
	iter int
	// user and known are set by ResolveKey when the registry knows the user.
	user  *registry.User
	known bool
}

var _ dsig.MACVerifiedHook = (*derivedKey)(nil)

func (k *derivedKey) ResolveKey(ctx context.Context, ki *dsig.KeyInfo) ([]byte, error) {
	name := k.ut.Username
	if ki.Token == nil || ki.Token.Start != k.ut.Start {
		return nil, authn.Reject(wsse.InvalidSecurity, "user %q: the signature's key is not this UsernameToken's", name)
	}
	if ki.ValueType != "" && ki.ValueType != dsig.UsernameTokenValueType {
		return nil, authn.Reject(wsse.InvalidSecurity, "user %q: token reference ValueType %q", name, ki.ValueType)
	}
	secret, u, err := k.m.cfg.Secrets.LookupSecret(ctx, name)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		secret = k.m.dummy
	case err != nil:
		return nil, fmt.Errorf("username: looking up secret of %q: %w", name, err)
	default:
		k.user, k.known = u, true
	}
	key := DeriveKey(secret, k.salt, k.iter)
	return key[:], nil
}

// MACVerified records the signature value as soon as its MAC matches,
// before the references are digested, so that a genuine SignedInfo is
// spent on its first use even if its digests then fail: a captured message
// sent again with another Body costs one DOM and one MAC, not a
// canonicalization of the new Body each time. The record lasts as long as
// any message accepted now could stay acceptable (max_age plus the allowed
// clock skew), whatever the message's own, possibly unsigned, Timestamp
// says.
func (k *derivedKey) MACVerified(ctx context.Context, value []byte) error {
	name := k.ut.Username
	if k.user == nil { // the dummy key of an unknown user matched: never
		return authn.Reject(wsse.FailedAuthentication, "user %q: %s: unknown user, wrong password or altered SignedInfo", name, TypeDerivedKey)
	}
	p := &k.m.cfg.Policy
	owner := replay.Owner{Principal: k.user.Name, Address: k.req.Client}
	until := k.req.Now.Add(p.MaxAge + p.FutureSkew)
	if err := replay.AddFor(ctx, k.m.cfg.Replay, "ut-dsig:"+base64.StdEncoding.EncodeToString(value), until, owner); err != nil {
		if errors.Is(err, replay.ErrReplay) {
			return authn.Reject(wsse.InvalidSecurity, "user %q: replayed signed message", name).Wrap(err)
		}
		return fmt.Errorf("username: replay cache: %w", err)
	}
	return nil
}
