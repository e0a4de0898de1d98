package redis_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/replay/redis"
)

// BenchmarkAdd measures Add of fresh keys (every honest nonce is new) with
// the in-memory cache and with Redis on loopback, in one run:
//
//	go test -run '^$' -bench Add -benchmem ./replay/redis/
//
// Goroutines run at parallelism 8 per CPU, like concurrent requests, so the
// Redis figure is throughput through the pool, not one round trip's latency.
func BenchmarkAdd(b *testing.B) {
	r := testenv.StartRedis(b) // once: sub-benchmarks run several times
	b.Run("memory", func(b *testing.B) {
		c := replay.NewMemory(replay.MemoryOptions{MaxEntries: 1 << 30})
		defer c.Close()
		benchAdd(b, c)
	})
	b.Run("redis", func(b *testing.B) {
		c := open(b, redis.Config{Addrs: []string{r.Addr}, Timeout: 5 * time.Second})
		benchAdd(b, c)
	})
}

var seq atomic.Uint64

func benchAdd(b *testing.B, c replay.Cache) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := []byte("ut-nonce:0123456789abcdef") // a 16-byte nonce
		for pb.Next() {
			n := seq.Add(1)
			for i := 0; i < 8; i++ {
				key[len(key)-1-i] = byte(n >> (8 * i))
			}
			if err := c.Add(ctx, string(key), exp); err != nil {
				b.Errorf("Add: %v", err)
				return
			}
		}
	})
}
