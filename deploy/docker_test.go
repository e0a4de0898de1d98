package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

// dockerHealthcheck returns the exec-form command of the Dockerfile's
// HEALTHCHECK and its --timeout.
func dockerHealthcheck(t *testing.T) (argv []string, timeout time.Duration) {
	t.Helper()
	df := strings.ReplaceAll(string(readRepoFile(t, "Dockerfile")), "\\\n", " ")
	m := regexp.MustCompile(`(?m)^HEALTHCHECK\s+(.*?)\s*CMD\s+(\[.*\])\s*$`).FindStringSubmatch(df)
	if m == nil {
		t.Fatal("Dockerfile: no HEALTHCHECK ... CMD [...] (exec form) line")
	}
	if err := json.Unmarshal([]byte(m[2]), &argv); err != nil {
		t.Fatalf("Dockerfile HEALTHCHECK CMD %s: %v", m[2], err)
	}
	tm := regexp.MustCompile(`--timeout=(\S+)`).FindStringSubmatch(m[1])
	if tm == nil {
		t.Fatal("Dockerfile HEALTHCHECK has no --timeout")
	}
	timeout, err := time.ParseDuration(tm[1])
	if err != nil {
		t.Fatal(err)
	}
	return argv, timeout
}

// TestDockerHealthcheckRunsTheBinary: the Dockerfile's HEALTHCHECK runs the
// binary the image installs, with a subcommand and flags the built binary
// accepts (exit 1 "not ready" when nothing listens, never the usage error
// 2), and the check's own timeout is shorter than Docker's.
func TestDockerHealthcheckRunsTheBinary(t *testing.T) {
	argv, dockerTimeout := dockerHealthcheck(t)
	df := string(readRepoFile(t, "Dockerfile"))
	if len(argv) < 2 || !strings.Contains(df, "COPY --from=build /out/authsvc "+argv[0]) {
		t.Fatalf("HEALTHCHECK runs %v, not the binary the image installs", argv)
	}
	if argv[1] != "healthcheck" {
		t.Fatalf("HEALTHCHECK runs subcommand %q, want healthcheck", argv[1])
	}
	// The flags as written, against a configuration in a temp dir whose
	// listen address has nothing behind it.
	dir := t.TempDir()
	addr := testenv.Addr(testenv.FreePort(t))
	cfg := "listen: " + addr + "\nregistries:\n  users: {type: file, path: users.yaml}\n" +
		"chain:\n  - {name: users, type: username, flag: required, registry: users}\n"
	cfgPath := filepath.Join(dir, "authsvc.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("users: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{}, argv[1:]...)
	replaced := false
	for i, a := range args {
		if a == "/etc/authsvc/authsvc.yaml" {
			args[i], replaced = cfgPath, true
		}
	}
	if !replaced {
		t.Fatalf("HEALTHCHECK %v does not name the config the image's CMD serves (/etc/authsvc/authsvc.yaml)", argv)
	}
	out, code := runAuthsvc(t, args...)
	if code != 1 || !strings.Contains(out, "not ready") || !strings.Contains(out, addr) {
		t.Fatalf("authsvc %v with nothing listening: exit %d, %q; want 1 and not ready", args, code, out)
	}
	if out, code := runAuthsvc(t, append(args, "-h")...); code != 0 || !strings.Contains(out, "-timeout") {
		t.Fatalf("authsvc %v -h: exit %d, %q", args, code, out)
	}
	// The subcommand gives up (default -timeout) before Docker kills it.
	usage, _ := runAuthsvc(t, "healthcheck", "-h")
	m := regexp.MustCompile(`give up after this long \(default (\S+)\)`).FindStringSubmatch(usage)
	if m == nil {
		t.Fatalf("healthcheck -h names no default timeout:\n%s", usage)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil || d >= dockerTimeout {
		t.Fatalf("healthcheck's timeout %s is not below the HEALTHCHECK --timeout %s", m[1], dockerTimeout)
	}
}

// TestDockerfilePinnedAndUnprivileged: every base image is pinned to an
// exact version tag, and every runtime stage drops root.
func TestDockerfilePinnedAndUnprivileged(t *testing.T) {
	df := string(readRepoFile(t, "Dockerfile"))
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("Dockerfile: %d FROM lines", len(froms))
	}
	pinned := regexp.MustCompile(`^[a-z0-9./-]+:\d+(\.\d+)+[a-z0-9.-]*(@sha256:[0-9a-f]{64})?$`)
	stages := strings.Split(df, "\nFROM ")
	for i, m := range froms {
		if !pinned.MatchString(m[1]) {
			t.Errorf("FROM %s: not pinned to an exact version tag", m[1])
		}
		if m[2] == "build" {
			continue
		}
		users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(stages[i+1], -1)
		if len(users) == 0 || strings.HasPrefix(users[len(users)-1][1], "0") || strings.HasPrefix(users[len(users)-1][1], "root") {
			t.Errorf("stage %d (FROM %s) runs as root: %v", i, m[1], users)
		}
	}
}
