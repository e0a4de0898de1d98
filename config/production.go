package config

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Identity configures the signed identity assertion (a JWT) sent to the
// upstream and to gateways, and the JWKS at /.well-known/jwks.json.
//
//	identity:
//	  issuer: https://authsvc.example.test
//	  audience: [soap-backend]
//	  ttl: 60s
//	  header: X-Authenticated-Assertion
//	  keys:
//	    - file: keys/2026-01.pem          # PEM: Ed25519, P-256 or RSA private key
//	    - file: keys/2026-04.pem
//	      active_from: 2026-04-01T00:00:00Z
//
// The key with the latest active_from that has passed signs; keys whose
// active_from is still ahead are published in advance; an older key stays
// published until ttl (plus leeway) after its successor took over. See
// docs/identity.md.
type Identity struct {
	Issuer   string        `yaml:"issuer"`
	Audience []string      `yaml:"audience"`
	TTL      time.Duration `yaml:"ttl"`
	Header   string        `yaml:"header"`
	Keys     []IdentityKey `yaml:"keys"`
}

// IdentityKey is one signing key.
type IdentityKey struct {
	// File is a PEM private key (PKCS#8, SEC 1 "EC PRIVATE KEY" or PKCS#1),
	// relative to the configuration file's directory.
	File string `yaml:"file"`
	// ID is the JWK kid (default: the RFC 7638 thumbprint).
	ID string `yaml:"kid"`
	// ActiveFrom is when the key starts signing (default: always).
	ActiveFrom time.Time `yaml:"active_from"`
}

// Gateway configures the ext_authz / ForwardAuth endpoint (/v1/ext-authz).
//
//	gateway:
//	  enabled: true
type Gateway struct {
	Enabled bool `yaml:"enabled"`
	// HeaderPrefix names the identity headers in the answer (default: the
	// proxy's header_prefix, else "X-Authenticated-").
	HeaderPrefix string `yaml:"header_prefix"`
}

// Audit configures the audit stream: one JSON line per authentication
// decision, separate from the service log.
//
//	audit:
//	  output: /var/log/authsvc/audit.jsonl   # or stderr, stdout
type Audit struct {
	Output string `yaml:"output"`
}

// BruteForce configures failure counting and lockout.
//
//	brute_force:
//	  store: memory          # or redis (uses the replay section's Redis)
//	  principal: {max_failures: 5, window: 15m, lockout: 1m, max_lockout: 1h}
//	  address:   {max_failures: 50, window: 15m, lockout: 1m, max_lockout: 1h}
//	  max_entries: 100000
type BruteForce struct {
	Store      string     `yaml:"store"`
	Principal  LockPolicy `yaml:"principal"`
	Address    LockPolicy `yaml:"address"`
	MaxEntries int        `yaml:"max_entries"`
	KeyPrefix  string     `yaml:"key_prefix"`
}

// LockPolicy is the limit for one kind of key. max_failures 0 turns the
// kind off.
type LockPolicy struct {
	// MaxFailures within Window lock the key.
	MaxFailures int `yaml:"max_failures"`
	// Window is how long a failure is remembered after the last one.
	Window time.Duration `yaml:"window"`
	// Lockout is the first lock's length; each further failure once
	// locked-and-released doubles it, up to MaxLockout.
	Lockout    time.Duration `yaml:"lockout"`
	MaxLockout time.Duration `yaml:"max_lockout"`
}

func (p *LockPolicy) check(where string) error {
	if p.MaxFailures < 0 || p.Window < 0 || p.Lockout < 0 || p.MaxLockout < 0 {
		return fmt.Errorf("%s: values must not be negative", where)
	}
	if p.MaxFailures == 0 {
		return nil
	}
	if p.Window == 0 {
		p.Window = 15 * time.Minute
	}
	if p.Lockout == 0 {
		p.Lockout = time.Minute
	}
	if p.MaxLockout == 0 {
		p.MaxLockout = time.Hour
	}
	if p.MaxLockout < p.Lockout {
		return fmt.Errorf("%s.max_lockout: %s is shorter than lockout %s", where, p.MaxLockout, p.Lockout)
	}
	return nil
}

// checkProduction validates and defaults the identity, gateway, audit and
// brute_force sections. It is called from check.
func (c *Config) checkProduction() error {
	if id := c.Identity; id != nil {
		if id.Issuer == "" {
			return errors.New("identity.issuer is required")
		}
		if len(id.Audience) == 0 {
			return errors.New("identity.audience: at least one audience is required")
		}
		if id.TTL == 0 {
			id.TTL = time.Minute
		}
		if id.TTL < 0 || id.TTL > time.Hour {
			return fmt.Errorf("identity.ttl: %s is not between 0 and 1h (the assertion is meant to be short-lived)", id.TTL)
		}
		if id.Header == "" {
			id.Header = "X-Authenticated-Assertion"
		}
		if len(id.Keys) == 0 {
			return errors.New("identity.keys: at least one key is required")
		}
		for i, k := range id.Keys {
			if k.File == "" {
				return fmt.Errorf("identity.keys[%d].file is required", i)
			}
		}
	}
	if g := c.Gateway; g != nil && g.HeaderPrefix == "" {
		g.HeaderPrefix = "X-Authenticated-"
		if c.Proxy != nil && c.Proxy.HeaderPrefix != "" {
			g.HeaderPrefix = c.Proxy.HeaderPrefix
		}
	}
	if a := c.Audit; a != nil && strings.TrimSpace(a.Output) == "" {
		return errors.New("audit.output: a file path, stderr or stdout is required")
	}
	if b := c.BruteForce; b != nil {
		switch b.Store {
		case "":
			b.Store = "memory"
		case "memory":
		case "redis":
			if _, ok := c.replay.(*RedisReplay); !ok {
				return errors.New("brute_force.store: redis needs the replay section to be type redis (its connection is shared)")
			}
		default:
			return fmt.Errorf("brute_force.store: %q is not memory or redis", b.Store)
		}
		if b.Principal == (LockPolicy{}) && b.Address == (LockPolicy{}) {
			b.Principal = LockPolicy{MaxFailures: 5}
			b.Address = LockPolicy{MaxFailures: 50}
		}
		if err := b.Principal.check("brute_force.principal"); err != nil {
			return err
		}
		if err := b.Address.check("brute_force.address"); err != nil {
			return err
		}
		if b.MaxEntries < 0 {
			return errors.New("brute_force.max_entries must not be negative")
		}
		if b.MaxEntries == 0 {
			b.MaxEntries = 100000
		}
		if b.KeyPrefix == "" {
			b.KeyPrefix = "authsvc:bf:"
		}
	}
	return nil
}

// SigningKey is a loaded identity key.
type SigningKey struct {
	ID         string
	Key        crypto.Signer
	ActiveFrom time.Time
}

// LoadKeys reads the identity keys' PEM files (relative paths against
// baseDir).
func (id *Identity) LoadKeys(baseDir string) ([]SigningKey, error) {
	out := make([]SigningKey, 0, len(id.Keys))
	for i, k := range id.Keys {
		p := k.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("identity.keys[%d].file: %w", i, err)
		}
		key, err := parsePrivateKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("identity.keys[%d].file: %s: %w", i, p, err)
		}
		out = append(out, SigningKey{ID: k.ID, Key: key, ActiveFrom: k.ActiveFrom})
	}
	return out, nil
}

// parsePrivateKeyPEM reads the first PEM private key: PKCS#8, SEC 1
// (EC PRIVATE KEY) or PKCS#1 (RSA PRIVATE KEY).
func parsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM private key found")
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%T is not a signing key", k)
		}
		return s, nil
	}
}

// Open opens the audit output: stderr, stdout, or a file (relative to
// baseDir) opened for appending with mode 0600.
func (a *Audit) Open(baseDir string) (io.WriteCloser, error) {
	switch a.Output {
	case "stderr":
		return nopCloser{os.Stderr}, nil
	case "stdout":
		return nopCloser{os.Stdout}, nil
	}
	p := a.Output
	if !filepath.IsAbs(p) {
		p = filepath.Join(baseDir, p)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit.output: %w", err)
	}
	return f, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
