package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sct/scttest"
)

// BenchmarkGet measures Get of a live context (what every message signed
// with a context costs the store) in memory and in Redis on loopback:
//
//	go test -run '^$' -bench Get -benchtime 2s ./sct/redis/
//
// Goroutines run at parallelism 8 per CPU, like concurrent requests, so the
// Redis figure is throughput through the pool, not one round trip's latency.
func BenchmarkGet(b *testing.B) {
	r := testenv.StartRedis(b)
	b.Run("memory", func(b *testing.B) {
		s := sct.NewMemory(0)
		defer s.Close()
		benchGet(b, s)
	})
	b.Run("redis", func(b *testing.B) {
		cfg := config(r)
		cfg.Timeout = 5 * time.Second
		benchGet(b, open(b, cfg))
	})
}

func benchGet(b *testing.B, s sct.Store) {
	ctx := context.Background()
	iss := scttest.RandIssuer()
	const n = 1024
	cs := make([]*sct.Context, n)
	for i := range cs {
		cs[i] = scttest.New(iss, time.Hour)
		if err := s.Issue(ctx, cs[i].Clone()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c := cs[i%n]
			i += 7
			if _, err := s.Get(ctx, iss, c.Identifier); err != nil {
				b.Errorf("Get: %v", err)
				return
			}
		}
	})
}
