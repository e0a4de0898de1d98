package wstrust

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/dsig"
)

const (
	recSecret     = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	recIdentifier = "urn:uuid:6f1c1a6a-1f7e-4b57-9b0e-6b7f2a3c4d5e"
)

// recorded lists testdata/wss4j_envelopes.txt: file name and SCGen arguments.
func recorded(t testing.TB) [][2]string {
	f, err := os.Open("testdata/wss4j_envelopes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			n, a, _ := strings.Cut(l, "\t")
			out = append(out, [2]string{n, a})
		}
	}
	if len(out) != 6 {
		t.Fatalf("%d recorded envelopes, want 6", len(out))
	}
	return out
}

// store is a one-context lookup.
func lookupOf(c *sct.Context, err error) Lookup {
	return func(_ context.Context, id string) (*sct.Context, error) {
		if err != nil {
			return nil, err
		}
		if id != c.Identifier {
			return nil, sct.ErrNotFound
		}
		return c, nil
	}
}

func verifyWith(t *testing.T, raw []byte, r *Resolver) (*dsig.Result, error) {
	t.Helper()
	env, err := wsse.Parse(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Env = env
	return dsig.Verify(context.Background(), env, r, nil)
}

func TestResolverWSS4JRecorded(t *testing.T) {
	secret, _ := hex.DecodeString(recSecret)
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	live := &sct.Context{Identifier: recIdentifier, Key: secret, Expires: now.Add(time.Hour)}
	for _, rec := range recorded(t) {
		name, args := rec[0], strings.Fields(rec[1])
		profileT := args[3] == "T"
		raw, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			var spent []byte
			r := &Resolver{Lookup: lookupOf(live, nil), Now: now, Direct: profileT,
				Spend: func(_ context.Context, v []byte) error { spent = v; return nil }}
			res, err := verifyWith(t, raw, r)
			if err != nil {
				t.Fatal(err)
			}
			if !res.BodySigned || !res.TimestampSigned || r.Context != live || !bytes.Equal(spent, res.Value) {
				t.Fatalf("result %+v, context %v, spent %x", res, r.Context, spent)
			}
			if profileT != (r.DKT == nil) {
				t.Fatalf("profile %s but DKT %+v", args[3], r.DKT)
			}

			// A wrong secret: the MAC does not match.
			wrong := *live
			wrong.Key = bytes.Repeat([]byte{9}, 32)
			_, err = verifyWith(t, raw, &Resolver{Lookup: lookupOf(&wrong, nil), Now: now, Direct: profileT})
			if !errors.Is(err, dsig.ErrSignatureMismatch) {
				t.Fatalf("wrong secret: %v", err)
			}
			// Unknown, cancelled, expired contexts.
			for _, c := range []struct {
				err  error
				ctx  *sct.Context
				code string
			}{
				{sct.ErrNotFound, nil, BadContextToken},
				{sct.ErrCancelled, nil, BadContextToken},
				{nil, &sct.Context{Identifier: recIdentifier, Key: secret, Expires: now}, RenewNeeded},
			} {
				_, err := verifyWith(t, raw, &Resolver{Lookup: lookupOf(c.ctx, c.err), Now: now, Direct: profileT})
				var f *Fault
				if !errors.As(err, &f) || f.Local != c.code || f.Namespace != versionOfSC(f.Namespace).SC {
					t.Fatalf("lookup error %v: got %v, want %s", c.err, err, c.code)
				}
			}
			// A store outage is not a fault of the client: it comes back as it is.
			outage := errors.New("redis down")
			if _, err := verifyWith(t, raw, &Resolver{Lookup: lookupOf(nil, outage), Now: now, Direct: profileT}); !errors.Is(err, outage) {
				t.Fatalf("outage: %v", err)
			}
			if profileT {
				// Profile T is refused unless the channel is secure.
				_, err := verifyWith(t, raw, &Resolver{Lookup: lookupOf(live, nil), Now: now})
				var f *Fault
				if !errors.As(err, &f) || f.Local != BadContextToken || !strings.Contains(f.Reason, "secure channel") {
					t.Fatalf("profile T without Direct: %v", err)
				}
			}
		})
	}
}

func TestResolverInstance(t *testing.T) {
	secret, _ := hex.DecodeString(recSecret)
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	raw, err := os.ReadFile("testdata/wss4j-m-feb2005-id-vt-soap11.xml")
	if err != nil {
		t.Fatal(err)
	}
	// The message's SCT names instance "1": a context renewed to "2" refuses it.
	raw = bytes.Replace(raw, []byte("</wsc:Identifier>"), []byte("</wsc:Identifier><wsc:Instance>1</wsc:Instance>"), 1)
	renewed := &sct.Context{Identifier: recIdentifier, Instance: "2", Key: secret, Expires: now.Add(time.Hour)}
	_, err = verifyWith(t, raw, &Resolver{Lookup: lookupOf(renewed, nil), Now: now})
	var f *Fault
	if !errors.As(err, &f) || f.Local != BadContextToken || !strings.Contains(f.Reason, "replaced by a renewal") {
		t.Fatalf("old instance: %v", err)
	}
}

func TestResolverUnknownSource(t *testing.T) {
	secret, _ := hex.DecodeString(recSecret)
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	live := &sct.Context{Identifier: recIdentifier, Key: secret, Expires: now.Add(time.Hour)}
	raw, err := os.ReadFile("testdata/wss4j-m-feb2005-id-vt-soap11.xml")
	if err != nil {
		t.Fatal(err)
	}
	// The DKT's reference names no SCT in the header.
	bad := bytes.Replace(raw, []byte(`<wsse:Reference URI="#sct-`), []byte(`<wsse:Reference URI="#nosuch-`), 1)
	_, err = verifyWith(t, bad, &Resolver{Lookup: lookupOf(live, nil), Now: now})
	var f *Fault
	if !errors.As(err, &f) || f.Local != UnknownDerivationSource {
		t.Fatalf("dangling reference: %v", err)
	}
}

// TestResolverRenewGrace: a context the store still holds after its Expires
// (within its renew grace) is wsc:RenewNeeded, unless AllowExpired (a Renew
// RST signed with it) is set; one the store no longer holds is
// wsc:BadContextToken.
func TestResolverRenewGrace(t *testing.T) {
	secret, _ := hex.DecodeString(recSecret)
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	raw, err := os.ReadFile("testdata/wss4j-m-v13-id-novt-soap12.xml")
	if err != nil {
		t.Fatal(err)
	}
	expired := &sct.Context{Identifier: recIdentifier, Key: secret, Expires: now.Add(-time.Minute), RenewUntil: now.Add(time.Hour)}
	_, err = verifyWith(t, raw, &Resolver{Lookup: lookupOf(expired, nil), Now: now})
	var f *Fault
	if !errors.As(err, &f) || f.Local != RenewNeeded || f.Namespace != V13.SC {
		t.Fatalf("expired within grace: %v", err)
	}
	r := &Resolver{Lookup: lookupOf(expired, nil), Now: now, AllowExpired: true}
	if _, err := verifyWith(t, raw, r); err != nil || r.Context != expired {
		t.Fatalf("expired within grace, AllowExpired: %v", err)
	}
	_, err = verifyWith(t, raw, &Resolver{Lookup: lookupOf(nil, sct.ErrNotFound), Now: now, AllowExpired: true})
	if !errors.As(err, &f) || f.Local != BadContextToken || !errors.Is(err, sct.ErrNotFound) {
		t.Fatalf("past grace: %v", err)
	}
}
