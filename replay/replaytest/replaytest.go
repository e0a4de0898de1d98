// Package replaytest is the conformance suite that every replay.Cache
// implementation must pass.
//
// Run it from the implementation's tests:
//
//	func TestConformance(t *testing.T) {
//		replaytest.Run(t, func(t *testing.T) replay.Cache { return replay.NewMemory(replay.MemoryOptions{}) })
//	}
//
// newCache is called once per subtest and must return an empty cache that
// shares no keys with the caches of other calls (a fresh key prefix on a
// shared server is enough); Run closes each cache when the subtest ends.
//
// The suite uses real time: entries live for one to two seconds and the
// expiry test waits for them to go. It asserts outcomes, never durations.
//
// The contract it checks, beyond replay.Cache's doc comment:
//   - an exp at or before now records nothing and returns nil;
//   - keys are arbitrary bytes: NUL, non-UTF-8, long keys, and keys that
//     differ only in their last byte are all distinct;
//   - after Close, Add must not panic and must not report a fresh key as a
//     replay: it either fails (a shared cache whose connections are gone) or
//     keeps working (the in-memory cache, whose Close only stops its
//     sweeper). A second Close must not panic.
package replaytest

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/replay"
)

// Run runs the conformance suite.
func Run(t *testing.T, newCache func(t *testing.T) replay.Cache) {
	open := func(t *testing.T) replay.Cache {
		t.Helper()
		c := newCache(t)
		if c == nil {
			t.Fatal("replaytest: newCache returned nil")
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ctx := context.Background()

	t.Run("AddThenReplay", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		key, exp := randKey("ut-nonce:"), time.Now().Add(time.Minute)
		mustAdd(t, c, key, exp, nil)
		mustAdd(t, c, key, exp, replay.ErrReplay)
		// A later window does not make a recorded key new again.
		mustAdd(t, c, key, exp.Add(time.Hour), replay.ErrReplay)
	})

	t.Run("DistinctKeys", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		exp := time.Now().Add(time.Minute)
		base := randKey("k:")
		keys := []string{base + "a", base + "b", base + "A", base, base + " ", "other-kind:" + base[2:]}
		for _, k := range keys {
			mustAdd(t, c, k, exp, nil)
		}
		for _, k := range keys {
			mustAdd(t, c, k, exp, replay.ErrReplay)
		}
	})

	t.Run("ArbitraryBytes", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		exp := time.Now().Add(time.Minute)
		r := randKey("")
		keys := []string{
			"",
			"\x00",
			"\x00\x00",
			"nul:" + r + "\x00",
			"nul:" + r + "\x00x",
			"bin:" + r + "\xff\xfe\x80\xc0",
			"bin:" + r + "\xff\xfe\x80\xc1",
			"utf8:" + r + "ñ☃",
			"crlf:" + r + "\r\n*1\r\n$4\r\nPING\r\n",
			"long:" + r + strings.Repeat("x", 64<<10),
			"long:" + r + strings.Repeat("x", 64<<10-1) + "y",
		}
		for _, k := range keys {
			mustAdd(t, c, k, exp, nil)
		}
		for _, k := range keys {
			mustAdd(t, c, k, exp, replay.ErrReplay)
		}
	})

	t.Run("PastExpiryRecordsNothing", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		key := randKey("past:")
		for _, exp := range []time.Time{time.Now().Add(-time.Second), time.Now().Add(-time.Hour), {}} {
			mustAdd(t, c, key, exp, nil)
		}
		mustAdd(t, c, key, time.Now().Add(time.Minute), nil)
		mustAdd(t, c, key, time.Now().Add(time.Minute), replay.ErrReplay)
	})

	t.Run("ExpiredKeyIsNewAgain", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		key := randKey("exp:")
		exp := time.Now().Add(1500 * time.Millisecond)
		mustAdd(t, c, key, exp, nil)
		err := c.Add(ctx, key, exp)
		switch {
		case errors.Is(err, replay.ErrReplay):
		case err == nil && !time.Now().Before(exp):
			t.Logf("second Add came after the window closed (slow machine); not checked")
		default:
			t.Fatalf("second Add within the window = %v, want ErrReplay", err)
		}
		// Wait for the window to pass, then the key must become new again.
		// Poll rather than time it: an implementation may expire a little
		// late (Redis rounds to milliseconds), never by seconds.
		time.Sleep(time.Until(exp) + 50*time.Millisecond)
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := c.Add(ctx, key, time.Now().Add(time.Minute))
			if err == nil {
				break
			}
			if !errors.Is(err, replay.ErrReplay) {
				t.Fatalf("Add after expiry = %v", err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("key still recorded 5 s after its expiry")
			}
			time.Sleep(50 * time.Millisecond)
		}
		mustAdd(t, c, key, time.Now().Add(time.Minute), replay.ErrReplay)
	})

	t.Run("ConcurrentSameKey", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		for round := 0; round < 5; round++ {
			key, exp := randKey("race:"), time.Now().Add(time.Minute)
			const n = 64
			ok, replays := Race(t, []replay.Cache{c}, n, key, exp)
			if ok != 1 || replays != n-1 {
				t.Fatalf("round %d: %d of %d concurrent Adds of one key succeeded, %d replays; want exactly 1 and %d", round, ok, n, replays, n-1)
			}
		}
	})

	t.Run("ConcurrentDistinctKeys", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		exp := time.Now().Add(time.Minute)
		prefix := randKey("many:")
		const workers, per = 8, 100
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < per; i++ {
					k := prefix + string(rune('a'+w)) + ":" + strconv.Itoa(i)
					if err := c.Add(ctx, k, exp); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("distinct keys from concurrent goroutines: %v", err)
		}
		mustAdd(t, c, prefix+"c:42", exp, replay.ErrReplay)
	})

	t.Run("AddAfterClose", func(t *testing.T) {
		t.Parallel()
		c := open(t)
		exp := time.Now().Add(time.Minute)
		mustAdd(t, c, randKey("before:"), exp, nil)
		if err := c.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		err := c.Add(ctx, randKey("after:"), exp)
		if errors.Is(err, replay.ErrReplay) {
			t.Fatalf("Add of a fresh key after Close = %v; a closed cache may fail, not claim a replay", err)
		}
		t.Logf("Add after Close = %v", err)
		c.Close() // a second Close, here and in Cleanup, must not panic
	})
}

// RunQuota runs the per-owner quota part of the suite. newCache returns an
// empty cache enforcing q (see Run for the rules on sharing a server); the
// cache must implement replay.OwnedCache.
//
// The contract: a fresh key of an owner whose principal or address has
// recorded its limit of keys in the current window is refused with an
// error wrapping replay.ErrQuota (a *replay.QuotaError naming the kind and
// a RetryAfter within the window) and recorded nowhere; replays are
// reported as ErrReplay and count nothing; other owners, and keys added
// without an owner, are not affected; once the window has passed the owner
// may record keys again.
func RunQuota(t *testing.T, newCache func(t *testing.T, q replay.Quota) replay.Cache) {
	open := func(t *testing.T, q replay.Quota) replay.Cache {
		t.Helper()
		c := newCache(t, q)
		if c == nil {
			t.Fatal("replaytest: newCache returned nil")
		}
		t.Cleanup(func() { c.Close() })
		if _, ok := c.(replay.OwnedCache); !ok {
			t.Fatalf("replaytest: %T does not implement replay.OwnedCache", c)
		}
		return c
	}
	alice := replay.Owner{Principal: randKey("alice-"), Address: netip.MustParseAddr("192.0.2.1")}
	bob := replay.Owner{Principal: randKey("bob-"), Address: netip.MustParseAddr("192.0.2.1")}
	carol := replay.Owner{Principal: randKey("carol-"), Address: netip.MustParseAddr("192.0.2.2")}

	t.Run("PrincipalQuota", func(t *testing.T) {
		t.Parallel()
		c := open(t, replay.Quota{Principal: 5, Window: time.Minute})
		exp := time.Now().Add(time.Minute)
		p := randKey("pq:")
		for i := 0; i < 5; i++ {
			mustAddFor(t, c, p+strconv.Itoa(i), exp, alice, nil)
		}
		err := replay.AddFor(context.Background(), c, p+"flood", exp, alice)
		checkQuota(t, err, "principal", time.Minute)
		// Refusals count nothing and the flood goes on being refused.
		mustAddFor(t, c, p+"flood2", exp, alice, replay.ErrQuota)
		// A recorded key is still a replay, not a quota refusal.
		mustAddFor(t, c, p+"0", exp, alice, replay.ErrReplay)
		// Another principal from the same address is not affected (no
		// address quota here), nor is a key added without an owner.
		for i := 0; i < 5; i++ {
			mustAddFor(t, c, p+"bob"+strconv.Itoa(i), exp, bob, nil)
		}
		mustAdd(t, c, p+"ownerless", exp, nil)
		// The principal is folded the way the lockout folds it.
		shout := replay.Owner{Principal: " " + strings.ToUpper(alice.Principal), Address: carol.Address}
		mustAddFor(t, c, p+"shout", exp, shout, replay.ErrQuota)
	})

	t.Run("AddressQuota", func(t *testing.T) {
		t.Parallel()
		c := open(t, replay.Quota{Address: 3, Window: time.Minute})
		exp := time.Now().Add(time.Minute)
		p := randKey("aq:")
		mustAddFor(t, c, p+"a1", exp, alice, nil)
		mustAddFor(t, c, p+"b1", exp, bob, nil)
		mustAddFor(t, c, p+"a2", exp, alice, nil)
		err := replay.AddFor(context.Background(), c, p+"b2", exp, bob)
		checkQuota(t, err, "address", time.Minute)
		mustAddFor(t, c, p+"c1", exp, carol, nil)
		// IPv6 clients are counted per /64.
		v6 := func(a string) replay.Owner { return replay.Owner{Principal: "x", Address: netip.MustParseAddr(a)} }
		for i := 0; i < 3; i++ {
			mustAddFor(t, c, p+"v6-"+strconv.Itoa(i), exp, v6("2001:db8:1:2::"+strconv.Itoa(i+1)), nil)
		}
		mustAddFor(t, c, p+"v6-same64", exp, v6("2001:db8:1:2:ffff::1"), replay.ErrQuota)
		mustAddFor(t, c, p+"v6-other64", exp, v6("2001:db8:1:3::1"), nil)
	})

	t.Run("ReplaysCountNothing", func(t *testing.T) {
		t.Parallel()
		c := open(t, replay.Quota{Principal: 4, Address: 4, Window: time.Minute})
		exp := time.Now().Add(time.Minute)
		p := randKey("rq:")
		mustAddFor(t, c, p+"0", exp, alice, nil)
		for i := 0; i < 20; i++ {
			// Someone replaying alice's captured message, from anywhere.
			mustAddFor(t, c, p+"0", exp, replay.Owner{Principal: alice.Principal, Address: carol.Address}, replay.ErrReplay)
		}
		for i := 1; i < 4; i++ {
			mustAddFor(t, c, p+strconv.Itoa(i), exp, alice, nil)
		}
		mustAddFor(t, c, p+"4", exp, alice, replay.ErrQuota)
	})

	t.Run("ConcurrentOneOwner", func(t *testing.T) {
		t.Parallel()
		c := open(t, replay.Quota{Principal: 10, Window: time.Minute})
		exp := time.Now().Add(time.Minute)
		p := randKey("cq:")
		const n = 64
		var ok, quota atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				switch err := replay.AddFor(context.Background(), c, p+strconv.Itoa(i), exp, alice); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, replay.ErrQuota):
					quota.Add(1)
				default:
					t.Errorf("concurrent AddFor: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok.Load() != 10 || quota.Load() != n-10 {
			t.Fatalf("%d concurrent fresh keys of one owner with a quota of 10: %d accepted, %d refused for quota", n, ok.Load(), quota.Load())
		}
	})

	t.Run("WindowEnds", func(t *testing.T) {
		t.Parallel()
		const window = 1500 * time.Millisecond
		c := open(t, replay.Quota{Principal: 2, Window: window})
		p := randKey("wq:")
		exp := time.Now().Add(time.Minute)
		mustAddFor(t, c, p+"0", exp, alice, nil)
		mustAddFor(t, c, p+"1", exp, alice, nil)
		err := replay.AddFor(context.Background(), c, p+"2", exp, alice)
		var qe *replay.QuotaError
		if !errors.As(err, &qe) {
			t.Fatalf("third key = %v, want a *replay.QuotaError", err)
		}
		// Wait out the window (polling, never timing it), then the refused
		// key, which was recorded nowhere, is accepted.
		time.Sleep(qe.RetryAfter)
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := replay.AddFor(context.Background(), c, p+"2", exp, alice)
			if err == nil {
				break
			}
			if !errors.Is(err, replay.ErrQuota) {
				t.Fatalf("AddFor after the window = %v", err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("still refused 5 s after the window ended: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		mustAddFor(t, c, p+"2", exp, alice, replay.ErrReplay)
		mustAddFor(t, c, p+"0", exp, alice, replay.ErrReplay)
	})
}

func checkQuota(t *testing.T, err error, kind string, window time.Duration) {
	t.Helper()
	var qe *replay.QuotaError
	if !errors.As(err, &qe) || !errors.Is(err, replay.ErrQuota) {
		t.Fatalf("AddFor beyond the %s quota = %v, want a *replay.QuotaError wrapping ErrQuota", kind, err)
	}
	if qe.Kind != kind || qe.RetryAfter <= 0 || qe.RetryAfter > window {
		t.Fatalf("QuotaError = %+v, want kind %s and 0 < RetryAfter <= %s", qe, kind, window)
	}
}

func mustAddFor(t *testing.T, c replay.Cache, key string, exp time.Time, o replay.Owner, want error) {
	t.Helper()
	err := replay.AddFor(context.Background(), c, key, exp, o)
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("AddFor(%s, %s) = %v, want %v", show(key), o.Principal, err, want)
	}
}

func mustAdd(t *testing.T, c replay.Cache, key string, exp time.Time, want error) {
	t.Helper()
	err := c.Add(context.Background(), key, exp)
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("Add(%s) = %v, want %v", show(key), err, want)
	}
}

// randKey returns prefix followed by 16 random hex digits, so that subtests
// sharing a server never collide.
func randKey(prefix string) string {
	const hex = "0123456789abcdef"
	var b [8]byte
	rand.Read(b[:])
	out := make([]byte, 0, len(prefix)+16)
	out = append(out, prefix...)
	for _, x := range b {
		out = append(out, hex[x>>4], hex[x&15])
	}
	return string(out)
}

func show(key string) string {
	if len(key) > 40 {
		return strconv.Quote(key[:40]) + "..."
	}
	return strconv.Quote(key)
}

// Race starts per goroutines on each cache, all adding key at the same
// moment, and returns how many Adds succeeded and how many were refused as
// replays; any other error fails t. A correct cache, or set of caches
// sharing a store, gives exactly one success.
func Race(t testing.TB, caches []replay.Cache, per int, key string, exp time.Time) (ok, replays int) {
	t.Helper()
	var okN, replayN atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, per*len(caches))
	for _, c := range caches {
		for i := 0; i < per; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				switch err := c.Add(context.Background(), key, exp); {
				case err == nil:
					okN.Add(1)
				case errors.Is(err, replay.ErrReplay):
					replayN.Add(1)
				default:
					errs <- err
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Add: %v", err)
	}
	return int(okN.Load()), int(replayN.Load())
}
