package lockout

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/internal/testenv"
)

// testStore is the contract every Store keeps, with the clock at now (the
// Redis store keeps time with Redis's own key expiry, so the test does not
// move the clock): max_failures failures lock; Status reports the lock and
// the failures; a failure during a lock keeps it; Reset forgets the
// failures of a key that is not locked; keys are independent.
func testStore(t *testing.T, st Store) {
	ctx := context.Background()
	now := time.Now()
	p := Policy{MaxFailures: 3, Window: time.Hour, Lockout: time.Hour, MaxLockout: 2 * time.Hour}
	if locked, failures, err := st.Status(ctx, "p:alice", now); err != nil || locked || failures {
		t.Fatalf("fresh key: locked %v failures %v err %v", locked, failures, err)
	}
	for i := 1; i <= 2; i++ {
		if locked, err := st.Fail(ctx, "p:alice", p, now); err != nil || locked {
			t.Fatalf("failure %d: locked %v err %v", i, locked, err)
		}
	}
	if locked, failures, err := st.Status(ctx, "p:alice", now); err != nil || locked || !failures {
		t.Fatalf("after 2 failures: locked %v failures %v err %v", locked, failures, err)
	}
	if err := st.Reset(ctx, "p:alice"); err != nil {
		t.Fatal(err)
	}
	if locked, failures, _ := st.Status(ctx, "p:alice", now); locked || failures {
		t.Fatalf("after reset: locked %v failures %v", locked, failures)
	}
	for i := 1; i <= 3; i++ {
		locked, err := st.Fail(ctx, "p:alice", p, now)
		if err != nil || locked != (i == 3) {
			t.Fatalf("failure %d after reset: locked %v err %v", i, locked, err)
		}
	}
	if locked, _, _ := st.Status(ctx, "p:alice", now); !locked {
		t.Fatal("not locked after 3 failures")
	}
	if locked, err := st.Fail(ctx, "p:alice", p, now); err != nil || !locked {
		t.Fatalf("a failure during the lock: locked %v err %v", locked, err)
	}
	st.Reset(ctx, "p:alice")
	if locked, _, _ := st.Status(ctx, "p:alice", now); !locked {
		t.Error("reset lifted a lock")
	}
	if locked, failures, _ := st.Status(ctx, "p:bob", now); locked || failures {
		t.Errorf("another key: locked %v failures %v", locked, failures)
	}
}

func TestMemoryStore(t *testing.T) { testStore(t, NewMemory(0)) }

// TestRedisStore runs the contract against a real redis-server, through a
// client configured for the store alone.
func TestRedisStore(t *testing.T) {
	rds := testenv.StartRedis(t)
	client := goredis.NewClient(&goredis.Options{Addr: rds.Addr})
	defer client.Close()
	st := &Redis{Client: client, Prefix: "test:bf:"}
	testStore(t, st)
	// Keys are hashed under the prefix, one cluster slot per key.
	keys, err := client.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys in Redis")
	}
	for _, k := range keys {
		if len(k) < len(st.Prefix)+66 || k[:len(st.Prefix)+1] != st.Prefix+"{" {
			t.Errorf("key %q", k)
		}
	}
	rds.Stop()
	if _, _, err := st.Status(context.Background(), "p:alice", time.Now()); err == nil {
		t.Error("no error with Redis down")
	}
}

// TestConfigOpen: the section's store, and a redis store refused without a
// client.
func TestConfigOpen(t *testing.T) {
	c := Config{}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Store != "memory" || c.Principal.MaxFailures != 5 || c.Address.MaxFailures != 50 || c.KeyPrefix != DefaultKeyPrefix || c.MaxEntries != DefaultMaxEntries {
		t.Errorf("defaults: %+v", c)
	}
	o, err := c.Open(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.Store.(*Memory); !ok {
		t.Errorf("store %T", o.Store)
	}
	c.Store = "redis"
	if _, err := c.Open(nil, nil); err == nil {
		t.Error("redis store opened without a client")
	}
	for _, bad := range []Config{
		{Store: "etcd"},
		{Principal: Policy{MaxFailures: -1}},
		{Address: Policy{MaxFailures: 3, Lockout: time.Hour, MaxLockout: time.Minute}},
		{MaxEntries: -1},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if _, err := New(Options{Principal: Policy{MaxFailures: 1}}, Hooks{}, nil); err == nil {
		t.Error("New took a policy without window and lockout")
	}
}

// TestRedisStoreACL: the Redis store works for a user with no more than
// the commands and keys docs/brute-force.md gives it.
func TestRedisStoreACL(t *testing.T) {
	rds := testenv.StartRedis(t)
	admin := goredis.NewClient(&goredis.Options{Addr: rds.Addr})
	defer admin.Close()
	if err := admin.Do(context.Background(), "ACL", "SETUSER", "bf", "on", ">pw", "resetkeys", "~authsvc:bf:*", "resetchannels", "-@all",
		"+eval", "+evalsha", "+incr", "+pexpire", "+set", "+exists", "+mget", "+del", "+ping", "+hello", "+auth").Err(); err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: rds.Addr, Username: "bf", Password: "pw"})
	defer c.Close()
	testStore(t, &Redis{Client: c, Prefix: DefaultKeyPrefix})
	if err := (&Redis{Client: c, Prefix: "other:"}).Reset(context.Background(), "x"); err == nil {
		t.Fatal("the ACL is not in force: a key outside the prefix was written")
	}
}
