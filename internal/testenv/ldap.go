package testenv

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// LDAP is a private OpenLDAP server started by test/ldap/slapd.sh on
// loopback, with the directory described in that script: users alice
// (wonderland, groups soap-users, admins, auditors, devs), bob (builder),
// carol (carolpass, lockout policy), locked, expired and reset (ppolicy
// cases), and a service account.
type LDAP struct {
	// URL is ldap://127.0.0.1:PORT (StartTLS is offered with the CA below).
	URL string
	// LDAPSURL is ldaps://127.0.0.1:PORT.
	LDAPSURL string
	// BaseDN is the suffix, dc=example,dc=test.
	BaseDN string
	// BindDN and BindPassword are the service account's.
	BindDN       string
	BindPassword string
	// AdminDN and AdminPassword are the rootdn's, for tests that change data.
	AdminDN       string
	AdminPassword string
	// CAFile is the PEM file of the CA that signed the server certificate
	// (for 127.0.0.1 and localhost).
	CAFile string
	// Dir is the server's work directory.
	Dir string

	t      testing.TB
	script string
}

// StartLDAP provisions and starts slapd in a temporary directory and stops
// it when the test ends. A missing program skips or fails the test (see
// Missing).
func StartLDAP(t testing.TB) *LDAP {
	t.Helper()
	bash := LookPath(t, "bash")
	for _, p := range []string{"slapd", "slapadd", "slappasswd", "ldapsearch", "ldapadd", "openssl"} {
		LookPath(t, p)
	}
	script := filepath.Join(Root(), "test", "ldap", "slapd.sh")
	var lastErr string
	// A port from FreePort can be taken before slapd binds it: try again
	// with fresh ports a few times.
	for attempt := 0; attempt < 3; attempt++ {
		dir := filepath.Join(t.TempDir(), "slapd")
		port, sport := FreePort(t), FreePort(t)
		cmd := exec.Command(bash, script, "init", dir, strconv.Itoa(port), strconv.Itoa(sport))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			lastErr = err.Error() + ": " + strings.TrimSpace(stderr.String())
			// init may have started slapd before a later step failed.
			_ = exec.Command(bash, script, "kill", dir).Run()
			continue
		}
		l := &LDAP{Dir: dir, t: t, script: script}
		env := parseEnv(stdout.Bytes())
		l.URL = env["LDAP_URL"]
		l.LDAPSURL = env["LDAPS_URL"]
		l.BaseDN = env["LDAP_BASE_DN"]
		l.BindDN = env["LDAP_BIND_DN"]
		l.BindPassword = env["LDAP_BIND_PASSWORD"]
		l.AdminDN = env["LDAP_ADMIN_DN"]
		l.AdminPassword = env["LDAP_ADMIN_PASSWORD"]
		l.CAFile = env["LDAP_CA_FILE"]
		t.Cleanup(func() {
			// The data goes with the temporary directory: no need to wait
			// for a clean shutdown.
			if out, err := l.run("kill"); err != nil {
				t.Errorf("testenv: stopping slapd: %v: %s", err, out)
			}
		})
		if l.URL == "" || l.BaseDN == "" || l.CAFile == "" {
			t.Fatalf("testenv: slapd.sh init printed no settings: %q", stdout.String())
		}
		return l
	}
	t.Fatalf("testenv: starting slapd with %s failed: %s", script, lastErr)
	return nil
}

// Stop kills the server as a crash would (the data stays), to simulate an
// outage; open connections break at once.
func (l *LDAP) Stop() {
	l.t.Helper()
	if out, err := l.run("kill"); err != nil {
		l.t.Fatalf("testenv: stopping slapd: %v: %s", err, out)
	}
}

// Start starts a stopped server again on the same ports and waits until it
// answers.
func (l *LDAP) Start() {
	l.t.Helper()
	// Right after a Stop the old slapd may still hold its ports for a
	// moment: try a few times before failing.
	var out []byte
	var err error
	for try := 0; try < 5; try++ {
		if out, err = l.run("start"); err == nil {
			return
		}
		time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
	}
	l.t.Fatalf("testenv: starting slapd: %v: %s", err, out)
}

// Restart stops and starts the server; every open connection breaks.
func (l *LDAP) Restart() {
	l.t.Helper()
	l.Stop()
	l.Start()
}

// Addr returns the host:port of URL.
func (l *LDAP) Addr() string { return strings.TrimPrefix(l.URL, "ldap://") }

func (l *LDAP) run(verb string) ([]byte, error) {
	return exec.Command("bash", l.script, verb, l.Dir).CombinedOutput()
}

func parseEnv(out []byte) map[string]string {
	env := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}
