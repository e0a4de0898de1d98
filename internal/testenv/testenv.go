// Package testenv starts the real services that integration tests talk to
// (MIT KDC, OpenLDAP, Redis, nginx) on loopback ports in temporary
// directories, using the provisioning scripts under test/. A test that needs a
// service calls the Start function for it. When the service's programs are
// not installed the test skips with a message saying how to run it, or
// fails when AUTHSVC_LIVE=require (test/run.sh sets it, so CI skips
// nothing); see LiveEnv. A service that is installed but fails to start
// fails the test in both tiers.
package testenv

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// Root returns the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Addr returns "127.0.0.1:PORT".
func Addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// LookPath finds a program, also in the sbin directories that Debian puts
// daemons in; when it is missing the test skips or fails (see Missing).
func LookPath(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	Missing(t, name)
	return ""
}

// Python returns the Debian python3, which has python3-zeep and
// python3-gssapi; the first python3 on PATH may be another interpreter.
// When it is missing the test skips or fails (see Missing).
func Python(t testing.TB) string {
	t.Helper()
	const p = "/usr/bin/python3"
	if _, err := os.Stat(p); err != nil {
		Missing(t, p)
	}
	return p
}

// PythonWith is Python for a test whose script imports modules (Debian's
// python3-MODULE, e.g. "zeep", "gssapi"): a module that is not installed
// skips or fails the test (see Missing); an interpreter that does not run
// fails it.
func PythonWith(t testing.TB, modules ...string) string {
	t.Helper()
	p := Python(t)
	for _, m := range modules {
		out, err := exec.Command(p, "-c", "import "+m).CombinedOutput()
		if err == nil {
			continue
		}
		if bytes.Contains(out, []byte("ModuleNotFoundError")) {
			Missing(t, "the Python module "+m+" (python3-"+m+")")
			return p
		}
		t.Fatalf("testenv: %s -c 'import %s': %v\n%s", p, m, err, out)
	}
	return p
}
