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

// Build opens the replay cache, the registries and the modules.
func (c *Config) Build(logger *slog.Logger) (_ *Runtime, err error) {
	rt := &Runtime{Registries: map[string]registry.Set{}, Checkers: map[string]authn.Checker{}, Reloaders: map[string]registry.Reloader{}}
	defer func() {
		if err != nil {
			rt.Close() // what was opened before the failure
		}
	}()
	env := &Env{Logger: logger, BaseDir: filepath.Dir(c.Path), Registries: rt.Registries}
	if rt.Replay, err = c.replay.Open(env); err != nil {
		return nil, fmt.Errorf("config: replay: %w", err)
	}
	env.Replay = rt.Replay
	rt.closers = append(rt.closers, rt.Replay)
	if ch, ok := rt.Replay.(authn.Checker); ok {
		rt.Checkers["replay"] = ch
	}
	if sc := c.SecureConversation; sc != nil {
		if rt.Contexts, err = sc.openContexts(env, logger); err != nil {
			return nil, fmt.Errorf("config: secure_conversation: %w", err)
		}
		env.Contexts = rt.Contexts
		if cl, ok := rt.Contexts.(io.Closer); ok {
			rt.closers = append(rt.closers, cl)
		}
		if ch, ok := rt.Contexts.(authn.Checker); ok {
			rt.Checkers["secure_conversation"] = ch
		}
	}
	names := make([]string, 0, len(c.regs))
	for n := range c.regs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r, err := c.regs[n].Open(env.With(n, logger.With("registry", n)))
		if err != nil {
			return nil, fmt.Errorf("config: registries.%s: %w", n, err)
		}
		rt.Registries[n] = r
		if r.Closer != nil {
			rt.closers = append(rt.closers, r.Closer)
		}
		if r.Health != nil {
			rt.Checkers["registry/"+n] = r.Health
		}
	}
	entries := make([]authn.Entry, 0, len(c.Modules))
	for i, e := range c.Modules {
		m, err := e.Config.Open(env.With(e.Name, logger.With("module", e.Name)))
		if err != nil {
			return nil, fmt.Errorf("config: chain[%d] (%s): %w", i, e.Name, err)
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
	if rt.Chain, err = authn.NewChain(entries...); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	rt.Chain = rt.Chain.WithPassThrough(c.Security.passThrough...)
	return rt, nil
}
