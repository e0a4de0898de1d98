package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/wsse"
)

// TestKerberosWSEAndSPNEGOFinalToken, through the running service with a
// live MIT KDC: (1) a pre-OASIS WSE/FileNet Security header (2002/07
// secext, ValueType="wsse:Kerberosv5ST") carrying MIT's krb5 token is a
// Kerberos login, and its replay a SOAP fault (401 on the API); (2) MIT's SPNEGO initiator
// without mutual authentication gets, on the 200 answer, the final
// NegTokenResp that completes its context.
func TestKerberosWSEAndSPNEGOFinalToken(t *testing.T) {
	k, svc := startKerberosService(t)
	cc := k.Kinit(t, "alice", "alice-pw")
	script := filepath.Join(testenv.Root(), "authn", "kerberos", "testdata", "gss_client.py")
	python := testenv.PythonWith(t, "gssapi")

	cmd := exec.Command(python, script, "krb5", "HTTP/localhost@EXAMPLE.TEST", "1")
	cmd.Env = k.Env(cc)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gss_client.py: %v", err)
	}
	env := `<soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `"><soap:Header>` +
		`<wsse:Security soap:mustUnderstand="1" xmlns:wsse="` + wsse.NSWSSE0207 + `">` +
		`<wsse:BinarySecurityToken ValueType="wsse:Kerberosv5ST" EncodingType="wsse:Base64Binary">` + strings.TrimSpace(string(out)) +
		`</wsse:BinarySecurityToken></wsse:Security></soap:Header><soap:Body><ping/></soap:Body></soap:Envelope>`
	resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), []byte(env))
	var s subject
	if resp.StatusCode != 200 || json.Unmarshal(body, &s) != nil || s.Principal != "alice" || s.Method != "Kerberos" || s.TokenType != "Kerberosv5ST" {
		t.Fatalf("WSE token: %d %s\n%s", resp.StatusCode, body, svc.Log())
	}
	resp, body = svc.Post(t, "/v1/authenticate", soapContentType("11"), []byte(env))
	if resp.StatusCode != 401 || faultCode(t, "11", body) != "InvalidSecurity" {
		t.Errorf("replayed WSE token: %d %s", resp.StatusCode, body)
	}

	// SPNEGO without mutual authentication.
	peer := exec.Command(python, script, "spnego", "HTTP/localhost@EXAMPLE.TEST", "once")
	peer.Env = k.Env(cc)
	in, _ := peer.StdinPipe()
	outp, _ := peer.StdoutPipe()
	var stderr strings.Builder
	peer.Stderr = &stderr
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	defer peer.Wait()
	defer in.Close()
	r := bufio.NewReader(outp)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("gss_client.py: %v %s", err, stderr.String())
	}
	resp, body = svc.Post(t, "/v1/authenticate", "text/plain", nil, "Authorization", "Negotiate "+strings.TrimSpace(line))
	if resp.StatusCode != 200 {
		t.Fatalf("Negotiate: %d %s\n%s", resp.StatusCode, body, svc.Log())
	}
	scheme, tok, _ := strings.Cut(resp.Header.Get("WWW-Authenticate"), " ")
	if scheme != "Negotiate" {
		t.Fatalf("no final token on the 200 answer: %q", resp.Header.Get("WWW-Authenticate"))
	}
	if _, err := base64.StdEncoding.DecodeString(tok); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, tok+"\n")
	in.Close()
	res, _ := io.ReadAll(r)
	if strings.TrimSpace(string(res)) != "complete" {
		t.Fatalf("MIT's SPNEGO context did not complete on the service's answer: %q %s", res, stderr.String())
	}
}
