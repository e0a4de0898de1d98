package ldap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/registry"
)

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// testConfig is a users-in-LDAP configuration for the test directory, with
// groups from memberOf and from a group search over the other group kinds.
func testConfig(l *testenv.LDAP) *Config {
	return &Config{
		URLs:         []string{l.URL},
		StartTLS:     true,
		CAFile:       l.CAFile,
		BindDN:       l.BindDN,
		BindPassword: l.BindPassword,
		UserSearch: UserSearch{
			BaseDN:            "ou=people," + l.BaseDN,
			Filter:            "(&(objectClass=inetOrgPerson)(uid=%s))",
			MemberOfAttribute: "memberOf",
			Attributes:        []string{"mail", "displayName"},
		},
		GroupSearch: &GroupSearch{
			BaseDN: "ou=groups," + l.BaseDN,
			Filter: "(|(objectClass=groupOfUniqueNames)(objectClass=posixGroup))",
			UserMatchers: []UserMatcher{
				{UserAttribute: "dn", GroupAttribute: "uniqueMember"},
				{UserAttribute: "uid", GroupAttribute: "memberUid"},
			},
		},
		DialTimeout:    2 * time.Second,
		RequestTimeout: 2 * time.Second,
	}
}

func open(t testing.TB, c *Config) (*Registry, *logBuffer) {
	t.Helper()
	logger, lb := newLogger(t)
	r, err := c.Open(logger)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, lb
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustAccept(t *testing.T, r *Registry, name, password string) *registry.User {
	t.Helper()
	u, ok, err := r.VerifyPassword(ctx(t), name, password)
	if err != nil || !ok || u == nil {
		t.Fatalf("VerifyPassword(%q) = %v, %v, %v; want the user", name, u, ok, err)
	}
	return u
}

func mustReject(t *testing.T, r *Registry, name, password string) {
	t.Helper()
	u, ok, err := r.VerifyPassword(ctx(t), name, password)
	if err != nil || ok || u != nil {
		t.Fatalf("VerifyPassword(%q) = %v, %v, %v; want a rejection (nil, false, nil)", name, u, ok, err)
	}
}

func mustFail(t *testing.T, r *Registry, name, password string) {
	t.Helper()
	u, ok, err := r.VerifyPassword(ctx(t), name, password)
	if err == nil || ok || u != nil {
		t.Fatalf("VerifyPassword(%q) = %v, %v, %v; want a technical error", name, u, ok, err)
	}
	if !errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("VerifyPassword(%q) error %v does not wrap health.ErrUnavailable", name, err)
	}
}

func TestDirectory(t *testing.T) {
	l := testenv.StartLDAP(t)
	r, logs := open(t, testConfig(l))

	t.Run("RightPassword", func(t *testing.T) {
		u := mustAccept(t, r, "alice", "wonderland")
		if u.Name != "alice" {
			t.Errorf("Name = %q, want alice", u.Name)
		}
		want := []string{"soap-users", "admins", "auditors", "devs"}
		for _, g := range want {
			if !slices.Contains(u.Groups, g) {
				t.Errorf("Groups = %v, missing %s", u.Groups, g)
			}
		}
		if len(u.Groups) != len(want) {
			t.Errorf("Groups = %v, want %v", u.Groups, want)
		}
		if got := u.Attributes["mail"]; !slices.Equal(got, []string{"alice@example.test"}) {
			t.Errorf("mail = %v", got)
		}
		if got := u.Attributes["displayName"]; !slices.Equal(got, []string{"Alice"}) {
			t.Errorf("displayName = %v", got)
		}
		u = mustAccept(t, r, "bob", "builder")
		if !slices.Equal(u.Groups, []string{"devs"}) {
			t.Errorf("bob's groups = %v, want [devs]", u.Groups)
		}
	})
	t.Run("CanonicalName", func(t *testing.T) {
		// uid matching is case-insensitive; the principal is the directory's spelling.
		if u := mustAccept(t, r, "ALICE", "wonderland"); u.Name != "alice" {
			t.Errorf("Name = %q, want alice", u.Name)
		}
	})
	t.Run("WrongPassword", func(t *testing.T) {
		mustReject(t, r, "alice", "Wonderland")
		mustReject(t, r, "bob", "wonderland")
		if !strings.Contains(logs.String(), "reason=\"wrong password\"") {
			t.Errorf("log lacks the reason: %s", logs.String())
		}
	})
	t.Run("UnknownUser", func(t *testing.T) {
		mustReject(t, r, "mallory", "wonderland")
	})
	t.Run("Injection", func(t *testing.T) {
		// Unescaped, each of these would select alice (or everyone) and the
		// bind with alice's password would succeed.
		for _, name := range []string{
			"*", "ali*", "*)(uid=*", "alice)(uid=*", "*)(|(uid=*", "alice)(|(objectClass=*",
			"al\\69ce", "alice\x00", `*))%00`, "(uid=alice)",
		} {
			mustReject(t, r, name, "wonderland")
			if _, err := r.LookupUser(ctx(t), name); !errors.Is(err, registry.ErrNotFound) {
				t.Errorf("LookupUser(%q) = %v, want ErrNotFound", name, err)
			}
		}
	})
	t.Run("EmptyPassword", func(t *testing.T) {
		mustReject(t, r, "alice", "")
		mustReject(t, r, "cn=authsvc,ou=services,"+l.BaseDN, "")
	})
	t.Run("PasswordPolicy", func(t *testing.T) {
		for _, c := range []struct{ user, password, reason string }{
			{"locked", "lockedpass", "password policy: the account is locked"},
			{"expired", "expiredpass", "password policy: the password has expired"},
			{"reset", "resetpass", "password policy: the password was reset and must be changed"},
		} {
			mustReject(t, r, c.user, c.password)
			if !strings.Contains(logs.String(), "user="+c.user) || !strings.Contains(logs.String(), c.reason) {
				t.Errorf("log lacks %q for %s:\n%s", c.reason, c.user, logs.String())
			}
		}
	})
	t.Run("LookupUser", func(t *testing.T) {
		u, err := r.LookupUser(ctx(t), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "alice" || !slices.Contains(u.Groups, "soap-users") || !slices.Contains(u.Groups, "devs") {
			t.Errorf("LookupUser(alice) = %+v", u)
		}
		if _, err := r.LookupUser(ctx(t), "mallory"); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("LookupUser(mallory) = %v, want ErrNotFound", err)
		}
	})
	t.Run("Check", func(t *testing.T) {
		if err := r.Check(ctx(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("HealthChecks", func(t *testing.T) {
		// Every pooled connection is checked before each use.
		c := testConfig(l)
		c.HealthCheckInterval = time.Nanosecond
		r2, _ := open(t, c)
		for range 3 {
			mustAccept(t, r2, "alice", "wonderland")
			mustReject(t, r2, "alice", "wrong")
		}
		if err := r2.Check(ctx(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("StartTLS", func(t *testing.T) {
		c, err := r.search.get(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		st, ok := c.TLSConnectionState()
		r.search.put(c, nil)
		if !ok || !st.HandshakeComplete {
			t.Fatal("the pooled connection is not under TLS")
		}
	})
	t.Run("LDAPS", func(t *testing.T) {
		c := testConfig(l)
		c.URLs = []string{l.LDAPSURL}
		c.StartTLS = false
		r2, _ := open(t, c)
		mustAccept(t, r2, "alice", "wonderland")
	})
	t.Run("UntrustedCertificate", func(t *testing.T) {
		c := testConfig(l)
		c.CAFile = "" // the system roots do not know the test CA
		r2, _ := open(t, c)
		if err := r2.Check(ctx(t)); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Check with an untrusted server certificate = %v, want a certificate error", err)
		}
		mustFail(t, r2, "alice", "wonderland")
	})
	t.Run("WrongServiceAccount", func(t *testing.T) {
		c := testConfig(l)
		c.BindPassword = "not the service password"
		r2, _ := open(t, c)
		if err := r2.Check(ctx(t)); err == nil {
			t.Fatal("Check with a wrong service password succeeded")
		}
		mustFail(t, r2, "alice", "wonderland")
	})
	t.Run("Cancelled", func(t *testing.T) {
		c, cancel := context.WithCancel(context.Background())
		cancel()
		if _, ok, err := r.VerifyPassword(c, "alice", "wonderland"); err == nil || ok {
			t.Fatalf("VerifyPassword with a cancelled context = %v, %v; want an error", ok, err)
		}
		mustAccept(t, r, "alice", "wonderland")
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 32 {
			wg.Go(func() {
				name, pw, want := "alice", "wonderland", true
				if i%2 == 1 {
					name, pw, want = "bob", "wrong", false
				}
				_, ok, err := r.VerifyPassword(ctx(t), name, pw)
				if err != nil || ok != want {
					errs <- fmt.Errorf("%s: ok=%v err=%v", name, ok, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := len(r.search.slots) + len(r.binds.slots); n != 0 {
			t.Errorf("%d pool slots still taken", n)
		}
	})
	t.Run("NoSecretsInLog", func(t *testing.T) {
		for _, secret := range []string{"wonderland", "builder", "lockedpass", l.BindPassword} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log holds the secret %q", secret)
			}
		}
	})
}

func TestEmptyPasswordNeverReachesTheDirectory(t *testing.T) {
	// The only server is a closed port: any I/O would be an error.
	c := &Config{
		URLs:          []string{"ldap://" + testenv.Addr(testenv.FreePort(t))},
		AllowInsecure: true,
		UserSearch:    UserSearch{BaseDN: "dc=example,dc=test"},
	}
	r, _ := open(t, c)
	mustReject(t, r, "alice", "")
	mustReject(t, r, "", "x")
	mustFail(t, r, "alice", "wonderland")
}

func TestOutageAndRecovery(t *testing.T) {
	l := testenv.StartLDAP(t)
	c := testConfig(l)
	c.FailoverBackoff = time.Second
	r, logs := open(t, c)
	mustAccept(t, r, "alice", "wonderland")
	if err := r.Check(ctx(t)); err != nil {
		t.Fatal(err)
	}

	l.Stop()
	mustFail(t, r, "alice", "wonderland")
	mustFail(t, r, "alice", "wrong") // down is never "wrong password"
	if _, err := r.LookupUser(ctx(t), "alice"); err == nil || errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("LookupUser while down = %v, want a technical error", err)
	}
	if err := r.Check(ctx(t)); err == nil {
		t.Fatal("Check succeeded while the directory is down")
	}
	if !strings.Contains(logs.String(), "directory server failed") {
		t.Errorf("the outage is not logged:\n%s", logs.String())
	}

	l.Start()
	if err := r.Check(ctx(t)); err != nil {
		t.Fatalf("Check after the directory came back: %v", err)
	}
	mustAccept(t, r, "alice", "wonderland")
	mustReject(t, r, "alice", "wrong")

	// A restart between two requests breaks every pooled connection; the
	// next request must not notice.
	l.Restart()
	mustAccept(t, r, "alice", "wonderland")
	l.Restart()
	mustReject(t, r, "alice", "wrong")
}

func TestFailover(t *testing.T) {
	a := testenv.StartLDAP(t)
	b := testenv.StartLDAP(t)
	c := testConfig(a)
	// A closed port first, then two servers. Both run the same directory,
	// but each has its own CA: trust both.
	c.CAFile = bothCAs(t, a, b)
	c.ServerName = "localhost"
	closed := "ldap://" + testenv.Addr(testenv.FreePort(t))
	c.URLs = []string{closed, a.URL, b.URL}
	r, logs := open(t, c)

	mustAccept(t, r, "alice", "wonderland")
	if !strings.Contains(logs.String(), closed) {
		t.Errorf("the failed first server is not logged:\n%s", logs.String())
	}
	a.Stop()
	mustAccept(t, r, "alice", "wonderland")
	mustReject(t, r, "alice", "wrong")
	if err := r.Check(ctx(t)); err != nil {
		t.Fatalf("Check with the second server up: %v", err)
	}
	b.Stop()
	mustFail(t, r, "alice", "wonderland")
	a.Start()
	mustAccept(t, r, "alice", "wonderland")
}

func bothCAs(t *testing.T, ls ...*testenv.LDAP) string {
	t.Helper()
	var pem []byte
	for _, l := range ls {
		b, err := readFile(l.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pem = append(pem, b...)
	}
	return writeTemp(t, "cas.pem", pem)
}

// admin returns a connection bound as the directory's rootdn.
func admin(t *testing.T, l *testenv.LDAP) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(l.AdminDN, l.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCredentialCache(t *testing.T) {
	l := testenv.StartLDAP(t)
	c := testConfig(l)
	const ttl = 2 * time.Second
	c.CredentialCache = CacheConfig{TTL: ttl, NegativeTTL: ttl}
	r, logs := open(t, c)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})

	t.Run("AnswersFromCacheWithinTTL", func(t *testing.T) {
		// The entries were stored before "after" and expire by after+ttl.
		u := mustAccept(t, r, "alice", "wonderland")
		mustReject(t, r, "bob", "wrong")
		after := time.Now()
		l.Stop()
		defer l.Start()
		// Both answers come from the cache while the directory is down ...
		u2 := mustAccept(t, r, "alice", "wonderland")
		if !slices.Equal(u.Groups, u2.Groups) || u2.Attributes["mail"][0] != "alice@example.test" {
			t.Errorf("cached user = %+v, want %+v", u2, u)
		}
		u2.Groups[0] = "changed by the caller"
		if u3 := mustAccept(t, r, "alice", "wonderland"); u3.Groups[0] == "changed by the caller" {
			t.Error("the cache hands out its own copy")
		}
		mustReject(t, r, "bob", "wrong")
		// ... but another password is not a hit,
		mustFail(t, r, "alice", "wonderland2")
		// and the entries expire after the TTL.
		time.Sleep(ttl - time.Since(after) + 50*time.Millisecond)
		mustFail(t, r, "alice", "wonderland")
		mustFail(t, r, "bob", "wrong")
	})

	t.Run("LockedAccountStopsWithinTTL", func(t *testing.T) {
		mustAccept(t, r, "carol", "carolpass")
		after := time.Now()
		err := admin(t, l).Modify(&goldap.ModifyRequest{
			DN:      "uid=carol,ou=people," + l.BaseDN,
			Changes: []goldap.Change{{Operation: goldap.AddAttribute, Modification: goldap.PartialAttribute{Type: "pwdAccountLockedTime", Vals: []string{"000001010000Z"}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		// Still cached right after the lock (the check itself is not a
		// timing claim: the entry has most of its 2 s left).
		mustAccept(t, r, "carol", "carolpass")
		time.Sleep(ttl - time.Since(after) + 50*time.Millisecond)
		mustReject(t, r, "carol", "carolpass")
	})

	t.Run("ChangedPasswordStopsWithinTTL", func(t *testing.T) {
		mustAccept(t, r, "bob", "builder")
		after := time.Now()
		// bob changes his own password (an administrator's change would
		// set pwdReset, and the default policy would then demand a change).
		bc, err := goldap.DialURL(l.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer bc.Close()
		if err := bc.Bind("uid=bob,ou=people,"+l.BaseDN, "builder"); err != nil {
			t.Fatal(err)
		}
		if _, err := bc.PasswordModify(goldap.NewPasswordModifyRequest("", "builder", "builder2")); err != nil {
			t.Fatal(err)
		}
		mustAccept(t, r, "bob", "builder2") // a new password is never blocked by the old one's entry
		time.Sleep(ttl - time.Since(after) + 50*time.Millisecond)
		mustReject(t, r, "bob", "builder")
	})
}

func TestCacheUnit(t *testing.T) {
	now := time.Unix(1000, 0)
	cc := newCredCache(CacheConfig{TTL: 10 * time.Second, NegativeTTL: 2 * time.Second, MaxEntries: 3})
	cc.now = func() time.Time { return now }
	alice := &registry.User{Name: "alice", Groups: []string{"g"}}
	k := cc.key("alice", "pw")
	if k == cc.key("alic", "epw") || k == cc.key("alice", "pw2") {
		t.Fatal("distinct credentials share a key")
	}
	if other := newCredCache(CacheConfig{TTL: time.Second, MaxEntries: 1}); other.key("alice", "pw") == k {
		t.Fatal("the key does not depend on the per-process salt")
	}
	cc.put(k, alice, "alice")
	cc.put(cc.key("bob", "x"), nil, "bob")
	now = now.Add(time.Second)
	if u, ok, _, found := cc.get(k); !found || !ok || u.Name != "alice" {
		t.Fatalf("get = %v %v %v", u, ok, found)
	}
	if _, ok, resolved, found := cc.get(cc.key("bob", "x")); !found || ok || resolved != "bob" {
		t.Fatal("negative entry missing")
	}
	now = now.Add(time.Second + time.Millisecond)
	if _, _, _, found := cc.get(cc.key("bob", "x")); found {
		t.Fatal("negative entry outlived negative_ttl")
	}
	// Hits do not extend an entry.
	for range 8 {
		now = now.Add(time.Second)
		cc.get(k)
	}
	if _, _, _, found := cc.get(k); found {
		t.Fatal("positive entry outlived ttl")
	}
	for i := range 10 {
		cc.put(cc.key(fmt.Sprint("u", i), "pw"), alice, "alice")
	}
	if n := cc.len(); n > 3 {
		t.Fatalf("cache holds %d entries, max 3", n)
	}
}

// TestTraceResolved: a password check reports the entry a claimed name
// matched, right or wrong password, from the directory and from the
// credential cache alike; an unknown name reports nothing.
func TestTraceResolved(t *testing.T) {
	l := testenv.StartLDAP(t)
	c := testConfig(l)
	c.UserSearch.Filter = "(&(objectClass=inetOrgPerson)(|(uid=%s)(mail=%s)))"
	c.CredentialCache = CacheConfig{TTL: time.Minute, NegativeTTL: time.Minute}
	r, _ := open(t, c)
	check := func(name, password, want string) {
		t.Helper()
		var got []string
		tc := registry.WithTrace(ctx(t), &registry.Trace{Resolved: func(n string) { got = append(got, n) }})
		if _, _, err := r.VerifyPassword(tc, name, password); err != nil {
			t.Fatal(err)
		}
		if want == "" && len(got) != 0 || want != "" && !slices.Equal(got, []string{want}) {
			t.Errorf("VerifyPassword(%q, %q) resolved %q, want %q", name, password, got, want)
		}
	}
	for range 2 { // the second round answers from the cache
		check("ＡＬＩＣＥ", "guess", "alice")
		check("alice@example.test", "guess", "alice")
		check("alice@example.test", "wonderland", "alice")
		check("nobody", "guess", "")
	}
}

// TestManyGroups: a user in hundreds of groups, as directory users of large
// organizations are: 400 groups through memberOf (groupOfNames, which the
// memberof overlay maintains), 300 found by the group search
// (groupOfUniqueNames), and 100 posixGroups whose names repeat memberOf
// ones (in a sub-OU). Every group comes once; the memberOf ones first, then
// the searched ones not already there, sorted.
func TestManyGroups(t *testing.T) {
	l := testenv.StartLDAP(t)
	c := admin(t, l)
	bob := "uid=bob,ou=people," + l.BaseDN
	add := func(dn string, attrs map[string][]string) {
		t.Helper()
		req := goldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := c.Add(req); err != nil {
			t.Fatalf("adding %s: %v", dn, err)
		}
	}
	var want []string
	for i := range 400 {
		cn := fmt.Sprintf("m-%03d", i)
		add("cn="+cn+",ou=groups,"+l.BaseDN, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {cn}, "member": {bob}})
		want = append(want, cn)
	}
	var searched []string
	for i := range 300 {
		cn := fmt.Sprintf("u-%03d", i)
		add("cn="+cn+",ou=groups,"+l.BaseDN, map[string][]string{"objectClass": {"groupOfUniqueNames"}, "cn": {cn}, "uniqueMember": {bob}})
		searched = append(searched, cn)
	}
	add("ou=posix,ou=groups,"+l.BaseDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"posix"}})
	for i := range 100 {
		cn := fmt.Sprintf("m-%03d", i*4) // a name memberOf already gives
		add("cn="+cn+",ou=posix,ou=groups,"+l.BaseDN, map[string][]string{"objectClass": {"posixGroup"}, "cn": {cn},
			"gidNumber": {fmt.Sprint(5000 + i)}, "memberUid": {"bob"}})
	}
	searched = append(searched, "devs")
	slices.Sort(searched)

	r, _ := open(t, testConfig(l))
	u := mustAccept(t, r, "bob", "builder")
	if len(u.Groups) != len(want)+len(searched) {
		t.Fatalf("%d groups, want %d: %v", len(u.Groups), len(want)+len(searched), u.Groups)
	}
	// The overlay's memberOf order is the server's: compare as a set.
	head := slices.Clone(u.Groups[:len(want)])
	slices.Sort(head)
	if !slices.Equal(head, want) {
		t.Errorf("memberOf groups: %v", head)
	}
	if tail := u.Groups[len(want):]; !slices.Equal(tail, searched) {
		t.Errorf("searched groups: %v, want %v", tail, searched)
	}
}

// TestGroupSearchPastSizeLimit: a group search that matches more groups than
// the directory's size limit (slapd here: 500 entries, as Active
// Directory's MaxPageSize of 1000) reads them page by page instead of
// failing the login. Before paging, bob's login failed with "Size Limit
// Exceeded".
func TestGroupSearchPastSizeLimit(t *testing.T) {
	l := testenv.StartLDAP(t)
	c := admin(t, l)
	bob := "uid=bob,ou=people," + l.BaseDN
	want := []string{"devs"}
	for i := range 1200 {
		cn := fmt.Sprintf("big-%04d", i)
		req := goldap.NewAddRequest("cn="+cn+",ou=groups,"+l.BaseDN, nil)
		req.Attribute("objectClass", []string{"groupOfUniqueNames"})
		req.Attribute("cn", []string{cn})
		req.Attribute("uniqueMember", []string{bob})
		if err := c.Add(req); err != nil {
			t.Fatalf("adding %s: %v", cn, err)
		}
		want = append(want, cn)
	}
	slices.Sort(want)

	cfg := testConfig(l)
	cfg.UserSearch.MemberOfAttribute = "" // the group search alone
	r, _ := open(t, cfg)
	u := mustAccept(t, r, "bob", "builder")
	if !slices.Equal(u.Groups, want) {
		t.Errorf("%d groups, want %d: first %v", len(u.Groups), len(want), u.Groups[:min(5, len(u.Groups))])
	}
}
