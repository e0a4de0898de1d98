package username

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// tokenSlots finds the Nonce and Password values in a message made by
// wsseclient, so that a benchmark can give each iteration a fresh nonce (and
// its digest) by overwriting them in place instead of building a new message.
func tokenSlots(msg []byte) (nonceAt, pwAt int) {
	nonceAt = bytes.Index(msg, []byte(`Base64Binary">`)) + len(`Base64Binary">`)
	pwAt = bytes.Index(msg, []byte(`PasswordDigest">`)) + len(`PasswordDigest">`)
	return
}

type freshToken struct{ nonce, digest [28]byte }

func makeTokens(n int, created string) []freshToken {
	out := make([]freshToken, n)
	raw := make([]byte, 16*n)
	rand.Read(raw)
	for i := range out {
		base64.StdEncoding.Encode(out[i].nonce[:24], raw[16*i:16*i+16])
		d := Digest(out[i].nonce[:24], created, []byte("wonderland"))
		base64.StdEncoding.Encode(out[i].digest[:], d[:])
	}
	return out
}

// benchDigestAuth measures a whole PasswordDigest authentication: parse the
// envelope, run the chain (UsernameToken module: freshness, secret lookup,
// digest check) and record the nonce in the in-memory replay cache.
func benchDigestAuth(b *testing.B, bodySize int) {
	created := time.Now()
	body := `<ns:Echo xmlns:ns="urn:example:echo"><ns:text>` + strings.Repeat("x", bodySize) + `</ns:text></ns:Echo>`
	msg := wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "alice", Password: "wonderland", Digest: true, Created: created}, body)
	createdStr := created.UTC().Format("2006-01-02T15:04:05.000Z")
	nonceAt, pwAt := tokenSlots(msg)
	reg := testRegistry(b)
	opts := &wsse.Options{}
	ctx := context.Background()
	var (
		toks  []freshToken
		chain *authn.Chain
		cache *replay.Memory
	)
	defer func() {
		if cache != nil {
			cache.Close()
		}
	}()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%digestBatch == 0 {
			b.StopTimer()
			toks = makeTokens(digestBatch, createdStr)
			if cache != nil {
				cache.Close()
			}
			cache, chain = digestChain(b, reg)
			b.StartTimer()
		}
		tk := &toks[i%digestBatch]
		copy(msg[nonceAt:], tk.nonce[:24])
		copy(msg[pwAt:], tk.digest[:])
		env, err := wsse.Parse(msg, opts)
		if err != nil {
			b.Fatal(err)
		}
		s, err := chain.Authenticate(ctx, &authn.Request{Envelope: env, Now: time.Now()})
		if err != nil || s.Principal != "alice" {
			b.Fatalf("%v", err)
		}
	}
}

// The replay cache of benchDigestAuth holds between digestPrefill and
// digestPrefill+digestBatch nonces whatever b.N is: every digestBatch
// iterations (outside the timed region) it is replaced by a new cache holding
// digestPrefill other nonces, so that ns/op does not depend on -benchtime.
// 64k-80k entries is a few seconds of nonces at this path's rate; the cost of
// a much larger map (cache misses) is measured by replay's own benchmarks.
const (
	digestBatch   = 1 << 14
	digestPrefill = 1 << 16
)

// digestChain is a new in-memory replay cache, prefilled with digestPrefill
// nonces, and a chain of one UsernameToken module that records into it.
func digestChain(b *testing.B, reg *registry.File) (*replay.Memory, *authn.Chain) {
	cache := replay.NewMemory(replay.MemoryOptions{MaxEntries: 1 << 20})
	exp := time.Now().Add(10 * time.Minute)
	ctx := context.Background()
	var key [16]byte
	for i := range digestPrefill {
		rand.Read(key[:])
		if err := cache.Add(ctx, fmt.Sprintf("prefill-%d-%x", i, key), exp); err != nil {
			b.Fatal(err)
		}
	}
	m, err := New(Options{Policy: DefaultPolicy, Passwords: reg, Secrets: reg, Replay: cache})
	if err != nil {
		b.Fatal(err)
	}
	chain, err := authn.NewChain(authn.Entry{Name: "users", Flag: authn.Requisite, Module: m})
	if err != nil {
		b.Fatal(err)
	}
	return cache, chain
}

func BenchmarkDigestAuth(b *testing.B) {
	for _, size := range []int{600, 1 << 20} {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) { benchDigestAuth(b, size) })
	}
}
