package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

// TestLDAPUsersEndToEnd runs the binary with users in a real slapd:
// PasswordText from python3-zeep checked by a bind, groups from the directory
// in the Subject and in the proxied headers, an outage that fails closed, and
// recovery without a restart.
func TestLDAPUsersEndToEnd(t *testing.T) {
	dir := testenv.StartLDAP(t)
	up := newUpstream(t)
	cfg := ldapRegistryYAML(dir) + `
chain:
  - name: directory
    type: username
    flag: requisite
    registry: directory
    password_text: true
    password_digest: false
    text_over_plain_http: true
proxy:
  upstream: ` + up.URL + `
log: {level: debug}
`
	svc := StartService(t, cfg, nil)

	msg := zeep(t, "--user", "alice", "--password", "wonderland")
	resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), msg)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s\n%s", resp.StatusCode, body, svc.Log())
	}
	var s subject
	json.Unmarshal(body, &s)
	if s.Principal != "alice" || s.TokenType != "PasswordText" || !slices.Contains(s.Groups, "soap-users") {
		t.Errorf("subject %+v", s)
	}

	// Through the proxy: groups from the directory reach the upstream.
	resp, body = svc.Post(t, "/soap", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland"))
	if resp.StatusCode != 200 {
		t.Fatalf("proxy status %d: %s", resp.StatusCode, body)
	}
	if g := up.last(t).header.Get("X-Authenticated-Groups"); !strings.Contains(g, "soap-users") {
		t.Errorf("upstream groups %q", g)
	}

	// Wrong password, unknown user and an injection attempt look alike.
	for _, u := range [][2]string{{"alice", "nope"}, {"nobody", "wonderland"}, {"*)(uid=*", "wonderland"}} {
		resp, body = svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", u[0], "--password", u[1]))
		if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "FailedAuthentication" {
			t.Errorf("%q: status %d %s", u[0], resp.StatusCode, body)
		}
	}

	// The directory goes down: fail closed with a temporary fault, readyz 503.
	dir.Stop()
	resp, body = svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland"))
	if resp.StatusCode != http.StatusServiceUnavailable || faultCode(t, "11", body) != "SecurityTokenUnavailable" {
		t.Fatalf("directory down: status %d %s", resp.StatusCode, body)
	}
	rz, err := http.Get(svc.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(rz.Body)
	rz.Body.Close()
	if rz.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(rb), "registry/directory") {
		t.Errorf("readyz with the directory down: %d %s", rz.StatusCode, rb)
	}
	svc.WaitLog(t, `"msg":"readiness: dependency failing","dependency":"registry/directory"`)

	// Back again: accepted without restarting authsvc.
	dir.Start()
	resp, body = svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland"))
	if resp.StatusCode != 200 {
		t.Fatalf("after recovery: status %d %s", resp.StatusCode, body)
	}
}

// TestLDAPRefusesDigestConfig: PasswordDigest against a directory is a
// configuration error found before serving.
func TestLDAPRefusesDigestConfig(t *testing.T) {
	cmd := fmt.Sprintf(`
registries:
  directory: {type: ldap, urls: [ldap://127.0.0.1:1], allow_insecure: true, bind_dn: cn=x, bind_password: y,
              user_search: {base_dn: "dc=x", filter: "(uid=%%s)"}}
chain:
  - {name: d, type: username, flag: required, registry: directory}
`)
	out := checkConfig(t, cmd)
	if !strings.Contains(out, "password_digest") {
		t.Errorf("check-config output: %s", out)
	}
}

// ldapRegistryYAML is a registries section naming the test slapd as
// "directory".
func ldapRegistryYAML(dir *testenv.LDAP) string {
	return fmt.Sprintf(`
registries:
  directory:
    type: ldap
    urls: [%s]
    start_tls: true
    ca_file: %s
    bind_dn: %s
    bind_password: %s
    dial_timeout: 2s
    request_timeout: 2s
    user_search:
      base_dn: ou=people,%s
      filter: (&(objectClass=inetOrgPerson)(uid=%%s))
      name_attribute: uid
      member_of_attribute: memberOf
      attributes: [mail]
`, dir.URL, dir.CAFile, dir.BindDN, dir.BindPassword, dir.BaseDN)
}
