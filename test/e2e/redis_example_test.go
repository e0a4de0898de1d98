package e2e

import (
	"net/http"
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

// TestReplicasExampleFiles runs the files of examples/replicas/ (used by
// docker-compose.replicas.yml, which is not tested here) outside Docker: a
// redis-server with its redis.conf (AOF, noeviction, the ACL user with a
// hashed password) and authsvc with its authsvc.yaml, only the addresses and
// the data directory changed. A token is accepted once, then refused as a
// replay.
func TestReplicasExampleFiles(t *testing.T) {
	testenv.LookPath(t, "redis-server")
	ex := filepath.Join(testenv.Root(), "examples", "replicas")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(ex, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dir := t.TempDir()
	port := testenv.FreePort(t)
	conf := read("redis.conf")
	for re, repl := range map[string]string{`(?m)^bind .*$`: "bind 127.0.0.1", `(?m)^port .*$`: "port " + itoa(port), `(?m)^dir .*$`: "dir " + dir} {
		if !regexp.MustCompile(re).MatchString(conf) {
			t.Fatalf("redis.conf has no line %s", re)
		}
		conf = regexp.MustCompile(re).ReplaceAllString(conf, repl)
	}
	if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	redis := exec.Command("redis-server", filepath.Join(dir, "redis.conf"))
	redis.Stdout, redis.Stderr = log, log
	if err := redis.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redis.Process.Kill(); redis.Wait() })

	cfg := read("authsvc.yaml")
	if !strings.Contains(cfg, `"redis:6379"`) {
		t.Fatal(`authsvc.yaml does not name "redis:6379"`)
	}
	cfg = strings.Replace(cfg, `"redis:6379"`, `"`+testenv.Addr(port)+`"`, 1)
	svc := StartService(t, cfg, map[string]string{"users.yaml": read("users.yaml"), "redis-password": read("redis-password")})

	deadline := time.Now().Add(20 * time.Second)
	for {
		code, rd := readyz(t, svc)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("not ready with the example Redis: %+v\nredis log:\n%s", rd, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	msg := zeep(t, "--user", "alice", "--password", "wonderland", "--digest")
	if o := send(svc, "11", msg); o.err != nil || o.status != http.StatusOK {
		t.Fatalf("first use: %d %v %s", o.status, o.err, o.body)
	}
	if o := send(svc, "11", msg); o.err != nil || o.status != http.StatusUnauthorized || faultCode(t, "11", o.body) != "InvalidSecurity" {
		t.Fatalf("replay: %d %v %s", o.status, o.err, o.body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
