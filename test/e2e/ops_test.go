package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/authsvc/authsvc/internal/testenv"
)

// get fetches url with client and returns the status and body.
func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// servedCert returns the certificate the TLS listener at addr presents.
func servedCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// auditIDs returns the request ids in an audit file.
func auditIDs(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// TestReloadOnSIGHUP runs the binary with TLS, a signed identity and an
// audit file, then replaces the certificate and key, adds an identity key,
// renames the audit file (logrotate without copytruncate) and edits keys
// that need a restart, and sends SIGHUP: the new certificate is served, the
// new key published and signing, records go to a new audit file, and each
// change that was not applied is logged at Warn by key and line. A broken
// certificate on the next SIGHUP keeps the one in use.
func TestReloadOnSIGHUP(t *testing.T) {
	certDir := t.TempDir()
	certFile, keyFile, poolA := selfSigned(t, certDir)
	cfg := baseConfig + "tls: {cert_file: " + certFile + ", key_file: " + keyFile + "}\n" +
		"identity:\n  issuer: https://authsvc.e2e.test\n  audience: [soap-backend]\n  keys:\n    - {file: k1.pem, kid: k1}\n" +
		"audit: {output: audit.jsonl}\n"
	svc := startServiceNoWait(t, cfg, map[string]string{"users.yaml": usersFile(t), "k1.pem": ed25519PEM(t)})
	svc.URL = strings.Replace(svc.URL, "http://", "https://", 1)
	addr := strings.TrimPrefix(svc.URL, "https://")
	clientA := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolA}}, Timeout: 5 * time.Second}
	waitFor(t, "TLS service healthy", func() bool {
		resp, err := clientA.Get(svc.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	certA := servedCert(t, addr)
	post := func(client *http.Client) string {
		t.Helper()
		resp, err := client.Post(svc.URL+"/v1/authenticate", soapContentType("11"), bytes.NewReader(zeep(t, "--user", "alice", "--password", "wonderland")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Authenticated-Assertion") == "" {
			t.Fatalf("authenticate: %d %v", resp.StatusCode, resp.Header)
		}
		return resp.Header.Get("X-Request-Id")
	}
	first := post(clientA)
	audit := filepath.Join(svc.Dir, "audit.jsonl")
	waitFor(t, "first audit record", func() bool { return strings.Contains(auditIDs(audit), first) })

	// The changes, then SIGHUP.
	_, _, poolB := selfSigned(t, certDir) // same file names, a new key and certificate
	if err := os.Rename(audit, audit+".1"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(svc.Dir, "k2.pem"), []byte(ed25519PEM(t)), 0o600)
	edited := strings.NewReplacer("    - {file: k1.pem, kid: k1}\n", "    - {file: k1.pem, kid: k1}\n    - {file: k2.pem, kid: k2, active_from: 2999-01-01T00:00:00Z}\n",
		"flag: requisite", "flag: required").Replace(cfg) + "gateway: {enabled: true}\n"
	if err := os.WriteFile(filepath.Join(svc.Dir, "authsvc.yaml"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	svc.cmd.Process.Signal(syscall.SIGHUP)
	svc.WaitLog(t, `"msg":"audit output reopened"`)

	if c := servedCert(t, addr); c.Equal(certA) {
		t.Fatal("the old certificate is still served after SIGHUP")
	}
	clientB := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolB}}, Timeout: 5 * time.Second}
	second := post(clientB)
	_, body := get(t, clientB, svc.URL+"/.well-known/jwks.json")
	// k2 is published ahead of its active_from; k1 still signs.
	if !strings.Contains(body, `"kid":"k2"`) || !strings.Contains(body, `"kid":"k1"`) {
		t.Errorf("JWKS after adding k2: %s", body)
	}
	waitFor(t, "second audit record in the new file", func() bool { return strings.Contains(auditIDs(audit), second) })
	if old := auditIDs(audit + ".1"); !strings.Contains(old, first) || strings.Contains(old, second) {
		t.Errorf("the renamed audit file holds:\n%s", old)
	}
	for _, key := range []string{`"key":"chain[0].flag","line":7`, `"key":"gateway","line":`} {
		if !strings.Contains(svc.Log(), `"level":"WARN","msg":"configuration change not applied: restart to apply it",`+key) {
			t.Errorf("no Warn for %s:\n%s", key, svc.Log())
		}
	}
	if strings.Contains(svc.Log(), `"key":"identity.keys`) || strings.Contains(svc.Log(), `"key":"tls`) {
		t.Error("a live change reported as needing a restart")
	}
	if code, _ := get(t, clientB, svc.URL+"/v1/ext-authz"); code == 200 {
		t.Error("gateway enabled by a reload")
	}
	svc.WaitLog(t, `"msg":"registry reloaded","registry":"users"`)

	// A broken certificate: the one in use stays.
	os.WriteFile(certFile, []byte("not a certificate\n"), 0o600)
	svc.cmd.Process.Signal(syscall.SIGHUP)
	svc.WaitLog(t, `"msg":"TLS certificate not reloaded; keeping the one in use"`)
	post(clientB)

	// A file with errors: nothing of it applies, the service says why and
	// serves on.
	if err := os.WriteFile(filepath.Join(svc.Dir, "authsvc.yaml"), []byte(edited+"listen_typo: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc.cmd.Process.Signal(syscall.SIGHUP)
	svc.WaitLog(t, `"msg":"configuration file not reloaded: it has errors; re-reading the files the running configuration names"`)
	if !strings.Contains(svc.Log(), `listen_typo`) {
		t.Errorf("the error does not name the key:\n%s", svc.Log())
	}
	post(clientB)
}

// TestShutdownDelay: after SIGTERM, /readyz answers 503 naming the
// "shutdown" check for shutdown_delay while requests are still served (with
// Connection: close, so that keep-alive clients move elsewhere), on
// the service's and the admin listener; a second SIGTERM ends the delay
// and the service stops cleanly, its last log line written.
func TestShutdownDelay(t *testing.T) {
	adminAddr := testenv.Addr(testenv.FreePort(t))
	svc := StartService(t, baseConfig+"shutdown_delay: 5m\nadmin: {listen: "+adminAddr+"}\n", map[string]string{"users.yaml": usersFile(t)})
	admin := "http://" + adminAddr
	if code, _ := get(t, http.DefaultClient, admin+"/readyz"); code != 200 {
		t.Fatalf("admin /readyz before SIGTERM: %d", code)
	}
	if code, _ := get(t, http.DefaultClient, svc.URL+"/metrics"); code == 200 {
		t.Error("/metrics on the service's listener with an admin listener configured")
	}
	code, body := get(t, http.DefaultClient, admin+"/metrics")
	for _, want := range []string{"\ngo_goroutines ", "\nprocess_cpu_seconds_total ", "\nauthsvc_build_info{commit=\"",
		"\nauthsvc_faults_total{code=\"FailedAuthentication\"} 0\n", "\nauthsvc_module_logins_total{module=\"users\",outcome=\"accepted\"} 0\n",
		"\nauthsvc_requests_total{endpoint=\"api\",outcome=\"locked\"} 0\n"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("admin /metrics (%d) lacks %q", code, strings.TrimSpace(want))
		}
	}
	msg := zeep(t, "--user", "alice", "--password", "wonderland", "--digest")
	svc.cmd.Process.Signal(syscall.SIGTERM)
	svc.WaitLog(t, `"msg":"draining: /readyz answers 503 until the listener closes"`)
	for _, u := range []string{svc.URL, admin} {
		code, body := get(t, http.DefaultClient, u+"/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `{"name":"shutdown","ok":false,"error":"shutting down"}`) {
			t.Errorf("%s/readyz while draining: %d %s", u, code, body)
		}
		if code, _ := get(t, http.DefaultClient, u+"/healthz"); code != 200 {
			t.Errorf("%s/healthz while draining: %d", u, code)
		}
	}
	if resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), msg); resp.StatusCode != 200 || !resp.Close {
		t.Errorf("authenticate while draining: %d (Connection: close %v) %s", resp.StatusCode, resp.Close, body)
	}
	svc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-svc.done:
		if err != nil {
			t.Fatalf("exit after the second SIGTERM: %v\n%s", err, svc.Log())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20 s after the second SIGTERM (shutdown_delay is 5m)")
	}
	log := svc.Log()
	if !strings.Contains(log, `"msg":"second signal: closing the listener now"`) || !strings.HasSuffix(strings.TrimSpace(log), `"msg":"stopped"}`) {
		t.Errorf("log does not end with the shutdown:\n%s", log)
	}
}

// TestShutdownDrainsInFlight: a proxied request in flight when SIGTERM
// arrives is answered (with its X-Request-Id) after the listener closed,
// and the service then exits cleanly.
func TestShutdownDrainsInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(arrived)
		<-release
		w.Header().Set("X-Request-Id", "upstream-own-id")
		fmt.Fprint(w, "upstream answer for ", r.Header.Get("X-Authenticated-User"))
	})}
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(upLn)
	t.Cleanup(func() { up.Close() })
	svc := StartService(t, baseConfig+"proxy: {upstream: http://"+upLn.Addr().String()+"}\n", map[string]string{"users.yaml": usersFile(t)})
	msg := zeep(t, "--user", "alice", "--password", "wonderland", "--digest")
	type answer struct {
		resp *http.Response
		body string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Post(svc.URL+"/echo", soapContentType("11"), bytes.NewReader(msg))
		if err != nil {
			got <- answer{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- answer{resp, string(b), err}
	}()
	<-arrived
	svc.cmd.Process.Signal(syscall.SIGTERM)
	addr := strings.TrimPrefix(svc.URL, "http://")
	waitFor(t, "the listener closed", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-svc.done:
		t.Fatalf("exited with a request in flight: %v", err)
	default:
	}
	close(release)
	a := <-got
	if a.err != nil || a.resp.StatusCode != 200 || a.body != "upstream answer for alice" {
		t.Fatalf("in-flight request: %v %v %q", a.err, a.resp, a.body)
	}
	id := a.resp.Header.Get("X-Request-Id")
	if id == "" || id == "upstream-own-id" || !strings.Contains(svc.LogLine(t, id), `"principal":"alice"`) {
		t.Errorf("proxied response X-Request-Id %q", a.resp.Header.Values("X-Request-Id"))
	}
	select {
	case err := <-svc.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, svc.Log())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20 s after the last request ended")
	}
}

// keytabFile returns a keytab holding one key for spn (service/host) in
// EXAMPLE.TEST.
func keytabFile(t *testing.T, spn string, kvno uint8) []byte {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry(spn, "EXAMPLE.TEST", "service-pw", time.Now(), kvno, 18); err != nil {
		t.Fatal(err)
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReloadKeytabOnSIGHUP: with keytab polling off, SIGHUP re-reads a
// kerberos entry's keytab: a keytab that lost the service principal's key
// makes /readyz fail naming the entry (the admin listener says why).
func TestReloadKeytabOnSIGHUP(t *testing.T) {
	adminAddr := testenv.Addr(testenv.FreePort(t))
	cfg := `admin: {listen: ` + adminAddr + `}
chain:
  - name: sso
    type: kerberos
    flag: sufficient
    keytab: service.keytab
    keytab_reload: -1s
    service_principals: [HTTP/soap.example.test@EXAMPLE.TEST]
`
	svc := StartService(t, cfg, map[string]string{"service.keytab": string(keytabFile(t, "HTTP/soap.example.test", 2))})
	if code, body := get(t, http.DefaultClient, svc.URL+"/readyz"); code != 200 {
		t.Fatalf("/readyz at start: %d %s", code, body)
	}
	// A new file (a new inode), as ktutil or a Secret update makes it.
	path := filepath.Join(svc.Dir, "service.keytab")
	if err := os.WriteFile(path+".new", keytabFile(t, "HTTP/other.example.test", 3), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	svc.cmd.Process.Signal(syscall.SIGHUP)
	svc.WaitLog(t, `"msg":"reloaded","component":"module/sso"`)
	code, body := get(t, http.DefaultClient, svc.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `{"name":"module/sso","ok":false,"error":"failing"}`) {
		t.Errorf("/readyz after the key was removed: %d %s", code, body)
	}
	code, body = get(t, http.DefaultClient, "http://"+adminAddr+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "HTTP/soap.example.test") {
		t.Errorf("admin /readyz does not say why: %d %s", code, body)
	}
}

// TestLogrotateReopensAudit runs Debian's logrotate with the README's
// configuration (no copytruncate; its postrotate sends SIGHUP) against the
// running binary's audit file: the records before the rotation are in the
// rotated file, those after it in a new audit.jsonl.
func TestLogrotateReopensAudit(t *testing.T) {
	logrotate := testenv.LookPath(t, "logrotate")
	readme, err := os.ReadFile(filepath.Join(testenv.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "Rotating the audit file with logrotate")
	_, block, ok2 := strings.Cut(after, "```\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 || !strings.Contains(block, "systemctl reload authsvc") || strings.Contains(block, "copytruncate") {
		t.Fatalf("README.md's logrotate example not found or changed:\n%s", block)
	}
	svc := StartService(t, baseConfig+"audit: {output: audit.jsonl}\n", map[string]string{"users.yaml": usersFile(t)})
	audit := filepath.Join(svc.Dir, "audit.jsonl")
	post := func() string {
		t.Helper()
		resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland"))
		if resp.StatusCode != 200 {
			t.Fatalf("authenticate: %d %s", resp.StatusCode, body)
		}
		return resp.Header.Get("X-Request-Id")
	}
	first := post()
	waitFor(t, "the first audit record", func() bool { return strings.Contains(auditIDs(audit), first) })

	conf := strings.NewReplacer("/var/log/authsvc/audit.jsonl", audit,
		"systemctl reload authsvc", fmt.Sprintf("kill -HUP %d", svc.cmd.Process.Pid)).Replace(block)
	dir := t.TempDir()
	confPath := filepath.Join(dir, "authsvc.logrotate")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(logrotate, "-v", "-f", "-s", filepath.Join(dir, "state"), confPath).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
	svc.WaitLog(t, `"msg":"audit output reopened"`)
	second := post()
	waitFor(t, "the second audit record in a new audit.jsonl", func() bool { return strings.Contains(auditIDs(audit), second) })
	rotated := auditIDs(audit + ".1")
	if !strings.Contains(rotated, first) || strings.Contains(rotated, second) || strings.Contains(auditIDs(audit), first) {
		t.Errorf("rotated file:\n%s\nnew file:\n%s\nlogrotate:\n%s", rotated, auditIDs(audit), out)
	}
}
