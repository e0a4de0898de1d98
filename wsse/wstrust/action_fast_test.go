package wstrust

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/wsse"
)

// slowCopy is env without what wsse.Parse noted about it: ParseAddressing
// then reads the Header itself, as it did before the fast path.
func slowCopy(env *wsse.Envelope) *wsse.Envelope {
	return &wsse.Envelope{Version: env.Version, Raw: env.Raw, HasHeader: env.HasHeader,
		BodyStart: env.BodyStart, HeaderEnd: env.HeaderEnd}
}

// addressingCorpus is every envelope under testdata (WCF's, CXF's and
// WSS4J's RSTs, the golden RSTs: all with WS-Addressing headers) and
// envelopes without them or with them in the wrong place.
func addressingCorpus(t testing.TB) map[string][]byte {
	c := map[string][]byte{}
	files, _ := filepath.Glob("testdata/*.xml")
	more, _ := filepath.Glob("testdata/cxf/*/*.xml")
	for _, name := range append(files, more...) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		c[name] = b
	}
	const head = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header>`
	const tail = `</s:Header><s:Body><x:Echo xmlns:x="urn:x"/></s:Body></s:Envelope>`
	for name, hdr := range map[string]string{
		"no addressing":         `<x:H xmlns:x="urn:x">1</x:H>`,
		"empty header":          ``,
		"nested addressing":     `<x:H xmlns:x="urn:x"><a:Action>urn:nested</a:Action></x:H>`,
		"2005 action":           `<a:Action>urn:a</a:Action><a:MessageID>urn:uuid:1</a:MessageID>`,
		"2004 action":           `<b:Action> urn:b </b:Action>`,
		"addressing reply-to":   `<a:ReplyTo><a:Address>http://x</a:Address></a:ReplyTo>`,
		"two actions":           `<a:Action>urn:a</a:Action><a:Action>urn:a</a:Action>`,
		"both namespaces":       `<a:Action>urn:a</a:Action><b:MessageID>m</b:MessageID>`,
		"default-ns addressing": `<Action xmlns="http://www.w3.org/2005/08/addressing">urn:d</Action>`,
	} {
		c[name] = []byte(head + hdr + tail)
	}
	return c
}

// wantAddressing is whether the made-up envelopes of addressingCorpus have
// a WS-Addressing header block (a direct child of the Header).
var wantAddressing = map[string]bool{"no addressing": false, "empty header": false, "nested addressing": false,
	"2005 action": true, "2004 action": true, "addressing reply-to": true, "two actions": true,
	"both namespaces": true, "default-ns addressing": true}

// TestParseAddressingFastPath: on every envelope wsse.Parse accepts,
// ParseAddressing gives the same answer whether it trusts what Parse noted
// (no WS-Addressing header block: nothing to read) or reads the Header
// itself.
func TestParseAddressingFastPath(t *testing.T) {
	withWSA := 0
	for name, raw := range addressingCorpus(t) {
		env, err := wsse.Parse(raw, nil)
		if err != nil {
			if strings.HasPrefix(name, "testdata/") {
				continue // not an envelope (an RSTR on its own)
			}
			t.Fatalf("%s: wsse.Parse: %v", name, err)
		}
		has, known := env.AddressingHeaders()
		if !known {
			t.Fatalf("%s: Parse's envelope does not say whether it has WS-Addressing headers", name)
		}
		if has {
			withWSA++
		}
		fast, ferr := ParseAddressing(env)
		slow, serr := ParseAddressing(slowCopy(env))
		if (ferr == nil) != (serr == nil) || ferr == nil && *fast != *slow {
			t.Errorf("%s: fast path %+v, %v; reading the header %+v, %v", name, fast, ferr, slow, serr)
		}
		if !has && serr == nil && (*slow != Addressing{}) {
			t.Errorf("%s: no WS-Addressing header block noted, but the header holds %+v", name, slow)
		}
		if want, ok := wantAddressing[name]; ok && has != want {
			t.Errorf("%s: AddressingHeaders() = %v, want %v", name, has, want)
		}
	}
	if withWSA < 10 {
		t.Errorf("only %d envelopes of the corpus have WS-Addressing headers", withWSA)
	}
	if has, known := (&wsse.Envelope{}).AddressingHeaders(); has || known {
		t.Errorf("an Envelope Parse did not make: AddressingHeaders() = %v, %v; want false, false", has, known)
	}
}

// FuzzParseAddressingFastPath: whatever wsse.Parse accepts, an envelope
// without a WS-Addressing header block noted has none that reading the
// header finds, and with one the two paths agree.
func FuzzParseAddressingFastPath(f *testing.F) {
	for _, raw := range addressingCorpus(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		env, err := wsse.Parse(raw, nil)
		if err != nil {
			return
		}
		fast, ferr := ParseAddressing(env)
		slow, serr := ParseAddressing(slowCopy(env))
		if has, _ := env.AddressingHeaders(); !has {
			if ferr != nil || (*fast != Addressing{}) {
				t.Fatalf("no WS-Addressing header noted, yet %+v, %v", fast, ferr)
			}
			if serr == nil && (*slow != Addressing{}) {
				t.Fatalf("no WS-Addressing header noted, but reading the header finds %+v", slow)
			}
			return
		}
		if (ferr == nil) != (serr == nil) || ferr == nil && *fast != *slow {
			t.Fatalf("fast path %+v, %v; reading the header %+v, %v", fast, ferr, slow, serr)
		}
	})
}

func TestHasActionParam(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/xml; charset=utf-8": false,
		"":                        false,
		"application/soap+xml; charset=utf-8; action=\"urn:x\"": true,
		"application/soap+xml;ACTION=urn:x":                     true,
		"application/soap+xml; Action=urn:x":                    true,
		"actio":                                                 false,
	} {
		if got := hasActionParam(ct); got != want {
			t.Errorf("hasActionParam(%q) = %v, want %v", ct, got, want)
		}
	}
	// The transport action is still read where there is one.
	if a, err := Action(nil, "application/soap+xml; charset=utf-8; action=\"urn:x\"", ""); err != nil || a != "urn:x" {
		t.Errorf("Action from a SOAP 1.2 Content-Type: %q, %v", a, err)
	}
}
