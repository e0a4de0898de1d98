// Package ldap is a user registry backed by an LDAP directory (OpenLDAP,
// Active Directory, 389-DS).
//
// It checks cleartext passwords (registry.Passwords) by search-then-bind: a
// service account finds the user's entry with a configured filter, in which
// the user name is escaped, then a bind as that entry's DN checks the
// password. Empty passwords are refused before any bind, because most servers
// take a simple bind with an empty password as an unauthenticated bind and
// answer "success". The bind carries the password-policy request control
// (draft-behera): an account that is locked, whose password expired or must
// be changed after a reset is rejected, and the log says which.
//
// It looks up users (registry.Directory) for modules that authenticated a
// principal some other way (Kerberos), so that directory groups and
// attributes can be added to the Subject; see authn/enrich.
//
// It does NOT implement registry.Secrets: a bind can only say yes or no to a
// password, and a directory does not hand out the password-equivalent that
// PasswordDigest and UsernameToken key derivation need. Configure those token
// types against a registry that holds digest secrets (the file registry), not
// against LDAP.
//
// Groups come from the user entry's memberOf attribute, from a group search
// (member, uniqueMember, memberUid), or both. Nested groups are found where
// the server resolves them: memberOf on Active Directory lists direct groups
// only, but a group search with the matching rule 1.2.840.113556.1.4.1941
// ("member:1.2.840.113556.1.4.1941:") walks the chain.
//
// Errors: a wrong password, an unknown user, a locked account are
// rejections ((nil, false, nil) or ErrNotFound); a directory that cannot be
// reached or does not answer in time is an error that wraps
// health.ErrUnavailable, which the chain turns into a retryable fault.
//
// A users-in-LDAP configuration:
//
//	urls: [ldap://ldap1.example.test, ldap://ldap2.example.test]
//	start_tls: true
//	ca_file: /etc/authsvc/ldap-ca.pem
//	bind_dn: cn=authsvc,ou=services,dc=example,dc=test
//	bind_password_file: /etc/authsvc/ldap-bind-password
//	user_search:
//	  base_dn: ou=people,dc=example,dc=test
//	  filter: (&(objectClass=inetOrgPerson)(uid=%s))
//	  name_attribute: uid
//	  member_of_attribute: memberOf
//	  attributes: [mail, displayName]
//	group_search:
//	  base_dn: ou=groups,dc=example,dc=test
//	  filter: (|(objectClass=groupOfUniqueNames)(objectClass=posixGroup))
//	  user_matchers:
//	    - {user_attribute: dn, group_attribute: uniqueMember}
//	    - {user_attribute: uid, group_attribute: memberUid}
//	  name_attribute: cn
//	request_timeout: 5s
//	max_connections: 4
//	credential_cache: {ttl: 30s, negative_ttl: 5s}
package ldap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/logsafe"
	"github.com/authsvc/authsvc/internal/uniq"
	"github.com/authsvc/authsvc/registry"
)

// Registry is an LDAP-backed registry. It is safe for concurrent use.
type Registry struct {
	cfg     *Config
	log     *slog.Logger
	servers []*server
	search  *pool // service-account connections
	binds   *pool // connections for users' binds
	cache   *credCache
	sids    *sidCache // with active_directory
	now     func() time.Time
	// dummyDN is bound to when the user is unknown, so that an unknown user
	// costs a round trip like a wrong password does.
	dummyDN string

	mu        sync.Mutex
	downUntil map[*server]time.Time
}

var (
	_ registry.Passwords = (*Registry)(nil)
	_ registry.Directory = (*Registry)(nil)
	_ health.Checker     = (*Registry)(nil)
)

func newRegistry(cfg *Config, servers []*server, logger *slog.Logger) (*Registry, error) {
	r := &Registry{
		cfg:       cfg,
		log:       logger,
		servers:   servers,
		downUntil: make(map[*server]time.Time),
		dummyDN:   "cn=authsvc-no-such-user," + cfg.UserSearch.BaseDN,
		now:       time.Now,
	}
	if cfg.ActiveDirectory != nil {
		r.sids = newSIDCache(cfg.ActiveDirectory)
	}
	r.search = newPool(r, true, cfg.MaxConnections)
	r.binds = newPool(r, false, cfg.MaxConnections)
	if cfg.CredentialCache.TTL > 0 {
		r.cache = newCredCache(cfg.CredentialCache)
	}
	return r, nil
}

// Set returns the directory's capabilities: it verifies passwords (by
// binding) and looks users up, but holds no password-equivalent secrets.
func (r *Registry) Set() registry.Set {
	return registry.Set{Passwords: r, Directory: r, Health: r, Closer: r}
}

// Close closes the pooled connections. Operations under way finish.
func (r *Registry) Close() error {
	r.search.close()
	r.binds.close()
	return nil
}

// FlushCache forgets every remembered password check.
func (r *Registry) FlushCache() {
	if r.cache != nil {
		r.cache.forget()
	}
}

// Check implements health.Checker: it reads the root DSE over a service
// connection, so it fails while no server answers or the service account
// cannot bind.
func (r *Registry) Check(ctx context.Context) error {
	return r.with(ctx, r.search, func(c *conn) error {
		if err := r.ping(ctx, c); err != nil {
			return fmt.Errorf("ldap: health check on %s: %w", c.server.url, err)
		}
		return nil
	})
}

// maxNameLen bounds user names; no directory has longer ones.
const maxNameLen = 256

// VerifyPassword implements registry.Passwords.
func (r *Registry) VerifyPassword(ctx context.Context, name, password string) (*registry.User, bool, error) {
	if password == "" {
		r.log.Info("ldap: password rejected", "user", logsafe.Clip(name, logsafe.MaxName), "reason", "empty password")
		return nil, false, nil
	}
	if name == "" || len(name) > maxNameLen || strings.ContainsRune(name, 0) {
		r.log.Info("ldap: password rejected", "user", logsafe.Clip(name, logsafe.MaxName), "reason", "malformed user name")
		return nil, false, nil
	}
	var key [32]byte
	if r.cache != nil {
		key = r.cache.key(name, password)
		if u, ok, resolved, found := r.cache.get(key); found {
			registry.TraceResolved(ctx, resolved)
			return u, ok, nil
		}
	}
	u, ok, resolved, err := r.verify(ctx, name, password)
	if err != nil {
		return nil, false, err
	}
	if r.cache != nil {
		r.cache.put(key, u, resolved)
	}
	return u, ok, nil
}

// verify checks a password against the directory. resolved is the name
// attribute of the entry the name matched, "" when none did; it is reported
// to the context's registry.Trace.
func (r *Registry) verify(ctx context.Context, name, password string) (_ *registry.User, _ bool, resolved string, _ error) {
	u, ok, resolved, err := r.verifyEntry(ctx, name, password)
	registry.TraceResolved(ctx, resolved)
	return u, ok, resolved, err
}

func (r *Registry) verifyEntry(ctx context.Context, name, password string) (_ *registry.User, _ bool, resolved string, _ error) {
	e, err := r.findUser(ctx, name)
	if err == nil {
		resolved = e.GetEqualFoldAttributeValue(r.cfg.UserSearch.NameAttribute)
	}
	switch {
	case errors.Is(err, registry.ErrNotFound):
		// Spend a bind like a known user would, and say no.
		if _, err := r.bind(ctx, r.dummyDN, password); err != nil {
			return nil, false, "", err
		}
		r.log.Info("ldap: password rejected", "user", logsafe.Clip(name, logsafe.MaxName), "reason", logsafe.Clip(err.Error(), logsafe.MaxText))
		return nil, false, "", nil
	case err != nil:
		return nil, false, "", err
	}
	if why := r.accountRefusal(e); why != "" {
		// Spend the bind a usable account would, and say no as for a wrong
		// password.
		if _, err := r.bind(ctx, r.dummyDN, password); err != nil {
			return nil, false, resolved, err
		}
		r.log.Info("ldap: password rejected", "user", logsafe.Clip(name, logsafe.MaxName), "dn", e.DN, "reason", why)
		return nil, false, resolved, nil
	}
	reason, err := r.bind(ctx, e.DN, password)
	if err != nil {
		return nil, false, resolved, err
	}
	if reason != "" {
		r.log.Info("ldap: password rejected", "user", logsafe.Clip(name, logsafe.MaxName), "dn", e.DN, "reason", reason)
		return nil, false, resolved, nil
	}
	u, err := r.userFromEntry(ctx, name, e)
	if err != nil {
		return nil, false, resolved, err
	}
	return u, true, resolved, nil
}

// LookupUser implements registry.Directory.
func (r *Registry) LookupUser(ctx context.Context, name string) (*registry.User, error) {
	if name == "" || len(name) > maxNameLen || strings.ContainsRune(name, 0) {
		return nil, fmt.Errorf("ldap: malformed user name: %w", registry.ErrNotFound)
	}
	e, err := r.findUser(ctx, name)
	if err != nil {
		return nil, err
	}
	if why := r.accountRefusal(e); why != "" {
		r.log.Info("ldap: user refused", "user", logsafe.Clip(name, logsafe.MaxName), "dn", e.DN, "reason", why)
		return nil, adRefused(name, why)
	}
	return r.userFromEntry(ctx, name, e)
}

// accountRefusal says why the entry's account may not log in, or "" (always
// "" without active_directory).
func (r *Registry) accountRefusal(e *goldap.Entry) string {
	if r.cfg.ActiveDirectory == nil {
		return ""
	}
	return adAccountRefusal(e, r.now())
}

// userAttributes are the attributes a user search asks for.
func (r *Registry) userAttributes() []string {
	us := r.cfg.UserSearch
	attrs := []string{us.NameAttribute}
	if us.MemberOfAttribute != "" {
		attrs = append(attrs, us.MemberOfAttribute)
	}
	attrs = append(attrs, us.Attributes...)
	if r.cfg.ActiveDirectory != nil {
		attrs = append(attrs, adStateAttributes...)
	}
	if gs := r.cfg.GroupSearch; gs != nil {
		for _, m := range gs.UserMatchers {
			if !strings.EqualFold(m.UserAttribute, "dn") {
				attrs = append(attrs, m.UserAttribute)
			}
		}
	}
	slices.Sort(attrs)
	return slices.Compact(attrs)
}

// findUser returns the one entry the user filter matches, or an error
// wrapping registry.ErrNotFound when none or several do.
func (r *Registry) findUser(ctx context.Context, name string) (*goldap.Entry, error) {
	us := r.cfg.UserSearch
	if ad := r.cfg.ActiveDirectory; ad != nil {
		short, ok := ad.adName(name)
		if !ok {
			return nil, fmt.Errorf("ldap: %q names another domain than %q: %w", logsafe.Clip(name, logsafe.MaxName), ad.NetBIOSDomain, registry.ErrNotFound)
		}
		name = short
	}
	scope, _ := parseScope(us.Scope)
	filter := strings.ReplaceAll(us.Filter, "%s", goldap.EscapeFilter(name))
	req := goldap.NewSearchRequest(us.BaseDN, scope, goldap.NeverDerefAliases, 2,
		r.timeLimit(), false, filter, r.userAttributes(), nil)
	var res *goldap.SearchResult
	err := r.with(ctx, r.search, func(c *conn) error {
		var err error
		res, err = c.Search(req)
		if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
			return nil // more than one: judged below
		}
		return err
	})
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil, fmt.Errorf("ldap: user_search.base_dn %s does not exist: %w", us.BaseDN, errors.Join(err, health.ErrUnavailable))
	}
	if err != nil {
		return nil, fmt.Errorf("ldap: searching user %q: %w", logsafe.Clip(name, logsafe.MaxName), wrapUnavailable(err))
	}
	switch len(res.Entries) {
	case 0:
		return nil, fmt.Errorf("ldap: no entry matches user %q: %w", logsafe.Clip(name, logsafe.MaxName), registry.ErrNotFound)
	case 1:
		return res.Entries[0], nil
	}
	r.log.Warn("ldap: user filter matches several entries; refusing the user", "user", logsafe.Clip(name, logsafe.MaxName), "filter", us.Filter)
	return nil, fmt.Errorf("ldap: several entries match user %q: %w", logsafe.Clip(name, logsafe.MaxName), registry.ErrNotFound)
}

func (r *Registry) timeLimit() int {
	return max(1, int(r.cfg.RequestTimeout/time.Second))
}

// bind checks a password by binding as dn. It returns "" when the bind
// succeeded and the password policy lets the user in, the reason for the
// log when the password is refused, and an error for a technical failure.
func (r *Registry) bind(ctx context.Context, dn, password string) (reason string, err error) {
	if password == "" {
		return "empty password", nil // never an unauthenticated bind
	}
	err = r.with(ctx, r.binds, func(c *conn) error {
		req := goldap.NewSimpleBindRequest(dn, password, []goldap.Control{goldap.NewControlBeheraPasswordPolicy()})
		res, err := c.SimpleBind(req)
		var ctrls []goldap.Control
		if res != nil {
			ctrls = res.Controls
		}
		reason = r.bindOutcome(dn, err, ctrls)
		if reason != "" {
			return nil // a rejection, not a failure of the connection
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("ldap: bind: %w", wrapUnavailable(err))
	}
	return reason, nil
}

// bindOutcome turns a bind result into a rejection reason, or "" when the
// bind succeeded without policy objections (or failed technically).
func (r *Registry) bindOutcome(dn string, err error, ctrls []goldap.Control) string {
	var pp *goldap.ControlBeheraPasswordPolicy
	if c, ok := goldap.FindControl(ctrls, goldap.ControlTypeBeheraPasswordPolicy).(*goldap.ControlBeheraPasswordPolicy); ok {
		pp = c
	}
	if err == nil {
		switch {
		case pp != nil && pp.Error >= 0:
			return "password policy: " + ppolicyReason(pp.Error)
		case goldap.FindControl(ctrls, goldap.ControlTypeVChuPasswordMustChange) != nil:
			return "password policy: the password must be changed"
		}
		if pp != nil && pp.Grace > 0 {
			r.log.Warn("ldap: password expired; the directory allowed a grace login", "dn", dn, "grace_logins_left", pp.Grace)
		} else if pp != nil && pp.Expire > 0 {
			r.log.Info("ldap: password expires soon", "dn", dn, "seconds_left", pp.Expire)
		}
		return ""
	}
	var le *goldap.Error
	if !errors.As(err, &le) {
		return ""
	}
	switch le.ResultCode {
	case goldap.LDAPResultInvalidCredentials, goldap.LDAPResultInappropriateAuthentication,
		goldap.LDAPResultUnwillingToPerform, goldap.LDAPResultInsufficientAccessRights, goldap.LDAPResultConstraintViolation:
	default:
		return ""
	}
	if pp != nil && pp.Error >= 0 {
		return "password policy: " + ppolicyReason(pp.Error)
	}
	if why := adReason(le.Err); why != "" {
		return why
	}
	if le.ResultCode == goldap.LDAPResultInvalidCredentials {
		return "wrong password"
	}
	return fmt.Sprintf("bind refused: %s", goldap.LDAPResultCodeMap[le.ResultCode])
}

func ppolicyReason(code int8) string {
	switch code {
	case goldap.BeheraPasswordExpired:
		return "the password has expired"
	case goldap.BeheraAccountLocked:
		return "the account is locked"
	case goldap.BeheraChangeAfterReset:
		return "the password was reset and must be changed"
	}
	if s, ok := goldap.BeheraPasswordPolicyErrorMap[code]; ok {
		return s
	}
	return fmt.Sprintf("error %d", code)
}

// adReason reads Active Directory's sub-code from a bind error's diagnostic
// message ("... data 775, ...").
func adReason(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	i := strings.Index(msg, "data ")
	if i < 0 || len(msg) < i+8 {
		return ""
	}
	switch msg[i+5 : i+8] {
	case "525":
		return "active directory: user not found"
	case "52e":
		return "wrong password"
	case "530":
		return "active directory: logon not permitted at this time"
	case "531":
		return "active directory: logon not permitted from this workstation"
	case "532":
		return "active directory: the password has expired"
	case "533":
		return "active directory: the account is disabled"
	case "701":
		return "active directory: the account has expired"
	case "773":
		return "active directory: the password must be changed"
	case "775":
		return "active directory: the account is locked"
	}
	return ""
}

// userFromEntry builds the User of an entry, with its groups.
func (r *Registry) userFromEntry(ctx context.Context, name string, e *goldap.Entry) (*registry.User, error) {
	us := r.cfg.UserSearch
	u := &registry.User{Name: e.GetEqualFoldAttributeValue(us.NameAttribute)}
	if u.Name == "" {
		u.Name = name
	}
	for _, a := range us.Attributes {
		if v := e.GetEqualFoldAttributeValues(a); len(v) > 0 {
			if u.Attributes == nil {
				u.Attributes = make(map[string][]string)
			}
			u.Attributes[a] = slices.Clone(v)
		}
	}
	if us.MemberOfAttribute != "" {
		dns := e.GetEqualFoldAttributeValues(us.MemberOfAttribute)
		names := make([]string, len(dns))
		for i, dn := range dns {
			names[i] = rdnValue(dn) // "" for a DN without a value: skipped
		}
		u.Groups = uniq.Append(u.Groups, names, true)
	}
	if r.cfg.GroupSearch != nil {
		groups, err := r.searchGroups(ctx, e)
		if err != nil {
			return nil, err
		}
		u.Groups = uniq.Append(u.Groups, groups, false)
	}
	return u, nil
}

// groupPageSize is how many groups one page of a group search asks for
// (RFC 2696 paged results). A user can be in more groups than a directory
// returns for one search (Active Directory's MaxPageSize is 1000, slapd's
// default size limit 500); the pages together hold them all. A server that
// does not page answers in one go, as the control is not critical.
const groupPageSize = 500

func (r *Registry) searchGroups(ctx context.Context, e *goldap.Entry) ([]string, error) {
	gs := r.cfg.GroupSearch
	var or strings.Builder
	n := 0
	for _, m := range gs.UserMatchers {
		var values []string
		if strings.EqualFold(m.UserAttribute, "dn") {
			values = []string{e.DN}
		} else {
			values = e.GetEqualFoldAttributeValues(m.UserAttribute)
		}
		for _, v := range values {
			fmt.Fprintf(&or, "(%s=%s)", m.GroupAttribute, goldap.EscapeFilter(v))
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	filter := or.String()
	if n > 1 {
		filter = "(|" + filter + ")"
	}
	if gs.Filter != "" {
		filter = "(&" + gs.Filter + filter + ")"
	}
	scope, _ := parseScope(gs.Scope)
	var res *goldap.SearchResult
	err := r.with(ctx, r.search, func(c *conn) error {
		// A new request each try: paging keeps its cookie in the request's
		// control, which belongs to the connection that issued it.
		req := goldap.NewSearchRequest(gs.BaseDN, scope, goldap.NeverDerefAliases, 0,
			r.timeLimit(), false, filter, []string{gs.NameAttribute}, nil)
		var err error
		res, err = c.SearchWithPaging(req, groupPageSize)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ldap: searching the groups of %s: %w", e.DN, wrapUnavailable(err))
	}
	var groups []string
	for _, g := range res.Entries {
		groups = append(groups, g.GetEqualFoldAttributeValues(gs.NameAttribute)...)
	}
	slices.Sort(groups)
	return slices.Compact(groups), nil
}

// rdnValue returns the value of a DN's first RDN: "soap-users" for
// cn=soap-users,ou=groups,dc=example,dc=test.
func rdnValue(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 || len(d.RDNs[0].Attributes) == 0 {
		return ""
	}
	return d.RDNs[0].Attributes[0].Value
}

// wrapUnavailable marks technical failures for the chain.
func wrapUnavailable(err error) error {
	if errors.Is(err, health.ErrUnavailable) {
		return err
	}
	return errors.Join(err, health.ErrUnavailable)
}

func copyUser(u *registry.User) *registry.User {
	c := *u
	c.Groups = slices.Clone(u.Groups)
	if u.Attributes != nil {
		c.Attributes = make(map[string][]string, len(u.Attributes))
		for k, v := range u.Attributes {
			c.Attributes[k] = slices.Clone(v)
		}
	}
	return &c
}
