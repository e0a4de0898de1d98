// Package modenv is the contract between config and the packages whose
// configuration config decodes: the environment a section opens in (Env),
// and the optional abilities a section has (Validator, RegistryUser).
//
// Each module package owns its configuration, the way dex's connectors do:
// one Config with YAML tags, one Validate, one Open(*modenv.Env). config
// imports the module packages for its type table; this package imports
// neither config nor authn, so the modules can import it without a cycle.
package modenv

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/sct"
)

// Env is what a section's Open gets: its name, a logger, the shared replay
// cache, the named registries, and paths relative to the configuration
// file.
type Env struct {
	// Name is the chain entry's (or registry's) name, for logs and for
	// modules that report it.
	Name    string
	Logger  *slog.Logger
	Replay  replay.Cache
	BaseDir string
	// Registries are the registries opened so far, by name.
	Registries map[string]registry.Set
	// Contexts is the security-context store of the top-level
	// secure_conversation section (nil when it is absent): the STS's
	// store, which the secure_conversation module reads.
	Contexts sct.Store
	// MaxSignedBytes is limits.max_signed_bytes: the largest envelope the
	// server reads whole, so the largest a module verifies a signature
	// over (dsig.Limits.MaxBytes). 0: dsig's default.
	MaxSignedBytes int64
}

// Registry returns the registry configured under name.
func (e *Env) Registry(name string) (registry.Set, error) {
	r, ok := e.Registries[name]
	if !ok {
		return registry.Set{}, fmt.Errorf("no registry named %q under registries", name)
	}
	return r, nil
}

// Path resolves a path from the configuration against its directory.
func (e *Env) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.BaseDir, p)
}

// Log returns the logger, or one that discards when none was given.
func (e *Env) Log() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// With returns a copy of e for the section called name.
func (e *Env) With(name string, l *slog.Logger) *Env {
	c := *e
	c.Name, c.Logger = name, l
	return &c
}

// Validator is implemented by sections that can be checked without opening
// anything (for check-config, and for errors before any side effect).
// config calls it right after decoding a section.
type Validator interface {
	Validate() error
}

// RegistryUser is implemented by sections that name a registry: config
// checks at load time that a registry of that name is configured. An empty
// name is not checked (Validate says whether one is required).
type RegistryUser interface {
	RegistryName() string
}
