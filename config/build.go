package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/sct"
)

// Runtime is what a configuration builds: the chain and the things it uses.
type Runtime struct {
	Chain      *authn.Chain
	Replay     replay.Cache
	Registries map[string]registry.Set
	// Contexts is the secure_conversation section's store (nil without
	// the section); the STS is built over it.
	Contexts sct.Store
	// Checkers are the dependencies whose health decides readiness.
	Checkers map[string]authn.Checker
	// Reloaders are the chain entries that re-read files on SIGHUP (a
	// kerberos entry's keytabs), by "module/NAME"; registries that can are
	// in Registries.
	Reloaders map[string]registry.Reloader
	closers   []io.Closer
}

// Close releases what Build opened.
func (r *Runtime) Close() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i].Close())
	}
	return errors.Join(errs...)
}

// FileChecker is implemented by sections whose Open reaches the network (a
// Redis store): CheckFiles does what Open does before it dials (validates,
// reads password, key and TLS files). Check calls it instead of Open.
type FileChecker interface {
	CheckFiles(env *Env) error
}

// Build opens the replay cache, the registries and the modules. It reports
// every section that fails (config.Errors), each with its line.
func (c *Config) Build(logger *slog.Logger) (*Runtime, error) {
	rt, err := c.build(logger, false)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", c.Path, err)
	}
	return rt, nil
}

// build opens every section; offline, a FileChecker section is checked
// instead of opened and replaced by an in-memory stand-in, so that the
// sections after it are still opened. On error what was opened is closed.
func (c *Config) build(logger *slog.Logger, offline bool) (*Runtime, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rt := &Runtime{Registries: map[string]registry.Set{}, Checkers: map[string]authn.Checker{}, Reloaders: map[string]registry.Reloader{}}
	env := &Env{Logger: logger, BaseDir: filepath.Dir(c.Path), Registries: rt.Registries, MaxSignedBytes: c.Limits.MaxSignedBytes}
	errs := []error{c.openStores(rt, env, logger, offline)}
	failed := c.openRegistries(rt, env, logger, &errs)
	entries := c.openModules(rt, env, logger, failed, &errs)
	if err := collect(errs...); err != nil {
		rt.Close()
		return nil, err
	}
	var err error
	if rt.Chain, err = authn.NewChain(entries...); err != nil {
		rt.Close()
		return nil, fmt.Errorf("chain: %w", err)
	}
	rt.Chain = rt.Chain.WithPassThrough(c.Security.passThrough...)
	return rt, nil
}

// openStores opens the replay cache and the security-context store.
func (c *Config) openStores(rt *Runtime, env *Env, logger *slog.Logger, offline bool) error {
	var errs []error
	fc, isFC := c.replay.(FileChecker)
	var err error
	if offline && isFC {
		err = fc.CheckFiles(env)
		rt.Replay, _ = new(MemoryReplay).Open(env)
	} else if rt.Replay, err = c.replay.Open(env); err != nil {
		rt.Replay, _ = new(MemoryReplay).Open(env) // so that the modules can be checked
	}
	if err != nil {
		errs = append(errs, c.keyLine("replay", fmt.Errorf("replay: %w", err)))
	}
	env.Replay = rt.Replay
	rt.closers = append(rt.closers, rt.Replay)
	if ch, ok := rt.Replay.(authn.Checker); ok && err == nil {
		rt.Checkers["replay"] = ch
	}
	if sc := c.SecureConversation; sc != nil {
		if offline && sc.Store == "redis" {
			err = sc.checkFiles(env)
			rt.Contexts = sct.NewMemory(1)
		} else if rt.Contexts, err = sc.openContexts(env, logger); err != nil {
			rt.Contexts = sct.NewMemory(1)
		}
		if err != nil {
			errs = append(errs, c.keyLine("secure_conversation.redis", fmt.Errorf("secure_conversation: %w", err)))
		}
		env.Contexts = rt.Contexts
		if cl, ok := rt.Contexts.(io.Closer); ok {
			rt.closers = append(rt.closers, cl)
		}
		if ch, ok := rt.Contexts.(authn.Checker); ok {
			rt.Checkers["secure_conversation"] = ch
		}
	}
	return collect(errs...)
}

// openRegistries opens the registries by name; it returns those that
// failed.
func (c *Config) openRegistries(rt *Runtime, env *Env, logger *slog.Logger, errs *[]error) map[string]bool {
	names := make([]string, 0, len(c.regs))
	for n := range c.regs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return c.Registries[names[i]].Line < c.Registries[names[j]].Line })
	failed := map[string]bool{}
	for _, n := range names {
		r, err := c.regs[n].Open(env.With(n, logger.With("registry", n)))
		if err != nil {
			failed[n] = true
			*errs = append(*errs, c.keyLine("registries."+n, fmt.Errorf("registries.%s: %w", n, err)))
			continue
		}
		rt.Registries[n] = r
		if r.Closer != nil {
			rt.closers = append(rt.closers, r.Closer)
		}
		if r.Health != nil {
			rt.Checkers["registry/"+n] = r.Health
		}
	}
	return failed
}

// openModules opens the chain's modules, but not those whose registry
// failed to open (that error is reported already).
func (c *Config) openModules(rt *Runtime, env *Env, logger *slog.Logger, failed map[string]bool, errs *[]error) []authn.Entry {
	entries := make([]authn.Entry, 0, len(c.Modules))
	for i, e := range c.Modules {
		if ru, ok := e.Config.(RegistryUser); ok && failed[ru.RegistryName()] {
			continue
		}
		m, err := e.Config.Open(env.With(e.Name, logger.With("module", e.Name)))
		if err != nil {
			*errs = append(*errs, c.keyLine(fmt.Sprintf("chain[%d]", i), fmt.Errorf("chain[%d] (%s): %w", i, e.Name, err)))
			continue
		}
		if cl, ok := m.(io.Closer); ok {
			rt.closers = append(rt.closers, cl)
		}
		if ch, ok := m.(authn.Checker); ok {
			rt.Checkers["module/"+e.Name] = ch
		}
		if rl, ok := m.(registry.Reloader); ok {
			rt.Reloaders["module/"+e.Name] = rl
		}
		entries = append(entries, authn.Entry{Name: e.Name, Flag: e.Flag, Module: m})
	}
	return entries
}

// lineErr puts the line of key before err.
func (c *Config) lineErr(key string, err error) error { return atLine(c.lineOf(key), err) }
