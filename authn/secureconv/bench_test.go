package secureconv_test

import (
	"context"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/secureconv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sts/ststest"
	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// benchProfile measures one message signed with a context, as
// BenchmarkDigestAuth (authn/username) measures a PasswordDigest token:
// parse the envelope, run a chain of the secure_conversation module alone
// (Timestamp, context lookup in the memory store, key derivation for
// profile M, DOM and signature verification, replay record). WSS4J makes
// a pool of distinct messages beforehand (the replay cache refuses a
// message twice); each pass over the pool gets a fresh cache and module,
// outside the timer.
func benchProfile(b *testing.B, sc wss4j.SC) {
	const pool = 256
	g := wss4j.SharedSC(b)
	store := sct.NewMemory(0)
	defer store.Close()
	c := newContext(b, issuer, wstrust.V13, time.Hour)
	if err := store.Issue(context.Background(), c.Clone()); err != nil {
		b.Fatal(err)
	}
	cl := &ststest.Client{Gen: g, V: wstrust.V13, Identifier: c.Identifier, Key: c.Key}
	msgs := make([][]byte, pool)
	for i := range msgs {
		msgs[i] = cl.App(b, 600, sc)
	}
	newChain := func() (*authn.Chain, *replay.Memory) {
		rc := replay.NewMemory(replay.MemoryOptions{SweepInterval: -1})
		m, err := secureconv.New(secureconv.Config{Issuer: issuer, Store: store, Replay: rc})
		if err != nil {
			b.Fatal(err)
		}
		chain, err := authn.NewChain(authn.Entry{Name: "contexts", Flag: authn.Requisite, Module: m})
		if err != nil {
			b.Fatal(err)
		}
		return chain, rc
	}
	chain, rc := newChain()
	ctx := context.Background()
	b.SetBytes(int64(len(msgs[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%pool == 0 {
			b.StopTimer()
			rc.Close()
			chain, rc = newChain()
			b.StartTimer()
		}
		env, err := wsse.Parse(msgs[i%pool], nil)
		if err != nil {
			b.Fatal(err)
		}
		s, err := chain.Authenticate(ctx, &authn.Request{Envelope: env, Now: time.Now(), Secure: true})
		if err != nil || s.Principal != ststest.User {
			b.Fatalf("%v", err)
		}
	}
	b.StopTimer()
	rc.Close()
}

// BenchmarkProfileM: a DerivedKeyToken over the SCT signs Body and
// Timestamp (WSS4J 1.6, WS-SC 1.3, SOAP 1.1, about 600 bytes of payload).
func BenchmarkProfileM(b *testing.B) { benchProfile(b, wss4j.SC{}) }

// BenchmarkProfileT: the SCT's secret signs the Timestamp (WCF
// TransportWithMessageCredential shape), on a secure channel.
func BenchmarkProfileT(b *testing.B) {
	benchProfile(b, wss4j.SC{ProfileT: true, Parts: []string{"ts"}})
}
