package kerberos

import (
	"context"
	"testing"
)

// BenchmarkAcceptReply is the HTTP Negotiate path's Kerberos work: accept a
// fresh authenticator for a cached ticket and build the mutual AP-REP.
func BenchmarkAcceptReply(b *testing.B) {
	a, k := newAPReqMaker(b)
	m := newModule(b, k.LocalhostKeytab, nil, spnLocal)
	toks := a.tokens(b, b.N+1)
	now := a.base
	ctx := context.Background()
	if _, err := m.Accept(ctx, toks[b.N], now); err != nil { // fills the ticket cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r, err := m.Accept(ctx, toks[i], now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Reply(); err != nil {
			b.Fatal(err)
		}
	}
}
