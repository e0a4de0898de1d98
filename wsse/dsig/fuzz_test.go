package dsig_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/dsig"
)

const (
	maxMemoKeys       = 256
	maxFuzzIterations = 1000
)

// memoKeys derives UsernameToken keys for the password "security",
// remembering them by salt and iteration so the fuzzer spends its time in
// the parsing and reference code rather than in SHA-1. The memo is bounded:
// mutated and minimized inputs bring new salts all the time, and a map that
// keeps them all grows for as long as the fuzzer runs. Iterations are
// capped at the 1000 the recorded envelopes use, so a memo miss costs at
// most 1000 SHA-1 blocks.
type memoKeys struct {
	env  *wsse.Envelope
	memo map[string][]byte
}

func (m *memoKeys) ResolveKey(_ context.Context, ki *dsig.KeyInfo) ([]byte, error) {
	for _, ut := range m.env.Security.UsernameTokens {
		if ut.Start != ki.Token.Start {
			continue
		}
		salt, err := base64.StdEncoding.DecodeString(ut.Salt)
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(ut.Iteration)
		if err != nil || n < 1 || n > maxFuzzIterations {
			return nil, errors.New("bad iteration")
		}
		k := ut.Salt + "/" + ut.Iteration
		if key, ok := m.memo[k]; ok {
			return key, nil
		}
		d := sha1.Sum(append([]byte("security"), salt...))
		for i := 1; i < n; i++ {
			d = sha1.Sum(d[:])
		}
		if len(m.memo) >= maxMemoKeys {
			clear(m.memo)
		}
		m.memo[k] = d[:]
		return d[:], nil
	}
	return nil, errors.New("not a UsernameToken")
}

// FuzzVerify feeds envelopes through wsse.Parse and the signature
// verifier: no panics, only *dsig.Error or resolver errors, and a verified
// Body is always the one the streaming parser found.
func FuzzVerify(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<s:Envelope xmlns:s="` + wsse.NSSOAP11 + `"><s:Header><wsse:Security xmlns:wsse="` + wsse.NSWSSE + `"><ds:Signature xmlns:ds="` + wsse.NSDSig + `"/></wsse:Security></s:Header><s:Body/></s:Envelope>`))
	memo := map[string][]byte{}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := wsse.Parse(data, nil)
		if err != nil || env.Security == nil {
			return
		}
		keys := &memoKeys{env: env, memo: memo}
		res, err := dsig.Verify(context.Background(), env, keys, &dsig.Limits{MaxElements: 2000, MaxDepth: 64})
		if err != nil {
			var de *dsig.Error
			if !errors.As(err, &de) && err.Error() != "bad iteration" && err.Error() != "not a UsernameToken" && !isBase64Err(err) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if res.BodySigned && env.BodyStart == 0 {
			t.Fatal("Body signed but the parser found none")
		}
		if res.TimestampSigned && env.Security.Timestamp == nil {
			t.Fatal("Timestamp signed but the header has none")
		}
		for _, r := range res.References {
			if !r.Body && r.Element == nil {
				t.Fatalf("reference %q covers neither Body nor a Security child", r.URI)
			}
		}
	})
}

func isBase64Err(err error) bool {
	var ce base64.CorruptInputError
	return errors.As(err, &ce)
}
