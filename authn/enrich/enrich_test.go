package enrich_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/enrich"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
)

const usersYAML = `
users:
  - name: alice
    digest_secret: wonderland
    groups: [soap-users, admins]
    attributes:
      mail: [alice@example.test]
  - name: bob
    digest_secret: builder
    groups: [devs]
`

func fileRegistry(t testing.TB) *registry.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(p, []byte(usersYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := registry.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// authenticated is a stand-in for a module that authenticated someone: it
// sets the principal the way the Kerberos module does.
func authenticated(principal, realm string) authn.Module {
	return authn.ModuleFunc(func(_ context.Context, _ *authn.Request, s *authn.Subject) (bool, error) {
		s.Principal, s.Realm, s.Method = principal, realm, "Kerberos"
		s.AddGroups("from-kerberos")
		s.AddAttribute("mail", "alice@example.test")
		return true, nil
	})
}

func request() *authn.Request { return &authn.Request{Now: time.Now(), ID: "test"} }

func TestNoPrincipalIsUnsupported(t *testing.T) {
	m := enrich.New(fileRegistry(t))
	s := &authn.Subject{}
	ok, err := m.Login(context.Background(), request(), s)
	if ok || !errors.Is(err, authn.ErrUnsupported) {
		t.Fatalf("Login without a principal = %v, %v; want ErrUnsupported", ok, err)
	}
	// And a chain with only the enricher authenticates nobody.
	c, _ := authn.NewChain(authn.Entry{Name: "groups", Flag: authn.Optional, Module: m})
	if s, err := c.Authenticate(context.Background(), request()); err == nil {
		t.Fatalf("a chain of one enricher authenticated %+v", s)
	}
}

func TestEnrich(t *testing.T) {
	reg := fileRegistry(t)
	cases := []struct {
		name       string
		principal  string
		realm      string
		opts       []enrich.Option
		wantGroups []string // nil: rejected
	}{
		{"local user", "alice", "", nil, []string{"from-kerberos", "soap-users", "admins"}},
		{"realm stripped", "alice", "EXAMPLE.TEST", []enrich.Option{enrich.StripRealm("EXAMPLE.TEST")}, []string{"from-kerberos", "soap-users", "admins"}},
		{"any realm stripped", "bob", "OTHER.TEST", []enrich.Option{enrich.StripRealm()}, []string{"from-kerberos", "devs"}},
		{"realm in principal", "bob@EXAMPLE.TEST", "", []enrich.Option{enrich.StripRealm("EXAMPLE.TEST")}, []string{"from-kerberos", "devs"}},
		{"realm kept by default", "alice", "EXAMPLE.TEST", nil, nil},
		{"foreign realm", "alice", "EVIL.TEST", []enrich.Option{enrich.StripRealm("EXAMPLE.TEST")}, nil},
		{"realm case matters", "alice", "example.test", []enrich.Option{enrich.StripRealm("EXAMPLE.TEST")}, nil},
		{"unknown user", "mallory", "", nil, nil},
		{"mapped name", "ALICE", "", []enrich.Option{enrich.MapName(func(s *authn.Subject) (string, error) {
			return "alice", nil
		})}, []string{"from-kerberos", "soap-users", "admins"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := enrich.New(reg, tc.opts...)
			s := &authn.Subject{}
			authenticated(tc.principal, tc.realm).Login(context.Background(), request(), s)
			ok, err := m.Login(context.Background(), request(), s)
			if tc.wantGroups == nil {
				var f *authn.Fault
				if ok || !errors.As(err, &f) || f.Code != wsse.FailedAuthentication || f.Temporary {
					t.Fatalf("Login = %v, %v; want a FailedAuthentication rejection", ok, err)
				}
				return
			}
			if !ok || err != nil {
				t.Fatalf("Login = %v, %v", ok, err)
			}
			if !slices.Equal(s.Groups, tc.wantGroups) {
				t.Errorf("groups = %v, want %v", s.Groups, tc.wantGroups)
			}
			if tc.principal == "alice" && !slices.Equal(s.Attributes["mail"], []string{"alice@example.test"}) {
				t.Errorf("mail = %v, want one value", s.Attributes["mail"])
			}
		})
	}
}

func TestGroupsOnly(t *testing.T) {
	m := enrich.New(fileRegistry(t), enrich.GroupsOnly())
	s := &authn.Subject{Principal: "alice"}
	if ok, err := m.Login(context.Background(), request(), s); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if s.Attributes != nil {
		t.Errorf("attributes = %v, want none", s.Attributes)
	}
}

func TestInChain(t *testing.T) {
	reg := fileRegistry(t)
	for _, tc := range []struct {
		flag      authn.Flag
		principal string
		wantOK    bool
		groups    []string
	}{
		{authn.Required, "alice", true, []string{"from-kerberos", "soap-users", "admins"}},
		{authn.Optional, "alice", true, []string{"from-kerberos", "soap-users", "admins"}},
		{authn.Required, "mallory", false, nil},
		// An optional enricher that finds nothing leaves the Subject alone.
		{authn.Optional, "mallory", true, []string{"from-kerberos"}},
	} {
		c, err := authn.NewChain(
			authn.Entry{Name: "kerberos", Flag: authn.Required, Module: authenticated(tc.principal, "EXAMPLE.TEST")},
			authn.Entry{Name: "groups", Flag: tc.flag, Module: enrich.New(reg, enrich.StripRealm("EXAMPLE.TEST"))},
		)
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.Authenticate(context.Background(), request())
		if (err == nil) != tc.wantOK {
			t.Fatalf("%v %s: Authenticate = %+v, %v", tc.flag, tc.principal, s, err)
		}
		if err != nil {
			var f *authn.Fault
			if !errors.As(err, &f) || f.Code != wsse.FailedAuthentication || f.Module != "groups" || f.Temporary {
				t.Errorf("fault = %v", err)
			}
			continue
		}
		if !slices.Equal(s.Groups, tc.groups) || s.Principal != tc.principal || s.Realm != "EXAMPLE.TEST" {
			t.Errorf("%v %s: subject = %+v", tc.flag, tc.principal, s)
		}
	}
}
