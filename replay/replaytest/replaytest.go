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
