package enrich_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/enrich"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/registry/ldap"
	"github.com/authsvc/authsvc/wsse"
)

// TestLDAP enriches a Kerberos-style principal from a real slapd, and fails
// closed while the directory is down.
func TestLDAP(t *testing.T) {
	l := testenv.StartLDAP(t)
	cfg := &ldap.Config{
		URLs:         []string{l.URL},
		StartTLS:     true,
		CAFile:       l.CAFile,
		BindDN:       l.BindDN,
		BindPassword: l.BindPassword,
		UserSearch: ldap.UserSearch{
			BaseDN:            "ou=people," + l.BaseDN,
			MemberOfAttribute: "memberOf",
			Attributes:        []string{"mail"},
		},
		GroupSearch: &ldap.GroupSearch{
			BaseDN:       "ou=groups," + l.BaseDN,
			Filter:       "(objectClass=posixGroup)",
			UserMatchers: []ldap.UserMatcher{{UserAttribute: "uid", GroupAttribute: "memberUid"}},
		},
		RequestTimeout: 2 * time.Second,
		DialTimeout:    2 * time.Second,
	}
	reg, err := cfg.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	m := enrich.New(reg, enrich.StripRealm("EXAMPLE.TEST"))
	chain := func(principal string) (*authn.Subject, error) {
		c, err := authn.NewChain(
			authn.Entry{Name: "kerberos", Flag: authn.Required, Module: authn.ModuleFunc(
				func(_ context.Context, _ *authn.Request, s *authn.Subject) (bool, error) {
					s.Principal, s.Realm, s.Method = principal, "EXAMPLE.TEST", "Kerberos"
					return true, nil
				})},
			authn.Entry{Name: "groups", Flag: authn.Required, Module: m},
		)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return c.Authenticate(ctx, request())
	}

	s, err := chain("alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"soap-users", "admins", "devs"}; !slices.Equal(s.Groups, want) {
		t.Errorf("groups = %v, want %v", s.Groups, want)
	}
	if !slices.Equal(s.Attributes["mail"], []string{"alice@example.test"}) {
		t.Errorf("attributes = %v", s.Attributes)
	}
	if s.Principal != "alice" || s.Realm != "EXAMPLE.TEST" {
		t.Errorf("subject = %+v", s)
	}

	var f *authn.Fault
	if _, err := chain("mallory"); !errors.As(err, &f) || f.Code != wsse.FailedAuthentication || f.Temporary {
		t.Errorf("unknown user: %v, want a FailedAuthentication rejection", err)
	}
	if _, err := chain("*"); !errors.As(err, &f) || f.Code != wsse.FailedAuthentication || f.Temporary {
		t.Errorf("injection: %v, want a FailedAuthentication rejection", err)
	}
	if err := m.Check(context.Background()); err != nil {
		t.Fatal(err)
	}

	l.Stop()
	_, err = chain("alice")
	if !errors.As(err, &f) || !f.Temporary || f.Code != wsse.SecurityTokenUnavailable || !errors.Is(err, authn.ErrUnavailable) {
		t.Errorf("directory down: %v, want a temporary fault", err)
	}
	if err := m.Check(context.Background()); err == nil {
		t.Error("Check succeeded while the directory is down")
	}

	l.Start()
	if s, err := chain("alice"); err != nil || !slices.Contains(s.Groups, "soap-users") {
		t.Errorf("after the directory came back: %+v, %v", s, err)
	}
}
