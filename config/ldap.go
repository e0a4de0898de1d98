package config

import (
	"errors"
	"fmt"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/enrich"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/registry/ldap"
)

// LDAPRegistry is a directory registry (type: ldap); its keys are those of
// registry/ldap.Config:
//
//	registries:
//	  directory:
//	    type: ldap
//	    urls: [ldap://ldap1.example.test, ldap://ldap2.example.test]
//	    start_tls: true
//	    ca_file: ldap-ca.pem
//	    bind_dn: cn=authsvc,ou=services,dc=example,dc=test
//	    bind_password_file: ldap-bind-password
//	    user_search:
//	      base_dn: ou=people,dc=example,dc=test
//	      filter: (&(objectClass=inetOrgPerson)(uid=%s))
//	      name_attribute: uid
//	      member_of_attribute: memberOf
//
// A directory verifies PasswordText by binding; it holds no
// password-equivalent, so a username module using it must set
// password_digest: false.
type LDAPRegistry struct {
	ldap.Config `yaml:",inline"`
}

// Open implements RegistryConfig.
func (l *LDAPRegistry) Open(env *Env) (registry.Set, error) {
	c := l.Config
	c.CAFile = env.Path(c.CAFile)
	c.BindPasswordFile = env.Path(c.BindPasswordFile)
	r, err := c.Open(env.Logger)
	if err != nil {
		return registry.Set{}, err
	}
	return r.Set(), nil
}

// EnrichSection is the group-enrichment module (type: enrich): it adds the
// groups and attributes a registry knows to a principal that an earlier
// module authenticated.
//
//   - name: groups
//     type: enrich
//     flag: optional          # required: directory groups are mandatory
//     registry: directory
//     strip_realm: true       # alice@EXAMPLE.TEST is looked up as alice
//     realms: [EXAMPLE.TEST]  # only these realms are stripped; others rejected
//     groups_only: false
type EnrichSection struct {
	Registry   string   `yaml:"registry"`
	StripRealm bool     `yaml:"strip_realm"`
	Realms     []string `yaml:"realms"`
	GroupsOnly bool     `yaml:"groups_only"`
}

// RegistryName implements the check that the named registry exists.
func (e *EnrichSection) RegistryName() string { return e.Registry }

// Validate implements Validator.
func (e *EnrichSection) Validate() error {
	if e.Registry == "" {
		return errors.New("registry is required")
	}
	if len(e.Realms) > 0 && !e.StripRealm {
		return errors.New("realms: only meaningful with strip_realm: true")
	}
	return nil
}

// Open implements ModuleConfig.
func (e *EnrichSection) Open(env *Env) (authn.Module, error) {
	r, err := env.Registry(e.Registry)
	if err != nil {
		return nil, err
	}
	dir := r.Directory
	if dir == nil {
		return nil, fmt.Errorf("registry: %q cannot look users up", e.Registry)
	}
	opts := []enrich.Option{enrich.WithLogger(env.Logger)}
	if e.StripRealm {
		opts = append(opts, enrich.StripRealm(e.Realms...))
	}
	if e.GroupsOnly {
		opts = append(opts, enrich.GroupsOnly())
	}
	return enrich.New(dir, opts...), nil
}
