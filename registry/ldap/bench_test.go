package ldap

import (
	"context"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

// BenchmarkVerifyPassword measures password checks against the local slapd:
// each uncached check is a user search and a bind (SSHA) over StartTLS on
// pooled connections; a cached one is an HMAC and a map lookup.
//
//	go test -run '^$' -bench VerifyPassword -benchtime 3s ./registry/ldap/
func BenchmarkVerifyPassword(b *testing.B) {
	l := testenv.StartLDAP(b)
	for _, cached := range []bool{false, true} {
		c := testConfig(l)
		c.MaxConnections = 8
		name := "NoCache"
		if cached {
			name = "Cache"
			c.CredentialCache = CacheConfig{TTL: time.Minute}
		}
		r, _ := open(b, c)
		check := func(b *testing.B, password string, want bool) {
			_, ok, err := r.VerifyPassword(context.Background(), "alice", password)
			if err != nil || ok != want {
				b.Fatalf("VerifyPassword = %v, %v", ok, err)
			}
		}
		b.Run(name+"/Right", func(b *testing.B) {
			for b.Loop() {
				check(b, "wonderland", true)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auths/s")
		})
		b.Run(name+"/Wrong", func(b *testing.B) {
			for b.Loop() {
				check(b, "wrong", false)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auths/s")
		})
		b.Run(name+"/Parallel8", func(b *testing.B) {
			b.SetParallelism(4) // 4 × GOMAXPROCS goroutines
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, ok, err := r.VerifyPassword(context.Background(), "alice", "wonderland")
					if err != nil || !ok {
						b.Errorf("VerifyPassword = %v, %v", ok, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auths/s")
		})
	}
}
