package authn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/wsse"
)

// timestamp is a wsu:Timestamp created at c and expiring at e.
func timestamp(c, e time.Time) string {
	return `<wsu:Timestamp><wsu:Created>` + c.UTC().Format(time.RFC3339) + `</wsu:Created><wsu:Expires>` +
		e.UTC().Format(time.RFC3339) + `</wsu:Expires></wsu:Timestamp>`
}

// TestTimestampPreStep: a chain WithTimestamp checks the Timestamp before
// any module runs, and marks it processed when it passes; a chain without
// it leaves the Timestamp to the modules, as before.
func TestTimestampPreStep(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fresh := timestamp(now.Add(-time.Minute), now.Add(4*time.Minute))
	stale := timestamp(now.Add(-10*time.Minute), now.Add(-5*time.Minute))
	future := timestamp(now.Add(5*time.Minute), now.Add(10*time.Minute))
	cases := []struct {
		name     string
		p        *TimestampPolicy // nil: no pre-step
		children string
		code     wsse.FaultCode // "" for success
		ran      bool
	}{
		{"fresh", &TimestampPolicy{}, fresh + ut, "", true},
		{"expired", &TimestampPolicy{}, stale + ut, wsse.MessageExpired, false},
		{"created ahead", &TimestampPolicy{}, future + ut, wsse.MessageExpired, false},
		{"created ahead within the skew", &TimestampPolicy{FutureSkew: 6 * time.Minute}, future + ut, "", true},
		{"too old for max_age", &TimestampPolicy{MaxAge: 30 * time.Second}, fresh + ut, wsse.MessageExpired, false},
		{"required and missing", &TimestampPolicy{Required: true}, ut, wsse.InvalidSecurity, false},
		{"missing, not required", &TimestampPolicy{}, ut, "", true},
		// Without the pre-step nobody processed the Timestamp.
		{"no pre-step", nil, fresh + ut, wsse.UnsupportedSecurityToken, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran := false
			m := ModuleFunc(func(_ context.Context, req *Request, s *Subject) (bool, error) {
				ran = true
				for i, e := range req.Security().Elements {
					if e.Local == "UsernameToken" {
						req.MarkProcessed(i)
					}
				}
				s.Principal = "alice"
				return true, nil
			})
			chain, err := NewChain(Entry{Name: "m", Flag: Required, Module: m})
			if err != nil {
				t.Fatal(err)
			}
			if c.p != nil {
				chain = chain.WithTimestamp(*c.p)
			}
			req := secEnvelope(t, c.children, "")
			req.Now = now
			_, err = chain.Authenticate(context.Background(), req)
			var f *Fault
			switch {
			case c.code == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.code != "" && (!errors.As(err, &f) || f.Code != c.code):
				t.Errorf("got %v, want %s", err, c.code)
			}
			if ran != c.ran {
				t.Errorf("module ran: %v, want %v", ran, c.ran)
			}
		})
	}
}

// TestPrecheckOnce: a request whose pre-steps passed in Precheck is not
// checked again by Authenticate (the server checks before it asks the
// brute-force store), and a failed Precheck refuses it again in
// Authenticate.
func TestPrecheckOnce(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	m := ModuleFunc(func(_ context.Context, req *Request, s *Subject) (bool, error) {
		for i, e := range req.Security().Elements {
			if e.Local == "UsernameToken" {
				req.MarkProcessed(i)
			}
		}
		s.Principal = "alice"
		return true, nil
	})
	chain, err := NewChain(Entry{Name: "m", Flag: Required, Module: m})
	if err != nil {
		t.Fatal(err)
	}
	chain = chain.WithTimestamp(TimestampPolicy{})
	req := secEnvelope(t, timestamp(now.Add(-time.Minute), now.Add(time.Minute))+ut, "")
	req.Now = now
	if err := chain.Precheck(req); err != nil {
		t.Fatal(err)
	}
	req.Now = now.Add(time.Hour) // Authenticate does not look again
	if _, err := chain.Authenticate(context.Background(), req); err != nil {
		t.Errorf("checked twice: %v", err)
	}
	stale := secEnvelope(t, timestamp(now.Add(-time.Hour), now.Add(-time.Minute))+ut, "")
	stale.Now = now
	if err := chain.Precheck(stale); err == nil {
		t.Fatal("stale Timestamp passed")
	}
	if _, err := chain.Authenticate(context.Background(), stale); err == nil {
		t.Error("Authenticate accepted what Precheck refused")
	}
	// A request without a SOAP message has no Timestamp to check.
	if err := chain.WithTimestamp(TimestampPolicy{Required: true}).Precheck(&Request{Now: now}); err != nil {
		t.Errorf("no envelope: %v", err)
	}
}

// TestClaimed: the credential a request carries, named without a module.
func TestClaimed(t *testing.T) {
	for _, c := range []struct {
		children, authz string
		want            Claim
	}{
		{`<wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password Type="` + wsse.PasswordDigest + `">x</wsse:Password></wsse:UsernameToken>`, "", Claim{MethodUsernameToken, TokenPasswordDigest}},
		{`<wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password Type="` + wsse.PasswordText + `">x</wsse:Password></wsse:UsernameToken>`, "", Claim{MethodUsernameToken, TokenPasswordText}},
		{`<wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password>x</wsse:Password></wsse:UsernameToken>`, "", Claim{MethodUsernameToken, TokenPasswordText}},
		{ut, "Negotiate abc", Claim{MethodUsernameToken, ""}},
		{`<wsse:BinarySecurityToken ValueType="urn:x">AAAA</wsse:BinarySecurityToken>`, "", Claim{MethodBinarySecurityToken, ""}},
		{"", "negotiate abc", Claim{MethodNegotiate, ""}},
		{"", "Basic abc", Claim{MethodOther, ""}},
		{"", "", Claim{MethodNone, ""}},
	} {
		req := secEnvelope(t, c.children, "")
		if got := Claimed(req.Envelope, c.authz); got != c.want {
			t.Errorf("%s %q: %+v, want %+v", c.children, c.authz, got, c.want)
		}
	}
	if got := Claimed(nil, ""); got != (Claim{Method: MethodNone}) {
		t.Errorf("no envelope: %+v", got)
	}
	// A WSE 2.0 (pre-OASIS secext) header's token is claimed as a
	// BinarySecurityToken too, so a refusal is counted under its method.
	legacy := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>` +
		`<w:Security xmlns:w="` + wsse.NSWSSE0212 + `"><w:BinarySecurityToken ValueType="w:Kerberosv5ST">AAAA</w:BinarySecurityToken></w:Security>` +
		`</s:Header><s:Body/></s:Envelope>`
	env, err := wsse.Parse([]byte(legacy), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := Claimed(env, ""); got != (Claim{Method: MethodBinarySecurityToken}) {
		t.Errorf("pre-OASIS header: %+v", got)
	}
}

// TestCleartextPassword: the span of the only UsernameToken's cleartext
// password, and nothing for a digest, two tokens or no header.
func TestCleartextPassword(t *testing.T) {
	text := `<wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password Type="` + wsse.PasswordText + `">s3cret</wsse:Password></wsse:UsernameToken>`
	digest := `<wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password Type="` + wsse.PasswordDigest + `">s3cret</wsse:Password></wsse:UsernameToken>`
	req := secEnvelope(t, text, "")
	a, b, ok := CleartextPassword(req.Security())
	if !ok || string(req.Envelope.Raw[a:b]) != "s3cret" {
		t.Errorf("span %d..%d %v", a, b, ok)
	}
	for _, children := range []string{digest, text + text, ut, ""} {
		if _, _, ok := CleartextPassword(secEnvelope(t, children, "").Security()); ok {
			t.Errorf("%s: a span", children)
		}
	}
	if _, _, ok := CleartextPassword(nil); ok {
		t.Error("nil header: a span")
	}
}
