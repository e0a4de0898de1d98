package config

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/replay/redis"
)

const redisChain = `
registries:
  users: {type: file, path: users.yaml}
chain:
  - {name: users, type: username, flag: requisite, registry: users, password_text: false}
`

func TestRedisReplayDecode(t *testing.T) {
	c, err := Parse([]byte(`
replay:
  type: redis
  addrs: ["127.0.0.1:6379", "127.0.0.2:26379"]
  master_name: mymaster
  username: authsvc
  password_file: secrets/redis-password
  sentinel_password: s3
  db: 2
  tls:
    ca_file: ca.pem
    server_name: redis.internal
  dial_timeout: 2s
  timeout: 250ms
  pool_size: 16
  min_idle_conns: 2
  key_prefix: "prod:replay:"
`+redisChain), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := c.replay.(*RedisReplay)
	if !ok {
		t.Fatalf("replay section is %T, want *RedisReplay", c.replay)
	}
	want := redis.Config{
		Addrs: []string{"127.0.0.1:6379", "127.0.0.2:26379"}, MasterName: "mymaster",
		Username: "authsvc", PasswordFile: "secrets/redis-password", SentinelPassword: "s3", DB: 2,
		TLS:         redis.TLSConfig{CAFile: "ca.pem", ServerName: "redis.internal"},
		DialTimeout: 2 * time.Second, Timeout: 250 * time.Millisecond, PoolSize: 16, MinIdleConns: 2,
		KeyPrefix: "prod:replay:",
	}
	if !reflect.DeepEqual(r.Config, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", r.Config, want)
	}
}

func TestRedisReplayStrict(t *testing.T) {
	cases := []struct {
		name, replay string
		want         []string // parts of the error
	}{
		{"unknown key", "replay: {type: redis, addrs: [\"127.0.0.1:6379\"], adress: x}",
			[]string{`unknown key "adress"`, "line 2", "replay", "addrs"}},
		{"unknown key in tls", "replay:\n  type: redis\n  addrs: [\"127.0.0.1:6379\"]\n  tls: {ca_file: a.pem, ca: b.pem}",
			[]string{`unknown key "ca"`, "line 5", "replay.tls", "ca_file"}},
		{"memory key on redis", "replay: {type: redis, addrs: [\"127.0.0.1:6379\"], max_entries: 10}",
			[]string{`unknown key "max_entries"`}},
		{"no addrs", "replay: {type: redis}",
			[]string{"replay", "addrs", "at least one host:port"}},
		{"bad addr", "replay: {type: redis, addrs: [redis.internal]}",
			[]string{"addrs", `"redis.internal" is not host:port`}},
		{"two standalone addrs", "replay: {type: redis, addrs: [\"a:1\", \"b:1\"]}",
			[]string{"master_name (Sentinel) or cluster: true"}},
		{"sentinel and cluster", "replay: {type: redis, addrs: [\"a:1\"], master_name: m, cluster: true}",
			[]string{"master_name", "exclude each other"}},
		{"bad duration", "replay: {type: redis, addrs: [\"a:1\"], timeout: soon}",
			[]string{"replay", "soon"}},
		{"quota on a cluster", "replay: {type: redis, cluster: true, addrs: [\"a:1\"], quota: {principal: 10}}",
			[]string{"quota", "standalone or Sentinel"}},
		{"bad quota", "replay: {type: redis, addrs: [\"a:1\"], quota: {principal: -5}}",
			[]string{"quota.principal: -5"}},
		{"unknown type", "replay: {type: redis-cluster, addrs: [\"a:1\"]}",
			[]string{`unknown type "redis-cluster"`, "memory, redis"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte("\n"+c.replay+"\n"+redisChain), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// captureHandler records log records (the go-redis logger is global, so
// this test does not run in parallel).
type captureHandler struct {
	mu  sync.Mutex
	buf bytes.Buffer
	h   slog.Handler
}

func newCapture() *captureHandler {
	c := &captureHandler{}
	c.h = slog.NewTextHandler(&lockedWriter{c}, &slog.HandlerOptions{Level: slog.LevelDebug})
	return c
}

type lockedWriter struct{ c *captureHandler }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.buf.Write(p)
}

func (c *captureHandler) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// TestRedisReplayBuild builds a configuration with a real redis-server that
// requires a password, given by a password_file relative to the
// configuration file: the cache records keys, is the "replay" readiness
// check, fails closed with authn.ErrUnavailable while Redis is down, and
// recovers without a rebuild.
func TestRedisReplayBuild(t *testing.T) {
	r := testenv.StartRedisWith(t, testenv.RedisOptions{RequirePass: "s3cret-redis"})
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("users.yaml", "users:\n  - {name: alice, digest_secret: wonderland}\n")
	write("secrets/redis-password", "s3cret-redis\n")
	write("authsvc.yaml", "replay:\n  type: redis\n  addrs: [\""+r.Addr+"\"]\n  password_file: secrets/redis-password\n  key_prefix: \"cfgtest:\"\n"+redisChain)
	c, err := Load(filepath.Join(dir, "authsvc.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := newCapture()
	rt, err := c.Build(slog.New(logs.h))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	cache, ok := rt.Replay.(*redis.Cache)
	if !ok {
		t.Fatalf("runtime replay cache is %T", rt.Replay)
	}
	if rt.Checkers["replay"] != authn.Checker(cache) {
		t.Fatalf("the Redis cache is not the replay readiness check: %v", rt.Checkers)
	}
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	if err := rt.Replay.Add(ctx, "ut-nonce:abc", exp); err != nil {
		t.Fatalf("first Add: %v", err)
	}
	if err := rt.Replay.Add(ctx, "ut-nonce:abc", exp); !errors.Is(err, replay.ErrReplay) {
		t.Fatalf("second Add: %v, want ErrReplay", err)
	}
	if n, err := cache.Client().Exists(ctx, cache.Key("ut-nonce:abc")).Result(); err != nil || n != 1 {
		t.Fatalf("key %s not in Redis: %d %v", cache.Key("ut-nonce:abc"), n, err)
	}
	if !strings.HasPrefix(cache.Key("x"), "cfgtest:") {
		t.Errorf("key_prefix not applied: %s", cache.Key("x"))
	}

	r.Stop()
	if err := rt.Replay.Add(ctx, "ut-nonce:def", exp); !errors.Is(err, authn.ErrUnavailable) {
		t.Fatalf("Add while Redis is down: %v, want ErrUnavailable", err)
	}
	if err := rt.Checkers["replay"].Check(ctx); err == nil {
		t.Fatal("Check passes while Redis is down")
	}
	// go-redis's own messages go to our logger, not to stderr.
	if l := logs.String(); !strings.Contains(l, "component=go-redis") || !strings.Contains(l, "replay=redis") {
		t.Errorf("go-redis did not log through slog:\n%s", l)
	}

	r.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := rt.Replay.Add(ctx, "ut-nonce:def", exp)
		if err == nil {
			break
		}
		if !errors.Is(err, authn.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Add after Redis returned: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := rt.Checkers["replay"].Check(ctx); err != nil {
		t.Fatalf("Check after recovery: %v", err)
	}
}
