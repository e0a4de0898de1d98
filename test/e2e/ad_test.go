package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/wsse"
)

// startADService runs the binary with examples/active-directory/authsvc.yaml
// against the Samba AD DC: only the DC's address and the upstream are
// replaced, and the RC4 service's SPN and keytab added for the enctype test.
func startADService(t *testing.T, ad *testenv.SambaAD, upstream string) *Service {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.Root(), "examples", "active-directory", "authsvc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(raw)
	for old, repl := range map[string]string{
		"urls: [ldaps://dc1.ad.example.test]":                  "urls: [" + ad.LDAPURL() + "]",
		"upstream: http://127.0.0.1:9000":                      "upstream: " + upstream,
		"level: info, format: json":                            "level: debug, format: json",
		"keytab: authsvc.keytab":                               "keytabs: [authsvc.keytab, legacy.keytab]",
		"service_principals: [HTTP/localhost@AD.EXAMPLE.TEST]": "service_principals: [HTTP/localhost@AD.EXAMPLE.TEST, HTTP/legacy.ad.example.test@AD.EXAMPLE.TEST]",
		"listen: 127.0.0.1:8080\n":                             "",
		"credential_cache: {ttl: 30s, negative_ttl: 5s}":       "credential_cache: {ttl: 30s, negative_ttl: 5s}\n    dial_timeout: 5s",
	} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("the example no longer has %q", old)
		}
		cfg = strings.Replace(cfg, old, repl, 1)
	}
	files := map[string]string{"ldap-bind-password": "Svc-authsvc-pw-1\n"}
	for name, src := range map[string]string{"ad-ca.pem": ad.CAFile, "authsvc.keytab": ad.Keytab, "legacy.keytab": ad.LegacyKeytab} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	return StartService(t, cfg, files)
}

// adToken is a fresh GSS token (mech krb5 or spnego) from MIT GSS-API
// (python3-gssapi) with the credentials in cc, for spn.
func adToken(t *testing.T, ad *testenv.SambaAD, cc, mech, spn string) string {
	t.Helper()
	script := filepath.Join(testenv.Root(), "authn", "kerberos", "testdata", "gss_client.py")
	cmd := exec.Command(testenv.PythonWith(t, "gssapi"), script, mech, spn, "1")
	cmd.Env = ad.Env(cc)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gss_client.py %s: %v\n%s", spn, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func bstEnvelope(tok string) []byte {
	return []byte(`<soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `"><soap:Header>` +
		`<wsse:Security xmlns:wsse="` + wsse.NSWSSE + `" soap:mustUnderstand="1">` +
		`<wsse:BinarySecurityToken ValueType="http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#GSS_Kerberosv5_AP_REQ" ` +
		`EncodingType="` + wsse.Base64Binary + `">` + tok + `</wsse:BinarySecurityToken></wsse:Security></soap:Header>` +
		`<soap:Body><e:Echo xmlns:e="urn:example:echo"><e:text>hi</e:text></e:Echo></soap:Body></soap:Envelope>`)
}

// wantADGroups checks the upstream's X-Authenticated-Groups: the AD names
// of alice's groups (nested Engineering included), no SIDs.
func wantADGroups(t *testing.T, how string, h string) {
	t.Helper()
	groups := strings.Split(h, ",")
	for _, g := range []string{"Domain Users", "SOAP Developers", "Engineering", "Night Ops"} {
		if !slices.Contains(groups, g) {
			t.Errorf("%s: upstream groups %q lack %q", how, h, g)
		}
	}
	if strings.Contains(h, "S-1-") {
		t.Errorf("%s: upstream groups %q carry SIDs (sid_groups: names)", how, h)
	}
}

// TestActiveDirectory runs the documented AD configuration
// (examples/active-directory) against a Samba AD DC with real clients: an
// AD user reaches the upstream with her groups by name through a Kerberos
// BinarySecurityToken (python3-gssapi) and through HTTP Negotiate (curl);
// her UsernameToken (python3-zeep) works as alice, ADEX\alice and her UPN;
// disabled, locked out, expired and must-change accounts get the same
// FailedAuthentication fault while the log says which; an RC4 ticket is
// refused with a reason naming the fix.
func TestActiveDirectory(t *testing.T) {
	ad := testenv.StartSambaAD(t)
	up := newUpstream(t)
	svc := startADService(t, ad, up.URL)
	cc := ad.Kinit(t, "alice", testenv.SambaADUsers["alice"])

	// A Kerberos BinarySecurityToken through the proxy.
	resp, body := svc.Post(t, "/soap", soapContentType("11"), bstEnvelope(adToken(t, ad, cc, "krb5", "HTTP/localhost@AD.EXAMPLE.TEST")))
	if resp.StatusCode != 200 {
		t.Fatalf("BST through the proxy: %d %s\n%s", resp.StatusCode, body, svc.Log())
	}
	r := up.last(t)
	if r.header.Get("X-Authenticated-Principal") != "alice@AD.EXAMPLE.TEST" || r.header.Get("X-Authenticated-Method") != "Kerberos" {
		t.Errorf("BST: upstream identity %v", r.header)
	}
	wantADGroups(t, "BST", r.header.Get("X-Authenticated-Groups"))

	// HTTP Negotiate from curl, through the proxy and as JSON.
	curl := testenv.LookPath(t, "curl")
	base := strings.Replace(svc.URL, "127.0.0.1", "localhost", 1)
	n := up.count()
	c := exec.Command(curl, "-s", "-f", "--negotiate", "-u", ":", "-H", "Content-Type: text/xml; charset=utf-8",
		"--data-binary", `<soap:Envelope xmlns:soap="`+wsse.NSSOAP11+`"><soap:Body><e:Echo xmlns:e="urn:example:echo"><e:text>hi</e:text></e:Echo></soap:Body></soap:Envelope>`,
		base+"/soap")
	c.Env = ad.Env(cc)
	if out, err := c.CombinedOutput(); err != nil || up.count() != n+1 {
		t.Fatalf("curl --negotiate through the proxy: %v\n%s\n%s", err, out, svc.Log())
	}
	r = up.last(t)
	if r.header.Get("X-Authenticated-Principal") != "alice@AD.EXAMPLE.TEST" || r.header.Get("X-Authenticated-Method") != "Negotiate" {
		t.Errorf("Negotiate: upstream identity %v", r.header)
	}
	wantADGroups(t, "Negotiate", r.header.Get("X-Authenticated-Groups"))
	c = exec.Command(curl, "-s", "-f", "--negotiate", "-u", ":", base+"/v1/authenticate")
	c.Env = ad.Env(cc)
	out, err := c.Output()
	var js struct {
		Principal  string              `json:"principal"`
		Realm      string              `json:"realm"`
		Attributes map[string][]string `json:"attributes"`
	}
	if err != nil || json.Unmarshal(out, &js) != nil {
		t.Fatalf("curl --negotiate /v1/authenticate: %v %s", err, out)
	}
	t.Logf("the Subject of a Negotiate login: %s", out)
	if js.Principal != "alice" || js.Realm != "AD.EXAMPLE.TEST" ||
		!slices.Equal(js.Attributes["logon_domain"], []string{"ADEX"}) ||
		!slices.Equal(js.Attributes["sid"], []string{ad.ObjectSID(t, "alice")}) ||
		!slices.Contains(js.Attributes["group_sids"], ad.ObjectSID(t, "Engineering")) {
		t.Errorf("Negotiate subject: %s", out)
	}

	// UsernameTokens (python3-zeep) in the three name forms.
	for _, name := range []string{"alice", `ADEX\alice`, "alice@ad.example.test"} {
		resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", name, "--password", testenv.SambaADUsers["alice"]))
		s := subject{}
		if resp.StatusCode != 200 || json.Unmarshal(body, &s) != nil || s.Principal != "alice" || !slices.Contains(s.Groups, "Engineering") {
			t.Errorf("UsernameToken %s: %d %s", name, resp.StatusCode, body)
		}
	}

	// Unusable accounts: one fault for all (and for a wrong password), the
	// log names the state.
	rid := regexp.MustCompile(`[0-9a-f]{16,}`)
	var faults []string
	for user, why := range map[string]string{
		"dave": "the account is disabled", "erin": "the account is locked out",
		"frank": "the account expired", "grace": "the password must be changed",
		"bob": "wrong password",
	} {
		pw := testenv.SambaADUsers[user]
		if user == "bob" {
			pw = "Wrong-pw-1"
		}
		resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", user, "--password", pw))
		if resp.StatusCode != 401 || faultCode(t, "11", body) != "FailedAuthentication" {
			t.Errorf("%s: %d %s", user, resp.StatusCode, body)
		}
		faults = append(faults, rid.ReplaceAllString(string(body), "ID"))
		svc.WaitLog(t, why)
	}
	for _, f := range faults[1:] {
		if f != faults[0] {
			t.Errorf("faults differ between refused accounts:\n%s\n%s", faults[0], f)
		}
	}

	// An RC4 ticket (svc-legacy has msDS-SupportedEncryptionTypes=4).
	resp, body = svc.Post(t, "/soap", soapContentType("11"), bstEnvelope(adToken(t, ad, cc, "krb5", "HTTP/legacy.ad.example.test@AD.EXAMPLE.TEST")))
	if resp.StatusCode != 500 || faultCode(t, "11", body) != "UnsupportedAlgorithm" {
		t.Errorf("RC4 ticket: %d %s", resp.StatusCode, body)
	}
	svc.WaitLog(t, "msDS-SupportedEncryptionTypes=24")
	if !strings.Contains(svc.Log(), "arcfour-hmac") {
		t.Errorf("the RC4 refusal does not name the enctype:\n%s", svc.Log())
	}
}

// TestActiveDirectoryDocMatchesExample: the configuration shown in
// docs/active-directory.md is the tested example file, comments aside.
func TestActiveDirectoryDocMatchesExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(testenv.Root(), "docs", "active-directory.md"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile(filepath.Join(testenv.Root(), "examples", "active-directory", "authsvc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## 5. The authsvc configuration")
	_, rest, ok2 := strings.Cut(rest, "```yaml\n")
	block, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/active-directory.md has no yaml block in section 5")
	}
	strip := func(s string) []string {
		var out []string
		for line := range strings.Lines(s) {
			if i := strings.Index(line, " #"); i >= 0 {
				line = line[:i]
			}
			if line = strings.TrimRight(line, " \n"); line != "" && !strings.HasPrefix(strings.TrimSpace(line), "#") {
				out = append(out, line)
			}
		}
		return out
	}
	if d, e := strip(block), strip(string(ex)); !slices.Equal(d, e) {
		t.Errorf("the doc's configuration differs from examples/active-directory/authsvc.yaml:\ndoc:\n%s\nexample:\n%s", strings.Join(d, "\n"), strings.Join(e, "\n"))
	}
}
