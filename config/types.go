package config

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/authsvc/authsvc/authn/enrich"
	"github.com/authsvc/authsvc/authn/extensible"
	"github.com/authsvc/authsvc/authn/kerberos"
	"github.com/authsvc/authsvc/authn/saml"
	"github.com/authsvc/authsvc/authn/secureconv"
	"github.com/authsvc/authsvc/authn/username"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
)

// Builtin returns the types authsvc knows out of the box. The table is
// fresh on each call: a custom binary may add to it.
func Builtin() *Types {
	return &Types{
		Modules: map[string]func() ModuleConfig{
			"username":            func() ModuleConfig { return username.NewConfig() },
			"kerberos":            func() ModuleConfig { return new(kerberos.Config) },
			"exec":                func() ModuleConfig { return new(extensible.ExecConfig) },
			"http":                func() ModuleConfig { return new(extensible.HTTPConfig) },
			"saml":                func() ModuleConfig { return new(saml.Config) },
			"enrich":              func() ModuleConfig { return new(enrich.Config) },
			"secure_conversation": func() ModuleConfig { return new(secureconv.Config) },
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

// FileRegistry is a users file (type: file); its keys are those of
// registry.FileConfig.
type FileRegistry struct {
	registry.FileConfig `yaml:",inline"`
}

// Open implements RegistryConfig.
func (f *FileRegistry) Open(env *Env) (registry.Set, error) {
	r, err := registry.OpenFile(env.Path(f.Path))
	if err != nil {
		return registry.Set{}, fmt.Errorf("path: %w", err)
	}
	return r.Set(), nil
}

// MemoryReplay is the in-process replay cache (type: memory, the default).
//
//	replay:
//	  type: memory
//	  max_entries: 8000000     # sustained rate of fresh nonces ≈ max_entries / (max_age + 30 s); ~24 B each (docs/replay.md)
//	  quota:                   # per-owner shares (docs/replay.md)
//	    principal: 100000      # default: max_entries / 10; -1: no limit
//	    address: 100000        # default: max_entries / 10; -1: no limit
//	    window: 5m             # default 5m (the UsernameToken max_age)
type MemoryReplay struct {
	// MaxEntries bounds the cache (default 8000000); the sustained rate
	// of fresh nonces it can hold is about max_entries / (max_age + 30 s),
	// at about 24 bytes of heap per nonce held (docs/replay.md).
	MaxEntries int `yaml:"max_entries"`
	// Shards splits the cache into independently locked parts (default 64).
	Shards int `yaml:"shards"`
	// Quota is each owner's share of the cache (docs/replay.md).
	Quota replay.QuotaConfig `yaml:"quota"`
}

// DefaultMemoryMaxEntries is max_entries when none is configured: with the
// default max_age of 5 minutes and the sweeper's 30 s, about 24,000 fresh
// nonces a second, in about 200 MB of heap when full (docs/replay.md). The
// map grows with use: an idle cache costs nothing.
const DefaultMemoryMaxEntries = 8_000_000

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
