package dsig_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/dsig"
)

var update = flag.Bool("update", false, "re-record testdata from WSS4J")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	wss4j.CloseShared()
	os.Exit(code)
}

// utKeys derives the key of the UsernameToken a KeyInfo names, as the
// profile says, for the password given; the username module does this for
// real.
func utKeys(env *wsse.Envelope, password string) dsig.KeyResolver {
	return dsig.KeyResolverFunc(func(_ context.Context, ki *dsig.KeyInfo) ([]byte, error) {
		for _, ut := range env.Security.UsernameTokens {
			if ut.Start != ki.Token.Start {
				continue
			}
			salt, err := base64.StdEncoding.DecodeString(ut.Salt)
			if err != nil {
				return nil, err
			}
			n := 1000
			if ut.HasIteration {
				fmt.Sscan(ut.Iteration, &n)
			}
			k := sha1.Sum(append([]byte(password), salt...))
			for i := 1; i < n; i++ {
				k = sha1.Sum(k[:])
			}
			return k[:], nil
		}
		return nil, errors.New("no such token")
	})
}

func mustEnvelope(t testing.TB, m wss4j.Message) []byte {
	t.Helper()
	if m.User == "" {
		m.User = "bob"
	}
	if m.Password == "" {
		m.Password = "security"
	}
	b, err := wss4j.Shared(t).Envelope(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parse(t testing.TB, raw []byte) *wsse.Envelope {
	t.Helper()
	env, err := wsse.Parse(raw, nil)
	if err != nil {
		t.Fatalf("wsse.Parse: %v\n%s", err, raw)
	}
	return env
}
