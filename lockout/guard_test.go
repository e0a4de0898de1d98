package lockout

import (
	"context"
	"net/netip"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/registry"
)

// TestGuard walks one principal through Begin, Failed and Succeeded: the
// lock after max_failures, the hooks, the count against the name a
// registry resolved the claimed one to, and the reset on success.
func TestGuard(t *testing.T) {
	var locks []string
	calls := 0
	p := Policy{MaxFailures: 2, Window: time.Hour, Lockout: time.Hour, MaxLockout: time.Hour}
	g, err := New(Options{Principal: p, Address: Policy{MaxFailures: 100, Window: time.Hour, Lockout: time.Hour, MaxLockout: time.Hour}},
		Hooks{StoreCall: func(time.Duration, error) { calls++ }, Locked: func(k string) { locks = append(locks, k) }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, now := context.Background(), time.Now()
	client := netip.MustParseAddr("2001:db8::1")
	if k := g.KeysFor("x", client); k.Address != "a:2001:db8::/64" {
		t.Errorf("IPv6 key %q", k.Address)
	}
	// bob fails twice under his mail address, which the registry resolves
	// to bob: bob is locked under both names.
	for i := 0; i < 2; i++ {
		traced, a, which, err := g.Begin(ctx, "bob@example.test", client, now)
		if err != nil || which != "" {
			t.Fatalf("begin %d: %q %v", i, which, err)
		}
		registry.TraceResolved(traced, "BOB")
		g.Failed(traced, &a, now)
	}
	if len(locks) != 2 || locks[0] != "principal" {
		t.Errorf("locks %v", locks)
	}
	for _, n := range []string{"bob", "bob@example.test"} {
		if _, _, which, _ := g.Begin(ctx, n, client, now); which != "principal" {
			t.Errorf("%s: %q", n, which)
		}
	}
	// carol fails once, then succeeds: her failures are forgotten.
	_, a, _, _ := g.Begin(ctx, "carol", client, now)
	g.Failed(ctx, &a, now)
	_, a, _, _ = g.Begin(ctx, "carol", client, now)
	if which := g.Succeeded(ctx, &a, "r1", "carol", now); which != "" {
		t.Errorf("carol: %q", which)
	}
	if _, failures, _ := g.Store().Status(ctx, "p:carol", now); failures {
		t.Error("carol's failure kept after a success")
	}
	// dave's password is right, but the chain authenticated him as bob
	// (a directory match): refused as locked.
	traced, a, _, _ := g.Begin(ctx, "dave", client, now)
	if which := g.Succeeded(traced, &a, "r2", "bob", now); which != "principal" {
		t.Errorf("success as locked bob: %q", which)
	}
	if calls == 0 {
		t.Error("no store call observed")
	}
}

// TestGuardStoreDown: Begin reports a store that cannot answer, so that the
// server fails closed; Failed and Succeeded log and go on.
func TestGuardStoreDown(t *testing.T) {
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer client.Close()
	var errs int
	p := Policy{MaxFailures: 2, Window: time.Hour, Lockout: time.Hour, MaxLockout: time.Hour}
	g, err := New(Options{Principal: p, Store: &Redis{Client: client, Timeout: 200 * time.Millisecond}},
		Hooks{StoreCall: func(_ time.Duration, err error) {
			if err != nil {
				errs++
			}
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, now := context.Background(), time.Now()
	if _, _, _, err := g.Begin(ctx, "alice", netip.Addr{}, now); err == nil {
		t.Fatal("Begin without a store: no error")
	}
	a := &Attempt{keys: g.KeysFor("alice", netip.Addr{}), hadFailures: true}
	if which := g.Failed(ctx, a, now); which != "" {
		t.Errorf("failed: %q", which)
	}
	if which := g.Succeeded(ctx, a, "r", "alice", now); which != "" {
		t.Errorf("succeeded: %q", which)
	}
	if errs < 3 {
		t.Errorf("%d store errors observed, want 3", errs)
	}
}
