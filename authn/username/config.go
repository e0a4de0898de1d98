package username

import (
	"errors"
	"fmt"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/wsse/dsig"
)

// Config is the module's configuration section (type: username), and its
// factory (Open).
//
//   - name: users
//     type: username
//     flag: sufficient
//     registry: users            # a registry under registries
//     password_text: true
//     password_digest: true
//     no_password: false
//     require_nonce: false
//     require_created: false
//     max_age: 5m
//     future_skew: 60s
//     text_over_plain_http: false
//     realm: ""
type Config struct {
	// Registry names the registry (under registries) that knows the users.
	Registry string `yaml:"registry"`
	Policy   `yaml:",inline"`
	// Realm, if set, is put in the Subject.
	Realm string `yaml:"realm"`
}

var (
	_ modenv.Validator    = (*Config)(nil)
	_ modenv.RegistryUser = (*Config)(nil)
)

// NewConfig returns a section with its defaults (DefaultPolicy).
func NewConfig() *Config {
	p := DefaultPolicy
	return &Config{Policy: p}
}

// RegistryName implements modenv.RegistryUser.
func (c *Config) RegistryName() string { return c.Registry }

// Validate implements modenv.Validator.
func (c *Config) Validate() error {
	if c.Registry == "" {
		return errors.New("registry is required")
	}
	return c.Policy.Validate()
}

// Open builds the module with the named registry's capabilities and the
// shared replay cache.
func (c *Config) Open(env *modenv.Env) (authn.Module, error) {
	reg, err := env.Registry(c.Registry)
	if err != nil {
		return nil, err
	}
	m, err := New(Options{Policy: c.Policy, Passwords: reg.Passwords, Secrets: reg.Secrets,
		Directory: reg.Directory, Replay: env.Replay, Realm: c.Realm,
		Signed: dsig.Limits{MaxBytes: int(env.MaxSignedBytes)}})
	if err != nil {
		return nil, fmt.Errorf("registry %q: %w", c.Registry, err)
	}
	return m, nil
}

// Validate checks the policy without anything opened, and fills in the
// derived-key defaults. New calls it too.
func (p *Policy) Validate() error {
	if !p.PasswordText && !p.PasswordDigest && !p.NoPassword && !p.DerivedKey {
		return errors.New("password_text, password_digest, no_password and derived_key are all false: nothing would be accepted")
	}
	if p.MinIterations < 0 || p.MaxIterations < 0 || p.MaxIterations > 0 && p.MinIterations > p.MaxIterations {
		return errors.New("min_iterations and max_iterations must be positive, min not above max")
	}
	if p.SignedParts != nil && !p.DerivedKey {
		return errors.New("signed_parts: only meaningful with derived_key: true")
	}
	if err := p.checkDerived(); err != nil {
		return err
	}
	if p.MaxAge <= 0 {
		return errors.New("max_age must be positive")
	}
	if p.FutureSkew < 0 {
		return errors.New("future_skew must not be negative")
	}
	return nil
}

// checkDeps checks that the registry can serve what the policy accepts.
func (o *Options) checkDeps() error {
	p := &o.Policy
	if p.PasswordText && o.Passwords == nil {
		return errors.New("password_text: the registry cannot verify passwords")
	}
	if p.DerivedKey && o.Secrets == nil {
		return errors.New("derived_key: the registry holds no password-equivalent secrets to derive keys from")
	}
	if p.PasswordDigest && o.Secrets == nil {
		return errors.New("password_digest: the registry holds no password-equivalent secrets (an LDAP bind cannot check a digest); set password_digest: false")
	}
	if o.Replay == nil {
		return errors.New("a replay cache is required")
	}
	return nil
}
