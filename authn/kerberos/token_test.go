package kerberos

import (
	"bytes"
	"context"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
)

// A GSS krb5 token and an SPNEGO token carrying a minimal, well-framed
// AP-REQ (its contents are not a valid ticket; Unwrap checks framing only).
func fakeAPReq() []byte {
	f := func(tag byte, inner []byte) []byte { return appendTLV(nil, tag, inner) }
	seq := bytes.Join([][]byte{
		f(0xa0, []byte{0x02, 0x01, 0x05}),
		f(0xa1, []byte{0x02, 0x01, 0x0e}),
		f(0xa2, []byte{0x03, 0x05, 0x00, 0x20, 0x00, 0x00, 0x00}),
		f(0xa3, f(0x61, f(0x30, nil))),
		f(0xa4, f(0x30, nil)),
	}, nil)
	return f(0x6e, f(0x30, seq))
}

func gssWrap(ap []byte) []byte {
	return appendTLV(nil, 0x60, appendTLV(nil, 0x06, oidKRB5), []byte{1, 0}, ap)
}

func spnegoWrap(mech, gss []byte) []byte {
	mechs := appendTLV(nil, 0xa0, appendTLV(nil, 0x30, appendTLV(nil, 0x06, mech)))
	tok := appendTLV(nil, 0xa2, appendTLV(nil, 0x04, gss))
	init := appendTLV(nil, 0xa0, appendTLV(nil, 0x30, mechs, tok))
	return appendTLV(nil, 0x60, appendTLV(nil, 0x06, oidSPNEGO), init)
}

func TestUnwrap(t *testing.T) {
	ap := fakeAPReq()
	for _, tc := range []struct {
		name string
		in   []byte
		want Framing
		neg  []byte
	}{
		{"raw", ap, FrameRaw, nil},
		{"gss", gssWrap(ap), FrameGSS, nil},
		{"spnego", spnegoWrap(oidKRB5, gssWrap(ap)), FrameSPNEGO, oidKRB5},
		// Windows: MS-KRB5 proposed first, the token framed with krb5.
		{"spnego ms oid", spnegoWrap(oidMSKRB5, gssWrap(ap)), FrameSPNEGO, oidMSKRB5},
	} {
		tok, err := Unwrap(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tok.Framing != tc.want || !bytes.Equal(tok.APReq, ap) || !bytes.Equal(tok.Mech, oidKRB5) || !bytes.Equal(tok.NegMech, tc.neg) {
			t.Fatalf("%s: %+v", tc.name, tok)
		}
	}
	ntlm := []byte{0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a}
	for name, in := range map[string][]byte{
		"empty":            nil,
		"ntlm preferred":   spnegoWrap(ntlm, gssWrap(ap)),
		"trailing":         append(gssWrap(ap), 0),
		"tok id":           appendTLV(nil, 0x60, appendTLV(nil, 0x06, oidKRB5), []byte{2, 0}, ap),
		"spnego in spnego": spnegoWrap(oidKRB5, spnegoWrap(oidKRB5, gssWrap(ap))),
		"negTokenResp":     {0xa1, 0x03, 0x30, 0x01, 0x00},
		"ntlmssp":          []byte("NTLMSSP\x00\x01\x00\x00\x00"),
		"indefinite":       {0x60, 0x80, 0x06, 0x09},
	} {
		if _, err := Unwrap(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Every truncation is rejected.
	full := spnegoWrap(oidKRB5, gssWrap(ap))
	for n := range len(full) {
		if _, err := Unwrap(full[:n]); err == nil {
			t.Fatalf("truncated to %d accepted", n)
		}
	}
}

func TestWrapReplyRoundTrip(t *testing.T) {
	rep := appendTLV(nil, 0x6f, appendTLV(nil, 0x30, nil))
	for _, f := range []Framing{FrameRaw, FrameGSS, FrameSPNEGO} {
		out := WrapReply(Token{Framing: f, Mech: oidKRB5, NegMech: oidMSKRB5}, rep, nil)
		switch f {
		case FrameRaw:
			if !bytes.Equal(out, rep) {
				t.Fatal("raw")
			}
		case FrameGSS:
			want := appendTLV(nil, 0x60, appendTLV(nil, 0x06, oidKRB5), []byte{2, 0}, rep)
			if !bytes.Equal(out, want) {
				t.Fatalf("gss % x", out)
			}
		case FrameSPNEGO:
			r, err := parseNegTokenResp(out)
			inner := appendTLV(nil, 0x60, appendTLV(nil, 0x06, oidKRB5), []byte{2, 0}, rep)
			if err != nil || r.negState != 0 || !bytes.Equal(r.supportedMech, oidMSKRB5) || !bytes.Equal(r.responseToken, inner) {
				t.Fatalf("spnego % x: %+v %v", out, r, err)
			}
		}
	}
}

// appendTLV appends a TLV of the contents, concatenated (tests build DER
// with it; the package writes each message into one sized buffer).
func appendTLV(b []byte, tag byte, content ...[]byte) []byte {
	n := 0
	for _, c := range content {
		n += len(c)
	}
	b = appendLen(append(b, tag), n)
	for _, c := range content {
		b = append(b, c...)
	}
	return b
}

// wrapReplyRef is WrapReply as it was first written (a TLV per field):
// the reference the single-buffer WrapReply is compared with.
func wrapReplyRef(t Token, aprep, mic []byte) []byte {
	mech := t.Mech
	if mech == nil {
		mech = oidKRB5
	}
	var gss []byte
	if aprep != nil {
		if t.Framing == FrameRaw {
			return aprep
		}
		gss = appendTLV(nil, 0x60, appendTLV(nil, 0x06, mech), []byte{0x02, 0x00}, aprep)
	}
	if t.Framing != FrameSPNEGO {
		return gss
	}
	neg := t.NegMech
	if neg == nil {
		neg = mech
	}
	fields := [][]byte{
		{0xa0, 0x03, 0x0a, 0x01, 0x00},
		appendTLV(nil, 0xa1, appendTLV(nil, 0x06, neg)),
	}
	if gss != nil {
		fields = append(fields, appendTLV(nil, 0xa2, appendTLV(nil, 0x04, gss)))
	}
	if mic != nil {
		fields = append(fields, appendTLV(nil, 0xa3, appendTLV(nil, 0x04, mic)))
	}
	return appendTLV(nil, 0xa1, appendTLV(nil, 0x30, fields...))
}

// WrapReply writes what wrapReplyRef writes, for every framing, with and
// without an AP-REP and a MIC, and lengths on both sides of each DER
// length-of-length step.
func TestWrapReplyMatchesReference(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(3, 4))
	for _, f := range []Framing{FrameRaw, FrameGSS, FrameSPNEGO} {
		for _, mech := range [][]byte{nil, oidKRB5, oidMSKRB5} {
			for _, n := range []int{-1, 0, 1, 100, 120, 127, 128, 200, 250, 255, 256, 65000, 65535, 65536, 70000} {
				for _, m := range []int{-1, 0, 28, 200} {
					var aprep, mic []byte
					if n >= 0 {
						aprep = make([]byte, n)
						for i := range aprep {
							aprep[i] = byte(rng.Uint32())
						}
					}
					if m >= 0 {
						mic = make([]byte, m)
					}
					tok := Token{Framing: f, Mech: mech, NegMech: []byte(nil)}
					if rng.IntN(2) == 0 {
						tok.NegMech = oidMSKRB5
					}
					got, want := WrapReply(tok, aprep, mic), wrapReplyRef(tok, aprep, mic)
					if !bytes.Equal(got, want) {
						t.Fatalf("framing %v, mech %x, AP-REP %d, MIC %d:\n got %x\nwant %x", f, mech, n, m, got, want)
					}
				}
			}
		}
	}
}

// FuzzUnwrap: the framing parser never panics, and what it returns is a
// sub-slice of its input that starts with an AP-REQ tag.
func FuzzUnwrap(f *testing.F) {
	ap := fakeAPReq()
	f.Add(ap)
	f.Add(gssWrap(ap))
	f.Add(spnegoWrap(oidKRB5, gssWrap(ap)))
	f.Add(spnegoWrap(oidMSKRB5, gssWrap(ap)))
	f.Add([]byte{0x60, 0x82, 0xff, 0xff, 0x06})
	f.Add([]byte{0xa1, 0x03, 0x30, 0x01, 0x00})
	f.Add(negTokenInit([][]byte{oidMSKRB5, oidKRB5}, gssWrap(ap), []byte{4, 4, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := Unwrap(b)
		if err != nil {
			return
		}
		if len(tok.APReq) == 0 || tok.APReq[0] != 0x6e || !bytes.Contains(b, tok.APReq) {
			t.Fatalf("bad AP-REQ slice from % x", b)
		}
		if tok.MechListMIC != nil && (tok.Framing != FrameSPNEGO || len(tok.MechTypes) == 0 || tok.MechTypes[0] != 0x30 || !bytes.Contains(b, tok.MechListMIC)) {
			t.Fatalf("mechListMIC without its mech list from % x", b)
		}
		for _, rep := range [][]byte{tok.APReq, nil} {
			if got, want := WrapReply(tok, rep, tok.MechListMIC), wrapReplyRef(tok, rep, tok.MechListMIC); !bytes.Equal(got, want) {
				t.Fatalf("WrapReply %x, reference %x", got, want)
			}
		}
	})
}

// FuzzAccept runs arbitrary tokens through the whole module (der.go's DER
// decoding included) with a keytab made from a password: nothing panics and
// nothing is accepted.
func FuzzAccept(f *testing.F) {
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/localhost", "EXAMPLE.TEST", "pw", time.Now(), 2, 18); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "k.keytab")
	b, err := kt.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		f.Fatal(err)
	}
	m := newModule(f, path, nil, spnLocal)
	ap := fakeAPReq()
	f.Add(ap)
	f.Add(gssWrap(ap))
	f.Add(spnegoWrap(oidKRB5, gssWrap(ap)))
	now := time.Now()
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := m.Accept(context.Background(), b, now); err == nil {
			t.Fatalf("accepted % x", b)
		}
	})
}
