package replay

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"runtime"
	"sync"
	"testing"
	"time"
)

// The sizing case of docs/replay.md: 20,000 fresh nonces a second, each
// kept for max_age = 300 s, so 6,000,000 live entries in steady state.
const (
	scaleRate    = 20_000
	scaleMaxAge  = 300 * time.Second
	scaleEntries = scaleRate * 300
	scaleStep    = time.Second / scaleRate
	// scaleMax is max_entries: 5 % over the live entries, the headroom
	// docs/replay.md asks for.
	scaleMax = scaleEntries * 21 / 20
)

type scaleClock struct{ ns int64 }

func (c *scaleClock) now() time.Time { return time.Unix(0, c.ns) }

// scaleState is one cache filled to steady state, shared by the
// sub-benchmarks (filling it takes seconds).
var scaleState struct {
	once    sync.Once
	c       *Memory
	clk     *scaleClock
	seq     uint64
	refused int
	perNonc float64
}

// scaleKey is a UsernameToken nonce key as the username module makes it:
// "ut-nonce:" and a 16-byte nonce in base64.
func scaleKey(buf []byte, n uint64) string {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:], n)
	binary.LittleEndian.PutUint64(raw[8:], n*0x9E3779B97F4A7C15)
	buf = append(buf[:0], "ut-nonce:"...)
	buf = base64.StdEncoding.AppendEncode(buf, raw[:])
	return string(buf)
}

func scaleFill(b *testing.B) {
	s := &scaleState
	s.once.Do(func() {
		s.clk = &scaleClock{ns: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s.c = NewMemory(MemoryOptions{MaxEntries: scaleMax, SweepInterval: -1, Now: s.clk.now})
		buf := make([]byte, 0, 64)
		ctx := context.Background()
		// Past max_entries, so that the cache is at capacity and reclaims.
		for i := 0; i < scaleMax+scaleRate; i++ {
			s.clk.ns += int64(scaleStep)
			s.seq++
			if err := s.c.Add(ctx, scaleKey(buf, s.seq), s.clk.now().Add(scaleMaxAge)); err != nil {
				s.refused++
			}
		}
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		s.perNonc = float64(after.HeapAlloc-before.HeapAlloc) / float64(s.c.Len())
	})
	if s.c == nil {
		b.Fatal("fill failed")
	}
}

// BenchmarkMemoryScale measures the in-memory cache at 20k nonces/s × 300 s
// (6,000,000 live entries, max_entries 6,300,000, no background sweeper):
//
//   - add: one fresh nonce per op, the clock advancing 50 µs per op, so that
//     entries expire as fast as new ones come; the cache is at capacity, and
//     every Add that finds it so reclaims expired entries (the cost of
//     expiry is in this figure). B/nonce is the heap the entries hold
//     (after GC, per entry held); refused/op counts ErrFull refusals (fail
//     closed) during the run, refused-fill those while filling.
//   - sweep: one background sweep over every shard (what the sweeper does
//     every sweep interval), per op; ns/entry is per entry held.
func BenchmarkMemoryScale(b *testing.B) {
	scaleFill(b)
	s := &scaleState
	b.Run("add", func(b *testing.B) {
		buf := make([]byte, 0, 64)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		refused := 0
		for i := 0; i < b.N; i++ {
			s.clk.ns += int64(scaleStep)
			s.seq++
			if err := s.c.Add(ctx, scaleKey(buf, s.seq), s.clk.now().Add(scaleMaxAge)); err == ErrFull {
				refused++
			} else if err != nil {
				b.Fatalf("Add = %v", err)
			}
		}
		b.ReportMetric(float64(refused)/float64(b.N), "refused/op")
		b.ReportMetric(float64(s.refused), "refused-fill")
		b.ReportMetric(s.perNonc, "B/nonce")
		b.ReportMetric(float64(s.c.Len()), "entries")
	})
	b.Run("sweep", func(b *testing.B) {
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.c.sweepAll(s.clk.ns)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(max(1, s.c.Len())), "ns/entry")
		b.ReportMetric(float64(s.c.Len()), "entries")
	})
}
