package wstrust

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParseRST feeds ParseRST (and ComputeKey on what it accepts): it must
// never panic, and anything it accepts must satisfy the bounds it promises.
func FuzzParseRST(f *testing.F) {
	for _, s := range []string{
		rstXML(issueRT + ent32 + `<t:KeySize>256</t:KeySize>`),
		rstXML(issueRT + `<t:TokenType>http://schemas.xmlsoap.org/ws/2005/02/sc/sct</t:TokenType><t:Lifetime><u:Created>2026-12-03T20:00:00Z</u:Created><u:Expires>2026-12-03T20:15:00Z</u:Expires></t:Lifetime>`),
		rstXML(cancelRT + `<t:CancelTarget><o:SecurityTokenReference><o:Reference URI="#sct-1"/></o:SecurityTokenReference></t:CancelTarget>`),
		rstXML(renewRT + `<t:RenewTarget><c:SecurityContextToken u:Id="s"><c:Identifier>urn:uuid:abc</c:Identifier><c:Instance>i1</c:Instance></c:SecurityContextToken></t:RenewTarget>` + ent32),
		rstXML(issueRT + `<t:ComputedKeyAlgorithm>http://schemas.xmlsoap.org/ws/2005/02/trust/CK/PSHA1</t:ComputedKeyAlgorithm>` + ent32),
	} {
		f.Add([]byte(s))
	}
	for _, name := range []string{"testdata/rst-wcf-feb2005.xml", "testdata/rst-cxf-v13.xml"} {
		if b, err := os.ReadFile(name); err == nil {
			if i := bytes.Index(b, []byte("<soap:Body>")); i >= 0 {
				b = b[i+len("<soap:Body>"):]
			} else if i := bytes.Index(b, []byte("<s:Body>")); i >= 0 {
				b = b[i+len("<s:Body>"):]
			}
			f.Add(b)
		}
	}
	ns := map[string]string{"u": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := ParseRST(raw, ns, nil, nil)
		if err != nil {
			if _, ok := err.(*Fault); !ok {
				t.Fatalf("error %T is not a *Fault", err)
			}
			return
		}
		if r.Version == nil || r.Kind == NotRST || r.Kind == Amend {
			t.Fatalf("accepted %+v", r)
		}
		if r.Entropy != nil && (len(r.Entropy) < MinEntropy || len(r.Entropy) > MaxEntropy) {
			t.Fatalf("entropy of %d bytes", len(r.Entropy))
		}
		if r.KeySize != 0 && (r.KeySize < MinKeySize || r.KeySize > MaxKeySize || r.KeySize%8 != 0) {
			t.Fatalf("KeySize %d", r.KeySize)
		}
		if (r.Kind == Issue) != (r.Target == nil) {
			t.Fatalf("kind %v with target %+v", r.Kind, r.Target)
		}
		server := bytes.Repeat([]byte{2}, r.KeyBytes())
		if p, err := ComputeKey(r, server); err == nil && (len(p.Key) < 16 || len(p.Key) > 64) {
			t.Fatalf("key of %d bytes", len(p.Key))
		}
	})
}

// FuzzParseDerivedKeyToken feeds ParseDerivedKeyToken and Derive: no panic,
// and an accepted token derives a key of its Length within the bounds.
func FuzzParseDerivedKeyToken(f *testing.F) {
	for _, v := range readDKVectors(f) {
		f.Add([]byte(v.xml))
	}
	f.Add([]byte(dkXML(strByID + `<wsc:Generation>1</wsc:Generation><wsc:Length>16</wsc:Length>` + nonce16)))
	f.Add([]byte(dkXML(`<wsse:SecurityTokenReference><wsse:Reference URI="urn:uuid:abc"/></wsse:SecurityTokenReference><wsc:Label>x</wsc:Label>` + nonce16)))
	for _, rec := range recorded(f) {
		b, err := os.ReadFile("testdata/" + rec[0])
		if err != nil {
			f.Fatal(err)
		}
		if i, j := bytes.Index(b, []byte("<wsc:DerivedKeyToken")), bytes.Index(b, []byte("</wsc:DerivedKeyToken>")); i >= 0 && j > i {
			f.Add(b[i : j+len("</wsc:DerivedKeyToken>")])
		}
	}
	ns := map[string]string{
		"wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
		"wsu":  "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
	}
	secret := bytes.Repeat([]byte{7}, 32)
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := ParseDerivedKeyToken(raw, ns, nil)
		if err != nil {
			if _, ok := err.(*Fault); !ok {
				t.Fatalf("error %T is not a *Fault", err)
			}
			return
		}
		if d.Length < MinDKLength || d.Length > MaxDKLength || d.Offset < 0 || d.Offset > MaxDKOffset ||
			len(d.Nonce) == 0 || len(d.Nonce) > MaxDKNonce || d.Ref.ID == "" && d.Ref.Identifier == "" {
			t.Fatalf("accepted %+v", d)
		}
		if k := d.Derive(secret); len(k) != d.Length {
			t.Fatalf("derived %d bytes, Length %d", len(k), d.Length)
		}
	})
}
