package redis_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/sct/redis"
)

func TestConfigValidateNamesTheKey(t *testing.T) {
	one := []string{"127.0.0.1:6379"}
	k := []redis.KeyConfig{{ID: "a", Hex: strings.Repeat("ab", 32)}}
	ok := func(c redis.Config) redis.Config {
		if c.Addrs == nil {
			c.Addrs = one
		}
		if c.Keys == nil {
			c.Keys = k
		}
		if c.WriteKey == "" {
			c.WriteKey = "a"
		}
		return c
	}
	for _, tc := range []struct {
		key string
		cfg redis.Config
	}{
		{"addrs", ok(redis.Config{Addrs: []string{}})},
		{"addrs", ok(redis.Config{Addrs: []string{"localhost"}})},
		{"addrs", ok(redis.Config{Addrs: []string{"a:1", "b:2"}})},
		{"master_name", ok(redis.Config{MasterName: "m", Cluster: true})},
		{"sentinel_username", ok(redis.Config{SentinelPassword: "x"})},
		{"password_file", ok(redis.Config{Password: "x", PasswordFile: "/f"})},
		{"username", ok(redis.Config{Username: "u"})},
		{"db", ok(redis.Config{DB: -1})},
		{"db", ok(redis.Config{DB: 1, Cluster: true, Addrs: []string{"a:1", "b:2"}})},
		{"tls.key_file", ok(redis.Config{TLS: redis.TLSConfig{CertFile: "c"}})},
		{"timeout", ok(redis.Config{Timeout: -1})},
		{"min_idle_conns", ok(redis.Config{PoolSize: 2, MinIdleConns: 3})},
		{"key_prefix", ok(redis.Config{KeyPrefix: strings.Repeat("p", 257)})},
		{"keys", ok(redis.Config{Keys: []redis.KeyConfig{}})},
		{"keys[0].id", ok(redis.Config{Keys: []redis.KeyConfig{{Hex: k[0].Hex}}, WriteKey: "x"})},
		{"keys[0].id", ok(redis.Config{Keys: []redis.KeyConfig{{ID: "has space", Hex: k[0].Hex}}, WriteKey: "x"})},
		{"keys[0].id", ok(redis.Config{Keys: []redis.KeyConfig{{ID: strings.Repeat("i", 65), Hex: k[0].Hex}}, WriteKey: "x"})},
		{"keys[1].id", ok(redis.Config{Keys: []redis.KeyConfig{k[0], k[0]}})},
		{"keys[0]", ok(redis.Config{Keys: []redis.KeyConfig{{ID: "a"}}})},
		{"keys[0]", ok(redis.Config{Keys: []redis.KeyConfig{{ID: "a", Hex: k[0].Hex, File: "/f"}}})},
		{"keys[0].hex", ok(redis.Config{Keys: []redis.KeyConfig{{ID: "a", Hex: "zz"}}})},
		{"keys[0].hex", ok(redis.Config{Keys: []redis.KeyConfig{{ID: "a", Hex: strings.Repeat("ab", 20)}}})},
		{"keys[0].hex", ok(redis.Config{Keys: []redis.KeyConfig{{ID: "a", Hex: strings.Repeat("ab", 8)}}})},
		{"write_key", redis.Config{Addrs: one, Keys: k}},
		{"write_key", ok(redis.Config{WriteKey: "b"})},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "sct/redis: "+tc.key+": ") {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.cfg, err, tc.key)
			continue
		}
		if _, err2 := tc.cfg.Open(nil); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("Open(%+v) = %v, want the Validate error", tc.cfg, err2)
		}
		// A key never appears in an error.
		if strings.Contains(err.Error(), "abab") {
			t.Errorf("error shows key material: %v", err)
		}
	}
	for _, hexKey := range []string{strings.Repeat("0f", 16), strings.Repeat("0F", 24), strings.Repeat("a1", 32)} {
		c := ok(redis.Config{Keys: []redis.KeyConfig{{ID: "2026-12_x.y", Hex: hexKey}, {ID: "b", File: "/run/secrets/b"}}, WriteKey: "b"})
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
}

// TestConfigKeyFiles: key files are read at Open; a missing, empty or
// malformed file is an error naming the key, and a good one works.
func TestConfigKeyFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		file, want string
	}{
		{filepath.Join(dir, "missing"), "keys[0].file"},
		{write("empty", "\n"), "keys[0].file"},
		{write("short", strings.Repeat("ab", 15)+"\n"), "15 bytes"},
		{write("raw", string(make([]byte, 32))), "not hex"},
	} {
		cfg := redis.Config{Addrs: []string{"127.0.0.1:1"}, Keys: []redis.KeyConfig{{ID: "a", File: tc.file}}, WriteKey: "a"}
		s, err := cfg.Open(nil)
		if err == nil {
			s.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "sct/redis: keys[0]") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open with key file %s = %v, want an error with %q", filepath.Base(tc.file), err, tc.want)
		}
	}
	// A good file (trailing newline, as `openssl rand -hex 32 >file` writes
	// it) opens; Redis at port 1 is down, which Open tolerates.
	cfg := redis.Config{Addrs: []string{"127.0.0.1:1"}, DialTimeout: 100 * time.Millisecond, Timeout: 100 * time.Millisecond,
		Keys: []redis.KeyConfig{{ID: "a", File: write("good", strings.Repeat("c3", 32)+"\n")}}, WriteKey: "a"}
	s, err := cfg.Open(nil)
	if err != nil {
		t.Fatalf("Open with a good key file: %v", err)
	}
	s.Close()
}

// TestConfigYAML decodes the documented example strictly.
func TestConfigYAML(t *testing.T) {
	const doc = `
addrs: ["redis.internal:6379"]
username: authsvc-sct
password_file: /run/secrets/redis-password
tls:
  ca_file: /etc/authsvc/redis-ca.pem
timeout: 500ms
key_prefix: "authsvc:sct:"
keys:
  - id: "2026-11"
    file: /run/secrets/sct-key-2026-11
  - id: "2026-12"
    file: /run/secrets/sct-key-2026-12
write_key: "2026-12"
`
	var got redis.Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := redis.Config{
		Addrs: []string{"redis.internal:6379"}, Username: "authsvc-sct", PasswordFile: "/run/secrets/redis-password",
		TLS: redis.TLSConfig{CAFile: "/etc/authsvc/redis-ca.pem"}, Timeout: 500 * time.Millisecond, KeyPrefix: "authsvc:sct:",
		Keys:     []redis.KeyConfig{{ID: "2026-11", File: "/run/secrets/sct-key-2026-11"}, {ID: "2026-12", File: "/run/secrets/sct-key-2026-12"}},
		WriteKey: "2026-12",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v\nwant    %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{"prefix: x\n", "keys:\n  - id: a\n    key: x\n", "writekey: a\n"} {
		dec := yaml.NewDecoder(strings.NewReader(doc))
		dec.KnownFields(true)
		if err := dec.Decode(new(redis.Config)); err == nil {
			t.Errorf("unknown key in %q accepted", doc)
		}
	}
}
