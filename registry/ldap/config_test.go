package ldap

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const exampleYAML = `
urls: [ldap://ldap1.example.test, "ldap://ldap2.example.test:1389"]
start_tls: true
bind_dn: cn=authsvc,ou=services,dc=example,dc=test
bind_password_file: @PWFILE@
user_search:
  base_dn: ou=people,dc=example,dc=test
  filter: (&(objectClass=inetOrgPerson)(uid=%s))
  name_attribute: uid
  member_of_attribute: memberOf
  attributes: [mail, displayName]
group_search:
  base_dn: ou=groups,dc=example,dc=test
  filter: (|(objectClass=groupOfUniqueNames)(objectClass=posixGroup))
  user_matchers:
    - {user_attribute: dn, group_attribute: uniqueMember}
    - {user_attribute: uid, group_attribute: memberUid}
  name_attribute: cn
dial_timeout: 3s
request_timeout: 5s
max_connections: 4
health_check_interval: 1m
failover_backoff: 10s
credential_cache: {ttl: 30s, negative_ttl: 5s, max_entries: 1000}
`

func TestConfigYAML(t *testing.T) {
	pw := writeTemp(t, "pw", []byte("servicesecret\n"))
	dec := yaml.NewDecoder(bytes.NewReader([]byte(strings.ReplaceAll(exampleYAML, "@PWFILE@", pw))))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.RequestTimeout != 5*time.Second || c.HealthCheckInterval != time.Minute || c.CredentialCache.NegativeTTL != 5*time.Second {
		t.Errorf("durations: %+v", c)
	}
	if len(c.GroupSearch.UserMatchers) != 2 || c.GroupSearch.UserMatchers[1].GroupAttribute != "memberUid" {
		t.Errorf("group_search: %+v", c.GroupSearch)
	}
	r, err := c.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A directory binds and looks up, but holds no password-equivalent.
	if s := r.Set(); s.Passwords == nil || s.Directory == nil || s.Secrets != nil || s.Health == nil || s.Closer == nil {
		t.Errorf("ldap registry set: %+v", s)
	}
	if r.cfg.BindPassword != "servicesecret" {
		t.Errorf("bind_password_file: read %q", r.cfg.BindPassword)
	}
	if r.cache == nil || r.cache.max != 1000 {
		t.Error("the credential cache is not configured")
	}
	if got := r.servers[1].hostport; got != "ldap2.example.test:1389" {
		t.Errorf("hostport = %q", got)
	}
	if got := r.servers[0].hostport; got != "ldap1.example.test:389" {
		t.Errorf("hostport = %q", got)
	}
	if r.servers[0].tls == nil || r.servers[0].tls.ServerName != "ldap1.example.test" {
		t.Error("StartTLS config is missing its server name")
	}
}

func TestConfigValidation(t *testing.T) {
	base := func() *Config {
		return &Config{
			URLs:       []string{"ldaps://ldap.example.test"},
			UserSearch: UserSearch{BaseDN: "dc=example,dc=test"},
		}
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   string // the yaml key named in the error
	}{
		{"no urls", func(c *Config) { c.URLs = nil }, "urls:"},
		{"bad scheme", func(c *Config) { c.URLs = []string{"http://x"} }, "urls[0]:"},
		{"path", func(c *Config) { c.URLs = []string{"ldaps://x/dc=example"} }, "urls[0]:"},
		{"clear text", func(c *Config) { c.URLs = []string{"ldaps://a", "ldap://b"} }, "urls[1]:"},
		{"ca file", func(c *Config) { c.CAFile = "/nonexistent/ca.pem" }, "ca_file:"},
		{"not pem", func(c *Config) { c.CAFile = "/etc/hostname" }, "ca_file:"},
		{"no bind password", func(c *Config) { c.BindDN = "cn=x" }, "bind_password:"},
		{"password without dn", func(c *Config) { c.BindPassword = "x" }, "bind_dn:"},
		{"both passwords", func(c *Config) { c.BindDN, c.BindPassword, c.BindPasswordFile = "cn=x", "x", "/y" }, "bind_password_file"},
		{"no base", func(c *Config) { c.UserSearch.BaseDN = "" }, "user_search.base_dn:"},
		{"bad base", func(c *Config) { c.UserSearch.BaseDN = "not a dn" }, "user_search.base_dn:"},
		{"scope", func(c *Config) { c.UserSearch.Scope = "base" }, "user_search.scope:"},
		{"filter without %s", func(c *Config) { c.UserSearch.Filter = "(uid=alice)" }, "user_search.filter:"},
		{"bad filter", func(c *Config) { c.UserSearch.Filter = "(uid=%s" }, "user_search.filter:"},
		{"group base", func(c *Config) { c.GroupSearch = &GroupSearch{} }, "group_search.base_dn:"},
		{"group filter", func(c *Config) { c.GroupSearch = &GroupSearch{BaseDN: "dc=x", Filter: "objectClass=x"} }, "group_search.filter:"},
		{"matcher", func(c *Config) {
			c.GroupSearch = &GroupSearch{BaseDN: "dc=x", UserMatchers: []UserMatcher{{UserAttribute: "dn"}}}
		}, "group_search.user_matchers[0]:"},
		{"timeout", func(c *Config) { c.RequestTimeout = -time.Second }, "request_timeout"},
		{"pool", func(c *Config) { c.MaxConnections = -1 }, "max_connections:"},
		{"ttl", func(c *Config) { c.CredentialCache.TTL = time.Hour }, "credential_cache.ttl:"},
		{"negative ttl", func(c *Config) { c.CredentialCache = CacheConfig{TTL: time.Second, NegativeTTL: time.Minute} }, "credential_cache.negative_ttl:"},
	}
	for _, tc := range cases {
		c := base()
		tc.change(c)
		_, err := c.Open(nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ldap: ") {
			t.Errorf("%s: Open = %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	// Open works on a copy: defaults do not leak into the caller's struct.
	c := base()
	if _, err := c.Open(nil); err != nil {
		t.Fatal(err)
	}
	if c.UserSearch.Filter != "" || c.RequestTimeout != 0 {
		t.Errorf("Open changed its receiver: %+v", c)
	}
	// Plain ldap:// is accepted with start_tls or allow_insecure.
	for _, f := range []func(*Config){
		func(c *Config) { c.StartTLS = true },
		func(c *Config) { c.AllowInsecure = true },
	} {
		c := base()
		c.URLs = []string{"ldap://127.0.0.1:1389"}
		f(c)
		if _, err := c.Open(nil); err != nil {
			t.Error(err)
		}
	}
}

func TestADReason(t *testing.T) {
	msg := "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563"
	if got := adReason(errString(msg)); got != "active directory: the account is locked" {
		t.Errorf("adReason = %q", got)
	}
	if got := adReason(errString("invalid credentials")); got != "" {
		t.Errorf("adReason = %q", got)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
