// Package e2e runs the built authsvc binary as a black box: it writes a
// configuration, starts `authsvc serve`, and talks to it over HTTP with
// messages made by real clients.
package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds cmd/authsvc once per test run.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authsvc-e2e-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "authsvc")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/authsvc")
		cmd.Dir = testenv.Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Service is a running authsvc.
type Service struct {
	URL  string
	Dir  string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Log returns what the service has logged so far.
func (s *Service) Log() string { return s.log.String() }

// StartService writes config (and any extra files) into a temporary
// directory and runs `authsvc serve` on a free loopback port. The config
// may use {{DIR}} for that directory. On cleanup it sends SIGTERM and
// checks that the service stopped cleanly.
func StartService(t testing.TB, config string, files map[string]string) *Service {
	t.Helper()
	s := startServiceNoWait(t, config, files)
	s.waitHealthy(t)
	return s
}

// startServiceNoWait starts the binary and returns without waiting for it
// to answer.
func startServiceNoWait(t testing.TB, config string, files map[string]string) *Service {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(content, "{{DIR}}", dir)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "authsvc.yaml")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(config, "{{DIR}}", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	s := &Service{URL: "http://" + testenv.Addr(port), Dir: dir, log: &syncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, "serve", "-config", cfgPath, "-listen", testenv.Addr(port))
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.Env = append(os.Environ(), extraEnv...)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.Stop(t) })
	return s
}

func (s *Service) waitHealthy(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("authsvc exited at start: %v\n%s", err, s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			t.Fatalf("authsvc did not become healthy\n%s", s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// extraEnv is added to the service's environment (KRB5 settings, say).
var extraEnv []string

// Stop sends SIGTERM and waits for a clean exit.
func (s *Service) Stop(t testing.TB) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("authsvc did not exit cleanly on SIGTERM: %v\n%s", err, s.Log())
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("authsvc did not stop within 20 s of SIGTERM")
	}
	if t.Failed() {
		t.Logf("authsvc log:\n%s", s.Log())
	}
}

// Post sends body to path with the content type.
func (s *Service) Post(t testing.TB, path, contentType string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Healthy fails the test when /healthz does not answer 200.
func (s *Service) Healthy(t testing.TB) {
	t.Helper()
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatalf("service down: %v\n%s", err, s.Log())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}
}

// LogLine waits (up to 5 s) for the service to log a line containing
// requestID and returns it. Log output travels through a pipe, so it may
// arrive a moment after the HTTP answer.
func (s *Service) LogLine(t testing.TB, requestID string) string {
	t.Helper()
	if requestID == "" {
		t.Fatal("no request id")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range strings.Split(s.Log(), "\n") {
			if strings.Contains(l, requestID) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line for request %s:\n%s", requestID, s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkConfig runs `authsvc check-config` on config and returns its output;
// the command must fail.
func checkConfig(t testing.TB, config string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "authsvc.yaml")
	if err := os.WriteFile(p, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary(t), "check-config", "-config", p).CombinedOutput()
	if err == nil {
		t.Fatalf("check-config accepted:\n%s\n%s", config, out)
	}
	return string(out)
}

// WaitLog waits (up to 5 s) for the service to log a line containing s.
func (s *Service) WaitLog(t testing.TB, sub string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.Log(), sub) {
		if time.Now().After(deadline) {
			t.Fatalf("the service never logged %q:\n%s", sub, s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
