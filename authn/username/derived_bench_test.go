package username

import (
	"fmt"

	"context"
	"crypto/sha1"
	"github.com/authsvc/authsvc/test/wss4j"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
)

var benchSink [sha1.Size]byte

// BenchmarkDeriveKey1000 and BenchmarkSHA1Chain1000 run in one go: the
// derivation should cost what 1000 chained SHA-1 blocks cost.
func BenchmarkDeriveKey1000(b *testing.B) {
	pw, salt := []byte("security"), []byte("\x01\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e")
	b.ReportAllocs()
	for b.Loop() {
		benchSink = DeriveKey(pw, salt, 1000)
	}
}

func BenchmarkSHA1Chain1000(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		k := sha1.Sum([]byte("security\x01\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e"))
		for i := 1; i < 1000; i++ {
			k = sha1.Sum(k[:])
		}
		benchSink = k
	}
}

type acceptAll struct{}

func (acceptAll) Add(context.Context, string, time.Time) error { return nil }
func (acceptAll) Close() error                                 { return nil }

// benchDerivedModule is a derived-key module for bob whose replay cache
// accepts everything, so that one message can be verified again and again.
func benchDerivedModule(b *testing.B) *Module {
	path := filepath.Join(b.TempDir(), "users.yaml")
	if err := os.WriteFile(path, []byte(dkUsersYAML), 0o600); err != nil {
		b.Fatal(err)
	}
	reg, err := registry.OpenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	p := DefaultPolicy
	p.DerivedKey = true
	m, err := New(Options{Policy: p, Passwords: reg, Secrets: reg, Replay: acceptAll{}})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// benchLogin runs the module on raw, parsed anew each time, judged a second
// after its Timestamp was created.
func benchLogin(b *testing.B, m *Module, raw []byte) {
	env, err := wsse.Parse(raw, nil)
	if err != nil {
		b.Fatal(err)
	}
	now, _ := wsse.ParseTime(env.Security.Timestamp.Created)
	now = now.Add(time.Second)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		env, err := wsse.Parse(raw, nil)
		if err != nil {
			b.Fatal(err)
		}
		req := &authn.Request{Envelope: env, Now: now, Shared: map[string]any{}}
		if ok, err := m.Login(context.Background(), req, &authn.Subject{}); !ok {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoginDerivedKey is the module's whole work for a recorded WSS4J
// message (about 3 KB; WSS4J's signature header alone is 2.5 KB): parse,
// freshness, key derivation (1000 rounds), DOM, C14N, HMAC, digests.
func BenchmarkLoginDerivedKey(b *testing.B) {
	raw, err := os.ReadFile("../../wsse/dsig/testdata/wss4j-soap11-hmac-sha1.xml")
	if err != nil {
		b.Fatal(err)
	}
	benchLogin(b, benchDerivedModule(b), raw)
}

// signedSizes are the Body payloads of BenchmarkLoginDerivedKeySize.
var signedSizes = []int{200, 4 << 10, 100 << 10, 1 << 20}

// signedMessage is a WSS4J derived-key message (user bob, password
// "security", 1000 iterations, HMAC-SHA1 over Body and Timestamp, a Timestamp
// of one day) with about size bytes of Body payload: read from
// $AUTHSVC_SIGNED_DIR/signed-SIZE.xml when set (bench/signed.sh writes them,
// so that WSS4J is measured on the same bytes), else made by WSS4J now.
func signedMessage(b *testing.B, size int) []byte {
	if dir := os.Getenv("AUTHSVC_SIGNED_DIR"); dir != "" {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("signed-%d.xml", size)))
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	raw, err := wss4j.Shared(b).Envelope(wss4j.Message{User: "bob", Password: "security", PayloadBytes: size, TTL: 86400})
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkLoginDerivedKeySize is the module's whole work (parse, key
// derivation, DOM, C14N of SignedInfo, Body and Timestamp, digests, HMAC) for
// WSS4J messages whose signature covers Bodies of 200 B, 4 KiB, 100 KiB and
// 1 MiB (200 B is issue 14's "derived key" row, bench/rows/derived.sh).
// bench/signed.sh runs it beside WSS4J's own verification of the same files.
func BenchmarkLoginDerivedKeySize(b *testing.B) {
	m := benchDerivedModule(b)
	for _, size := range signedSizes {
		// The message is read (or made) inside the sub-benchmark, so that
		// -bench 'LoginDerivedKeySize/body=4096' needs only that file.
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) { benchLogin(b, m, signedMessage(b, size)) })
	}
}
