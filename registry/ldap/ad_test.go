package ldap

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/registry"
)

// adConfig is the Active Directory preset of docs/active-directory.md,
// pointed at the test domain.
func adConfig(ad *testenv.SambaAD) *Config {
	return &Config{
		URLs:         []string{ad.LDAPURL()},
		CAFile:       ad.CAFile,
		ServerName:   ad.ServerName,
		BindDN:       ad.UserDN("svc-authsvc"),
		BindPassword: "Svc-authsvc-pw-1",
		UserSearch: UserSearch{
			BaseDN:        ad.BaseDN,
			Filter:        "(&(objectCategory=person)(objectClass=user)(|(sAMAccountName=%s)(userPrincipalName=%s)))",
			NameAttribute: "sAMAccountName",
			Attributes:    []string{"mail", "userPrincipalName"},
		},
		GroupSearch: &GroupSearch{
			BaseDN:        ad.BaseDN,
			Filter:        "(objectClass=group)",
			UserMatchers:  []UserMatcher{{UserAttribute: "dn", GroupAttribute: "member:1.2.840.113556.1.4.1941:"}},
			NameAttribute: "sAMAccountName",
		},
		ActiveDirectory: &ActiveDirectory{NetBIOSDomain: "ADEX"},
		DialTimeout:     5 * time.Second,
		RequestTimeout:  5 * time.Second,
	}
}

// logBuf collects a registry's log lines.
type logBuf struct{ bytes.Buffer }

func openAD(t *testing.T, ad *testenv.SambaAD) (*Registry, *logBuf) {
	t.Helper()
	var buf logBuf
	r, err := adConfig(ad).Open(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, &buf
}

// TestActiveDirectory runs the AD preset against the Samba AD DC: the three
// name forms, nested groups, every refused account state for password
// logins and for lookups (the Kerberos path), and SID names.
func TestActiveDirectory(t *testing.T) {
	ad := testenv.StartSambaAD(t)
	r, logs := openAD(t, ad)
	ctx := context.Background()

	for _, name := range []string{"alice", `ADEX\alice`, `adex\alice`, "alice@ad.example.test"} {
		u, ok, err := r.VerifyPassword(ctx, name, testenv.SambaADUsers["alice"])
		if err != nil || !ok {
			t.Fatalf("VerifyPassword(%q): %v, %v", name, ok, err)
		}
		if u.Name != "alice" {
			t.Errorf("VerifyPassword(%q): name %q, want alice", name, u.Name)
		}
		// SOAP Developers directly, Engineering through it (nested).
		for _, g := range []string{"SOAP Developers", "Engineering", "Night Ops"} {
			if !slices.Contains(u.Groups, g) {
				t.Errorf("VerifyPassword(%q): groups %v lack %q", name, u.Groups, g)
			}
		}
		if !slices.Equal(u.Attributes["userPrincipalName"], []string{"alice@ad.example.test"}) {
			t.Errorf("attributes %v", u.Attributes)
		}
	}
	for _, name := range []string{`OTHER\alice`, `ADEX\`, `ADEX\alice\x`, "alice@other.test", "*"} {
		if u, ok, err := r.VerifyPassword(ctx, name, testenv.SambaADUsers["alice"]); ok || err != nil {
			t.Errorf("VerifyPassword(%q) = %v, %v, %v; want a rejection", name, u, ok, err)
		}
	}
	if _, ok, err := r.VerifyPassword(ctx, "alice", "Wrong-pw-1"); ok || err != nil {
		t.Errorf("wrong password: %v, %v", ok, err)
	}

	states := map[string]string{
		"dave":  "the account is disabled",
		"erin":  "the account is locked out",
		"frank": "the account expired",
		"grace": "the password must be changed",
	}
	for user, why := range states {
		logs.Reset()
		if u, ok, err := r.VerifyPassword(ctx, user, testenv.SambaADUsers[user]); ok || err != nil {
			t.Errorf("VerifyPassword(%s) = %v, %v, %v; want a rejection", user, u, ok, err)
		}
		if !strings.Contains(logs.String(), why) {
			t.Errorf("VerifyPassword(%s): the log does not say %q:\n%s", user, why, logs.String())
		}
		logs.Reset()
		_, err := r.LookupUser(ctx, user)
		if !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), why) {
			t.Errorf("LookupUser(%s) = %v; want ErrNotFound saying %q", user, err, why)
		}
		if !strings.Contains(logs.String(), why) {
			t.Errorf("LookupUser(%s): the log does not say %q:\n%s", user, why, logs.String())
		}
	}
	u, err := r.LookupUser(ctx, `ADEX\bob`)
	if err != nil || u.Name != "bob" || !slices.Equal(u.Groups, []string{"Engineering"}) {
		t.Errorf("LookupUser(ADEX\\bob) = %+v, %v", u, err)
	}

	// SIDs: alice's groups by name, an unknown and a well-known SID without.
	sids := map[string]string{}
	for _, g := range []string{"SOAP Developers", "Engineering", "Domain Users"} {
		sids[ad.ObjectSID(t, g)] = g
	}
	unknown := "S-1-5-21-1-2-3-4242"
	var list []string
	for s := range sids {
		list = append(list, s)
	}
	list = append(list, unknown, "S-1-1-0")
	names, err := r.ResolveSIDs(ctx, list)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(sids) {
		t.Errorf("ResolveSIDs: %v, want %v", names, sids)
	}
	for s, g := range sids {
		if names[s] != g {
			t.Errorf("ResolveSIDs: %s = %q, want %q", s, names[s], g)
		}
	}
	if n := r.sids.len(); n != len(list) {
		t.Errorf("SID cache holds %d, want %d (unknown SIDs are remembered too)", n, len(list))
	}
	// Cached: the answer no longer needs the directory.
	r.search.close()
	if again, err := r.ResolveSIDs(ctx, list); err != nil || len(again) != len(sids) {
		t.Errorf("ResolveSIDs from the cache: %v, %v", again, err)
	}
	if _, err := r.ResolveSIDs(ctx, []string{"S-1-5-21-x"}); err == nil {
		t.Error("a malformed SID was accepted")
	}
}

// TestADAccountRefusal judges the account-state attributes without a
// directory, including the fallbacks a server without
// msDS-User-Account-Control-Computed needs.
func TestADAccountRefusal(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	nt := func(tm time.Time) string { return strconv.FormatInt((tm.Unix()+11644473600)*10_000_000, 10) }
	cases := []struct {
		attrs map[string]string
		want  string
	}{
		{map[string]string{"userAccountControl": "512", "accountExpires": "9223372036854775807", "pwdLastSet": "134000000000000000"}, ""},
		{map[string]string{"userAccountControl": "512", "accountExpires": "0"}, ""},
		{map[string]string{"userAccountControl": "514"}, "disabled"},
		{map[string]string{}, "no userAccountControl"},
		{map[string]string{"userAccountControl": "512", "msDS-User-Account-Control-Computed": "16"}, "locked out"},
		{map[string]string{"userAccountControl": "512", "msDS-User-Account-Control-Computed": "0", "lockoutTime": "134000000000000000"}, ""},
		{map[string]string{"userAccountControl": "512", "lockoutTime": "134000000000000000"}, "locked out (lockoutTime"},
		{map[string]string{"userAccountControl": "512", "lockoutTime": "0"}, ""},
		{map[string]string{"userAccountControl": "512", "accountExpires": nt(now.Add(-time.Hour))}, "expired at 2026-12-04T11:00:00Z"},
		{map[string]string{"userAccountControl": "512", "accountExpires": nt(now.Add(time.Hour))}, ""},
		{map[string]string{"userAccountControl": "512", "pwdLastSet": "0"}, "must be changed"},
		{map[string]string{"userAccountControl": "66048", "pwdLastSet": "0"}, ""}, // DONT_EXPIRE_PASSWORD
		{map[string]string{"userAccountControl": "512", "msDS-User-Account-Control-Computed": "8388608"}, "password has expired"},
		{map[string]string{"userAccountControl": "4294967295"}, "disabled"},
	}
	for i, c := range cases {
		e := &goldap.Entry{DN: "CN=x"}
		for k, v := range c.attrs {
			e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: k, Values: []string{v}})
		}
		got := adAccountRefusal(e, now)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("case %d %v: %q, want %q", i, c.attrs, got, c.want)
		}
	}
}

// TestSIDForms converts SIDs both ways and refuses malformed ones.
func TestSIDForms(t *testing.T) {
	for _, s := range []string{"S-1-5-21-1036985264-758316630-2674877866-1116", "S-1-1-0", "S-1-5-32-544", "S-1-18-1"} {
		b, err := sidBytes(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		back, err := sidString(b)
		if err != nil || back != s {
			t.Errorf("%s -> %x -> %s, %v", s, b, back, err)
		}
	}
	for _, s := range []string{"", "S-1", "S-2-5-21", "S-1-5-x", "S-1-5-4294967296", "S-1-281474976710656-1", "s-1-5-32", "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16"} {
		if _, err := sidBytes(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	for _, b := range [][]byte{nil, {1}, {1, 1, 0, 0, 0, 0, 0, 5}, {2, 0, 0, 0, 0, 0, 0, 1}} {
		if _, err := sidString(b); err == nil {
			t.Errorf("%x accepted", b)
		}
	}
	ad := &ActiveDirectory{NetBIOSDomain: "ADEX"}
	for in, want := range map[string]string{"alice": "alice", `ADEX\alice`: "alice", `adex\alice`: "alice", "alice@ad.example.test": "alice@ad.example.test"} {
		if got, ok := ad.adName(in); !ok || got != want {
			t.Errorf("adName(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{`OTHER\alice`, `ADEX\`, `ADEX\a\b`, `\alice`} {
		if got, ok := ad.adName(in); ok {
			t.Errorf("adName(%q) = %q, accepted", in, got)
		}
	}
	if _, ok := (&ActiveDirectory{}).adName(`ADEX\alice`); ok {
		t.Error("a DOMAIN\\user name accepted without netbios_domain")
	}
}

// FuzzSID: the SID parsers never panic, and what one accepts the other
// renders back to the same bytes.
func FuzzSID(f *testing.F) {
	f.Add("S-1-5-21-1036985264-758316630-2674877866-1116", []byte{1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Add("S-1-18-1", []byte{1, 0, 0, 0, 0, 0, 0, 5})
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		if raw, err := sidBytes(s); err == nil {
			back, err := sidString(raw)
			if err != nil {
				t.Fatalf("%q -> %x does not render: %v", s, raw, err)
			}
			if again, err := sidBytes(back); err != nil || !bytes.Equal(again, raw) {
				t.Fatalf("%q -> %x -> %q -> %x, %v", s, raw, back, again, err)
			}
		}
		if str, err := sidString(b); err == nil {
			if raw, err := sidBytes(str); err != nil || !bytes.Equal(raw, b) {
				t.Fatalf("%x -> %q -> %x, %v", b, str, raw, err)
			}
		}
	})
}

// TestADConfig: the active_directory section's defaults and the errors that
// name its keys.
func TestADConfig(t *testing.T) {
	base := func(ad *ActiveDirectory) *Config {
		return &Config{URLs: []string{"ldaps://dc1.ad.example.test"}, UserSearch: UserSearch{BaseDN: "CN=Users,DC=ad,DC=example,DC=test"}, ActiveDirectory: ad}
	}
	r, err := base(&ActiveDirectory{NetBIOSDomain: "ADEX"}).Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ad := r.cfg.ActiveDirectory
	if ad.SIDBaseDN != "DC=ad,DC=example,DC=test" || ad.SIDNameAttribute != "sAMAccountName" || ad.SIDCacheTTL != 10*time.Minute || ad.SIDCacheEntries != 10000 || !r.ResolvesSIDs() {
		t.Errorf("defaults: %+v", ad)
	}
	for _, tc := range []struct {
		ad   ActiveDirectory
		base string
		want string
	}{
		{ActiveDirectory{NetBIOSDomain: `AD\EX`}, "", "active_directory.netbios_domain"},
		{ActiveDirectory{}, "OU=People,O=Example", "active_directory.sid_base_dn: required"},
		{ActiveDirectory{SIDBaseDN: "not a dn"}, "", "active_directory.sid_base_dn"},
		{ActiveDirectory{SIDCacheTTL: -time.Second}, "", "must not be negative"},
		{ActiveDirectory{SIDCacheTTL: 25 * time.Hour}, "", "active_directory.sid_cache_ttl: 25h0m0s is longer than 24h0m0s"},
	} {
		c := base(&tc.ad)
		if tc.base != "" {
			c.UserSearch.BaseDN = tc.base
		}
		if _, err := c.Open(nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.ad, err, tc.want)
		}
	}
	var c Config
	dec := yaml.NewDecoder(strings.NewReader("active_directory: {netbios_domain: ADEX, sid_cache_ttl: 1m, sid_cache_entries: 5}\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil || c.ActiveDirectory.SIDCacheTTL != time.Minute || c.ActiveDirectory.SIDCacheEntries != 5 {
		t.Errorf("yaml: %+v, %v", c.ActiveDirectory, err)
	}
	plain, err := (&Config{URLs: []string{"ldaps://x"}, UserSearch: UserSearch{BaseDN: "dc=x"}}).Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.ResolvesSIDs() {
		t.Error("a registry without active_directory says it resolves SIDs")
	}
	if _, err := plain.ResolveSIDs(context.Background(), []string{"S-1-1-0"}); err == nil {
		t.Error("ResolveSIDs without active_directory succeeded")
	}
}

// TestSIDCacheBounded: the SID cache never holds more than its bound, and
// its entries expire.
func TestSIDCacheBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newSIDCache(&ActiveDirectory{SIDCacheTTL: time.Minute, SIDCacheEntries: 3})
	c.now = func() time.Time { return now }
	for i := range 10 {
		c.put("S-1-5-"+strconv.Itoa(i), "g")
		if c.len() > 3 {
			t.Fatalf("%d entries after %d puts", c.len(), i+1)
		}
	}
	c.put("S-1-5-x", "")
	if name, found := c.get("S-1-5-x"); !found || name != "" {
		t.Errorf("negative entry: %q, %v", name, found)
	}
	now = now.Add(time.Minute)
	if _, found := c.get("S-1-5-x"); found {
		t.Error("an entry outlived its TTL")
	}
}
