package enrich

import (
	"errors"
	"fmt"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/config/modenv"
)

// Config is the module's configuration section (type: enrich), and its
// factory (Open): it adds the groups and attributes a registry knows to a
// principal that an earlier module authenticated.
//
//   - name: groups
//     type: enrich
//     flag: optional          # required: directory groups are mandatory
//     registry: directory
//     strip_realm: true       # alice@EXAMPLE.TEST is looked up as alice
//     realms: [EXAMPLE.TEST]  # only these realms are stripped; others rejected
//     groups_only: false
//     sid_groups: names       # names, sids or both (see the package comment)
//
// sid_groups defaults to names when the registry resolves SIDs (an LDAP
// registry with active_directory), else to sids; names and both need such a
// registry.
type Config struct {
	// Registry names the registry (under registries) that knows the
	// groups and attributes (required).
	Registry string `yaml:"registry"`
	// StripRealm looks alice@EXAMPLE.TEST up as alice.
	StripRealm bool `yaml:"strip_realm"`
	// Realms, with strip_realm, are the only realms stripped; a principal
	// of another realm is refused.
	Realms []string `yaml:"realms"`
	// GroupsOnly adds groups but not attributes.
	GroupsOnly bool `yaml:"groups_only"`
	// SIDGroups is names, sids or both: what Kerberos PAC group SIDs
	// become (default names when the registry resolves SIDs, else sids).
	SIDGroups string `yaml:"sid_groups"`
}

var (
	_ modenv.Validator    = (*Config)(nil)
	_ modenv.RegistryUser = (*Config)(nil)
)

// RegistryName implements modenv.RegistryUser.
func (c *Config) RegistryName() string { return c.Registry }

// Validate implements modenv.Validator.
func (c *Config) Validate() error {
	if c.Registry == "" {
		return errors.New("registry is required")
	}
	if len(c.Realms) > 0 && !c.StripRealm {
		return errors.New("realms: only meaningful with strip_realm: true")
	}
	switch SIDMode(c.SIDGroups) {
	case "", SIDNames, SIDsOnly, SIDBoth:
	default:
		return fmt.Errorf("sid_groups: %q: want names, sids or both", c.SIDGroups)
	}
	return nil
}

// Open builds the module over the named registry, which must be able to
// look users up.
func (c *Config) Open(env *modenv.Env) (authn.Module, error) {
	r, err := env.Registry(c.Registry)
	if err != nil {
		return nil, err
	}
	if r.Directory == nil {
		return nil, fmt.Errorf("registry: %q cannot look users up", c.Registry)
	}
	opts := []Option{WithLogger(env.Logger)}
	if c.StripRealm {
		opts = append(opts, StripRealm(c.Realms...))
	}
	if c.GroupsOnly {
		opts = append(opts, GroupsOnly())
	}
	res, ok := r.Directory.(SIDResolver)
	resolves := ok && res.ResolvesSIDs()
	switch mode := SIDMode(c.SIDGroups); {
	case mode == "" && resolves:
		opts = append(opts, SIDGroups(res, SIDNames))
	case mode == SIDNames || mode == SIDBoth:
		if !resolves {
			return nil, fmt.Errorf("sid_groups: %s: registry %q cannot resolve SIDs (an ldap registry with active_directory can)", mode, c.Registry)
		}
		opts = append(opts, SIDGroups(res, mode))
	}
	return New(r.Directory, opts...), nil
}
