package redisconn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		conn Conn
		key  string // "" = valid
	}{
		{Conn{Addrs: []string{"127.0.0.1:6379"}}, ""},
		{Conn{Addrs: []string{"a:1", "b:2"}, MasterName: "m", SentinelPassword: "s"}, ""},
		{Conn{}, "addrs"},
		{Conn{Addrs: []string{"nohost"}}, "addrs"},
		{Conn{Addrs: []string{"a:1", "b:2"}}, "addrs"},
		{Conn{Addrs: []string{"a:1"}, MasterName: "m", Cluster: true}, "master_name"},
		{Conn{Addrs: []string{"a:1"}, SentinelUsername: "u"}, "sentinel_username"},
		{Conn{Addrs: []string{"a:1"}, Password: "p", PasswordFile: "f"}, "password_file"},
		{Conn{Addrs: []string{"a:1"}, Username: "u"}, "username"},
		{Conn{Addrs: []string{"a:1"}, DB: -1}, "db"},
		{Conn{Addrs: []string{"a:1"}, Cluster: true, DB: 2}, "db"},
		{Conn{Addrs: []string{"a:1"}, TLS: TLS{CertFile: "c"}}, "tls.key_file"},
		{Conn{Addrs: []string{"a:1"}, TLS: TLS{KeyFile: "k"}}, "tls.cert_file"},
		{Conn{Addrs: []string{"a:1"}, Timeout: -time.Second}, "timeout"},
		{Conn{Addrs: []string{"a:1"}, PoolSize: 2, MinIdleConns: 3}, "min_idle_conns"},
	} {
		var keys []string
		c.conn.Validate(func(key, format string, args ...any) { keys = append(keys, key) })
		switch {
		case c.key == "" && len(keys) > 0:
			t.Errorf("%+v: unexpected errors at %v", c.conn, keys)
		case c.key != "" && (len(keys) == 0 || keys[0] != c.key):
			t.Errorf("%+v: errors at %v, want %s first", c.conn, keys, c.key)
		}
	}
}

func TestNewClientFiles(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		conn Conn
		want string
	}{
		{Conn{Addrs: []string{"a:1"}, PasswordFile: filepath.Join(dir, "missing")}, "who: password_file:"},
		{Conn{Addrs: []string{"a:1"}, PasswordFile: empty}, "is empty"},
		{Conn{Addrs: []string{"a:1"}, TLS: TLS{CAFile: filepath.Join(dir, "missing.pem")}}, "who: tls.ca_file:"},
	} {
		if _, err := c.conn.NewClient("who"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.conn, err, c.want)
		}
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cl, err := (&Conn{Addrs: []string{"127.0.0.1:1"}, PasswordFile: pw, TLS: TLS{Enabled: true}}).NewClient("who")
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if d, to := (&Conn{}).Timeouts(); d != DefaultDialTimeout || to != DefaultTimeout {
		t.Fatalf("default timeouts %v %v", d, to)
	}
}

// TestAckPolicy: acknowledgement is on by default (one replica) with
// Sentinel and Cluster, off by default with a standalone server, -1 turns
// it off, and the wait must fit within the operation timeout.
func TestAckPolicy(t *testing.T) {
	for _, c := range []struct {
		conn    Conn
		n       int
		timeout time.Duration
	}{
		{Conn{Addrs: []string{"a:1"}}, 0, 0},
		{Conn{Addrs: []string{"a:1"}, Ack: Ack{Replicas: 2}}, 2, DefaultAckTimeout},
		{Conn{Addrs: []string{"a:1"}, MasterName: "m"}, 1, DefaultAckTimeout},
		{Conn{Addrs: []string{"a:1"}, Cluster: true, Ack: Ack{Timeout: time.Millisecond}}, 1, time.Millisecond},
		{Conn{Addrs: []string{"a:1"}, Cluster: true, Ack: Ack{Replicas: -1}}, 0, 0},
	} {
		if n, to := c.conn.AckPolicy(); n != c.n || to != c.timeout {
			t.Errorf("%+v: AckPolicy %d %v, want %d %v", c.conn, n, to, c.n, c.timeout)
		}
		if a := c.conn.Acker(nil); (a != nil) != (c.n > 0) {
			t.Errorf("%+v: Acker %v", c.conn, a)
		}
	}
	for _, c := range []Conn{
		{Addrs: []string{"a:1"}, Ack: Ack{Replicas: -2}},
		{Addrs: []string{"a:1"}, Ack: Ack{Replicas: 1, Timeout: -1}},
		{Addrs: []string{"a:1"}, MasterName: "m", Timeout: 100 * time.Millisecond},
	} {
		var keys []string
		c.Validate(func(key, format string, args ...any) { keys = append(keys, key) })
		if len(keys) == 0 || !strings.HasPrefix(keys[0], "replicas_ack.") {
			t.Errorf("%+v: errors at %v, want replicas_ack", c, keys)
		}
	}
}
