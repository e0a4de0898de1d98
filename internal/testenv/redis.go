package testenv

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RedisOptions configure StartRedisWith.
type RedisOptions struct {
	// RequirePass sets the default user's password.
	RequirePass string
	// User, UserPassword and UserKeyPrefix add an ACL user allowed only SET, EVAL
	// and PING (and the connection handshake) on keys starting with
	// UserKeyPrefix. With a User and no RequirePass the default user is off.
	User, UserPassword, UserKeyPrefix string
	// TLSCertFile and TLSKeyFile (PEM) make the server speak TLS only, and
	// require client certificates issued by TLSCAFile.
	TLSCertFile, TLSKeyFile, TLSCAFile string
	// Conf are extra redis.conf lines (replicaof, cluster-enabled,
	// min-replicas-to-write, user rules, ...).
	Conf []string
	// Sentinel runs redis-sentinel instead of redis-server; Conf then
	// holds the "sentinel ..." lines.
	Sentinel bool
}

// Redis is a private redis-server on a loopback port, started by
// test/redis/start.sh. Stop and Start simulate an outage and a recovery on
// the same address.
type Redis struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// Port is the port of Addr.
	Port int
	// Dir holds redis.conf and redis.log.
	Dir string

	t      testing.TB
	args   []string
	tls    bool
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
}

// StartRedis starts a redis-server without a password and stops it when the
// test ends. A missing redis-server skips or fails the test (see Missing).
func StartRedis(t testing.TB) *Redis { t.Helper(); return StartRedisWith(t, RedisOptions{}) }

// StartRedisWith starts a redis-server with the given authentication.
func StartRedisWith(t testing.TB, o RedisOptions) *Redis {
	t.Helper()
	r := newRedis(t, o, t.TempDir(), FreePort(t))
	t.Cleanup(r.Stop)
	r.Start()
	return r
}

// newRedis prepares a server (or sentinel) on port with its files in dir,
// not started.
func newRedis(t testing.TB, o RedisOptions, dir string, port int) *Redis {
	t.Helper()
	if o.Sentinel {
		LookPath(t, "redis-sentinel")
	} else {
		LookPath(t, "redis-server")
	}
	LookPath(t, "bash")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	args := []string{filepath.Join(Root(), "test", "redis", "start.sh"), strconv.Itoa(port), dir}
	if o.RequirePass != "" {
		args = append(args, "--requirepass", o.RequirePass)
	}
	if o.User != "" {
		args = append(args, "--user", o.User, o.UserPassword, o.UserKeyPrefix)
	}
	if o.TLSCertFile != "" {
		args = append(args, "--tls", o.TLSCertFile, o.TLSKeyFile, o.TLSCAFile)
	}
	for _, l := range o.Conf {
		args = append(args, "--conf", l)
	}
	if o.Sentinel {
		args = append(args, "--sentinel")
	}
	return &Redis{Addr: Addr(port), Port: port, Dir: dir, t: t, args: args, tls: o.TLSCertFile != ""}
}

// Start (re)starts the server on the same port and waits until it answers.
// Calling it while the server runs does nothing.
func (r *Redis) Start() {
	r.t.Helper()
	r.start(r.args)
}

// StartReplicaOf (re)starts the server as a replica of master (a
// "replicaof" line added to its configuration for this start), as an
// operator brings a failed master back into a Sentinel topology without
// waiting for the sentinels to convert it.
func (r *Redis) StartReplicaOf(master *Redis) {
	r.t.Helper()
	args := append(append([]string(nil), r.args...), "--conf", "replicaof 127.0.0.1 "+strconv.Itoa(master.Port))
	r.start(args)
}

func (r *Redis) start(args []string) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	var lastErr string
	// The port was free a moment ago; after a Stop the kernel may take a
	// moment to let it go. Try a few times before giving up.
	for attempt := 0; attempt < 5; attempt++ {
		log, err := os.OpenFile(filepath.Join(r.Dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			r.t.Fatalf("testenv: redis log: %v", err)
		}
		cmd := exec.Command("bash", args...)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			log.Close()
			r.t.Fatalf("testenv: starting test/redis/start.sh: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); log.Close(); close(done) }()
		if waitRedis(r.Addr, r.tls, done, 10*time.Second) {
			r.cmd, r.done = cmd, done
			return
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		b, _ := os.ReadFile(filepath.Join(r.Dir, "redis.log"))
		lastErr = tail(string(b), 1500)
		if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 127 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.t.Fatalf("testenv: redis-server did not come up on %s; log:\n%s", r.Addr, lastErr)
}

// Stop stops the server and waits until it has exited. Calling it while the
// server is stopped does nothing.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	syscall.Kill(-r.cmd.Process.Pid, syscall.SIGCONT) // if Paused
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
	}
	r.cmd, r.done, r.paused = nil, nil, false
}

// Kill kills the server with SIGKILL (a crash: nothing is flushed, no
// replica or client is told) and waits until it has exited. Start brings
// it back on the same address. Calling it while stopped does nothing.
func (r *Redis) Kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	<-r.done
	r.cmd, r.done, r.paused = nil, nil, false
}

// Pause stops the server with SIGSTOP: it keeps its connections and its
// data but answers nothing (a hung or partitioned server) until Resume.
func (r *Redis) Pause() { r.signal(syscall.SIGSTOP, true) }

// Resume continues a paused server (SIGCONT); it then answers what was
// sent to it meanwhile.
func (r *Redis) Resume() { r.signal(syscall.SIGCONT, false) }

func (r *Redis) signal(sig syscall.Signal, paused bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		syscall.Kill(-r.cmd.Process.Pid, sig)
		r.paused = paused
	}
}

// Running reports whether the server process runs and is not paused.
func (r *Redis) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd != nil && !r.paused
}

// Log returns the server's log so far.
func (r *Redis) Log() string {
	b, _ := os.ReadFile(filepath.Join(r.Dir, "redis.log"))
	return string(b)
}

// waitRedis waits until something at addr answers PING with a RESP reply
// (+PONG, or -NOAUTH when a password is required), or, for a TLS server,
// accepts connections; or the process exits.
func waitRedis(addr string, tls bool, exited <-chan struct{}, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil && tls {
			c.Close()
			return true
		}
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			_, err = c.Write([]byte("PING\r\n"))
			var line string
			if err == nil {
				line, err = bufio.NewReader(c).ReadString('\n')
			}
			c.Close()
			if err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH")) {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
