package config

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/kerberos"
)

// KerberosSection configures the Kerberos module (type: kerberos): the
// Kerberos Token Profile's BinarySecurityToken and HTTP Negotiate.
//
//   - name: sso
//     type: kerberos
//     flag: sufficient
//     keytab: /etc/authsvc/http.keytab     # or keytabs: [a.keytab, b.keytab]
//     service_principals: [HTTP/soap.example.com@EXAMPLE.COM]
//     clock_skew: 5m
//     realms: [EXAMPLE.COM]                # default: the service principals' realms
//     strip_realm: true                    # principal "alice", realm "EXAMPLE.COM"
//     principal_map: [{match: '(.*)@CHILD\.EXAMPLE\.COM', principal: 'child-$1'}]
//     decode_pac: true
//     ticket_cache_size: 10000
//     keytab_reload: 10s
//     max_token_bytes: 65536
//
// Relative keytab paths are taken from the configuration file's directory.
type KerberosSection struct {
	kerberos.Config `yaml:",inline"`
}

// NewKerberosSection returns the section with its defaults.
func NewKerberosSection() ModuleConfig { return new(KerberosSection) }

// Validate implements Validator.
func (k *KerberosSection) Validate() error {
	if k.Keytab == "" && len(k.Keytabs) == 0 {
		return errors.New("keytab: a keytab file is required")
	}
	if len(k.ServicePrincipals) == 0 {
		return errors.New("service_principals: at least one service principal (HTTP/host@REALM) is required")
	}
	if k.ClockSkew < 0 || k.ClockSkew > time.Hour {
		return fmt.Errorf("clock_skew: %s is not between 0 and 1h", k.ClockSkew)
	}
	return nil
}

// Open implements ModuleConfig.
func (k *KerberosSection) Open(env *Env) (authn.Module, error) {
	c := k.Config
	c.Keytab = env.Path(c.Keytab)
	c.Keytabs = slices.Clone(c.Keytabs)
	for i, p := range c.Keytabs {
		c.Keytabs[i] = env.Path(p)
	}
	return c.Open(kerberos.Deps{Replay: env.Replay}, env.Logger)
}
