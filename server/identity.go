package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authsvc/authsvc/authn"
)

// IdentityOptions configure the signed identity assertion: a JWT that the
// upstream (or the gateway's upstream) verifies against the JWKS at
// /.well-known/jwks.json. See docs/identity.md.
type IdentityOptions struct {
	Issuer   string
	Audience []string
	// TTL is the assertion's lifetime (default 1 minute).
	TTL time.Duration
	// Header carries the assertion (default X-Authenticated-Assertion).
	Header string
	// Keys are the signing keys. The one with the latest ActiveFrom that has
	// passed signs (ties: the later in the list).
	Keys []SigningKey
}

// SigningKey is one key of the rotation.
type SigningKey struct {
	// ID is the kid (default: the RFC 7638 SHA-256 thumbprint).
	ID string
	// Key is an ed25519.PrivateKey, *ecdsa.PrivateKey (P-256, P-384) or
	// *rsa.PrivateKey (2048 bits or more).
	Key crypto.Signer
	// ActiveFrom is when the key starts signing; before then it is
	// published so that verifiers know it in advance.
	ActiveFrom time.Time
}

// AssertionClaims are the claims of the identity assertion.
type AssertionClaims struct {
	jwt.Claims
	// AuthMethod is Subject.Method (UsernameToken, Kerberos, ...).
	AuthMethod string `json:"auth_method"`
	// TokenType is Subject.TokenType (PasswordDigest, ...).
	TokenType string   `json:"token_type,omitempty"`
	Groups    []string `json:"groups,omitempty"`
	Realm     string   `json:"realm,omitempty"`
	// RequestID is the X-Request-Id of the authenticated request.
	RequestID string `json:"request_id,omitempty"`
	// AuthTime is when the chain accepted the credential (seconds).
	AuthTime int64 `json:"auth_time,omitempty"`
}

// assertionLeeway is how long past the last possible expiry an old key
// stays published (clock skew between replicas and verifiers).
const assertionLeeway = time.Minute

type signingKey struct {
	SigningKey
	alg    jose.SignatureAlgorithm
	signer jose.Signer
	jwk    jose.JSONWebKey // public
}

type identity struct {
	o IdentityOptions // o.Keys: as first given; the live ones are in keys
	// keys are the signing keys by ActiveFrom (stable); SIGHUP swaps them
	// (Server.ReloadIdentityKeys).
	keys atomic.Pointer[[]signingKey]
}

// ring returns the signing keys in use.
func (id *identity) ring() []signingKey { return *id.keys.Load() }

func newIdentity(o IdentityOptions, now time.Time) (*identity, error) {
	if o.Issuer == "" || len(o.Audience) == 0 {
		return nil, errors.New("server: identity needs an issuer and an audience")
	}
	if o.TTL <= 0 {
		o.TTL = time.Minute
	}
	if o.Header == "" {
		o.Header = "X-Authenticated-Assertion"
	}
	if len(o.Keys) == 0 {
		return nil, errors.New("server: identity needs at least one signing key")
	}
	id := &identity{o: o}
	keys, err := prepareKeys(o.Keys, now)
	if err != nil {
		return nil, err
	}
	id.keys.Store(&keys)
	return id, nil
}

// prepareKeys checks the keys, names them (kid) and sorts them by
// ActiveFrom; one must be active at now.
func prepareKeys(in []SigningKey, now time.Time) ([]signingKey, error) {
	if len(in) == 0 {
		return nil, errors.New("server: identity needs at least one signing key")
	}
	var keys []signingKey
	seen := map[string]bool{}
	for i, k := range in {
		alg, err := keyAlgorithm(k.Key)
		if err != nil {
			return nil, fmt.Errorf("server: identity key %d: %w", i, err)
		}
		pub := jose.JSONWebKey{Key: k.Key.Public(), Algorithm: string(alg), Use: "sig"}
		if k.ID == "" {
			tp, err := pub.Thumbprint(crypto.SHA256)
			if err != nil {
				return nil, fmt.Errorf("server: identity key %d: %w", i, err)
			}
			k.ID = base64.RawURLEncoding.EncodeToString(tp)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("server: identity key %d: kid %q is used twice", i, k.ID)
		}
		seen[k.ID] = true
		pub.KeyID = k.ID
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: k.Key, KeyID: k.ID}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			return nil, fmt.Errorf("server: identity key %d: %w", i, err)
		}
		keys = append(keys, signingKey{SigningKey: k, alg: alg, signer: signer, jwk: pub})
	}
	slices.SortStableFunc(keys, func(a, b signingKey) int { return a.ActiveFrom.Compare(b.ActiveFrom) })
	if current(keys, now) < 0 {
		return nil, fmt.Errorf("server: no identity key is active yet (the first becomes active at %s)", keys[0].ActiveFrom)
	}
	return keys, nil
}

// ReloadIdentityKeys replaces the identity's signing keys (SIGHUP: key
// files re-read, keys added for a rotation). The new set is checked as at
// start; on error the keys in use stay. Assertions being signed finish with
// the key they started with.
func (s *Server) ReloadIdentityKeys(keys []SigningKey) error {
	if s.id == nil {
		return errors.New("server: no identity section to reload")
	}
	ks, err := prepareKeys(keys, s.o.Now())
	if err != nil {
		return err
	}
	s.id.keys.Store(&ks)
	return nil
}

func keyAlgorithm(k crypto.Signer) (jose.SignatureAlgorithm, error) {
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return jose.EdDSA, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		}
		return "", errors.New("only P-256 and P-384 ECDSA keys are supported")
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key of %d bits; at least 2048 are required", k.N.BitLen())
		}
		return jose.RS256, nil
	case nil:
		return "", errors.New("no key")
	}
	return "", fmt.Errorf("unsupported key type %T (want Ed25519, ECDSA or RSA)", k)
}

// current returns the index of the signing key at now, -1 if none.
func current(keys []signingKey, now time.Time) int {
	cur := -1
	for i, k := range keys {
		if !k.ActiveFrom.After(now) {
			cur = i
		}
	}
	return cur
}

// published returns the public keys verifiers need at now: keys not yet
// active, the signing key, and older keys until every assertion they may
// have signed has expired.
func (id *identity) published(now time.Time) []jose.JSONWebKey {
	keys := id.ring()
	cur := current(keys, now)
	out := make([]jose.JSONWebKey, 0, len(keys))
	for i, k := range keys {
		if i < cur {
			// Superseded when the next key became active.
			retire := keys[i+1].ActiveFrom.Add(id.o.TTL + assertionLeeway)
			if !now.Before(retire) {
				continue
			}
		}
		out = append(out, k.jwk)
	}
	return out
}

// sign issues an assertion for s.
func (id *identity) sign(s *authn.Subject, requestID string, now time.Time) (string, error) {
	keys := id.ring()
	cur := current(keys, now)
	if cur < 0 {
		return "", errors.New("no active signing key")
	}
	var jti [16]byte
	rand.Read(jti[:])
	c := AssertionClaims{
		Claims: jwt.Claims{
			Issuer:    id.o.Issuer,
			Subject:   s.Name(),
			Audience:  jwt.Audience(id.o.Audience),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(id.o.TTL)),
			ID:        hex.EncodeToString(jti[:]),
		},
		AuthMethod: s.Method,
		TokenType:  s.TokenType,
		Groups:     s.Groups,
		Realm:      s.Realm,
		RequestID:  requestID,
	}
	if !s.AuthTime.IsZero() {
		c.AuthTime = s.AuthTime.Unix()
	}
	return jwt.Signed(keys[cur].signer).Claims(c).Serialize()
}

// jwks serves /.well-known/jwks.json.
func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	if s.id != nil {
		set.Keys = s.id.published(s.o.Now())
	}
	b, err := json.Marshal(set)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	// Verifiers refetch on an unknown kid; a short max-age keeps removed
	// keys from lingering.
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(min(s.idTTL(), 5*time.Minute)/time.Second)))
	w.Write(b)
}

func (s *Server) idTTL() time.Duration {
	if s.id == nil {
		return time.Minute
	}
	return s.id.o.TTL
}
