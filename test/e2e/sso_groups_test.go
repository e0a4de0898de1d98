package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/wsse"
)

// TestDirectoryGroupsForKerberosAndUsernameToken: with users in a real
// slapd and tickets from a real MIT KDC, the directory's groups reach the
// Subject (and the upstream) both for a UsernameToken user and for a
// Kerberos user, whose ticket arrives as a WS-Security BinarySecurityToken
// made by MIT GSS-API (python3-gssapi) or as HTTP Negotiate (curl).
func TestDirectoryGroupsForKerberosAndUsernameToken(t *testing.T) {
	k := testenv.StartKDC(t)
	dir := testenv.StartLDAP(t)
	up := newUpstream(t)
	svc := StartService(t, ldapRegistryYAML(dir)+fmt.Sprintf(`
chain:
  - {name: sso, type: kerberos, flag: optional, keytab: %s, service_principals: [HTTP/localhost@EXAMPLE.TEST]}
  - {name: users, type: username, flag: optional, registry: directory, password_digest: false, text_over_plain_http: true}
  - {name: groups, type: enrich, flag: optional, registry: directory, strip_realm: true, realms: [EXAMPLE.TEST]}
proxy:
  upstream: %s
log: {level: debug}
`, k.LocalhostKeytab, up.URL), nil)

	// UsernameToken from python3-zeep.
	resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland"))
	var s subject
	if resp.StatusCode != 200 || json.Unmarshal(body, &s) != nil || !slices.Contains(s.Groups, "soap-users") {
		t.Fatalf("UsernameToken: %d %s", resp.StatusCode, body)
	}

	// A Kerberos BinarySecurityToken made by MIT GSS-API, through the proxy.
	cc := k.Kinit(t, "alice", "alice-pw")
	script := filepath.Join(testenv.Root(), "authn", "kerberos", "testdata", "gss_client.py")
	cmd := exec.Command(testenv.PythonWith(t, "gssapi"), script, "krb5", "HTTP/localhost@EXAMPLE.TEST", "1")
	cmd.Env = k.Env(cc)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gss_client.py: %v", err)
	}
	tok := strings.TrimSpace(string(out))
	env := `<soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `"><soap:Header>` +
		`<wsse:Security xmlns:wsse="` + wsse.NSWSSE + `" soap:mustUnderstand="1">` +
		`<wsse:BinarySecurityToken ValueType="http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#GSS_Kerberosv5_AP_REQ" ` +
		`EncodingType="` + wsse.Base64Binary + `">` + tok + `</wsse:BinarySecurityToken></wsse:Security></soap:Header>` +
		`<soap:Body><e:Echo xmlns:e="urn:example:echo"><e:text>hi</e:text></e:Echo></soap:Body></soap:Envelope>`
	resp, body = svc.Post(t, "/soap", soapContentType("11"), []byte(env))
	if resp.StatusCode != 200 {
		t.Fatalf("Kerberos BST through the proxy: %d %s\n%s", resp.StatusCode, body, svc.Log())
	}
	r := up.last(t)
	if r.header.Get("X-Authenticated-Principal") != "alice@EXAMPLE.TEST" || !strings.Contains(r.header.Get("X-Authenticated-Groups"), "soap-users") ||
		r.header.Get("X-Authenticated-Method") != "Kerberos" {
		t.Errorf("upstream identity: %v", r.header)
	}
	// The same token again is a replay.
	resp, body = svc.Post(t, "/soap", soapContentType("11"), []byte(env))
	if resp.StatusCode != 500 || faultCode(t, "11", body) != "InvalidSecurity" {
		t.Errorf("replayed BST: %d %s", resp.StatusCode, body)
	}

	// HTTP Negotiate from curl: the same groups in the JSON Subject.
	curl := testenv.LookPath(t, "curl")
	url := strings.Replace(svc.URL, "127.0.0.1", "localhost", 1) + "/v1/authenticate"
	c := exec.Command(curl, "-s", "--negotiate", "-u", ":", url)
	c.Env = k.Env(cc)
	out, err = c.Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	s = subject{}
	if json.Unmarshal(out, &s) != nil || s.Principal != "alice" || s.Method != "Negotiate" || !slices.Contains(s.Groups, "soap-users") {
		t.Fatalf("Negotiate subject: %s\n%s", out, svc.Log())
	}
}
