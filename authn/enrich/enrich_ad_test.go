package enrich_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/enrich"
	"github.com/authsvc/authsvc/authn/kerberos"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/registry/ldap"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
)

// adChain is the chain of docs/active-directory.md: the Kerberos module with
// the domain's keytab, then the enricher over the AD LDAP registry.
type adChain struct {
	ad    *testenv.SambaAD
	chain *authn.Chain
	logs  *testenv.LogBuffer
}

func newADChain(t *testing.T, ad *testenv.SambaAD, mode enrich.SIDMode) *adChain {
	t.Helper()
	logs := &testenv.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rc := replay.NewMemory(replay.MemoryOptions{SweepInterval: -1})
	t.Cleanup(func() { rc.Close() })
	krb, err := (&kerberos.Config{Keytab: ad.Keytab, ServicePrincipals: []string{"HTTP/localhost@AD.EXAMPLE.TEST"}, KeytabReload: -1}).Build(kerberos.Deps{Replay: rc}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { krb.Close() })
	reg, err := (&ldap.Config{
		URLs: []string{ad.LDAPURL()}, CAFile: ad.CAFile, ServerName: ad.ServerName,
		BindDN: ad.UserDN("svc-authsvc"), BindPassword: "Svc-authsvc-pw-1",
		UserSearch: ldap.UserSearch{
			BaseDN:        ad.BaseDN,
			Filter:        "(&(objectCategory=person)(objectClass=user)(|(sAMAccountName=%s)(userPrincipalName=%s)))",
			NameAttribute: "sAMAccountName",
		},
		ActiveDirectory: &ldap.ActiveDirectory{NetBIOSDomain: "ADEX"},
	}).Open(logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	m := enrich.New(reg, enrich.StripRealm("AD.EXAMPLE.TEST"), enrich.SIDGroups(reg, mode), enrich.WithLogger(logger))
	c, err := authn.NewChain(
		authn.Entry{Name: "kerberos", Flag: authn.Required, Module: krb},
		authn.Entry{Name: "groups", Flag: authn.Required, Module: m},
	)
	if err != nil {
		t.Fatal(err)
	}
	return &adChain{ad: ad, chain: c, logs: logs}
}

// token is a fresh SPNEGO token of user's for HTTP/localhost, from MIT's
// GSS-API (python3-gssapi) with the credentials in cc.
func (c *adChain) token(t *testing.T, cc string) []byte {
	t.Helper()
	script := filepath.Join(testenv.Root(), "authn", "kerberos", "testdata", "gss_client.py")
	cmd := exec.Command(testenv.PythonWith(t, "gssapi"), script, "spnego", "HTTP/localhost@AD.EXAMPLE.TEST", strconv.Itoa(1))
	cmd.Env = c.ad.Env(cc)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("gss_client: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c *adChain) login(tok []byte) (*authn.Subject, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.chain.Authenticate(ctx, &authn.Request{
		Authorization: "Negotiate " + base64.StdEncoding.EncodeToString(tok),
		Now:           time.Now(), Shared: map[string]any{},
	})
}

// TestADKerberosGroupsByName: an AD user's Kerberos ticket, through the
// Kerberos module and the enricher, gives a Subject with the user, realm,
// logon domain, user SID and the PAC's groups by name (each sid_groups
// mode).
func TestADKerberosGroupsByName(t *testing.T) {
	ad := testenv.StartSambaAD(t)
	cc := ad.Kinit(t, "alice", testenv.SambaADUsers["alice"])
	want := []string{"Domain Users", "SOAP Developers", "Engineering", "Night Ops"}
	wantSIDs := map[string]bool{}
	for _, g := range want {
		wantSIDs[ad.ObjectSID(t, g)] = true
	}
	for _, mode := range []enrich.SIDMode{enrich.SIDNames, enrich.SIDBoth, enrich.SIDsOnly} {
		c := newADChain(t, ad, mode)
		s, err := c.login(c.token(t, cc))
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, c.logs)
		}
		if s.Principal != "alice" || s.Realm != "AD.EXAMPLE.TEST" || s.Method != "Negotiate" {
			t.Errorf("%s: subject %s@%s %s", mode, s.Principal, s.Realm, s.Method)
		}
		if !slices.Equal(s.Attributes["logon_domain"], []string{"ADEX"}) || !slices.Equal(s.Attributes["sid"], []string{ad.ObjectSID(t, "alice")}) {
			t.Errorf("%s: attributes %v", mode, s.Attributes)
		}
		sids := s.Attributes[enrich.GroupSIDsAttribute]
		for sid := range wantSIDs {
			if !slices.Contains(sids, sid) {
				t.Errorf("%s: group_sids %v lack %s", mode, sids, sid)
			}
		}
		var names, sidGroups []string
		for _, g := range s.Groups {
			if strings.HasPrefix(g, "S-1-") {
				sidGroups = append(sidGroups, g)
			} else {
				names = append(names, g)
			}
		}
		slices.Sort(names)
		sortedWant := slices.Sorted(slices.Values(want))
		switch mode {
		case enrich.SIDNames:
			if !slices.Equal(names, sortedWant) || len(sidGroups) != 0 {
				t.Errorf("names: groups %v, want %v", s.Groups, want)
			}
		case enrich.SIDBoth:
			if !slices.Equal(names, sortedWant) || !slices.Equal(sidGroups, sids) {
				t.Errorf("both: groups %v, want %v and %v", s.Groups, want, sids)
			}
		case enrich.SIDsOnly:
			if len(names) != 0 || !slices.Equal(sidGroups, sids) {
				t.Errorf("sids: groups %v, want %v", s.Groups, sids)
			}
		}
	}
}

// TestADKerberosRefusedStates: users who got their ticket while their
// account was fine and whose account was then disabled, locked out, expired
// or told to change its password are refused by the enricher, with a
// FailedAuthentication fault that does not say which, and a log that does.
func TestADKerberosRefusedStates(t *testing.T) {
	ad := testenv.StartSambaAD(t)
	c := newADChain(t, ad, enrich.SIDNames)
	ntNow := strconv.FormatInt((time.Now().Unix()+11644473600)*10_000_000, 10)
	cases := []struct {
		user  string
		attrs map[string]string
		log   string
	}{
		{"kdis", map[string]string{"userAccountControl": "514"}, "the account is disabled"},
		{"klock", map[string]string{"lockoutTime": ntNow}, "the account is locked out"},
		{"kexp", map[string]string{"accountExpires": "130000000000000000"}, "the account expired"},
		{"kchg", map[string]string{"pwdLastSet": "0"}, "the password must be changed"},
	}
	for _, tc := range cases {
		cc := ad.Kinit(t, tc.user, testenv.SambaADUsers[tc.user])
		if _, err := c.login(c.token(t, cc)); err != nil {
			t.Fatalf("%s before the change: %v", tc.user, err)
		}
		tok := c.token(t, cc)
		ad.Modify(t, ad.UserDN(tc.user), tc.attrs)
		_, err := c.login(tok)
		var f *authn.Fault
		if !errors.As(err, &f) || f.Code != wsse.FailedAuthentication || f.Temporary {
			t.Fatalf("%s after %v: %v, want a FailedAuthentication fault", tc.user, tc.attrs, err)
		}
		if !strings.Contains(f.Reason, tc.log) {
			t.Errorf("%s: the reason (for the log) does not say %q: %s", tc.user, tc.log, f.Reason)
		}
		if !strings.Contains(c.logs.String(), tc.log) {
			t.Errorf("%s: the log does not say %q", tc.user, tc.log)
		}
	}
}
