package config

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/username"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
)

// Builtin returns the types authsvc knows out of the box. The table is
// fresh on each call: a custom binary may add to it.
func Builtin() *Types {
	return &Types{
		Modules: map[string]func() ModuleConfig{
			"username": func() ModuleConfig { return newUsernameSection() },
			"kerberos": NewKerberosSection,
			"exec":     func() ModuleConfig { return new(ExecSection) },
			"http":     func() ModuleConfig { return new(HTTPSection) },
			"saml":     func() ModuleConfig { return new(SAMLSection) },
			"enrich":   func() ModuleConfig { return new(EnrichSection) },
		},
		Registries: map[string]func() RegistryConfig{
			"file": func() RegistryConfig { return new(FileRegistry) },
			"ldap": func() RegistryConfig { return new(LDAPRegistry) },
		},
		Replay: map[string]func() ReplayConfig{
			"memory": func() ReplayConfig { return new(MemoryReplay) },
			"redis":  func() ReplayConfig { return new(RedisReplay) },
		},
	}
}

func sortStrings(s []string) { sort.Strings(s) }

// UsernameSection configures the UsernameToken module (type: username).
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
type UsernameSection struct {
	Registry          string        `yaml:"registry"`
	PasswordText      bool          `yaml:"password_text"`
	PasswordDigest    bool          `yaml:"password_digest"`
	NoPassword        bool          `yaml:"no_password"`
	RequireNonce      bool          `yaml:"require_nonce"`
	RequireCreated    bool          `yaml:"require_created"`
	MaxAge            time.Duration `yaml:"max_age"`
	FutureSkew        time.Duration `yaml:"future_skew"`
	TextOverPlainHTTP bool          `yaml:"text_over_plain_http"`
	MaxNonceBytes     int           `yaml:"max_nonce_bytes"`
	Realm             string        `yaml:"realm"`
	DerivedKey        bool          `yaml:"derived_key"`
	MinIterations     int           `yaml:"min_iterations"`
	MaxIterations     int           `yaml:"max_iterations"`
	SignedParts       []string      `yaml:"signed_parts"`
}

func newUsernameSection() *UsernameSection {
	p := username.DefaultPolicy
	return &UsernameSection{PasswordText: p.PasswordText, PasswordDigest: p.PasswordDigest,
		MaxAge: p.MaxAge, FutureSkew: p.FutureSkew, MaxNonceBytes: p.MaxNonceBytes}
}

// RegistryName implements the check that the named registry exists.
func (u *UsernameSection) RegistryName() string { return u.Registry }

// Validate implements Validator.
func (u *UsernameSection) Validate() error {
	if u.Registry == "" {
		return errors.New("registry is required")
	}
	if !u.PasswordText && !u.PasswordDigest && !u.NoPassword && !u.DerivedKey {
		return errors.New("password_text, password_digest, no_password and derived_key are all false: nothing would be accepted")
	}
	if u.MinIterations < 0 || u.MaxIterations < 0 || u.MaxIterations > 0 && u.MinIterations > u.MaxIterations {
		return errors.New("min_iterations and max_iterations must be positive, min not above max")
	}
	if u.SignedParts != nil && !u.DerivedKey {
		return errors.New("signed_parts: only meaningful with derived_key: true")
	}
	if u.MaxAge <= 0 {
		return errors.New("max_age must be positive")
	}
	if u.FutureSkew < 0 {
		return errors.New("future_skew must not be negative")
	}
	return nil
}

// Open implements ModuleConfig.
func (u *UsernameSection) Open(env *Env) (authn.Module, error) {
	reg, err := env.Registry(u.Registry)
	if err != nil {
		return nil, err
	}
	cfg := username.Config{
		Policy: username.Policy{
			PasswordText: u.PasswordText, PasswordDigest: u.PasswordDigest, NoPassword: u.NoPassword,
			RequireNonce: u.RequireNonce, RequireCreated: u.RequireCreated,
			MaxAge: u.MaxAge, FutureSkew: u.FutureSkew, TextOverPlainHTTP: u.TextOverPlainHTTP,
			MaxNonceBytes: u.MaxNonceBytes,
			DerivedKey:    u.DerivedKey, MinIterations: u.MinIterations, MaxIterations: u.MaxIterations,
			SignedParts: u.SignedParts,
		},
		Replay: env.Replay,
		Realm:  u.Realm,
	}
	cfg.Passwords, cfg.Secrets, cfg.Directory = reg.Passwords, reg.Secrets, reg.Directory
	if u.PasswordText && cfg.Passwords == nil {
		return nil, fmt.Errorf("password_text: registry %q cannot verify passwords", u.Registry)
	}
	if u.DerivedKey && cfg.Secrets == nil {
		return nil, fmt.Errorf("derived_key: registry %q holds no password-equivalent secrets to derive keys from", u.Registry)
	}
	if u.PasswordDigest && cfg.Secrets == nil {
		return nil, fmt.Errorf("password_digest: registry %q holds no password-equivalent secrets (an LDAP bind cannot check a digest); set password_digest: false", u.Registry)
	}
	return username.New(cfg)
}

// FileRegistry is a users file (type: file).
//
//	registries:
//	  users:
//	    type: file
//	    path: users.yaml
type FileRegistry struct {
	Path string `yaml:"path"`
}

// Validate implements Validator.
func (f *FileRegistry) Validate() error {
	if f.Path == "" {
		return errors.New("path is required")
	}
	return nil
}

// Open implements RegistryConfig.
func (f *FileRegistry) Open(env *Env) (registry.Set, error) {
	r, err := registry.OpenFile(env.Path(f.Path))
	if err != nil {
		return registry.Set{}, err
	}
	return r.Set(), nil
}

// MemoryReplay is the in-process replay cache (type: memory, the default).
//
//	replay:
//	  type: memory
//	  max_entries: 1000000     # sustained rate of fresh nonces = max_entries / max_age
//	  quota:                   # per-owner shares (docs/replay.md)
//	    principal: 100000      # default: max_entries / 10; -1: no limit
//	    address: 100000        # default: max_entries / 10; -1: no limit
//	    window: 5m             # default 5m (the UsernameToken max_age)
type MemoryReplay struct {
	MaxEntries int                `yaml:"max_entries"`
	Shards     int                `yaml:"shards"`
	Quota      replay.QuotaConfig `yaml:"quota"`
}

// DefaultMemoryMaxEntries is max_entries when none is configured.
const DefaultMemoryMaxEntries = 1_000_000

// Validate implements Validator.
func (m *MemoryReplay) Validate() error {
	if m.MaxEntries < 0 || m.Shards < 0 {
		return errors.New("max_entries and shards must not be negative")
	}
	if err := m.Quota.Validate(); err != nil {
		return err
	}
	size := m.maxEntries()
	for _, q := range []struct {
		key string
		v   int
	}{{"quota.principal", m.Quota.Principal}, {"quota.address", m.Quota.Address}} {
		if q.v > size {
			return fmt.Errorf("%s: %d is more than max_entries %d; a share must be smaller than the cache", q.key, q.v, size)
		}
	}
	return nil
}

func (m *MemoryReplay) maxEntries() int {
	if m.MaxEntries > 0 {
		return m.MaxEntries
	}
	return DefaultMemoryMaxEntries
}

// Open implements ReplayConfig.
func (m *MemoryReplay) Open(env *Env) (replay.Cache, error) {
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	size := m.maxEntries()
	return replay.NewMemory(replay.MemoryOptions{MaxEntries: size, Shards: m.Shards,
		Quota: m.Quota.Quota(max(1, size/10)), Logger: logger.With("replay", "memory")}), nil
}
