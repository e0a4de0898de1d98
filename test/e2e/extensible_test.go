package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/testenv"
	samltest "github.com/authsvc/authsvc/test/saml"
)

// TestExtensibleChain runs the built binary with a chain of SAML, http and
// exec modules: assertions signed by xmlsec1, a loopback HTTP service and
// a real Python program, and a program that crashes (503, fail closed).
func TestExtensibleChain(t *testing.T) {
	idp := samltest.NewIdP(t, "e2e-idp")
	svcHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d struct {
			RequestID string `json:"request_id"`
			Security  *struct {
				UsernameTokens []struct{ Username string } `json:"username_tokens"`
			} `json:"security"`
		}
		json.NewDecoder(r.Body).Decode(&d)
		ans := `{"version":1,"decision":"ignore"}`
		if d.Security != nil && len(d.Security.UsernameTokens) > 0 {
			switch d.Security.UsernameTokens[0].Username {
			case "carol": // the token is security.tokens[0]
				ans = `{"version":1,"decision":"accept","subject":{"principal":"carol","groups":["remote"]},"processed":[0]}`
			case "dave": // accepted, but the token reported as verified by nobody
				ans = `{"version":1,"decision":"accept","subject":{"principal":"dave"}}`
			}
		}
		fmt.Fprint(w, ans)
	}))
	defer svcHTTP.Close()
	helper := filepath.Join(testenv.Root(), "authn", "extensible", "testdata", "helper.py")
	cfg := fmt.Sprintf(`
log: {level: info}
chain:
  - name: idp
    type: saml
    flag: sufficient
    idp_certificates: [idp.pem]
    issuers: [https://idp.example.test]
    audiences: [urn:authsvc:e2e]
    groups_attribute: groups
  - name: remote
    type: http
    flag: sufficient
    url: %q
  - name: program
    type: exec
    flag: sufficient
    command: [%q, %q, decide]
    timeout: 5s
`, svcHTTP.URL, testenv.Python(t), helper)
	svc := StartService(t, cfg, map[string]string{"idp.pem": string(idp.CertPEM)})

	a := idp.Sign(t, samltest.Assertion{ID: "_e2e1", Issuer: "https://idp.example.test", NameID: "alice",
		NotBefore: time.Now().Add(-time.Minute), Audience: "urn:authsvc:e2e", Attributes: map[string][]string{"groups": {"admins"}}})
	ut := func(user string) string {
		return `<wsse:UsernameToken><wsse:Username>` + user + `</wsse:Username></wsse:UsernameToken>`
	}
	cases := []struct {
		name, security string
		status         int
		principal      string
	}{
		{"saml", a, 200, "alice"},
		{"saml replayed", a, 401, ""},
		{"saml tampered", strings.Replace(a, ">alice<", ">root<", 1), 401, ""},
		{"http accepts carol", ut("carol"), 200, "carol"},
		{"http accepts dave's token without saying it verified it", ut("dave"), 401, ""},
		{"exec accepts a ticket", `<x:Ticket xmlns:x="urn:example:ticket">t</x:Ticket>`, 200, "ticket-holder"},
		{"exec rejects bob", ut("bob"), 401, ""},
		{"nobody", ut("mallory"), 401, ""},
	}
	for _, c := range cases {
		resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), samltest.Envelope(c.security, "<ping/>"))
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.status, body)
			continue
		}
		if c.status == 200 {
			var s authn.Subject
			if err := json.Unmarshal(body, &s); err != nil || s.Principal != c.principal {
				t.Errorf("%s: %s", c.name, body)
			}
		}
	}

	crash := StartService(t, fmt.Sprintf(`
chain:
  - name: program
    type: exec
    flag: required
    command: [%q, %q, crash]
`, testenv.Python(t), helper), nil)
	resp, body := crash.Post(t, "/v1/authenticate", soapContentType("11"), samltest.Envelope(ut("alice"), ""))
	if resp.StatusCode != 503 {
		t.Fatalf("crashing program: %d %s", resp.StatusCode, body)
	}
	if l := crash.LogLine(t, resp.Header.Get("X-Request-Id")); !strings.Contains(l, "failing closed") && !strings.Contains(l, "exit status 3") {
		t.Errorf("log line: %s\n%s", l, crash.Log())
	}
}
