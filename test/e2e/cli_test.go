package e2e

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

// runCLI runs the built binary with env added to the environment and
// returns its stdout, stderr and exit status.
func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("authsvc %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// TestCLIConventions: every subcommand answers -h with its usage on stdout
// and exit 0; an extra positional argument or an unknown flag is exit 2
// with the reason on stderr; -version, --version and version print the
// same line.
func TestCLIConventions(t *testing.T) {
	subs := [][]string{{"serve"}, {"check-config"}, {"healthcheck"}, {"hash-password"}, {"envelope"}, {"keytab"}, {"keytab", "list"}, {"version"}}
	for _, sub := range subs {
		for _, h := range []string{"-h", "--help"} {
			out, errOut, code := runCLI(t, nil, append(append([]string{}, sub...), h)...)
			if code != 0 || !strings.Contains(out, "Usage: authsvc "+sub[0]) || errOut != "" {
				t.Errorf("authsvc %v %s: exit %d, stdout %q, stderr %q", sub, h, code, out, errOut)
			}
		}
	}
	for _, args := range [][]string{
		{"serve", "-config", "x.yaml", "extra"},
		{"check-config", "-config", "x.yaml", "extra"},
		{"healthcheck", "-url", "http://127.0.0.1:1/readyz", "extra"},
		{"hash-password", "extra"},
		{"envelope", "-user", "a", "extra"},
		{"keytab", "list", "a.keytab", "extra"},
		{"version", "extra"},
	} {
		_, errOut, code := runCLI(t, nil, args...)
		if code != 2 || !strings.Contains(errOut, `unexpected argument "extra"`) {
			t.Errorf("authsvc %v: exit %d, stderr %q; want 2 naming the argument", args, code, errOut)
		}
	}
	for _, args := range [][]string{{"serve", "-no-such-flag"}, {"frobnicate"}, {}, {"check-config"}, {"envelope"}, {"keytab", "list"}} {
		_, errOut, code := runCLI(t, []string{"AUTHSVC_CONFIG="}, args...)
		if code != 2 || errOut == "" {
			t.Errorf("authsvc %v: exit %d, stderr %q; want 2 and a reason", args, code, errOut)
		}
	}
	out, _, code := runCLI(t, nil, "-h")
	if code != 0 || !strings.Contains(out, "healthcheck") || !strings.Contains(out, "Exit status") {
		t.Errorf("authsvc -h: exit %d, %q", code, out)
	}
	v, _, code := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(v, "authsvc ") {
		t.Fatalf("authsvc version: exit %d, %q", code, v)
	}
	for _, f := range []string{"-version", "--version"} {
		if out, _, code := runCLI(t, nil, f); code != 0 || out != v {
			t.Errorf("authsvc %s: exit %d, %q; want %q", f, code, out, v)
		}
	}
}

// TestVersionStamped builds the binary with the README's -ldflags and
// checks what `authsvc version` prints.
func TestVersionStamped(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "authsvc")
	p := "github.com/authsvc/authsvc/internal/buildinfo."
	cmd := exec.Command("go", "build", "-o", bin, "-ldflags",
		"-X "+p+"version=1.4.2 -X "+p+"commit=0123abcd -X "+p+"date=2026-12-04T10:00:00Z", "./cmd/authsvc")
	cmd.Dir = testenv.Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(out), "authsvc 1.4.2 (commit 0123abcd, built 2026-12-04T10:00:00Z, go") {
			t.Fatalf("authsvc %s = %q", arg, out)
		}
	}
}

// startFromConfig runs `authsvc serve` with only $AUTHSVC_CONFIG (no flag):
// the listen address comes from the file. It waits for /healthz over
// scheme and returns the process.
func startFromConfig(t *testing.T, cfgPath, healthURL string, client *http.Client, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = append(append(os.Environ(), "AUTHSVC_CONFIG="+cfgPath), env...)
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := client.Get(healthURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd
			}
		}
		select {
		case <-done:
			t.Fatalf("authsvc serve exited at start:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("authsvc serve did not come up:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the process to exit.
func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	for i := 0; i < 1000 && cmd.ProcessState == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if cmd.ProcessState == nil {
		t.Fatal("authsvc serve did not stop on SIGTERM")
	}
}

// TestHealthcheck runs `authsvc healthcheck` against a real `authsvc
// serve` started from $AUTHSVC_CONFIG, whose listen port is ${HC_PORT}:
// -config (from the environment and as a flag) and -url answer 0 while it
// runs, 1 with a reason on stderr once it is stopped.
func TestHealthcheck(t *testing.T) {
	dir := t.TempDir()
	addr := testenv.Addr(testenv.FreePort(t))
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(usersFile(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The port comes from the environment (${VAR} expansion).
	cfgPath := filepath.Join(dir, "authsvc.yaml")
	if err := os.WriteFile(cfgPath, []byte("listen: \"127.0.0.1:${HC_PORT}\"\n"+baseConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	port := "HC_PORT=" + strings.TrimPrefix(addr, "127.0.0.1:")
	if _, errOut, code := runCLI(t, []string{"AUTHSVC_CONFIG=" + cfgPath}, "check-config"); code != 1 || !strings.Contains(errOut, "line 1: ${HC_PORT}: environment variable HC_PORT is not set") {
		t.Errorf("HC_PORT unset: exit %d, %s", code, errOut)
	}
	svc := startFromConfig(t, cfgPath, "http://"+addr+"/healthz", http.DefaultClient, port)
	env := []string{"AUTHSVC_CONFIG=" + cfgPath, port}
	for _, args := range [][]string{{"healthcheck"}, {"healthcheck", "-config", cfgPath}, {"healthcheck", "-url", "http://" + addr + "/readyz"}} {
		out, errOut, code := runCLI(t, env, args...)
		if code != 0 || !strings.Contains(out, "ready: http://"+addr+"/readyz") {
			t.Errorf("running: authsvc %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if _, errOut, code := runCLI(t, nil, "healthcheck", "-url", "http://"+addr+"/no-such-path"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("a path that answers 404: exit %d, stderr %q", code, errOut)
	}
	stop(t, svc)
	for _, args := range [][]string{{"healthcheck", "-config", cfgPath}, {"healthcheck", "-url", "http://" + addr + "/readyz"}} {
		_, errOut, code := runCLI(t, []string{port}, args...)
		if code != 1 || !strings.Contains(errOut, "not ready") || !strings.Contains(errOut, "connection refused") {
			t.Errorf("stopped: authsvc %v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if _, errOut, code := runCLI(t, []string{"AUTHSVC_CONFIG="}, "healthcheck"); code != 2 || !strings.Contains(errOut, "-url") {
		t.Errorf("no -config and no -url: exit %d, stderr %q", code, errOut)
	}
}

// TestHealthcheckTLS: with tls configured, healthcheck -config asks over
// https and accepts the listener only when it presents tls.cert_file's
// certificate; another certificate on that address is not ready.
func TestHealthcheckTLS(t *testing.T) {
	dir := t.TempDir()
	_, _, pool := selfSigned(t, dir)
	addr := testenv.Addr(testenv.FreePort(t))
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(usersFile(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := "listen: " + addr + "\ntls: {cert_file: cert.pem, key_file: key.pem}\n" + baseConfig
	cfgPath := filepath.Join(dir, "authsvc.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	startFromConfig(t, cfgPath, "https://"+addr+"/healthz", client)
	if out, errOut, code := runCLI(t, nil, "healthcheck", "-config", cfgPath); code != 0 || !strings.Contains(out, "https://"+addr+"/readyz") {
		t.Fatalf("TLS: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A configuration naming another certificate for the same address: the
	// instance there is not the one it describes.
	other := t.TempDir()
	selfSigned(t, other)
	os.WriteFile(filepath.Join(other, "users.yaml"), []byte(usersFile(t)), 0o600)
	otherCfg := filepath.Join(other, "authsvc.yaml")
	os.WriteFile(otherCfg, []byte(cfg), 0o600)
	if _, errOut, code := runCLI(t, nil, "healthcheck", "-config", otherCfg); code != 1 || !strings.Contains(errOut, "not tls.cert_file's") {
		t.Fatalf("another certificate: exit %d, stderr %q", code, errOut)
	}
}

// TestCheckConfigOpensWhatServeOpens: a configuration whose TLS key,
// identity key, audit directory, exec program and Redis password file are
// missing is refused by check-config with every one of those errors (key
// and line each), and by serve too; Redis is not dialed. A key that is not
// the certificate's is refused. With the files in place, check-config says
// OK (still without dialing Redis), and serve starts.
func TestCheckConfigOpensWhatServeOpens(t *testing.T) {
	dir, pki := t.TempDir(), t.TempDir()
	certFile, goodKey, pool := selfSigned(t, pki)
	os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(usersFile(t)), 0o600)
	redisAddr, dialed := listenNoDial(t)
	addr := testenv.Addr(testenv.FreePort(t))
	tail := `registries:
  users: {type: file, path: users.yaml}
chain:
  - name: users
    type: username
    flag: sufficient
    registry: users
  - name: ext
    type: exec
    flag: optional
    command: [./decide]
identity:
  issuer: https://authsvc.example.test
  audience: [soap]
  keys:
    - file: keys/signing.pem
audit:
  output: logs/audit.jsonl
`
	head := "listen: " + addr + "\ntls:\n  cert_file: " + certFile + "\n  key_file: key.pem\n"
	cfg := head + "replay:\n  type: redis\n  addrs: [\"" + redisAddr + "\"]\n  password_file: redis-password\n" + tail
	cfgPath := filepath.Join(dir, "authsvc.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o600)
	_, errOut, code := runCLI(t, nil, "check-config", "-config", cfgPath)
	for _, want := range []string{
		"5 errors",
		"line 4: tls.key_file: open " + filepath.Join(dir, "key.pem") + ": no such file or directory",
		"line 8: replay: replay/redis: password_file: open " + filepath.Join(dir, "redis-password"),
		"line 19: chain[1] (ext): command: ",
		"line 24: identity.keys[0].file: open " + filepath.Join(dir, "keys/signing.pem"),
		"line 26: audit.output: directory " + filepath.Join(dir, "logs") + ": no such file or directory",
	} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("check-config: exit %d, want 1 and %q in:\n%s", code, want, errOut)
		}
	}
	if _, errOut, code := runCLI(t, nil, "serve", "-config", cfgPath); code != 1 || !strings.Contains(errOut, "redis-password") {
		t.Errorf("serve: exit %d, %s", code, errOut)
	}

	os.WriteFile(filepath.Join(dir, "redis-password"), []byte("secret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "decide"), []byte("#!/bin/sh\nexit 1\n"), 0o755)
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o700)
	genKey := exec.Command("openssl", "genpkey", "-algorithm", "ed25519", "-out", filepath.Join(dir, "keys/signing.pem"))
	if out, err := genKey.CombinedOutput(); err != nil {
		t.Fatalf("openssl genpkey: %v\n%s", err, out)
	}
	_, otherKey, _ := selfSigned(t, t.TempDir())
	copyFile(t, otherKey, filepath.Join(dir, "key.pem"))
	if _, errOut, code := runCLI(t, nil, "check-config", "-config", cfgPath); code != 1 ||
		!strings.Contains(errOut, "line 3: tls.cert_file: ") || !strings.Contains(errOut, "private key does not match public key") {
		t.Errorf("a key that is not the certificate's: exit %d, %s", code, errOut)
	}
	copyFile(t, goodKey, filepath.Join(dir, "key.pem"))
	if out, errOut, code := runCLI(t, nil, "check-config", "-config", cfgPath); code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("everything in place: exit %d, %s%s", code, out, errOut)
	}
	select {
	case <-dialed:
		t.Error("check-config connected to the Redis address")
	default:
	}
	// serve starts on the same files (with the in-memory replay cache: no
	// Redis runs here).
	memCfg := filepath.Join(dir, "memory.yaml")
	os.WriteFile(memCfg, []byte(head+tail), 0o600)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	startFromConfig(t, memCfg, "https://"+addr+"/healthz", client)
}

// listenNoDial opens a TCP listener that reports on dialed when anything
// connects to it.
func listenNoDial(t *testing.T) (string, chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	dialed := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			dialed <- struct{}{}
			c.Close()
		}
	}()
	return ln.Addr().String(), dialed
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCheckConfigWordsTheMistake: through the binary, an empty file says
// so, and the wrong type says what was expected, next to the
// other errors of the same file.
func TestCheckConfigWordsTheMistake(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, []byte("# nothing yet\n"), 0o600)
	if _, errOut, code := runCLI(t, nil, "check-config", "-config", empty); code != 1 || !strings.Contains(errOut, "the file is empty") {
		t.Errorf("empty file: exit %d, %s", code, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`shutdown_timeout: 15
chain:
  - name: krb
    type: kerberos
    flag: sufficient
    keytab: http.keytab
    service_principals: [HTTP/authsvc.example.test@EXAMPLE.TEST]
    clock_skew: 15
log: {level: loud}
`), 0o600)
	_, errOut, code := runCLI(t, nil, "check-config", "-config", bad)
	for _, want := range []string{
		"3 errors",
		"line 1: shutdown_timeout: want a duration such as 5m, 30s or 1h30m, got 15",
		"line 8: chain[0] (krb).clock_skew: want a duration such as 5m, 30s or 1h30m, got 15",
		`line 9: log.level: "loud" is not debug, info, warn or error`,
	} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, want 1 and %q in:\n%s", code, want, errOut)
		}
	}
}
