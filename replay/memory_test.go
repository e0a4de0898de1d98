package replay_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/replay/replaytest"
)

func TestMemoryConformance(t *testing.T) {
	replaytest.Run(t, func(t *testing.T) replay.Cache {
		return replay.NewMemory(replay.MemoryOptions{SweepInterval: 100 * time.Millisecond})
	})
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func add(t *testing.T, c *replay.Memory, key string, exp time.Time, want error) {
	t.Helper()
	if err := c.Add(context.Background(), key, exp); !errors.Is(err, want) || (want == nil) != (err == nil) {
		t.Fatalf("Add(%q) = %v, want %v", key, err, want)
	}
}

// TestMemoryBound checks the hard bound: a cache full of live entries fails
// closed with ErrFull, never evicting a live entry, and takes keys again
// once entries expire, cycle after cycle, with no background sweeper.
func TestMemoryBound(t *testing.T) {
	clk := newFakeClock()
	c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 4, Shards: 1, SweepInterval: -1, Now: clk.Now})
	defer c.Close()

	for cycle := 0; cycle < 3; cycle++ {
		p := "c" + strconv.Itoa(cycle) + ":"
		exp := clk.Now().Add(time.Minute)
		for i := 0; i < 4; i++ {
			add(t, c, p+strconv.Itoa(i), exp, nil)
		}
		add(t, c, p+"extra", exp, replay.ErrFull)
		add(t, c, p+"extra", exp, replay.ErrFull) // the fast path, without a sweep
		// A live key is still reported as a replay, not as ErrFull.
		add(t, c, p+"0", exp, replay.ErrReplay)
		if n := c.Len(); n != 4 {
			t.Fatalf("cycle %d: Len = %d, want 4", cycle, n)
		}
		clk.Advance(time.Minute + time.Second) // expiries are kept in whole seconds, rounded up
		// All four have expired: the full shard sweeps and takes the key.
		add(t, c, p+"extra", clk.Now().Add(time.Minute), nil)
		if n := c.Len(); n != 1 {
			t.Fatalf("cycle %d: Len after sweep = %d, want 1", cycle, n)
		}
		clk.Advance(time.Minute + time.Second)
	}
}

// TestMemoryExpiryNeverEarly: expiries are held in whole seconds, rounded
// up: a key is a replay up to its expiry, whatever its fraction of a
// second, and at most a second after it, never less.
func TestMemoryExpiryNeverEarly(t *testing.T) {
	for _, frac := range []time.Duration{0, 1, time.Millisecond, 500 * time.Millisecond, time.Second - 1} {
		clk := newFakeClock()
		clk.Advance(frac * 3 / 7)
		c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 10, SweepInterval: -1, Now: clk.Now})
		exp := clk.Now().Add(time.Minute + frac)
		add(t, c, "k", exp, nil)
		clk.Advance(exp.Sub(clk.Now()) - 1)
		add(t, c, "k", exp, replay.ErrReplay) // 1 ns before its expiry
		clk.Advance(time.Second + 1)
		add(t, c, "k", clk.Now().Add(time.Minute), nil)
		c.Close()
	}
}

// TestMemoryReclaimGap: a full cache in which a sweep frees less than a
// sixteenth of a shard refuses (ErrFull, fail closed) the keys that find it
// full again within reclaimGap (2 s) rather than sweeping the shard per
// key, and takes them once the gap has passed; a live key is never dropped.
func TestMemoryReclaimGap(t *testing.T) {
	clk := newFakeClock()
	c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 64, Shards: 1, SweepInterval: -1, Now: clk.Now})
	defer c.Close()
	start := clk.Now()
	// 64 keys expiring one per second from start+1m.
	for i := 0; i < 64; i++ {
		add(t, c, "k"+strconv.Itoa(i), start.Add(time.Minute+time.Duration(i)*time.Second), nil)
	}
	clk.Advance(time.Minute + 1)                       // k0 (whole seconds: exact) and nothing else has expired
	add(t, c, "new0", clk.Now().Add(time.Minute), nil) // the sweep freed 1 of 64
	clk.Advance(time.Second)                           // k1 has expired too
	add(t, c, "new1", clk.Now().Add(time.Minute), replay.ErrFull)
	for i := 2; i < 64; i++ {
		add(t, c, "k"+strconv.Itoa(i), start.Add(time.Hour), replay.ErrReplay) // still held
	}
	clk.Advance(2 * time.Second)
	add(t, c, "new1", clk.Now().Add(time.Minute), nil)
	add(t, c, "k1", clk.Now().Add(time.Minute), nil) // k1 was swept: not a replay any more
}

// TestMemoryBoundMixedWindows: keys with a short window added after a sweep
// that saw only long-lived keys must still be reclaimable once they expire.
func TestMemoryBoundMixedWindows(t *testing.T) {
	clk := newFakeClock()
	c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 3, Shards: 1, SweepInterval: -1, Now: clk.Now})
	defer c.Close()

	now := clk.Now()
	add(t, c, "long1", now.Add(time.Hour), nil)
	add(t, c, "long2", now.Add(time.Hour), nil)
	add(t, c, "long3", now.Add(time.Hour), nil)
	add(t, c, "x", now.Add(time.Hour), replay.ErrFull) // sweeps: next expiry in an hour
	clk.Advance(time.Hour + time.Second)
	now = clk.Now()
	add(t, c, "long4", now.Add(time.Hour), nil) // sweeps all three; next = "none"
	add(t, c, "short1", now.Add(time.Second), nil)
	add(t, c, "short2", now.Add(time.Second), nil)
	add(t, c, "y", now.Add(time.Hour), replay.ErrFull)
	clk.Advance(2 * time.Second)
	// short1 and short2 have expired: there is room for y.
	add(t, c, "y", clk.Now().Add(time.Hour), nil)
	add(t, c, "long4", clk.Now().Add(time.Hour), replay.ErrReplay)
}

// TestMemorySweeper checks that the background sweeper drops expired entries.
func TestMemorySweeper(t *testing.T) {
	clk := newFakeClock()
	c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 1000, Shards: 4, SweepInterval: 5 * time.Millisecond, Now: clk.Now})
	defer c.Close()
	for i := 0; i < 100; i++ {
		add(t, c, "k"+strconv.Itoa(i), clk.Now().Add(time.Second), nil)
	}
	add(t, c, "live", clk.Now().Add(time.Hour), nil)
	clk.Advance(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for c.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Len = %d 10 s after the entries expired, want 1", c.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
	add(t, c, "live", clk.Now().Add(time.Hour), replay.ErrReplay)
	add(t, c, "k7", clk.Now().Add(time.Hour), nil)
}

// TestMemoryCloseStopsSweeper: Close returns only once the sweeper is gone,
// and is idempotent.
func TestMemoryCloseStopsSweeper(t *testing.T) {
	c := replay.NewMemory(replay.MemoryOptions{SweepInterval: time.Millisecond})
	done := make(chan struct{})
	go func() { c.Close(); c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("Check = %v", err)
	}
}

// BenchmarkMemoryAdd records fresh keys from parallel goroutines, the
// common case (every honest nonce is new).
func BenchmarkMemoryAdd(b *testing.B) {
	c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 1 << 30})
	defer c.Close()
	benchAddFresh(b, c)
}

// BenchmarkMemoryAddOwned is BenchmarkMemoryAdd charged to owners (a
// principal and an address each, 1024 owners, limits never reached): the
// cost of the quota on the common path.
func BenchmarkMemoryAddOwned(b *testing.B) {
	c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 1 << 30, Quota: replay.Quota{Principal: 1 << 30, Address: 1 << 30}})
	defer c.Close()
	owners := make([]replay.Owner, 1024)
	for i := range owners {
		owners[i] = replay.Owner{Principal: "user" + strconv.Itoa(i), Address: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})}
	}
	exp := time.Now().Add(time.Hour)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := []byte("ut-nonce:0123456789abcdef")
		for pb.Next() {
			n := benchSeq.Add(1)
			for i := 0; i < 8; i++ {
				key[len(key)-1-i] = byte(n >> (8 * i))
			}
			if err := replay.AddFor(ctx, c, string(key), exp, owners[n&1023]); err != nil {
				b.Errorf("AddFor = %v", err)
				return
			}
		}
	})
}

// BenchmarkMemoryAddReplay re-adds recorded keys (a replay flood).
func BenchmarkMemoryAddReplay(b *testing.B) {
	c := replay.NewMemory(replay.MemoryOptions{})
	defer c.Close()
	exp := time.Now().Add(time.Hour)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "ut-nonce:" + strconv.Itoa(i) + "-0123456789abcdef"
		c.Add(context.Background(), keys[i], exp)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := c.Add(context.Background(), keys[i&1023], exp); !errors.Is(err, replay.ErrReplay) {
				b.Errorf("Add = %v", err)
				return
			}
			i++
		}
	})
}

var benchSeq atomic.Uint64

func benchAddFresh(b *testing.B, c replay.Cache) {
	exp := time.Now().Add(time.Hour)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// A 16-byte nonce, like the ones WS-Security clients send.
		key := []byte("ut-nonce:0123456789abcdef")
		for pb.Next() {
			n := benchSeq.Add(1)
			for i := 0; i < 8; i++ {
				key[len(key)-1-i] = byte(n >> (8 * i))
			}
			if err := c.Add(ctx, string(key), exp); err != nil {
				b.Errorf("Add = %v", err)
				return
			}
		}
	})
}

func TestMemoryQuotaConformance(t *testing.T) {
	replaytest.RunQuota(t, func(t *testing.T, q replay.Quota) replay.Cache {
		return replay.NewMemory(replay.MemoryOptions{SweepInterval: 100 * time.Millisecond, Quota: q})
	})
}

// TestMemoryCapacityUsable: the configured size is the size. With 64
// shards and 1000 entries, per-shard bounds refused keys once the fullest
// shard had its 15, at about half the configured size.
func TestMemoryCapacityUsable(t *testing.T) {
	for _, shards := range []int{0, 1, 7, 64} {
		clk := newFakeClock()
		c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 1000, Shards: shards, SweepInterval: -1, Now: clk.Now})
		exp := clk.Now().Add(time.Minute)
		for i := 0; i < 1000; i++ {
			if err := c.Add(context.Background(), "k"+strconv.Itoa(i), exp); err != nil {
				t.Fatalf("shards %d: Add of key %d of 1000 = %v", shards, i+1, err)
			}
		}
		add(t, c, "one-more", exp, replay.ErrFull)
		if n, cp := c.Len(), c.Cap(); n != 1000 || cp != 1000 {
			t.Fatalf("shards %d: Len, Cap = %d, %d; want 1000, 1000", shards, n, cp)
		}
		// Once entries have expired, wherever they are, new keys fit again.
		clk.Advance(time.Minute + time.Second)
		for i := 0; i < 1000; i++ {
			add(t, c, "again"+strconv.Itoa(i), clk.Now().Add(time.Minute), nil)
		}
		add(t, c, "k1", clk.Now().Add(time.Minute), replay.ErrFull)
		c.Close()
	}
}

// TestMemoryQuotaFakeClock: an owner's window restarts with its first key
// after the last window ended, and RetryAfter says when.
func TestMemoryQuotaFakeClock(t *testing.T) {
	clk := newFakeClock()
	c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 100, SweepInterval: -1, Now: clk.Now,
		Quota: replay.Quota{Principal: 2, Window: time.Minute}})
	defer c.Close()
	o := replay.Owner{Principal: "alice"}
	ctx := context.Background()
	exp := clk.Now().Add(time.Hour)
	for _, k := range []string{"a", "b"} {
		if err := replay.AddFor(ctx, c, k, exp, o); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(20 * time.Second)
	var qe *replay.QuotaError
	if err := replay.AddFor(ctx, c, "c", exp, o); !errors.As(err, &qe) || qe.RetryAfter != 40*time.Second || qe.Limit != 2 {
		t.Fatalf("AddFor = %v (%+v), want a QuotaError with RetryAfter 40s", err, qe)
	}
	clk.Advance(40 * time.Second)
	if err := replay.AddFor(ctx, c, "c", exp, o); err != nil {
		t.Fatalf("AddFor after the window = %v", err)
	}
	if n := c.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3 (a refused key is not recorded)", n)
	}
}

// TestMemoryFillLog: one line when the cache crosses 90 %, one when it first
// refuses a key, one when the sweeper finds it under 80 % again; not one
// per Add.
func TestMemoryFillLog(t *testing.T) {
	clk := newFakeClock()
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	logged := func() string { mu.Lock(); defer mu.Unlock(); return buf.String() }
	c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 20, SweepInterval: 5 * time.Millisecond, Now: clk.Now, Logger: logger})
	defer c.Close()
	for i := 0; i < 20; i++ {
		add(t, c, "k"+strconv.Itoa(i), clk.Now().Add(time.Minute), nil)
	}
	for i := 0; i < 5; i++ {
		add(t, c, "more"+strconv.Itoa(i), clk.Now().Add(time.Minute), replay.ErrFull)
	}
	l := logged()
	if strings.Count(l, "replay cache: nearly full") != 1 || strings.Count(l, "replay cache: full") != 1 {
		t.Fatalf("want one nearly-full and one full line:\n%s", l)
	}
	clk.Advance(2 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logged(), "below 80 %") {
		if time.Now().After(deadline) {
			t.Fatalf("no line once the entries expired:\n%s", logged())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c.Len() != 0 {
		t.Fatalf("Len = %d after the sweep, want 0", c.Len())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
