package kerberos

import (
	"context"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
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

// BenchmarkAcceptReplyMIT is BenchmarkAcceptReply with the tokens an SSO
// client sends: SPNEGO initial tokens made by MIT's GSS-API (python3-gssapi),
// mutual authentication asked for, each with its own authenticator subkey
// and GSS checksum, all from one cached service ticket.
func BenchmarkAcceptReplyMIT(b *testing.B) {
	k := testenv.StartKDC(b)
	cc := k.Kinit(b, "alice", "alice-pw")
	const n = 20000
	toks := gssTokens(b, k, cc, "spnego", spnLocal, n)
	m := newModule(b, k.LocalhostKeytab, nil, spnLocal)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%n == 0 && i > 0 {
			// Each token is accepted once: a new module (new replay
			// cache, cold ticket cache) for the next pass.
			b.StopTimer()
			m = newModule(b, k.LocalhostKeytab, nil, spnLocal)
			b.StartTimer()
		}
		r, err := m.Accept(ctx, toks[i%n], now)
		if err != nil {
			b.Fatal(err)
		}
		if !r.HasReply() {
			b.Fatal("no reply asked for")
		}
		if _, err := r.Reply(); err != nil {
			b.Fatal(err)
		}
	}
}
