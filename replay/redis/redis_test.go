package redis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/replay/redis"
	"github.com/authsvc/authsvc/replay/replaytest"
)

const testTimeout = 300 * time.Millisecond

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// open opens a Cache on r with a fresh key prefix unless cfg sets one.
func open(t testing.TB, cfg redis.Config) *redis.Cache {
	t.Helper()
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "test:" + randHex(6) + ":"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = testTimeout
	}
	c, err := cfg.Open(nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func admin(t testing.TB, r *testenv.Redis) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformance(t *testing.T) {
	r := testenv.StartRedis(t)
	replaytest.Run(t, func(t *testing.T) replay.Cache {
		return open(t, redis.Config{Addrs: []string{r.Addr}})
	})
}

// TestConformanceUnbatched runs the suite with one round trip per Add
// (pipeline_workers: -1), the path without the batcher.
func TestConformanceUnbatched(t *testing.T) {
	r := testenv.StartRedis(t)
	replaytest.Run(t, func(t *testing.T) replay.Cache {
		return open(t, redis.Config{Addrs: []string{r.Addr}, PipelineWorkers: -1})
	})
}

// TestQuotaConformance runs the quota suite, batched and unbatched: the
// counters live in Redis, shared by every replica.
func TestQuotaConformance(t *testing.T) {
	r := testenv.StartRedis(t)
	for _, workers := range []int{0, -1} {
		t.Run(fmt.Sprintf("pipeline_workers=%d", workers), func(t *testing.T) {
			replaytest.RunQuota(t, func(t *testing.T, q replay.Quota) replay.Cache {
				qc := replay.QuotaConfig(q)
				if qc.Principal == 0 {
					qc.Principal = -1
				}
				if qc.Address == 0 {
					qc.Address = -1
				}
				// A generous timeout: the suite's goroutines, redis-server and
				// other tests share two CPUs, and a timeout here is an error.
				return open(t, redis.Config{Addrs: []string{r.Addr}, PipelineWorkers: workers, Quota: qc, Timeout: 2 * time.Second})
			})
		})
	}
}

// TestQuotaAcrossReplicas: two Caches on one Redis share an owner's quota.
func TestQuotaAcrossReplicas(t *testing.T) {
	r := testenv.StartRedis(t)
	prefix := "test:" + randHex(6) + ":"
	cfg := redis.Config{Addrs: []string{r.Addr}, KeyPrefix: prefix, Quota: replay.QuotaConfig{Principal: 4, Address: -1}}
	a, b := open(t, cfg), open(t, cfg)
	ctx, exp := context.Background(), time.Now().Add(time.Minute)
	o := replay.Owner{Principal: "alice"}
	for i, c := range []*redis.Cache{a, b, a, b} {
		if err := replay.AddFor(ctx, c, fmt.Sprintf("k%d", i), exp, o); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
	for _, c := range []*redis.Cache{a, b} {
		if err := replay.AddFor(ctx, c, "k-more", exp, o); !errors.Is(err, replay.ErrQuota) {
			t.Fatalf("fifth key = %v, want ErrQuota", err)
		}
	}
	// No principal name reaches Redis: the counter is a hash under the prefix.
	keys, err := admin(t, r).Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, "alice") {
			t.Fatalf("Redis key %q names the principal", k)
		}
	}
	if len(keys) != 5 {
		t.Fatalf("%d keys under the prefix, want 4 entries and 1 counter: %v", len(keys), keys)
	}
}

// TestEvictionPolicyWarning: Open warns when Redis could evict replay keys
// and says nothing of the kind with noeviction.
func TestEvictionPolicyWarning(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx := context.Background()
	adm := admin(t, r)
	openLogged := func() string {
		var buf bytes.Buffer
		var mu sync.Mutex
		c, err := (&redis.Config{Addrs: []string{r.Addr}, Timeout: testTimeout}).Open(slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil)))
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
	if err := adm.ConfigSet(ctx, "maxmemory", "64mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := adm.ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if log := openLogged(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "maxmemory_policy=volatile-lru") {
		t.Fatalf("no warning for volatile-lru; log:\n%s", log)
	}
	if err := adm.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if log := openLogged(); strings.Contains(log, "evict") {
		t.Fatalf("eviction warning with noeviction; log:\n%s", log)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestKeysHashedAndPrefixed inspects Redis: the only key is the prefix and
// the hex SHA-256 of the caller's key, nothing of the nonce, and its TTL is
// within the window.
func TestKeysHashedAndPrefixed(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx := context.Background()
	const prefix = "authsvc-test:replay:"
	c := open(t, redis.Config{Addrs: []string{r.Addr}, KeyPrefix: prefix})
	a := admin(t, r)

	nonce := "SECRET-NONCE\x00\xff" + randHex(8)
	window := 90 * time.Second
	if err := c.Add(ctx, "ut-nonce:"+nonce, time.Now().Add(window)); err != nil {
		t.Fatal(err)
	}
	keys, err := a.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("ut-nonce:" + nonce))
	want := prefix + hex.EncodeToString(sum[:])
	if len(keys) != 1 || keys[0] != want || c.Key("ut-nonce:"+nonce) != want {
		t.Fatalf("keys in Redis = %q, want [%q]", keys, want)
	}
	if strings.Contains(keys[0], "SECRET") || strings.Contains(keys[0], "ut-nonce") {
		t.Fatalf("key %q leaks the caller's key", keys[0])
	}
	pttl, err := a.PTTL(ctx, want).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Set from exp - now rounded up to the millisecond: never above the
	// window, and PTTL counts down from it (a minute of slack, not a timing).
	if pttl <= 0 || pttl > window || pttl < window-time.Minute {
		t.Fatalf("PTTL = %v, want within (%v, %v]", pttl, window-time.Minute, window)
	}

	// A sub-millisecond remainder rounds up: the key lives at least as
	// long as the window.
	k2 := "kind2:" + randHex(8)
	if err := c.Add(ctx, k2, time.Now().Add(5*time.Second+300*time.Microsecond)); err != nil {
		t.Fatal(err)
	}
	if pttl, err := a.PTTL(ctx, c.Key(k2)).Result(); err != nil || pttl <= 0 || pttl > 5001*time.Millisecond {
		t.Fatalf("PTTL = %v, %v; want within (0, 5.001s]", pttl, err)
	}

	// An exp that has passed writes nothing.
	if err := c.Add(ctx, "old:"+randHex(8), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := a.DBSize(ctx).Result(); err != nil || n != 2 {
		t.Fatalf("DBSIZE = %d, %v; want 2", n, err)
	}
	// Values carry nothing either.
	if v, err := a.Get(ctx, want).Result(); err != nil || v != "1" {
		t.Fatalf("value = %q, %v", v, err)
	}
}

// TestTwoReplicas: many goroutines on two Cache instances sharing Redis (two
// replicas) add one key at once; exactly one Add in all succeeds.
func TestTwoReplicas(t *testing.T) {
	r := testenv.StartRedis(t)
	prefix := "replicas:" + randHex(4) + ":"
	cfg := redis.Config{Addrs: []string{r.Addr}, KeyPrefix: prefix, Timeout: 5 * time.Second, PoolSize: 16}
	replicas := []*redis.Cache{open(t, cfg), open(t, cfg)}
	for round := 0; round < 20; round++ {
		key, exp := "ut-nonce:"+randHex(16), time.Now().Add(time.Minute)
		const per = 16
		ok, replays := replaytest.Race(t, []replay.Cache{replicas[0], replicas[1]}, per, key, exp)
		if ok != 1 || replays != 2*per-1 {
			t.Fatalf("round %d: %d successes and %d replays from 2×%d Adds of one key; want 1 and %d", round, ok, replays, per, 2*per-1)
		}
	}
}

// TestACLUser: a least-privilege ACL user (SET, EVAL and PING on the prefix
// only, no CONFIG) is enough; a wrong password fails at Open; a prefix
// outside the ACL fails at Open with quotas on, and every Add without (an
// error, never a false "new" or "replay").
func TestACLUser(t *testing.T) {
	const prefix = "authsvc:replay:"
	pw := randHex(12)
	r := testenv.StartRedisWith(t, testenv.RedisOptions{User: "authsvc", UserPassword: pw, UserKeyPrefix: prefix})
	ctx := context.Background()

	pwFile := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := open(t, redis.Config{Addrs: []string{r.Addr}, Username: "authsvc", PasswordFile: pwFile, KeyPrefix: prefix})
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	key, exp := "ut-nonce:"+randHex(16), time.Now().Add(time.Minute)
	if err := c.Add(ctx, key, exp); err != nil {
		t.Fatalf("Add as ACL user: %v", err)
	}
	if err := c.Add(ctx, key, exp); !errors.Is(err, replay.ErrReplay) {
		t.Fatalf("second Add = %v, want ErrReplay", err)
	}
	// The quota script runs as this user too.
	o := replay.Owner{Principal: "alice"}
	if err := replay.AddFor(ctx, c, key+"-owned", exp, o); err != nil {
		t.Fatalf("AddFor as ACL user: %v", err)
	}
	if err := replay.AddFor(ctx, c, key+"-owned", exp, o); !errors.Is(err, replay.ErrReplay) {
		t.Fatalf("second AddFor = %v, want ErrReplay", err)
	}

	for _, cfg := range []redis.Config{
		{Addrs: []string{r.Addr}, Username: "authsvc", Password: pw + "x"},
		{Addrs: []string{r.Addr}, Username: "nobody", Password: pw},
		{Addrs: []string{r.Addr}}, // the default user is off
	} {
		cfg.Timeout = testTimeout
		if c, err := cfg.Open(nil); err == nil {
			c.Close()
			t.Fatalf("Open as %q with a wrong password succeeded", cfg.Username)
		} else {
			var rerr goredis.Error
			if !errors.As(err, &rerr) {
				t.Fatalf("Open with a wrong password = %v, want the server's refusal", err)
			}
			t.Logf("wrong credentials: %v", err)
		}
	}

	// With quotas on, Open finds that the ACL does not cover the prefix.
	cfg := redis.Config{Addrs: []string{r.Addr}, Username: "authsvc", Password: pw, KeyPrefix: "elsewhere:", Timeout: testTimeout}
	if c, err := cfg.Open(nil); err == nil || !strings.Contains(err.Error(), "elsewhere:*") {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Open with a prefix outside the ACL = %v, want an error naming the prefix", err)
	}
	cfg.Quota = replay.QuotaConfig{Principal: -1, Address: -1}
	other := open(t, cfg)
	err := other.Add(ctx, key, exp)
	if err == nil || errors.Is(err, replay.ErrReplay) || !errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("Add outside the ACL's keys = %v, want an ErrUnavailable error", err)
	}
}

// TestRequirePass: the default user with a password (AUTH password).
func TestRequirePass(t *testing.T) {
	pw := randHex(12)
	r := testenv.StartRedisWith(t, testenv.RedisOptions{RequirePass: pw})
	c := open(t, redis.Config{Addrs: []string{r.Addr}, Password: pw})
	if err := c.Add(context.Background(), "k:"+randHex(8), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := (&redis.Config{Addrs: []string{r.Addr}, Password: "wrong"}).Open(nil); err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	if _, err := (&redis.Config{Addrs: []string{r.Addr}}).Open(nil); err == nil {
		t.Fatal("Open without the password succeeded")
	}
}

// TestOutageAndRecovery stops Redis under a Cache and starts it again: Adds
// fail (not nil, not ErrReplay) within the timeout while it is down, and the
// same Cache works again once it is back.
func TestOutageAndRecovery(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx := context.Background()
	c := open(t, redis.Config{Addrs: []string{r.Addr}, PoolSize: 4, MinIdleConns: 2})
	exp := time.Now().Add(time.Minute)
	if err := c.Add(ctx, "before:"+randHex(8), exp); err != nil {
		t.Fatal(err)
	}

	r.Stop()
	for i := 0; i < 20; i++ {
		start := time.Now()
		err := c.Add(ctx, "down:"+randHex(8), exp)
		took := time.Since(start)
		if err == nil || errors.Is(err, replay.ErrReplay) || !errors.Is(err, health.ErrUnavailable) {
			t.Fatalf("Add while Redis is down = %v, want an ErrUnavailable error", err)
		}
		// Bounded by the timeout; the slack covers a loaded machine.
		if took > testTimeout+2*time.Second {
			t.Fatalf("Add while Redis is down took %v, timeout is %v", took, testTimeout)
		}
		if i == 0 {
			t.Logf("Add while down: %v (%v)", err, took)
		}
	}
	if err := c.Check(ctx); err == nil || !errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("Check while Redis is down = %v", err)
	}

	r.Start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.Add(ctx, "after:"+randHex(8), exp)
		if err == nil {
			break
		}
		if errors.Is(err, replay.ErrReplay) {
			t.Fatalf("fresh key after recovery = %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Cache did not recover 15 s after Redis came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check after recovery = %v", err)
	}
	key := "again:" + randHex(8)
	if err := c.Add(ctx, key, exp); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(ctx, key, exp); !errors.Is(err, replay.ErrReplay) {
		t.Fatalf("replay after recovery = %v", err)
	}
}

// TestUnresponsiveServer: a server that accepts connections and never
// answers (a hung Redis, a black-holing proxy) costs each Add no more than
// the timeout, and Open still returns a Cache (not ready, recovers later).
func TestUnresponsiveServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	c := open(t, redis.Config{Addrs: []string{l.Addr().String()}, DialTimeout: 200 * time.Millisecond})
	for i := 0; i < 3; i++ {
		start := time.Now()
		err := c.Add(context.Background(), "hung:"+randHex(8), time.Now().Add(time.Minute))
		took := time.Since(start)
		if err == nil || errors.Is(err, replay.ErrReplay) || !errors.Is(err, health.ErrUnavailable) {
			t.Fatalf("Add against a hung server = %v", err)
		}
		if took > testTimeout+2*time.Second {
			t.Fatalf("Add against a hung server took %v, timeout is %v", took, testTimeout)
		}
	}
	// The caller's own deadline also applies when it is shorter.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Check(ctx); err == nil {
		t.Fatal("Check against a hung server succeeded")
	}
}

// TestOpenWhileDown: a replica starts while Redis is down, and works once
// Redis is up, without a restart.
func TestOpenWhileDown(t *testing.T) {
	r := testenv.StartRedis(t)
	r.Stop()
	c := open(t, redis.Config{Addrs: []string{r.Addr}})
	ctx := context.Background()
	if err := c.Check(ctx); err == nil {
		t.Fatal("Check with Redis down succeeded")
	}
	if err := c.Add(ctx, "k:"+randHex(8), time.Now().Add(time.Minute)); err == nil || errors.Is(err, replay.ErrReplay) {
		t.Fatalf("Add with Redis down = %v", err)
	}
	r.Start()
	deadline := time.Now().Add(15 * time.Second)
	for c.Check(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("Check still failing 15 s after Redis started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Add(ctx, "k:"+randHex(8), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
}
