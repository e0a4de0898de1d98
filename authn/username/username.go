// Package username is the UsernameToken login module (OASIS Web Services
// Security UsernameToken Profile 1.0 and 1.1): PasswordText, PasswordDigest,
// and tokens without a password where the policy allows them, with
// Nonce/Created freshness and replay detection.
package username

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/dsig"
)

// Policy is what the module accepts; its YAML keys are those of the
// username section (Config). The zero value accepts nothing: start from
// DefaultPolicy.
type Policy struct {
	// PasswordText, PasswordDigest and NoPassword switch the password
	// types on and off. A token without a password proves nothing by itself;
	// enable it only where something else (a signature, mutual TLS) does.
	PasswordText   bool `yaml:"password_text"`
	PasswordDigest bool `yaml:"password_digest"`
	NoPassword     bool `yaml:"no_password"`
	// RequireNonce and RequireCreated demand those elements in every token.
	// PasswordDigest always needs both: without them a digest can be
	// replayed forever.
	RequireNonce   bool `yaml:"require_nonce"`
	RequireCreated bool `yaml:"require_created"`
	// MaxAge is how old Created may be; FutureSkew how far ahead of our
	// clock it may be.
	MaxAge     time.Duration `yaml:"max_age"`
	FutureSkew time.Duration `yaml:"future_skew"`
	// TextOverPlainHTTP lets PasswordText through on a connection that is
	// not confidential. Leave it off outside demos.
	TextOverPlainHTTP bool `yaml:"text_over_plain_http"`
	// MaxNonceBytes bounds the decoded nonce (default 256).
	MaxNonceBytes int `yaml:"max_nonce_bytes"`

	// DerivedKey accepts UsernameTokens that carry a Salt and Iteration
	// instead of a Password (UsernameToken Profile 1.1 key derivation),
	// when the message is signed with the derived key. Needs Secrets.
	DerivedKey bool `yaml:"derived_key"`
	// MinIterations and MaxIterations bound a derived-key token's Iteration
	// (defaults 1000 and 10000, WSS4J's): fewer make the key cheap to guess
	// from a captured message, more cost us CPU for nothing.
	MinIterations int `yaml:"min_iterations"`
	MaxIterations int `yaml:"max_iterations"`
	// SignedParts lists what a derived-key signature must cover: PartBody,
	// PartTimestamp (when the header has a Timestamp), PartUsernameToken.
	// nil means DefaultSignedParts (Body and Timestamp).
	SignedParts []string `yaml:"signed_parts"`
}

// DefaultPolicy is WSS4J's default freshness (5 minutes, 60 s into the
// future) with PasswordText and PasswordDigest on.
var DefaultPolicy = Policy{
	PasswordText:   true,
	PasswordDigest: true,
	MaxAge:         5 * time.Minute,
	FutureSkew:     60 * time.Second,
	MaxNonceBytes:  256,
}

// Options builds a Module: the policy, and the registry capabilities and
// replay cache it works with (Config.Open fills them from the configuration).
type Options struct {
	Policy Policy
	// Passwords verifies PasswordText; Secrets serves PasswordDigest;
	// Directory, if set, must know the user of a token without a password.
	Passwords registry.Passwords
	Secrets   registry.Secrets
	Directory registry.Directory
	// Replay records nonces. Required when any token can carry a nonce.
	Replay replay.Cache
	// Realm, if set, is put in the Subject.
	Realm string
	// Signed bounds the envelopes whose derived-key signatures are verified
	// (zero fields: dsig's defaults).
	Signed dsig.Limits
}

// Module is the UsernameToken login module.
type Module struct {
	cfg   Options
	dummy []byte
}

var _ authn.Module = (*Module)(nil)

// New checks the options and returns the module.
func New(o Options) (*Module, error) {
	if err := o.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("username: %w", err)
	}
	if err := o.checkDeps(); err != nil {
		return nil, fmt.Errorf("username: %w", err)
	}
	if o.Policy.MaxNonceBytes <= 0 {
		o.Policy.MaxNonceBytes = 256
	}
	m := &Module{cfg: o, dummy: make([]byte, 24)}
	if _, err := rand.Read(m.dummy); err != nil {
		return nil, err
	}
	return m, nil
}

// Token types reported in the Subject.
const (
	TypeText       = "PasswordText"
	TypeDigest     = "PasswordDigest"
	TypeNoPassword = "NoPassword"
)

// Login implements authn.Module.
func (m *Module) Login(ctx context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
	sec := req.Security()
	if sec == nil || len(sec.UsernameTokens) == 0 {
		return false, authn.ErrUnsupported
	}
	if len(sec.UsernameTokens) > 1 {
		return false, authn.Reject(wsse.InvalidSecurity, "%d UsernameTokens in one Security header", len(sec.UsernameTokens))
	}
	ut := &sec.UsernameTokens[0]
	if ut.Username == "" {
		return false, authn.Reject(wsse.InvalidSecurityToken, "UsernameToken without a Username")
	}
	if ut.HasSalt || ut.HasIteration {
		if ut.HasPassword {
			return false, authn.Reject(wsse.InvalidSecurityToken, "user %q: UsernameToken with both a Password and a Salt", ut.Username)
		}
		return m.loginDerived(ctx, req, s, sec, ut)
	}
	typ, err := m.passwordType(ut)
	if err != nil {
		return false, err
	}
	// Freshness: cheap checks before any registry or hash work.
	var nonceBuf [256]byte
	nonce, created, err := m.checkFresh(req, ut, typ, typ == TypeDigest, &nonceBuf)
	if err != nil {
		return false, err
	}
	if typ == TypeText && !req.Secure && !m.cfg.Policy.TextOverPlainHTTP {
		return false, authn.Reject(wsse.InvalidSecurity, "user %q: PasswordText over a connection without TLS is refused", ut.Username)
	}
	user, err := m.verifyPassword(ctx, ut, typ, nonce)
	if err != nil {
		return false, err
	}
	if err := m.spendNonce(ctx, req, ut, nonce, created, user); err != nil {
		return false, err
	}
	m.fillSubject(req, s, user, typ)
	req.MarkProcessedAt(ut.Start)
	return true, nil
}

func (m *Module) fillSubject(req *authn.Request, s *authn.Subject, user *registry.User, typ string) {
	s.Principal = user.Name
	s.Realm = m.cfg.Realm
	if user.Realm != "" {
		s.Realm = user.Realm
	}
	s.Method = "UsernameToken"
	s.TokenType = typ
	s.AddGroups(user.Groups...)
	for k, v := range user.Attributes {
		s.AddAttribute(k, v...)
	}
}

func (m *Module) verifyText(ctx context.Context, ut *wsse.UsernameToken) (*registry.User, error) {
	u, ok, err := m.cfg.Passwords.VerifyPassword(ctx, ut.Username, ut.Password)
	if err != nil {
		return nil, fmt.Errorf("username: verifying password of %q: %w", ut.Username, err)
	}
	if !ok {
		return nil, authn.Reject(wsse.FailedAuthentication, "user %q: PasswordText: unknown user or wrong password", ut.Username)
	}
	return u, nil
}

func (m *Module) verifyDigest(ctx context.Context, ut *wsse.UsernameToken, nonce []byte) (*registry.User, error) {
	secret, u, err := m.cfg.Secrets.LookupSecret(ctx, ut.Username)
	known := true
	if errors.Is(err, registry.ErrNotFound) {
		secret, known = m.dummy, false
	} else if err != nil {
		return nil, fmt.Errorf("username: looking up secret of %q: %w", ut.Username, err)
	}
	// A digest is 28 Base64 characters. Anything longer is not decoded (a
	// value longer than the buffer would make Decode panic) but still
	// compared, so that a malformed value costs what a wrong one does.
	var got [sha1.Size + 2]byte
	n, derr := 0, error(nil)
	if base64.StdEncoding.DecodedLen(len(ut.Password)) <= len(got) {
		n, derr = base64.StdEncoding.Decode(got[:], []byte(ut.Password))
	}
	want := digest(nonce, ut.Created, secret)
	// Compare even when the user is unknown or the value malformed, so that
	// the three cases cost the same.
	match := subtle.ConstantTimeCompare(got[:sha1.Size], want[:]) == 1
	if !known || derr != nil || n != sha1.Size || !match {
		return nil, authn.Reject(wsse.FailedAuthentication, "user %q: PasswordDigest: unknown user or wrong password", ut.Username)
	}
	return u, nil
}

func (m *Module) lookupOnly(ctx context.Context, ut *wsse.UsernameToken) (*registry.User, error) {
	if m.cfg.Directory == nil {
		return &registry.User{Name: ut.Username}, nil
	}
	u, err := m.cfg.Directory.LookupUser(ctx, ut.Username)
	if errors.Is(err, registry.ErrNotFound) {
		return nil, authn.Reject(wsse.FailedAuthentication, "user %q: token without password for an unknown user", ut.Username)
	}
	if err != nil {
		return nil, fmt.Errorf("username: looking up %q: %w", ut.Username, err)
	}
	return u, nil
}

// Digest computes the PasswordDigest of the UsernameToken Profile:
// SHA-1(nonce || created || password), with the nonce Base64-decoded first and
// Created used exactly as sent. nonceB64 is the Nonce as sent.
func Digest(nonceB64 []byte, created string, password []byte) [sha1.Size]byte {
	nonce, _ := base64.StdEncoding.DecodeString(string(nonceB64))
	return digest(nonce, created, password)
}

// digest is Digest of a nonce already decoded.
func digest(nonce []byte, created string, password []byte) [sha1.Size]byte {
	var buf [512]byte
	b := append(buf[:0], nonce...)
	b = append(b, created...)
	b = append(b, password...)
	return sha1.Sum(b)
}
