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

	"github.com/authsvc/authsvc/lockout"
	"github.com/authsvc/authsvc/replay/redis"
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
	// Issuer is the JWT's iss (required).
	Issuer string `yaml:"issuer"`
	// Audience is the JWT's aud (at least one).
	Audience []string `yaml:"audience"`
	// TTL is how long an assertion is valid (default 1m, at most 1h).
	TTL time.Duration `yaml:"ttl"`
	// Header is the request header that carries it upstream
	// (default X-Authenticated-Assertion).
	Header string `yaml:"header"`
	// Keys are the signing keys, for rotation (at least one).
	Keys []IdentityKey `yaml:"keys"`
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
	// Enabled serves /v1/ext-authz.
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
	// Output is stderr, stdout or a file (relative to the configuration
	// file's directory) appended to with mode 0600.
	Output string `yaml:"output"`
}

// BruteForce configures failure counting and lockout: package lockout's
// Config, whose comment shows the section.
//
//	brute_force:
//	  store: memory          # or redis: the replay section's Redis settings, on a connection of its own
//	  principal: {max_failures: 5, window: 15m, lockout: 1m, max_lockout: 1h}
//	  address:   {max_failures: 50, window: 15m, lockout: 1m, max_lockout: 1h}
//	  max_entries: 100000
type BruteForce = lockout.Config

// LockPolicy is the limit for one kind of key (lockout.Policy).
type LockPolicy = lockout.Policy

// LockoutRedis returns the Redis settings the brute_force store uses when
// it is redis: the replay section's, with file paths resolved against the
// configuration file's directory. ok is false for any other store.
func (c *Config) LockoutRedis() (cfg redis.Config, ok bool) {
	rr, isRedis := c.replay.(*RedisReplay)
	if c.BruteForce == nil || c.BruteForce.Store != "redis" || !isRedis {
		return redis.Config{}, false
	}
	env := &Env{BaseDir: filepath.Dir(c.Path)}
	cfg = rr.Config
	cfg.PasswordFile = env.Path(cfg.PasswordFile)
	cfg.TLS.CAFile = env.Path(cfg.TLS.CAFile)
	cfg.TLS.CertFile = env.Path(cfg.TLS.CertFile)
	cfg.TLS.KeyFile = env.Path(cfg.TLS.KeyFile)
	return cfg, true
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
		if err := b.Validate(); err != nil {
			return fmt.Errorf("brute_force.%w", err)
		}
		if _, ok := c.replay.(*RedisReplay); b.Store == "redis" && !ok {
			return errors.New("brute_force.store: redis needs the replay section to be type redis (its connection settings are used)")
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
	for i := range id.Keys {
		k, err := id.loadKey(i, baseDir)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// loadKey reads keys[i].
func (id *Identity) loadKey(i int, baseDir string) (SigningKey, error) {
	k := id.Keys[i]
	p := k.File
	if !filepath.IsAbs(p) {
		p = filepath.Join(baseDir, p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return SigningKey{}, fmt.Errorf("identity.keys[%d].file: %w", i, err)
	}
	key, err := parsePrivateKeyPEM(data)
	clear(data)
	if err != nil {
		return SigningKey{}, fmt.Errorf("identity.keys[%d].file: %s: %w", i, p, err)
	}
	return SigningKey{ID: k.ID, Key: key, ActiveFrom: k.ActiveFrom}, nil
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
