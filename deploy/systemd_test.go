package deploy_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

const unitFile = "deploy/systemd/authsvc.service"

// unitForVerify writes the unit into a temp dir with /usr/local/bin/authsvc
// replaced by a freshly built binary: systemd-analyze verify checks that
// every Exec*= program exists and is executable.
func unitForVerify(t *testing.T) string {
	t.Helper()
	unit := strings.ReplaceAll(string(readRepoFile(t, unitFile)), "/usr/local/bin/authsvc", authsvcBinary(t))
	p := filepath.Join(t.TempDir(), "authsvc.service")
	if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSystemdUnitVerifies(t *testing.T) {
	sa := testenv.LookPath(t, "systemd-analyze")
	cmd := exec.Command(sa, "verify", unitForVerify(t))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil || strings.TrimSpace(out.String()) != "" {
		t.Fatalf("systemd-analyze verify %s: %v; every line is a defect:\n%s", unitFile, err, out.String())
	}
}

// TestSystemdUnitExposure runs systemd-analyze security offline; the unit
// must score at most 2.0 ("OK"; README reports the figure).
func TestSystemdUnitExposure(t *testing.T) {
	sa := testenv.LookPath(t, "systemd-analyze")
	out, err := exec.Command(sa, "security", "--offline=yes", "--threshold=20", "--no-pager", unitForVerify(t)).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for authsvc\.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	if score > 2.0 {
		t.Fatalf("exposure %.1f > 2.0:\n%s", score, out)
	}
	t.Logf("systemd-analyze security --offline=yes: exposure %.1f", score)
}

// unitDirectives parses the [Service] section into key -> values.
func unitDirectives(t *testing.T) map[string][]string {
	t.Helper()
	d := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(readRepoFile(t, unitFile)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && section == "[Service]" {
			d[k] = append(d[k], v)
		}
	}
	return d
}

func TestSystemdUnitHardening(t *testing.T) {
	d := unitDirectives(t)
	want := map[string]string{
		"DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
		"Type": "exec", "ExecReload": "/bin/kill -HUP $MAINPID",
	}
	for k, v := range want {
		if got := d[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want exactly %s=%q", k, got, k, v)
		}
	}
	if got := strings.Join(d["SystemCallFilter"], " "); !strings.Contains(got, "@system-service") {
		t.Errorf("SystemCallFilter=%q lacks @system-service", got)
	}
	if len(d["RestrictAddressFamilies"]) == 0 {
		t.Error("no RestrictAddressFamilies=")
	}
	creds := strings.Join(d["LoadCredential"], " ")
	for _, c := range []string{"service.keytab:", "identity-key.pem:"} {
		if !strings.Contains(creds, c) {
			t.Errorf("LoadCredential= has no %s (%q)", c, creds)
		}
	}
	stop, err := time.ParseDuration(strings.Join(d["TimeoutStopSec"], ""))
	if err != nil || stop < 30*time.Second {
		t.Errorf("TimeoutStopSec=%v (%v): want a duration of at least 30s, above shutdown_delay plus a request", d["TimeoutStopSec"], err)
	}
	for _, k := range []string{"ExecStart", "ExecStartPre"} {
		for _, v := range d[k] {
			args := strings.Fields(v)[1:]
			if len(args) == 0 {
				continue
			}
			// Every subcommand the unit runs must exist and accept its flags: -h lists them.
			help, code := runAuthsvc(t, args[0], "-h")
			if code != 0 {
				t.Errorf("%s=%s: authsvc %s -h exited %d:\n%s", k, v, args[0], code, help)
			}
			for _, a := range args[1:] {
				if strings.HasPrefix(a, "-") && !strings.Contains(help, a) {
					t.Errorf("%s=%s: authsvc %s -h does not list %s:\n%s", k, v, args[0], a, help)
				}
			}
		}
	}
}
