package dsig_test

import (
	"errors"
	"fmt"

	"context"
	"github.com/authsvc/authsvc/test/wss4j"
	"os"
	"testing"

	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/dsig"
)

// BenchmarkVerifyWSS4J is wsse.Parse plus the whole signature check (DOM,
// exclusive C14N of SignedInfo, Body and Timestamp, HMAC-SHA1, digests) of
// a WSS4J envelope of 2.9 KB (its signature header alone is 2.5 KB), with the
// key already derived.
func BenchmarkVerifyWSS4J(b *testing.B) {
	raw, err := os.ReadFile("testdata/wss4j-soap11-hmac-sha1.xml")
	if err != nil {
		b.Fatal(err)
	}
	benchVerify(b, raw)
}

// benchVerify parses and verifies raw (a bob/security derived-key message),
// the key memoized after the first derivation.
func benchVerify(b *testing.B, raw []byte) {
	env := parse(b, raw)
	keys := &memoKeys{env: env, memo: map[string][]byte{}}
	if _, err := dsig.Verify(context.Background(), env, keys, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		env, err := wsse.Parse(raw, nil)
		if err != nil {
			b.Fatal(err)
		}
		keys.env = env
		if _, err := dsig.Verify(context.Background(), env, keys, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewDocument is the DOM alone.
func BenchmarkNewDocumentWSS4J(b *testing.B) {
	raw, err := os.ReadFile("testdata/wss4j-soap11-hmac-sha1.xml")
	if err != nil {
		b.Fatal(err)
	}
	env := parse(b, raw)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dsig.NewDocument(env, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySize is the whole check (parse, DOM, C14N, digests, HMAC)
// of WSS4J derived-key envelopes whose signature covers Bodies of 4 KiB,
// 100 KiB and 1 MiB, made by WSS4J when the benchmark starts. The key is
// already derived, so this is the cost that grows with the message.
func BenchmarkVerifySize(b *testing.B) {
	for _, size := range []int{4 << 10, 100 << 10, 1 << 20} {
		raw := mustEnvelope(b, wss4j.Message{PayloadBytes: size})
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchVerify(b, raw) })
	}
}

// BenchmarkVerifyWrongKey is what a signed 1 MiB message costs when its MAC
// does not match (a wrong password, an unknown user): the header pass
// refuses it without building the DOM of the Body.
func BenchmarkVerifyWrongKey(b *testing.B) {
	raw := mustEnvelope(b, wss4j.Message{PayloadBytes: 1 << 20})
	env := parse(b, raw)
	keys := utKeys(env, "not-the-password")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dsig.Verify(context.Background(), env, keys, nil); !errors.Is(err, dsig.ErrSignatureMismatch) {
			b.Fatal(err)
		}
	}
}
