package redis_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/replay/redis"
)

func TestConfigValidateNamesTheKey(t *testing.T) {
	one := []string{"127.0.0.1:6379"}
	for _, tc := range []struct {
		key string
		cfg redis.Config
	}{
		{"addrs", redis.Config{}},
		{"addrs", redis.Config{Addrs: []string{"localhost"}}},
		{"addrs", redis.Config{Addrs: []string{":6379"}}},
		{"addrs", redis.Config{Addrs: []string{"a:1", "b:2"}}},
		{"master_name", redis.Config{Addrs: one, MasterName: "m", Cluster: true}},
		{"sentinel_username", redis.Config{Addrs: one, SentinelPassword: "x"}},
		{"password_file", redis.Config{Addrs: one, Password: "x", PasswordFile: "/f"}},
		{"username", redis.Config{Addrs: one, Username: "u"}},
		{"db", redis.Config{Addrs: one, DB: -1}},
		{"db", redis.Config{Addrs: one, DB: 1, Cluster: true}},
		{"tls.key_file", redis.Config{Addrs: one, TLS: redis.TLSConfig{CertFile: "c"}}},
		{"tls.cert_file", redis.Config{Addrs: one, TLS: redis.TLSConfig{KeyFile: "k"}}},
		{"dial_timeout", redis.Config{Addrs: one, DialTimeout: -1}},
		{"timeout", redis.Config{Addrs: one, Timeout: -1}},
		{"pool_size", redis.Config{Addrs: one, PoolSize: -1}},
		{"min_idle_conns", redis.Config{Addrs: one, PoolSize: 2, MinIdleConns: 3}},
		{"key_prefix", redis.Config{Addrs: one, KeyPrefix: strings.Repeat("p", 257)}},
		{"replicas_ack.replicas", redis.Config{Addrs: one, ReplicasAck: redisconn.Ack{Replicas: -2}}},
		{"replicas_ack.timeout", redis.Config{Addrs: one, ReplicasAck: redisconn.Ack{Replicas: 1, Timeout: -1}}},
		{"replicas_ack.timeout", redis.Config{Addrs: one, ReplicasAck: redisconn.Ack{Replicas: 1, Timeout: time.Second}}},
		{"replicas_ack.timeout", redis.Config{Addrs: []string{"n1:7000"}, Cluster: true, Timeout: 50 * time.Millisecond}},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "replay/redis: "+tc.key+": ") {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.cfg, err, tc.key)
		}
		if _, err2 := tc.cfg.Open(nil); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("Open(%+v) = %v, want the Validate error", tc.cfg, err2)
		}
	}
	for _, cfg := range []redis.Config{
		{Addrs: one},
		{Addrs: []string{"s1:26379", "s2:26379", "s3:26379"}, MasterName: "authsvc", SentinelPassword: "s"},
		{Addrs: []string{"n1:7000", "n2:7000"}, Cluster: true},
		{Addrs: []string{"[::1]:6379"}, Username: "u", PasswordFile: "/run/secrets/p", DB: 3},
		{Addrs: []string{"n1:7000"}, Cluster: true, ReplicasAck: redisconn.Ack{Replicas: 2, Timeout: 200 * time.Millisecond}},
		{Addrs: []string{"n1:7000"}, Cluster: true, Timeout: 50 * time.Millisecond, ReplicasAck: redisconn.Ack{Replicas: -1}},
	} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
	}
}

// TestConfigOpenFiles: unreadable password and TLS files fail at Open,
// naming the key.
func TestConfigOpenFiles(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(empty, []byte("\n"), 0o600)
	os.WriteFile(junk, []byte("not pem"), 0o600)
	one := []string{"127.0.0.1:1"}
	for _, tc := range []struct {
		key string
		cfg redis.Config
	}{
		{"password_file", redis.Config{Addrs: one, PasswordFile: filepath.Join(dir, "missing")}},
		{"password_file", redis.Config{Addrs: one, PasswordFile: empty}},
		{"tls.ca_file", redis.Config{Addrs: one, TLS: redis.TLSConfig{CAFile: filepath.Join(dir, "missing")}}},
		{"tls.ca_file", redis.Config{Addrs: one, TLS: redis.TLSConfig{CAFile: junk}}},
		{"tls.cert_file", redis.Config{Addrs: one, TLS: redis.TLSConfig{CertFile: junk, KeyFile: junk}}},
	} {
		c, err := tc.cfg.Open(nil)
		if err == nil {
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "replay/redis: "+tc.key) {
			t.Errorf("Open(%+v) = %v, want an error naming %s", tc.cfg, err, tc.key)
		}
	}
}

// TestConfigYAML decodes the documented example strictly: every key in it
// is a field.
func TestConfigYAML(t *testing.T) {
	const doc = `
addrs: ["redis.internal:6379"]
username: authsvc
password_file: /run/secrets/redis-password
db: 2
tls:
  ca_file: /etc/authsvc/redis-ca.pem
  cert_file: /etc/authsvc/redis-client.pem
  key_file: /etc/authsvc/redis-client.key
  server_name: redis.internal
dial_timeout: 1s
timeout: 250ms
pool_size: 32
min_idle_conns: 4
key_prefix: "prod:replay:"
replicas_ack: {replicas: 1, timeout: 50ms}
`
	var got redis.Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := redis.Config{
		Addrs: []string{"redis.internal:6379"}, Username: "authsvc", PasswordFile: "/run/secrets/redis-password", DB: 2,
		TLS: redis.TLSConfig{CAFile: "/etc/authsvc/redis-ca.pem", CertFile: "/etc/authsvc/redis-client.pem",
			KeyFile: "/etc/authsvc/redis-client.key", ServerName: "redis.internal"},
		DialTimeout: time.Second, Timeout: 250 * time.Millisecond, PoolSize: 32, MinIdleConns: 4, KeyPrefix: "prod:replay:",
		ReplicasAck: redisconn.Ack{Replicas: 1, Timeout: 50 * time.Millisecond},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v\nwant    %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}

	for _, doc := range []string{"master: x\n", "sentinel:\n  name: x\n", "tls:\n  ca: x\n"} {
		dec := yaml.NewDecoder(strings.NewReader(doc))
		dec.KnownFields(true)
		if err := dec.Decode(new(redis.Config)); err == nil {
			t.Errorf("unknown key in %q accepted", doc)
		}
	}
}
