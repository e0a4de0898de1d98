package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

// startKerberosService starts a test KDC and the service with one
// requisite kerberos module for HTTP/localhost.
func startKerberosService(t *testing.T) (*testenv.KDC, *Service) {
	t.Helper()
	k := testenv.StartKDC(t)
	svc := StartService(t, `
chain:
  - name: sso
    type: kerberos
    flag: requisite
    keytab: `+k.LocalhostKeytab+`
    service_principals: [HTTP/localhost@EXAMPLE.TEST]
log: {level: debug}
`, nil)
	return k, svc
}

// TestKerberosNegotiateCurl runs `curl --negotiate -u :` (MIT GSS-API)
// against the built service with a kerberos chain and a real test KDC.
func TestKerberosNegotiateCurl(t *testing.T) {
	k, svc := startKerberosService(t)
	url := strings.Replace(svc.URL, "127.0.0.1", "localhost", 1) + "/v1/authenticate"
	curl := testenv.LookPath(t, "curl")
	run := func(cc string) (code string, headers string, body string) {
		cmd := exec.Command(curl, "-s", "-D", "-", "--negotiate", "-u", ":", "-w", "\n%{http_code}", url)
		cmd.Env = k.Env(cc)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		s := strings.TrimSpace(string(out))
		i := strings.LastIndexByte(s, '\n')
		return s[i+1:], s[:i], s
	}

	// Without a ticket: the challenge.
	code, hdr, _ := run(k.Dir + "/no-such-ccache")
	if code != "401" || !strings.Contains(strings.ToLower(hdr), "www-authenticate: negotiate") {
		t.Fatalf("without a ticket: %s\n%s\n%s", code, hdr, svc.Log())
	}

	// With alice's ticket.
	cc := k.Kinit(t, "alice", "alice-pw")
	code, _, out := run(cc)
	if code != "200" {
		t.Fatalf("with a ticket: %s\n%s\n%s", code, out, svc.Log())
	}
	start := strings.Index(out, "{")
	end := strings.LastIndex(out, "}")
	var subj struct {
		Principal string `json:"principal"`
		Realm     string `json:"realm"`
		Method    string `json:"method"`
	}
	if start < 0 || end < start || json.Unmarshal([]byte(out[start:end+1]), &subj) != nil {
		t.Fatalf("no JSON subject in %s", out)
	}
	if subj.Principal != "alice" || subj.Realm != "EXAMPLE.TEST" || subj.Method != "Negotiate" {
		t.Fatalf("subject %+v", subj)
	}
	if !strings.Contains(strings.ToLower(out), "www-authenticate: negotiate ") {
		t.Errorf("no mutual-authentication token in the 200 answer:\n%s", out)
	}
	svc.Healthy(t)
}

// TestKerberosNegotiateThroughScrubbingProxy: HTTP Negotiate on a bare GET
// through the proxy with scrub_password on reaches the upstream as alice,
// and the client gets the mutual-authentication token. The proxy used to
// look for a password in the missing envelope and answer 500.
func TestKerberosNegotiateThroughScrubbingProxy(t *testing.T) {
	k := testenv.StartKDC(t)
	up := newUpstream(t)
	svc := StartService(t, `
chain:
  - name: sso
    type: kerberos
    flag: requisite
    keytab: `+k.LocalhostKeytab+`
    service_principals: [HTTP/localhost@EXAMPLE.TEST]
proxy:
  upstream: `+up.URL+`
  scrub_password: true
`, nil)
	url := strings.Replace(svc.URL, "127.0.0.1", "localhost", 1) + "/svc"
	cmd := exec.Command(testenv.LookPath(t, "curl"), "-s", "-D", "-", "--negotiate", "-u", ":", "-w", "\n%{http_code}", url)
	cmd.Env = k.Env(k.Kinit(t, "alice", "alice-pw"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	s := strings.TrimSpace(string(out))
	if code := s[strings.LastIndexByte(s, '\n')+1:]; code != "200" {
		t.Fatalf("status %s\n%s\n%s", code, s, svc.Log())
	}
	if !strings.Contains(strings.ToLower(s), "www-authenticate: negotiate ") {
		t.Errorf("no mutual-authentication token in the answer:\n%s", s)
	}
	if r := up.last(t); r.header.Get("X-Authenticated-User") != "alice" || r.header.Get("X-Authenticated-Method") != "Negotiate" {
		t.Errorf("upstream saw %v", r.header)
	}
}
