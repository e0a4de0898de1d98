package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/authsvc/authsvc/internal/tlsconf"
)

// Config is the yaml configuration of an LDAP registry, and its factory
// (Open). Zero values take the defaults named on each field.
type Config struct {
	// URLs are the directory servers, tried in order: ldap://host[:port]
	// or ldaps://host[:port]. A server that fails to answer is tried last
	// for FailoverBackoff.
	URLs []string `yaml:"urls"`
	// StartTLS upgrades ldap:// connections with StartTLS before anything
	// is sent.
	StartTLS bool `yaml:"start_tls"`
	// CAFile is a PEM file of the CAs that sign the servers' certificates;
	// empty: the system pool.
	CAFile string `yaml:"ca_file"`
	// ServerName overrides the name checked in server certificates
	// (default: the host of each URL).
	ServerName string `yaml:"server_name"`
	// AllowInsecure permits ldap:// without StartTLS: passwords then cross
	// the network in clear text. For loopback tests only.
	AllowInsecure bool `yaml:"allow_insecure"`

	// BindDN and BindPassword (or BindPasswordFile) are the service
	// account's, which searches users and groups. Empty BindDN: anonymous.
	BindDN           string `yaml:"bind_dn"`
	BindPassword     string `yaml:"bind_password"`
	BindPasswordFile string `yaml:"bind_password_file"`

	// UserSearch finds a user's entry (required).
	UserSearch UserSearch `yaml:"user_search"`
	// GroupSearch, when set, finds the groups whose members include the
	// user (else groups come from member_of_attribute).
	GroupSearch *GroupSearch `yaml:"group_search"`
	// ActiveDirectory, when set, adds what an AD domain needs: DOMAIN\user
	// names, account states (disabled, locked out, expired) and SID names.
	ActiveDirectory *ActiveDirectory `yaml:"active_directory"`

	// DialTimeout bounds connecting, TLS and the service bind (default 5s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// RequestTimeout bounds each LDAP operation (default 5s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// MaxConnections bounds each of the two connection pools: service
	// connections for searches, and connections for users' binds
	// (default 4 each).
	MaxConnections int `yaml:"max_connections"`
	// HealthCheckInterval: a pooled connection idle for longer is checked
	// with a root DSE read before use (default 30s).
	HealthCheckInterval time.Duration `yaml:"health_check_interval"`
	// FailoverBackoff is how long a server that failed is tried only after
	// the others (default 30s).
	FailoverBackoff time.Duration `yaml:"failover_backoff"`

	// CredentialCache caches the results of password checks; off unless
	// ttl is set.
	CredentialCache CacheConfig `yaml:"credential_cache"`
}

// UserSearch finds a user's entry.
type UserSearch struct {
	// BaseDN is where users are searched (required).
	BaseDN string `yaml:"base_dn"`
	// Scope is "sub" (default) or "one".
	Scope string `yaml:"scope"`
	// Filter finds one user; every %s is replaced by the escaped user name.
	// Default (&(objectClass=person)(uid=%s)); for Active Directory
	// (&(objectClass=user)(sAMAccountName=%s)) or userPrincipalName.
	Filter string `yaml:"filter"`
	// NameAttribute holds the name that becomes the principal (default uid).
	NameAttribute string `yaml:"name_attribute"`
	// MemberOfAttribute, when set (memberOf on OpenLDAP with the memberof
	// overlay and on Active Directory), lists the user's group DNs; the value
	// of each DN's first RDN (the cn) becomes a group name.
	MemberOfAttribute string `yaml:"member_of_attribute"`
	// Attributes are copied from the user's entry into User.Attributes.
	Attributes []string `yaml:"attributes"`
}

// GroupSearch finds the groups whose members include the user. The search
// is paged (RFC 2696, 500 a page), so a user may be in more groups than the
// directory returns for one search (Active Directory's MaxPageSize).
type GroupSearch struct {
	// BaseDN is where groups are searched (required).
	BaseDN string `yaml:"base_dn"`
	// Scope is "sub" (default) or "one".
	Scope string `yaml:"scope"`
	// Filter restricts the search, e.g. (objectClass=groupOfNames)
	// (default: any entry).
	Filter string `yaml:"filter"`
	// UserMatchers say how a group names its members; a group matches when
	// any matcher does. Default: member = the user's DN.
	UserMatchers []UserMatcher `yaml:"user_matchers"`
	// NameAttribute holds the group's name (default cn).
	NameAttribute string `yaml:"name_attribute"`
}

// UserMatcher matches a group attribute against a user attribute.
type UserMatcher struct {
	// UserAttribute is "dn" (the entry's DN) or an attribute of the user
	// entry (uid, for posixGroup's memberUid).
	UserAttribute string `yaml:"user_attribute"`
	// GroupAttribute is member, uniqueMember or memberUid. On Active
	// Directory, "member:1.2.840.113556.1.4.1941:" finds nested groups.
	GroupAttribute string `yaml:"group_attribute"`
}

// CacheConfig configures the credential cache.
type CacheConfig struct {
	// TTL is how long a successful check is remembered (0: no cache; at
	// most MaxCacheTTL). A password changed or an account locked in the
	// directory keeps working from the cache for at most this long.
	TTL time.Duration `yaml:"ttl"`
	// NegativeTTL is how long a failed check is remembered (default TTL;
	// at most TTL). While a failure is remembered, the same wrong password
	// does not reach the directory again, so it counts once towards a
	// password-policy lockout (pwdMaxFailure), however often a client
	// retries it; a different wrong password is a new check.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// MaxEntries bounds the cache (default 10000).
	MaxEntries int `yaml:"max_entries"`
}

// MaxCacheTTL bounds credential_cache.ttl.
const MaxCacheTTL = 5 * time.Minute

const (
	defaultFilter       = "(&(objectClass=person)(uid=%s))"
	defaultTimeout      = 5 * time.Second
	defaultMaxConns     = 4
	defaultHealthCheck  = 30 * time.Second
	defaultBackoff      = 30 * time.Second
	defaultCacheEntries = 10000
)

type server struct {
	url      string
	scheme   string // ldap or ldaps
	hostport string
	tls      *tls.Config
}

// validate checks c, fills in defaults, and returns the servers.
func (c *Config) validate() ([]*server, error) {
	servers, err := c.servers()
	if err != nil {
		return nil, err
	}
	for _, check := range []func() error{c.checkBind, c.UserSearch.check, c.checkGroupSearch, c.checkTimeouts, c.CredentialCache.check} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	if c.ActiveDirectory != nil {
		if err := c.ActiveDirectory.check(&c.UserSearch); err != nil {
			return nil, err
		}
	}
	return servers, nil
}

// servers parses urls, with the TLS settings of each.
func (c *Config) servers() ([]*server, error) {
	if len(c.URLs) == 0 {
		return nil, errors.New("ldap: urls: at least one server URL is required")
	}
	var roots *x509.CertPool
	if c.CAFile != "" {
		var err error
		if roots, err = tlsconf.CertPool(c.CAFile); err != nil {
			return nil, fmt.Errorf("ldap: ca_file: %w", err)
		}
	}
	servers := make([]*server, 0, len(c.URLs))
	for i, raw := range c.URLs {
		s, err := c.server(i, raw, roots)
		if err != nil {
			return nil, err
		}
		servers = append(servers, s)
	}
	return servers, nil
}

// server parses urls[i].
func (c *Config) server(i int, raw string, roots *x509.CertPool) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("ldap: urls[%d]: %w", i, err)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("ldap: urls[%d]: %q: want ldap://host[:port] or ldaps://host[:port]", i, raw)
	}
	s := &server{url: raw, scheme: u.Scheme}
	host, port := u.Hostname(), u.Port()
	switch u.Scheme {
	case "ldap":
		if port == "" {
			port = goldap.DefaultLdapPort
		}
		if !c.StartTLS && !c.AllowInsecure {
			return nil, fmt.Errorf("ldap: urls[%d]: %s sends passwords in clear text: set start_tls (or allow_insecure for tests)", i, raw)
		}
	case "ldaps":
		if port == "" {
			port = goldap.DefaultLdapsPort
		}
	default:
		return nil, fmt.Errorf("ldap: urls[%d]: scheme %q: want ldap or ldaps", i, u.Scheme)
	}
	s.hostport = net.JoinHostPort(host, port)
	if u.Scheme == "ldaps" || c.StartTLS {
		name := c.ServerName
		if name == "" {
			name = host
		}
		s.tls = &tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return s, nil
}

// checkBind checks the service account and reads bind_password_file.
func (c *Config) checkBind() error {
	if c.BindPassword != "" && c.BindPasswordFile != "" {
		return errors.New("ldap: bind_password and bind_password_file: set one, not both")
	}
	if c.BindDN == "" && (c.BindPassword != "" || c.BindPasswordFile != "") {
		return errors.New("ldap: bind_dn: required with a bind password")
	}
	if c.BindPasswordFile != "" {
		raw, err := os.ReadFile(c.BindPasswordFile)
		if err != nil {
			return fmt.Errorf("ldap: bind_password_file: %w", err)
		}
		c.BindPassword = strings.TrimRight(string(raw), "\r\n")
	}
	if c.BindDN != "" && c.BindPassword == "" {
		return errors.New("ldap: bind_password: required with bind_dn (an empty password would be an unauthenticated bind)")
	}
	return nil
}

func (us *UserSearch) check() error {
	if us.BaseDN == "" {
		return errors.New("ldap: user_search.base_dn: required")
	}
	if _, err := goldap.ParseDN(us.BaseDN); err != nil {
		return fmt.Errorf("ldap: user_search.base_dn: %w", err)
	}
	if _, err := parseScope(us.Scope); err != nil {
		return fmt.Errorf("ldap: user_search.scope: %w", err)
	}
	if us.Filter == "" {
		us.Filter = defaultFilter
	}
	if !strings.Contains(us.Filter, "%s") {
		return fmt.Errorf("ldap: user_search.filter: %q has no %%s for the user name", us.Filter)
	}
	if _, err := goldap.CompileFilter(strings.ReplaceAll(us.Filter, "%s", "x")); err != nil {
		return fmt.Errorf("ldap: user_search.filter: %w", err)
	}
	if us.NameAttribute == "" {
		us.NameAttribute = "uid"
	}
	return nil
}

func (c *Config) checkGroupSearch() error {
	gs := c.GroupSearch
	if gs == nil {
		return nil
	}
	if gs.BaseDN == "" {
		return errors.New("ldap: group_search.base_dn: required")
	}
	if _, err := goldap.ParseDN(gs.BaseDN); err != nil {
		return fmt.Errorf("ldap: group_search.base_dn: %w", err)
	}
	if _, err := parseScope(gs.Scope); err != nil {
		return fmt.Errorf("ldap: group_search.scope: %w", err)
	}
	if gs.Filter != "" {
		if _, err := goldap.CompileFilter(gs.Filter); err != nil {
			return fmt.Errorf("ldap: group_search.filter: %w", err)
		}
	}
	if len(gs.UserMatchers) == 0 {
		gs.UserMatchers = []UserMatcher{{UserAttribute: "dn", GroupAttribute: "member"}}
	}
	for i, m := range gs.UserMatchers {
		if m.UserAttribute == "" || m.GroupAttribute == "" {
			return fmt.Errorf("ldap: group_search.user_matchers[%d]: user_attribute and group_attribute are required", i)
		}
	}
	if gs.NameAttribute == "" {
		gs.NameAttribute = "cn"
	}
	return nil
}

// checkTimeouts checks and defaults the timeouts and the pool size.
func (c *Config) checkTimeouts() error {
	if c.DialTimeout < 0 || c.RequestTimeout < 0 || c.HealthCheckInterval < 0 || c.FailoverBackoff < 0 {
		return errors.New("ldap: dial_timeout, request_timeout, health_check_interval, failover_backoff: must not be negative")
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = defaultTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = defaultTimeout
	}
	if c.HealthCheckInterval == 0 {
		c.HealthCheckInterval = defaultHealthCheck
	}
	if c.FailoverBackoff == 0 {
		c.FailoverBackoff = defaultBackoff
	}
	switch {
	case c.MaxConnections < 0:
		return errors.New("ldap: max_connections: must not be negative")
	case c.MaxConnections == 0:
		c.MaxConnections = defaultMaxConns
	}
	return nil
}

func (cc *CacheConfig) check() error {
	switch {
	case cc.TTL < 0 || cc.NegativeTTL < 0 || cc.MaxEntries < 0:
		return errors.New("ldap: credential_cache: ttl, negative_ttl and max_entries must not be negative")
	case cc.TTL > MaxCacheTTL:
		return fmt.Errorf("ldap: credential_cache.ttl: %v is longer than the %v a changed or locked password may keep working", cc.TTL, MaxCacheTTL)
	case cc.NegativeTTL > cc.TTL:
		return errors.New("ldap: credential_cache.negative_ttl: must not exceed ttl")
	}
	if cc.TTL > 0 {
		if cc.NegativeTTL == 0 {
			cc.NegativeTTL = cc.TTL
		}
		if cc.MaxEntries == 0 {
			cc.MaxEntries = defaultCacheEntries
		}
	}
	return nil
}

func parseScope(s string) (int, error) {
	switch s {
	case "", "sub":
		return goldap.ScopeWholeSubtree, nil
	case "one":
		return goldap.ScopeSingleLevel, nil
	}
	return 0, fmt.Errorf("%q: want sub or one", s)
}

// Open checks the configuration and returns a registry. It does not connect:
// a directory that is down at start makes Check fail until it comes up.
func (c *Config) Open(logger *slog.Logger) (*Registry, error) {
	cfg := *c
	cfg.URLs = append([]string(nil), c.URLs...)
	cfg.UserSearch.Attributes = append([]string(nil), c.UserSearch.Attributes...)
	if c.GroupSearch != nil {
		gs := *c.GroupSearch
		gs.UserMatchers = append([]UserMatcher(nil), gs.UserMatchers...)
		cfg.GroupSearch = &gs
	}
	if c.ActiveDirectory != nil {
		ad := *c.ActiveDirectory
		cfg.ActiveDirectory = &ad
	}
	servers, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return newRegistry(&cfg, servers, logger)
}
