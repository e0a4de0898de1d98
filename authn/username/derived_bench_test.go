package username

import (
	"context"
	"crypto/sha1"
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

// BenchmarkLoginDerivedKey is the module's whole work for a recorded WSS4J
// message (about 3 KB; WSS4J's signature header alone is 2.5 KB): parse,
// freshness, key derivation (1000 rounds), DOM, C14N, HMAC, digests. The
// replay cache accepts everything so one message can be reused.
func BenchmarkLoginDerivedKey(b *testing.B) {
	raw, err := os.ReadFile("../../wsse/dsig/testdata/wss4j-soap11-hmac-sha1.xml")
	if err != nil {
		b.Fatal(err)
	}
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
	m, err := New(Config{Policy: p, Passwords: reg, Secrets: reg, Replay: acceptAll{}})
	if err != nil {
		b.Fatal(err)
	}
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
