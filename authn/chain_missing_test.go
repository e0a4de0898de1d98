package authn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/wsse"
)

// A required enricher after optional logins: when every login fails, the
// client hears the login's fault, not the enricher's "found no credential";
// when nothing was there to log in with, it hears that.
func TestMissingRequiredDoesNotHideRejection(t *testing.T) {
	enrich := ModuleFunc(func(_ context.Context, _ *Request, s *Subject) (bool, error) {
		if s.Principal == "" {
			return false, ErrUnsupported
		}
		return true, nil
	})
	for _, tc := range []struct {
		login error
		want  wsse.FaultCode
	}{
		{Reject(wsse.FailedAuthentication, "wrong password"), wsse.FailedAuthentication},
		{Reject(wsse.InvalidSecurity, "replayed"), wsse.InvalidSecurity},
		{ErrUnsupported, wsse.InvalidSecurity}, // nothing to log in with, and no Security header
	} {
		login := ModuleFunc(func(context.Context, *Request, *Subject) (bool, error) { return false, tc.login })
		c, err := NewChain(Entry{Name: "users", Flag: Optional, Module: login}, Entry{Name: "groups", Flag: Required, Module: enrich})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Authenticate(context.Background(), &Request{Now: time.Now(), Authorization: "Negotiate x"})
		var f *Fault
		if !errors.As(err, &f) || f.Code != tc.want {
			t.Errorf("login %v: %v, want %s", tc.login, err, tc.want)
		}
	}
}
