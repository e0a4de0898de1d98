package testenv

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// KDC is a private MIT Kerberos realm started by test/kdc/provision.sh.
type KDC struct {
	// Realm is the realm's name (EXAMPLE.TEST).
	Realm string
	// Port is the KDC's TCP and UDP port on 127.0.0.1.
	Port int
	// Dir holds every file of the realm.
	Dir string
	// Config is the krb5.conf path; clients need KRB5_CONFIG set to it.
	Config string
	// Keytab holds the keys of HTTP/localhost and HTTP/other.example.test.
	Keytab string
	// LocalhostKeytab holds HTTP/localhost only.
	LocalhostKeytab string
	// WrongKeytab holds HTTP/localhost with the kvno of the real key but
	// another key.
	WrongKeytab string
	// CamelliaKeytab holds HTTP/camellia.example.test, whose only keys are
	// camellia256-cts-cmac.
	CamelliaKeytab string
}

// Users of the test realm and their passwords.
var KDCUsers = map[string]string{"alice": "alice-pw", "bob": "bob-pw"}

// StartKDC provisions a new realm in a temporary directory and starts its
// KDC on a free loopback port; the KDC is stopped when the test ends. The
// MIT programs (krb5kdc, kdb5_util, kadmin.local, kinit) must be installed:
// a missing one skips or fails the test (see Missing).
func StartKDC(t testing.TB) *KDC {
	t.Helper()
	for _, p := range []string{"krb5kdc", "kdb5_util", "kadmin.local", "kinit"} {
		LookPath(t, p)
	}
	dir := t.TempDir()
	k := &KDC{
		Realm:           "EXAMPLE.TEST",
		Dir:             dir,
		Config:          filepath.Join(dir, "krb5.conf"),
		Keytab:          filepath.Join(dir, "service.keytab"),
		LocalhostKeytab: filepath.Join(dir, "localhost.keytab"),
		WrongKeytab:     filepath.Join(dir, "wrong.keytab"),
		CamelliaKeytab:  filepath.Join(dir, "camellia.keytab"),
	}
	script := filepath.Join(Root(), "test", "kdc", "provision.sh")
	var out []byte
	var err error
	// A port that was free may be taken by the time krb5kdc binds it: retry.
	for range 3 {
		k.Port = FreePort(t)
		cmd := exec.Command("/bin/sh", script, dir, strconv.Itoa(k.Port))
		cmd.Env = kdcEnv()
		out, err = cmd.CombinedOutput()
		if err == nil {
			break
		}
	}
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "krb5kdc.log"))
		t.Fatalf("testenv: %s failed: %v\n%s\nkrb5kdc.log:\n%s", script, err, out, log)
	}
	t.Cleanup(func() { k.stop(t) })
	return k
}

// kdcEnv is the environment without any Kerberos variables of the caller.
func kdcEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KRB5") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (k *KDC) stop(t testing.TB) {
	stopByPidFile(t, "KDC", filepath.Join(k.Dir, "krb5kdc.pid"), 2*time.Second)
}

// stopByPidFile stops the daemon whose pid is in file with SIGTERM, and
// with SIGKILL if it is still alive after wait.
func stopByPidFile(t testing.TB, what, file string, wait time.Duration) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Errorf("testenv: %s pid file: %v", what, err)
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Errorf("testenv: bad %s pid file %q", what, b)
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !alive(pid) {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// Env returns the environment for a Kerberos client of this realm using the
// credential cache ccache ("" for none).
func (k *KDC) Env(ccache string) []string {
	env := append(kdcEnv(), "KRB5_CONFIG="+k.Config)
	if ccache != "" {
		env = append(env, "KRB5CCNAME=FILE:"+ccache)
	}
	return env
}

// Kinit obtains a ticket-granting ticket for user with password and returns
// the path of the new credential cache. Extra arguments go to kinit before
// the principal (for example "-l", "10s").
func (k *KDC) Kinit(t testing.TB, user, password string, args ...string) string {
	t.Helper()
	kinit := LookPath(t, "kinit")
	f, err := os.CreateTemp(k.Dir, "cc-"+strings.ReplaceAll(user, "/", "_")+"-*")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cc := f.Name()
	f.Close()
	os.Remove(cc) // kinit creates it
	cmd := exec.Command(kinit, append(append([]string{}, args...), user+"@"+k.Realm)...)
	cmd.Env = k.Env(cc)
	cmd.Stdin = strings.NewReader(password + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("testenv: kinit %s: %v\n%s", user, err, out.Bytes())
	}
	return cc
}

// alive reports whether pid runs; a zombie (an orphan that a container's
// init does not reap) counts as gone.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}

// GSSTokens has MIT's GSS-API (python3-gssapi, through
// authn/kerberos/testdata/gss_client.py) make n initial context tokens for
// spn, each from a new security context with the credentials env names
// (KRB5_CONFIG, KRB5CCNAME: KDC.Env): fresh authenticators from the same
// cached service ticket, as an SSO client sends them. mech is "krb5" or
// "spnego"; the SPNEGO tokens ask for mutual authentication.
func GSSTokens(t testing.TB, env []string, mech, spn string, n int) [][]byte {
	t.Helper()
	cmd := exec.Command(PythonWith(t, "gssapi"), filepath.Join(Root(), "authn", "kerberos", "testdata", "gss_client.py"),
		mech, spn, strconv.Itoa(n))
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("gss_client %s %s: %v\n%s", mech, spn, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var toks [][]byte
	for line := range strings.Lines(string(out)) {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(line))
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, b)
	}
	if len(toks) != n {
		t.Fatalf("gss_client made %d tokens, want %d", len(toks), n)
	}
	return toks
}
