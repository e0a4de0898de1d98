package server

import (
	"testing"
	"time"

	"github.com/authsvc/authsvc/lockout"
)

// BenchmarkAuthenticateAPI: one small UsernameToken message through
// /v1/authenticate (parse, chain, JSON answer), without and with the
// brute-force guard (its memory store).
func BenchmarkAuthenticateAPI(b *testing.B) {
	for _, guarded := range []bool{false, true} {
		name := "plain"
		if guarded {
			name = "lockout"
		}
		b.Run(name, func(b *testing.B) {
			o := Options{Chain: testChain(&testing.T{}), Logger: quiet}
			if guarded {
				o.Lockout = lockoutOptions()
			}
			srv, err := New(o)
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			msg := envelope("alice", "wonderland")
			b.ReportAllocs()
			for b.Loop() {
				if w := post(h, "/v1/authenticate", "192.0.2.1:1000", msg); w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

func lockoutOptions() *lockout.Options {
	p := lockout.Policy{MaxFailures: 5, Window: time.Hour, Lockout: time.Minute, MaxLockout: time.Hour}
	return &lockout.Options{Principal: p, Address: p}
}
