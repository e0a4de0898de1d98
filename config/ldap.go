package config

import (
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
