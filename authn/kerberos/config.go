package kerberos

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/keytabs"
)

var _ modenv.Validator = (*Config)(nil)

// Validate checks the section without opening the keytabs: everything
// Build checks, and that a keytab file is named (Build can also take the
// keytabs from Deps). Errors name the yaml key at fault.
func (c *Config) Validate() error {
	if c.Keytab == "" && len(c.Keytabs) == 0 {
		return errors.New("keytab: a keytab file is required")
	}
	if err := c.checkReload(); err != nil {
		return err
	}
	var m Module
	return c.settings(&m)
}

func (c *Config) checkReload() error {
	if c.KeytabReload > 0 && c.KeytabReload < 100*time.Millisecond {
		return fmt.Errorf("kerberos: keytab_reload: %s is too short (at least 100ms; negative: never)", c.KeytabReload)
	}
	return nil
}

// Open builds the module for the chain entry: relative keytab paths are
// taken from the configuration file's directory, and the shared replay
// cache records authenticators.
func (c *Config) Open(env *modenv.Env) (authn.Module, error) {
	r := *c
	r.Keytab = env.Path(c.Keytab)
	r.Keytabs = slices.Clone(c.Keytabs)
	for i, p := range r.Keytabs {
		r.Keytabs[i] = env.Path(p)
	}
	m, err := r.Build(Deps{Replay: env.Replay}, env.Logger)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Build checks the configuration, loads the keytabs (unless Deps has them)
// and returns the module. Errors name the yaml key at fault.
func (c *Config) Build(deps Deps, logger *slog.Logger) (*Module, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if deps.Replay == nil {
		return nil, errors.New("kerberos: a replay cache is required")
	}
	m := &Module{replay: deps.Replay, now: deps.Now, log: logger}
	if m.now == nil {
		m.now = time.Now
	}
	if err := c.settings(m); err != nil {
		return nil, err
	}
	switch n := c.TicketCacheSize; {
	case n == 0:
		m.tickets = newTicketCache(DefaultTicketCacheSize)
	case n > 0:
		m.tickets = newTicketCache(n)
	}
	if err := c.loadKeys(m, deps.Keytabs, logger); err != nil {
		return nil, err
	}
	return m, nil
}

// settings checks the policy part of c (everything but the keytab files)
// and fills it into m.
func (c *Config) settings(m *Module) error {
	m.skew, m.stripRealm, m.decodePAC = c.ClockSkew, true, true
	if c.StripRealm != nil {
		m.stripRealm = *c.StripRealm
	}
	if c.DecodePAC != nil {
		m.decodePAC = *c.DecodePAC
	}
	switch {
	case m.skew == 0:
		m.skew = DefaultClockSkew
	case m.skew < 0 || m.skew > time.Hour:
		return fmt.Errorf("kerberos: clock_skew: %s is not between 0 and 1h", c.ClockSkew)
	}
	m.maxToken = c.MaxTokenBytes
	switch {
	case m.maxToken == 0:
		m.maxToken = DefaultMaxTokenBytes
	case m.maxToken < 0 || m.maxToken > 1<<20:
		return fmt.Errorf("kerberos: max_token_bytes: %d is not between 1 and 1048576", c.MaxTokenBytes)
	}
	var err error
	if m.enctypes, err = enctypeSet(c.Enctypes); err != nil {
		return err
	}
	if err := c.principals(m); err != nil {
		return err
	}
	if err := c.transitPolicy(m); err != nil {
		return err
	}
	return c.mapRules(m)
}

// transitPolicy parses trusted_transit_realms and trust_kdc_transit_check.
func (c *Config) transitPolicy(m *Module) error {
	m.transit, m.trustKDCTransit = make(map[string]bool), true
	if c.TrustKDCTransitCheck != nil {
		m.trustKDCTransit = *c.TrustKDCTransitCheck
	}
	for _, r := range c.TrustedTransitRealms {
		if r == "" || strings.ContainsAny(r, "@, \\\t\n") {
			return fmt.Errorf("kerberos: trusted_transit_realms: %q is not a realm name", r)
		}
		m.transit[r] = true
	}
	return nil
}

// principals parses service_principals and realms.
func (c *Config) principals(m *Module) error {
	if len(c.ServicePrincipals) == 0 {
		return errors.New("kerberos: service_principals: at least one service principal (HTTP/host@REALM) is required")
	}
	m.spns, m.realms = make(map[string]bool), make(map[string]bool)
	for _, spn := range c.ServicePrincipals {
		name, realm, ok := strings.Cut(spn, "@")
		if !ok || name == "" || realm == "" || strings.Contains(realm, "@") || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
			return fmt.Errorf("kerberos: service_principals: %q is not of the form service/host@REALM", spn)
		}
		m.spns[spn] = true
		m.realms[realm] = true
	}
	m.spnList = strings.Join(m.sortedSPNs(), ", ")
	if len(c.Realms) > 0 {
		m.realms = make(map[string]bool)
		for _, r := range c.Realms {
			if r == "" || strings.ContainsAny(r, "@/ ") {
				return fmt.Errorf("kerberos: realms: %q is not a realm name", r)
			}
			m.realms[r] = true
		}
	}
	return nil
}

func (m *Module) sortedSPNs() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m.spns {
			if !yield(k) {
				return
			}
		}
	})
}

// mapRules compiles principal_map.
func (c *Config) mapRules(m *Module) error {
	m.rules = nil
	for i, r := range c.PrincipalMap {
		re, err := regexp.Compile("^(?:" + r.Match + ")$")
		if err != nil {
			return fmt.Errorf("kerberos: principal_map[%d].match: %w", i, err)
		}
		if r.Principal == "" {
			return fmt.Errorf("kerberos: principal_map[%d].principal: empty", i)
		}
		m.rules = append(m.rules, mapRule{re: re, out: r.Principal})
	}
	return nil
}

// loadKeys takes the keytabs from deps or opens the configured files, and
// checks that every service principal has a key.
func (c *Config) loadKeys(m *Module, given *keytabs.Set, logger *slog.Logger) error {
	if given != nil {
		m.keys = given
	} else {
		files := slices.Clone(c.Keytabs)
		if c.Keytab != "" {
			files = append([]string{c.Keytab}, files...)
		}
		if len(files) == 0 {
			return errors.New("kerberos: keytab: a keytab file is required")
		}
		if err := c.checkReload(); err != nil {
			return err
		}
		ks, err := keytabs.Open(files, keytabs.Options{ReloadInterval: c.KeytabReload, Logger: logger})
		if err != nil {
			return fmt.Errorf("kerberos: keytab: %w", err)
		}
		m.keys, m.ownKeys = ks, true
	}
	for _, spn := range m.sortedSPNs() {
		if !m.keys.Has(spn) {
			m.Close()
			return fmt.Errorf("kerberos: service_principals: %s has no key in the keytab (it has %s)", spn, strings.Join(m.keys.Principals(), ", "))
		}
	}
	return nil
}
