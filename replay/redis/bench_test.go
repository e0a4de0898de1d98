package redis_test

import (
	"context"
	"net/netip"
	"strconv"
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
	// With an owner: the quota script (EVAL) instead of SET NX, 1024 owners
	// whose limits are never reached.
	b.Run("redis-owned", func(b *testing.B) {
		c := open(b, redis.Config{Addrs: []string{r.Addr}, Timeout: 5 * time.Second,
			Quota: replay.QuotaConfig{Principal: 1 << 30, Address: 1 << 30}})
		benchAdd(b, ownedCache{c})
	})
}

// ownedCache adds every key for one of 1024 owners.
type ownedCache struct{ *redis.Cache }

func (o ownedCache) Add(ctx context.Context, key string, exp time.Time) error {
	n := key[len(key)-1]
	return o.AddOwned(ctx, key, exp, replay.Owner{Principal: "user" + strconv.Itoa(int(n)),
		Address: netip.AddrFrom4([4]byte{10, 0, 0, n})})
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
