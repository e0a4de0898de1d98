package redis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sct/redis"
	"github.com/authsvc/authsvc/sct/scttest"
)

// testTimeout is generous: redis-server and the tests share two busy CPUs,
// and a timeout is an error. Outages are refused connections, which fail
// at once.
const testTimeout = 2 * time.Second

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// key1 and key2 are two keys of a test keyring.
var key1, key2 = randHex(32), randHex(16)

// config returns a Config for r with a fresh prefix and a keyring of key1
// (writing) and key2.
func config(r *testenv.Redis) redis.Config {
	return redis.Config{
		Addrs:     []string{r.Addr},
		KeyPrefix: "test:sct:" + randHex(6) + ":",
		Timeout:   testTimeout,
		Keys:      []redis.KeyConfig{{ID: "k1", Hex: key1}, {ID: "k2", Hex: key2}},
		WriteKey:  "k1",
	}
}

func open(t testing.TB, cfg redis.Config) *redis.Store {
	t.Helper()
	s, err := cfg.Open(nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func admin(t testing.TB, r *testenv.Redis) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformance(t *testing.T) {
	r := testenv.StartRedis(t)
	scttest.Run(t, func(t *testing.T) sct.Store {
		cfg := config(r)
		// Generous: the suite's goroutines, redis-server and other tests
		// share two CPUs, and a timeout here is an error.
		cfg.Timeout = 5 * time.Second
		return open(t, cfg)
	})
}

// TestReplicas: three Stores with three separate clients on one Redis and
// one prefix are one store.
func TestReplicas(t *testing.T) {
	r := testenv.StartRedis(t)
	scttest.RunReplicas(t, func(t *testing.T) []sct.Store {
		cfg := config(r)
		cfg.Timeout = 5 * time.Second
		var rs []sct.Store
		for i := 0; i < 3; i++ {
			s, err := cfg.Open(nil)
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, s)
		}
		return rs
	})
}

// TestNothingReadableInRedis reads every key and value under the prefix
// with a plain client: no key byte (raw, hex or base64), principal, group,
// attribute, Identifier or Instance appears, live or cancelled; the TTL
// follows Expires.
func TestNothingReadableInRedis(t *testing.T) {
	r := testenv.StartRedis(t)
	cfg := config(r)
	s := open(t, cfg)
	adm := admin(t, r)
	ctx := context.Background()

	c := scttest.New(scttest.RandIssuer(), 90*time.Second)
	c.Subject = sct.Subject{Principal: "alice-" + randHex(4), Realm: "EXAMPLE.ORG", Method: "kerberos",
		Groups: []string{"group-" + randHex(4)}, Attributes: map[string][]string{"mail": {"m-" + randHex(4) + "@example.org"}}}
	scttest.MustIssue(t, s, c.Clone(), nil)
	cancelled := scttest.New(c.Issuer, 90*time.Second)
	scttest.MustIssue(t, s, cancelled.Clone(), nil)
	scttest.MustCancel(t, s, c.Issuer, cancelled.Identifier, nil)

	secrets := map[string][]byte{
		"key":               c.Key,
		"key hex":           []byte(hex.EncodeToString(c.Key)),
		"key base64":        []byte(base64.StdEncoding.EncodeToString(c.Key)),
		"key half":          c.Key[:8],
		"principal":         []byte(c.Subject.Principal),
		"group":             []byte(c.Subject.Groups[0]),
		"mail":              []byte(c.Subject.Attributes["mail"][0]),
		"identifier":        []byte(c.Identifier),
		"identifier uuid":   []byte(strings.TrimPrefix(c.Identifier, "urn:uuid:")),
		"instance uuid":     []byte(strings.TrimPrefix(c.Instance, "urn:uuid:")),
		"cancelled id uuid": []byte(strings.TrimPrefix(cancelled.Identifier, "urn:uuid:")),
		"cancelled key":     cancelled.Key,
		"cancelled subject": []byte(cancelled.Subject.Principal),
		"realm":             []byte("EXAMPLE.ORG"),
		"method":            []byte("kerberos"),
	}
	keys, err := adm.Keys(ctx, cfg.KeyPrefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{s.Key(c.Issuer, c.Identifier), s.Key(c.Issuer, cancelled.Identifier)}
	if len(keys) != 2 || !(keys[0] == want[0] && keys[1] == want[1] || keys[0] == want[1] && keys[1] == want[0]) {
		t.Fatalf("keys under the prefix = %q, want %q", keys, want)
	}
	for _, k := range keys {
		v, err := adm.Get(ctx, k).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		for what, secret := range secrets {
			if bytes.Contains(v, secret) || strings.Contains(k, string(secret)) {
				t.Errorf("the %s is readable in Redis under %s", what, k)
			}
		}
		pttl, err := adm.PTTL(ctx, k).Result()
		// A minute of slack, not a timing: the TTL is set from Expires.
		if err != nil || pttl <= 30*time.Second || pttl > 90*time.Second {
			t.Errorf("PTTL(%s) = %v, %v; want within (30s, 90s]", k, pttl, err)
		}
	}
	// The tombstone carries nothing at all.
	if v, _ := adm.Get(ctx, want[1]).Bytes(); len(v) != 2 {
		t.Errorf("tombstone of %d bytes: %q", len(v), v)
	}
}

// TestHostileRecords writes records into Redis the way an attacker with
// write access could and checks that Get returns an error (wrapping
// ErrCorrupt and health.ErrUnavailable), never a context: truncated, a bit
// flipped anywhere, an unknown key id, a record moved under another
// context's key or issuer, junk.
func TestHostileRecords(t *testing.T) {
	r := testenv.StartRedis(t)
	cfg := config(r)
	s := open(t, cfg)
	adm := admin(t, r)
	ctx := context.Background()

	iss := scttest.RandIssuer()
	a, b := scttest.New(iss, time.Hour), scttest.New(iss, time.Hour)
	scttest.MustIssue(t, s, a.Clone(), nil)
	scttest.MustIssue(t, s, b.Clone(), nil)
	ka, kb := s.Key(iss, a.Identifier), s.Key(iss, b.Identifier)
	good, err := adm.Get(ctx, ka).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, v []byte) {
		t.Helper()
		if err := adm.Set(ctx, ka, v, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		c, err := s.Get(ctx, iss, a.Identifier)
		if c != nil || !errors.Is(err, redis.ErrCorrupt) || !errors.Is(err, health.ErrUnavailable) {
			t.Fatalf("Get of a %s record = %v, %v; want no context and ErrCorrupt", what, c, err)
		}
	}
	for n := 0; n < len(good); n++ {
		refused("truncated", good[:n])
	}
	refused("extended", append(append([]byte(nil), good...), 0))
	for i := 0; i < len(good); i++ {
		for _, bit := range []byte{0x01, 0x80} {
			v := append([]byte(nil), good...)
			v[i] ^= bit
			if string(v) == "X\x02" {
				continue // not reachable from a record of this length
			}
			refused("bit-flipped", v)
		}
	}
	// The key id renamed to one the ring has (k2): the header is bound.
	v := append([]byte(nil), good...)
	if string(v[34:37]) != "\x02k1" {
		t.Fatalf("key id not where expected: %q", v[34:37])
	}
	v[36] = '2'
	refused("relabelled (k1 -> k2)", v)
	v[35], v[36] = 'z', 'z'
	refused("unknown-key-id", v)
	// b's record moved under a's key.
	vb, err := adm.Get(ctx, kb).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	refused("moved", vb)
	refused("junk", []byte("R\x02"+strings.Repeat("\x00", 100)))
	refused("empty", nil)
	refused("huge", bytes.Repeat([]byte("R"), 1<<20))
	// A record moved to another issuer's key for the same Identifier.
	other := scttest.RandIssuer()
	if err := adm.Set(ctx, s.Key(other, a.Identifier), good, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Get(ctx, other, a.Identifier); c != nil || !errors.Is(err, redis.ErrCorrupt) {
		t.Fatalf("Get of a record moved to another issuer = %v, %v", c, err)
	}
	// A record copied from another deployment's prefix (same keys, same
	// issuer and Identifier): the Redis key is authenticated, prefix
	// included.
	cfg2 := cfg
	cfg2.KeyPrefix = "test:sct:other:" + randHex(4) + ":"
	s2 := open(t, cfg2)
	if err := adm.Set(ctx, s2.Key(iss, a.Identifier), good, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if c, err := s2.Get(ctx, iss, a.Identifier); c != nil || !errors.Is(err, redis.ErrCorrupt) {
		t.Fatalf("Get of a record copied from another prefix = %v, %v", c, err)
	}
	// Renew and Cancel of junk are errors too, and leave it alone.
	adm.Set(ctx, ka, "junk", time.Hour)
	if err := s.Renew(ctx, a.Instance, scttest.Renewal(a, time.Hour)); !errors.Is(err, redis.ErrCorrupt) {
		t.Fatalf("Renew of junk = %v", err)
	}
	if err := s.Cancel(ctx, iss, a.Identifier); !errors.Is(err, redis.ErrCorrupt) {
		t.Fatalf("Cancel of junk = %v", err)
	}
	// Restored, the record reads again: the refusals were about the bytes.
	adm.Set(ctx, ka, good, time.Hour)
	scttest.Equal(t, scttest.MustGet(t, s, iss, a.Identifier), a)
}

// TestKeyRotation: a record written under k1 is read by a store whose ring
// has k1 and writes with k2; a store without k1 refuses it (ErrCorrupt,
// not a context, not "not found"); records written under k2 are read by
// both.
func TestKeyRotation(t *testing.T) {
	r := testenv.StartRedis(t)
	cfg := config(r)
	old := open(t, cfg)
	c := scttest.New(scttest.RandIssuer(), time.Hour)
	scttest.MustIssue(t, old, c.Clone(), nil)

	cfg.WriteKey = "k2"
	rotated := open(t, cfg)
	scttest.Equal(t, scttest.MustGet(t, rotated, c.Issuer, c.Identifier), c)
	c2 := scttest.New(c.Issuer, time.Hour)
	scttest.MustIssue(t, rotated, c2.Clone(), nil)
	scttest.Equal(t, scttest.MustGet(t, old, c2.Issuer, c2.Identifier), c2)

	cfg.Keys = cfg.Keys[1:] // k1 removed
	without := open(t, cfg)
	got, err := without.Get(context.Background(), c.Issuer, c.Identifier)
	if got != nil || !errors.Is(err, redis.ErrCorrupt) || !errors.Is(err, health.ErrUnavailable) || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("Get of a record under a removed key = %v, %v; want ErrCorrupt naming k1", got, err)
	}
	scttest.Equal(t, scttest.MustGet(t, without, c2.Issuer, c2.Identifier), c2)

	// The same key bytes under another id are another key as far as the
	// records are concerned: the id is authenticated.
	cfg.Keys = []redis.KeyConfig{{ID: "k9", Hex: key1}}
	cfg.WriteKey = "k9"
	renamed := open(t, cfg)
	if got, err := renamed.Get(context.Background(), c.Issuer, c.Identifier); got != nil || !errors.Is(err, redis.ErrCorrupt) {
		t.Fatalf("Get under a renamed key id = %v, %v", got, err)
	}
}

// TestOutageAndRecovery kills redis-server under a Store: every method
// fails with health.ErrUnavailable (never a context, never a sentinel that
// callers would take as an answer), and the same Store works again once
// Redis is back.
func TestOutageAndRecovery(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx := context.Background()
	cfg := config(r)
	cfg.PoolSize, cfg.MinIdleConns = 4, 2
	s := open(t, cfg)
	c := scttest.New(scttest.RandIssuer(), time.Hour)
	scttest.MustIssue(t, s, c.Clone(), nil)

	r.Stop()
	unavailable := func(what string, err error) {
		t.Helper()
		for _, sentinel := range []error{sct.ErrNotFound, sct.ErrCancelled, sct.ErrExists, sct.ErrConflict, sct.ErrFull} {
			if errors.Is(err, sentinel) {
				t.Fatalf("%s while Redis is down = %v, an answer", what, err)
			}
		}
		if !errors.Is(err, health.ErrUnavailable) {
			t.Fatalf("%s while Redis is down = %v, want ErrUnavailable", what, err)
		}
	}
	for i := 0; i < 5; i++ {
		got, err := s.Get(ctx, c.Issuer, c.Identifier)
		if got != nil {
			t.Fatal("Get while Redis is down returned a context")
		}
		unavailable("Get", err)
		unavailable("Issue", s.Issue(ctx, scttest.New(c.Issuer, time.Hour)))
		unavailable("Renew", s.Renew(ctx, c.Instance, scttest.Renewal(c, time.Hour)))
		unavailable("Cancel", s.Cancel(ctx, c.Issuer, c.Identifier))
	}
	unavailable("Check", s.Check(ctx))

	r.Start() // empty: the test server keeps nothing on disk
	deadline := time.Now().Add(15 * time.Second)
	for s.Check(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("Store did not recover 15 s after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	scttest.MustGetErr(t, s, c.Issuer, c.Identifier, sct.ErrNotFound)
	c2 := scttest.New(c.Issuer, time.Hour)
	scttest.MustIssue(t, s, c2.Clone(), nil)
	scttest.Equal(t, scttest.MustGet(t, s, c2.Issuer, c2.Identifier), c2)
}

// TestOpenWhileDown: a replica starts while Redis is down; it fails closed,
// then works once Redis is up, without a restart. Wrong credentials are an
// error at Open.
func TestOpenWhileDown(t *testing.T) {
	r := testenv.StartRedis(t)
	r.Stop()
	s := open(t, config(r))
	ctx := context.Background()
	if _, err := s.Get(ctx, "i", "x"); !errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("Get with Redis down = %v", err)
	}
	r.Start()
	deadline := time.Now().Add(15 * time.Second)
	for s.Check(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("Check still failing 15 s after Redis started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	scttest.MustIssue(t, s, scttest.New(scttest.RandIssuer(), time.Hour), nil)
}

// TestACLUser: the ACL of the package comment is enough (GET, SET, EVAL,
// EVALSHA, PING on the prefix); a wrong password fails at Open.
func TestACLUser(t *testing.T) {
	pw := randHex(12)
	r := testenv.StartRedisWith(t, testenv.RedisOptions{RequirePass: pw})
	ctx := context.Background()
	adm := goredis.NewClient(&goredis.Options{Addr: r.Addr, Password: pw})
	defer adm.Close()
	const prefix = "authsvc:sct:"
	if err := adm.Do(ctx, "acl", "setuser", "authsvc-sct", "on", ">"+pw, "resetkeys", "~"+prefix+"*", "resetchannels",
		"-@all", "+get", "+set", "+eval", "+evalsha", "+ping", "+hello", "+auth").Err(); err != nil {
		t.Fatal(err)
	}
	cfg := config(r)
	cfg.KeyPrefix, cfg.Username, cfg.Password = prefix, "authsvc-sct", pw
	s := open(t, cfg)
	c := scttest.New(scttest.RandIssuer(), time.Hour)
	scttest.MustIssue(t, s, c.Clone(), nil)
	next := scttest.Renewal(c, time.Hour)
	scttest.MustRenew(t, s, c.Instance, next.Clone(), nil)
	scttest.Equal(t, scttest.MustGet(t, s, c.Issuer, c.Identifier), next)
	scttest.MustCancel(t, s, c.Issuer, c.Identifier, nil)
	scttest.MustGetErr(t, s, c.Issuer, c.Identifier, sct.ErrCancelled)

	cfg.Password = pw + "x"
	if s, err := cfg.Open(nil); err == nil {
		s.Close()
		t.Fatal("Open with a wrong password succeeded")
	}
	// A prefix outside the ACL: every operation fails, none answers.
	cfg.Password, cfg.KeyPrefix = pw, "elsewhere:"
	other := open(t, cfg)
	if err := other.Issue(ctx, scttest.New(c.Issuer, time.Hour)); !errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("Issue outside the ACL's keys = %v", err)
	}
}

// TestRedisFull: a Redis at maxmemory with noeviction refuses new contexts
// with sct.ErrFull (the store's bound), not an outage, and keeps the ones
// it holds.
func TestRedisFull(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx := context.Background()
	s := open(t, config(r))
	c := scttest.New(scttest.RandIssuer(), time.Hour)
	scttest.MustIssue(t, s, c.Clone(), nil)
	adm := admin(t, r)
	if err := adm.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := adm.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	err := s.Issue(ctx, scttest.New(c.Issuer, time.Hour))
	if !errors.Is(err, sct.ErrFull) || errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("Issue into a full Redis = %v, want ErrFull", err)
	}
	scttest.Equal(t, scttest.MustGet(t, s, c.Issuer, c.Identifier), c)
	if err := adm.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	scttest.MustIssue(t, s, scttest.New(c.Issuer, time.Hour), nil)
}
