package cxf

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

// TestBuild: build.sh leaves the client and a classpath of CXF 4.2.3 with
// the modules the WS-SecureConversation client needs.
func TestBuild(t *testing.T) {
	cp := Require(t)
	if !strings.Contains(cp, "cxf-client.jar") {
		t.Fatalf("classpath %q lacks the client", cp)
	}
	for _, j := range []string{
		"cxf-rt-frontend-jaxws-4.2.3.jar", "cxf-rt-transports-http-4.2.3.jar",
		"cxf-rt-ws-security-4.2.3.jar", "cxf-rt-ws-policy-4.2.3.jar", "cxf-rt-ws-addr-4.2.3.jar",
	} {
		if _, err := os.Stat(filepath.Join(Dir(), "target", "lib", j)); err != nil {
			t.Errorf("classpath: %v", err)
		}
	}
}

// TestRunClosedPort: against a port nobody listens on, Run fails and says
// it could not connect to that URL; what CXF tried to send first, its RST,
// is still returned.
func TestRunClosedPort(t *testing.T) {
	Require(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + l.Addr().String() + "/echo"
	l.Close()
	res, err := Run(context.Background(), Options{URL: url, Policy: PolicyT})
	if err == nil {
		t.Fatalf("Run against a closed port succeeded: %+v", res)
	}
	if !strings.Contains(err.Error(), "cannot connect to "+url) {
		t.Fatalf("error does not say why: %v", err)
	}
	if len(res.Messages) == 0 || !res.Messages[0].Sent {
		t.Fatalf("no outgoing message recorded: %+v", res.Messages)
	}
	if a := res.Messages[0].Get("SOAPAction"); a != `"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/SCT"` {
		t.Fatalf("first message's SOAPAction %q, want the WS-Trust 1.3 RST/SCT", a)
	}
}

// TestRunBadPolicy: an unknown policy is refused before any JVM starts.
func TestRunBadPolicy(t *testing.T) {
	if _, err := Run(context.Background(), Options{URL: "https://127.0.0.1:1/", Policy: "X"}); err == nil || !strings.Contains(err.Error(), `unknown policy "X"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestRunProfileM runs the whole client against capture.py, the loopback
// stand-in STS that recorded wsse/wstrust/testdata/cxf: CXF issues with computed-key
// entropy, bootstrapped with a PasswordDigest UsernameToken, then signs the
// call with a DerivedKeyToken and nothing encrypted.
func TestRunProfileM(t *testing.T) {
	Require(t)
	port, certFile := startCapture(t)
	res, err := Run(context.Background(), Options{
		URL: "https://127.0.0.1:" + port + "/echo", Policy: PolicyM, CAFile: certFile, Text: "from cxf", Digest: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reply != "from cxf" {
		t.Fatalf("reply %q", res.Reply)
	}
	if len(res.Messages) != 4 {
		t.Fatalf("%d messages, want RST, RSTR, call, response", len(res.Messages))
	}
	rst, call := res.Messages[0], res.Messages[2]
	if !rst.Sent || !strings.Contains(string(rst.Body), "<wst:ComputedKeyAlgorithm>http://docs.oasis-open.org/ws-sx/ws-trust/200512/CK/PSHA1<") {
		t.Errorf("RST: %s", rst.Body)
	}
	for _, want := range []string{"<wsse:Username>alice</wsse:Username>", "#PasswordDigest\">", "<wsse:Nonce "} {
		if !strings.Contains(string(rst.Body), want) {
			t.Errorf("RST's UsernameToken lacks %s: %s", want, rst.Body)
		}
	}
	if res.Messages[1].Sent || res.Messages[1].Line != "HTTP 200" {
		t.Errorf("second message %q", res.Messages[1].Line)
	}
	for _, want := range []string{"<wsc:DerivedKeyToken", "/ws-secureconversation/200512/dk\"", "<e:text>from cxf</e:text>"} {
		if !strings.Contains(string(call.Body), want) {
			t.Errorf("call lacks %s: %s", want, call.Body)
		}
	}
	if strings.Contains(string(call.Body), "EncryptedData") {
		t.Errorf("call encrypted: %s", call.Body)
	}
}

// TestRunAPIModeCancel: profile T against capture.py answering the call
// with JSON as authsvc's API mode does; the JSON is the reply, and the
// context is then cancelled with a request signed with its key.
func TestRunAPIModeCancel(t *testing.T) {
	Require(t)
	port, certFile := startCapture(t, "--json")
	res, err := Run(context.Background(), Options{
		URL: "https://127.0.0.1:" + port + "/v1/authenticate", Policy: PolicyT, CAFile: certFile, API: true, Cancel: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	reply, cancelled, _ := strings.Cut(res.Reply, "\n")
	if !strings.Contains(reply, `"principal": "alice"`) || !strings.HasPrefix(cancelled, "cancelled ") {
		t.Fatalf("reply %q", res.Reply)
	}
	if len(res.Messages) != 6 {
		t.Fatalf("%d messages, want RST, RSTR, call, JSON, cancel, RSTR", len(res.Messages))
	}
	if got := res.Messages[3].Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("the call's answer as recorded: Content-Type %q", got)
	}
	cancel := res.Messages[4]
	if a := cancel.Get("SOAPAction"); a != `"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/SCT/Cancel"` {
		t.Errorf("cancel SOAPAction %q", a)
	}
	for _, want := range []string{"<wst:CancelTarget>", "<ds:SignatureValue>", "/ws-secureconversation/200512/sct\""} {
		if !strings.Contains(string(cancel.Body), want) {
			t.Errorf("cancel lacks %s: %s", want, cancel.Body)
		}
	}
}

// startCapture starts capture.py with a fresh certificate for 127.0.0.1 and
// returns its port and the certificate to trust.
func startCapture(t *testing.T, args ...string) (port, certFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	srv := exec.Command(testenv.Python(t), append([]string{filepath.Join(Dir(), "capture.py"),
		"--dir", filepath.Join(dir, "capture"), "--cert", certFile, "--key", keyFile}, args...)...)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("capture.py did not start: %v", err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening ")), certFile
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "authsvc cxf test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestRecordedMessagesVerify: every signed call and cancel recorded in
// wsse/wstrust/testdata/cxf verifies with the key material recorded beside
// it (verify.py), and a copy with one character of the Body changed does not.
func TestRecordedMessagesVerify(t *testing.T) {
	root := filepath.Join(Dir(), "..", "..", "wsse", "wstrust", "testdata", "cxf")
	dirs, err := filepath.Glob(filepath.Join(root, "*", "keys.txt"))
	if err != nil || len(dirs) < 5 {
		t.Fatalf("recorded folders: %v %v", dirs, err)
	}
	py := testenv.PythonWith(t, "lxml")
	verify := func(dir, n string) ([]byte, error) {
		return exec.Command(py, filepath.Join(Dir(), "verify.py"), dir, n).CombinedOutput()
	}
	for _, k := range dirs {
		dir := filepath.Dir(k)
		for _, n := range []string{"02", "03"} {
			if out, err := verify(dir, n); err != nil {
				t.Errorf("%s %s: %v\n%s", filepath.Base(dir), n, err, out)
			}
		}
	}
	// Tampered: the Echo text of M's call, which its signature covers.
	tmp := t.TempDir()
	for _, f := range []string{"keys.txt", "02-request.http"} {
		b, err := os.ReadFile(filepath.Join(root, "M", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "02-request.http" {
			if !strings.Contains(string(b), "<e:text>hello</e:text>") {
				t.Fatal("M/02-request.http has no Echo text")
			}
			b = []byte(strings.Replace(string(b), "<e:text>hello</e:text>", "<e:text>hellO</e:text>", 1))
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := verify(tmp, "02"); err == nil || !strings.Contains(string(out), "digest MISMATCH") {
		t.Fatalf("a changed Body verified: %v\n%s", err, out)
	}
}
