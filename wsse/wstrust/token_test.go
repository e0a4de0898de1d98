package wstrust

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestPSHA1KnownAnswer(t *testing.T) {
	// From issue 12: P_SHA1(client entropy 32×0x01, server entropy
	// 32×0x02), 32 bytes. The client's entropy is the secret.
	client := bytes.Repeat([]byte{1}, 32)
	server := bytes.Repeat([]byte{2}, 32)
	const want = "e7dee695899af2c5b5603c57cc0bbfb1cef01b0c5b4c1f113a95b064cebd65ed"
	if got := hex.EncodeToString(PSHA1(client, server, 32)); got != want {
		t.Fatalf("PSHA1 = %s, want %s", got, want)
	}
	// Longer outputs extend shorter ones.
	long := PSHA1(client, server, 100)
	if hex.EncodeToString(long[:32]) != want || len(long) != 100 {
		t.Fatalf("PSHA1(100) does not extend PSHA1(32): %x", long)
	}
}

type dkVector struct {
	name   string
	secret []byte
	xml    string
	key    []byte
}

// readDKVectors reads testdata/dk_vectors.txt, the keys WSS4J derived.
func readDKVectors(t testing.TB) []dkVector {
	f, err := os.Open("testdata/dk_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dkVector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fl := strings.Split(line, "\t")
		if len(fl) != 4 {
			t.Fatalf("dk_vectors.txt: %d fields in %q", len(fl), line)
		}
		s, err1 := hex.DecodeString(fl[1])
		k, err2 := hex.DecodeString(fl[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("dk_vectors.txt: bad hex in %q", line)
		}
		out = append(out, dkVector{fl[0], s, fl[2], k})
	}
	if len(out) < 6 {
		t.Fatalf("dk_vectors.txt: only %d vectors", len(out))
	}
	return out
}

func TestDerivedKeyWSS4JVectors(t *testing.T) {
	for _, v := range readDKVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			dkt, err := ParseDerivedKeyToken([]byte(v.xml), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := dkt.Derive(v.secret); !bytes.Equal(got, v.key) {
				t.Fatalf("Derive = %x, WSS4J derived %x", got, v.key)
			}
		})
	}
}

// Generation is ours to test: WSS4J ignores it. Generation g with Length L
// is the key at offset g×L, which WSS4J computed for Offset.
func TestDerivedKeyGeneration(t *testing.T) {
	vecs := readDKVectors(t)
	byName := map[string]dkVector{}
	for _, v := range vecs {
		byName[v.name] = v
	}
	cases := []struct {
		from, xml string
	}{
		// Offset 16, Length 16 == Generation 1, Length 16.
		{"offset16-len16", `<wsc:DerivedKeyToken xmlns:wsc="http://schemas.xmlsoap.org/ws/2005/02/sc" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:SecurityTokenReference><wsse:Reference URI="#sct-1"/></wsse:SecurityTokenReference><wsc:Generation>1</wsc:Generation><wsc:Length>16</wsc:Length><wsc:Nonce>AAECAwQFBgcICQoLDA0ODw==</wsc:Nonce></wsc:DerivedKeyToken>`},
		// Offset 48, Length 24 == Generation 2, Length 24.
		{"v13-offset48-len24-long-nonce", strings.Replace(byName["v13-offset48-len24-long-nonce"].xml,
			"<wsc:Offset>48</wsc:Offset>", "<wsc:Generation>2</wsc:Generation>", 1)},
		// Generation 0 is offset 0.
		{"default-label-offset0-len32", strings.Replace(byName["default-label-offset0-len32"].xml,
			"<wsc:Offset>0</wsc:Offset>", "<wsc:Generation>0</wsc:Generation>", 1)},
	}
	for _, c := range cases {
		v, ok := byName[c.from]
		if !ok {
			t.Fatalf("no vector %s", c.from)
		}
		dkt, err := ParseDerivedKeyToken([]byte(c.xml), nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.from, err)
		}
		if dkt.Generation < 0 {
			t.Fatalf("%s: Generation not read", c.from)
		}
		if got := dkt.Derive(v.secret); !bytes.Equal(got, v.key) {
			t.Fatalf("%s: Generation %d derives %x, want %x", c.from, dkt.Generation, got, v.key)
		}
	}
}

const nsDecl02 = `xmlns:wsc="http://schemas.xmlsoap.org/ws/2005/02/sc" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"`

func dkXML(inner string) string {
	return `<wsc:DerivedKeyToken ` + nsDecl02 + ` wsu:Id="dk-1">` + inner + `</wsc:DerivedKeyToken>`
}

const strByID = `<wsse:SecurityTokenReference><wsse:Reference URI="#sct-1" ValueType="http://schemas.xmlsoap.org/ws/2005/02/sc/sct"/></wsse:SecurityTokenReference>`
const nonce16 = `<wsc:Nonce>AAECAwQFBgcICQoLDA0ODw==</wsc:Nonce>`

func TestParseDerivedKeyToken(t *testing.T) {
	dkt, err := ParseDerivedKeyToken([]byte(dkXML(strByID+nonce16)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dkt.Version != Feb2005 || dkt.ID != "dk-1" || dkt.Ref.ID != "sct-1" || !dkt.Ref.Local() || dkt.Offset != 0 ||
		dkt.Length != 32 || dkt.Label != DefaultLabel || len(dkt.Nonce) != 16 || dkt.Generation != -1 {
		t.Fatalf("parsed %+v", dkt)
	}
	// Reference by Identifier, namespaces from the Security header's scope.
	ns := map[string]string{"c": Feb2005.SC, "o": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"}
	dkt, err = ParseDerivedKeyToken([]byte(`<c:DerivedKeyToken><o:SecurityTokenReference><o:Reference URI="urn:uuid:abc"/></o:SecurityTokenReference><c:Nonce>AAEC</c:Nonce></c:DerivedKeyToken>`), ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dkt.Ref.Identifier != "urn:uuid:abc" || dkt.Ref.Local() {
		t.Fatalf("reference %+v", dkt.Ref)
	}

	bad := []struct{ name, xml, code, why string }{
		{"no STR", dkXML(nonce16), UnknownDerivationSource, "without a SecurityTokenReference"},
		{"STR not first", dkXML(nonce16 + strByID), InvalidRequest, "not the first"},
		{"other algorithm", `<wsc:DerivedKeyToken ` + nsDecl02 + ` Algorithm="http://example.com/kdf">` + strByID + nonce16 + `</wsc:DerivedKeyToken>`, UnknownDerivationSource, "Algorithm"},
		{"other version's algorithm", `<wsc:DerivedKeyToken ` + nsDecl02 + ` Algorithm="` + V13.DKPSHA1() + `">` + strByID + nonce16 + `</wsc:DerivedKeyToken>`, UnknownDerivationSource, "Algorithm"},
		{"STR to a BST", dkXML(`<wsse:SecurityTokenReference><wsse:Reference URI="#x" ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"/></wsse:SecurityTokenReference>` + nonce16), UnknownDerivationSource, "ValueType"},
		{"STR other version", dkXML(`<wsse:SecurityTokenReference><wsse:Reference URI="#x" ValueType="` + V13.TokenTypeSCT() + `"/></wsse:SecurityTokenReference>` + nonce16), UnknownDerivationSource, "ValueType"},
		{"STR KeyIdentifier", dkXML(`<wsse:SecurityTokenReference><wsse:KeyIdentifier>abc</wsse:KeyIdentifier></wsse:SecurityTokenReference>` + nonce16), UnknownDerivationSource, "exactly one wsse:Reference"},
		{"STR relative URI", dkXML(`<wsse:SecurityTokenReference><wsse:Reference URI="sct-1"/></wsse:SecurityTokenReference>` + nonce16), UnknownDerivationSource, "absolute URI"},
		{"offset and generation", dkXML(strByID + `<wsc:Generation>1</wsc:Generation><wsc:Offset>0</wsc:Offset>` + nonce16), InvalidRequest, "both Offset and Generation"},
		{"length 15", dkXML(strByID + `<wsc:Length>15</wsc:Length>` + nonce16), InvalidRequest, "Length: 15 is outside 16..64"},
		{"length 65", dkXML(strByID + `<wsc:Length>65</wsc:Length>` + nonce16), InvalidRequest, "Length: 65 is outside 16..64"},
		{"offset 65", dkXML(strByID + `<wsc:Offset>65</wsc:Offset>` + nonce16), InvalidRequest, "Offset: 65 is outside 0..64"},
		{"negative offset", dkXML(strByID + `<wsc:Offset>-1</wsc:Offset>` + nonce16), InvalidRequest, "not a decimal number"},
		{"huge generation", dkXML(strByID + `<wsc:Generation>99999999999999999999</wsc:Generation>` + nonce16), InvalidRequest, "Generation"},
		{"generation beyond 64 bytes", dkXML(strByID + `<wsc:Generation>3</wsc:Generation>` + nonce16), InvalidRequest, "beyond 64 bytes"},
		{"no nonce", dkXML(strByID), InvalidRequest, "no Nonce"},
		{"nonce not base64", dkXML(strByID + `<wsc:Nonce>!!!</wsc:Nonce>`), InvalidRequest, "Nonce is not Base64"},
		{"nonce too long", dkXML(strByID + `<wsc:Nonce>` + strings.Repeat("AAAA", 44) + `</wsc:Nonce>`), InvalidRequest, "Nonce is not Base64 of 1 to 128"},
		{"two nonces", dkXML(strByID + nonce16 + nonce16), InvalidRequest, "two Nonce"},
		{"properties", dkXML(strByID + `<wsc:Properties/>` + nonce16), InvalidRequest, "Properties"},
		{"unknown element", dkXML(strByID + `<wsc:Salt/>` + nonce16), InvalidRequest, "unexpected element Salt"},
		{"foreign element", dkXML(strByID + `<x:y xmlns:x="urn:x"/>` + nonce16), InvalidRequest, "unexpected element {urn:x}y"},
		{"label too long", dkXML(strByID + `<wsc:Label>` + strings.Repeat("L", 129) + `</wsc:Label>` + nonce16), InvalidRequest, "Label"},
		{"not a DKT", `<wsc:SecurityContextToken ` + nsDecl02 + `/>`, InvalidRequest, "not a DerivedKeyToken"},
		{"DTD", `<!DOCTYPE x [<!ENTITY e "x">]>` + dkXML(strByID+nonce16), InvalidRequest, "DTD"},
		{"PI", `<?xml-stylesheet href="x"?>` + dkXML(strByID+nonce16), InvalidRequest, "processing instruction"},
		{"entity", dkXML(strByID + `<wsc:Label>&e;</wsc:Label>` + nonce16), InvalidRequest, "malformed XML"},
		{"undeclared prefix", `<wsc:DerivedKeyToken/>`, InvalidRequest, "undeclared prefix"},
		{"mismatched end tag", `<wsc:DerivedKeyToken ` + nsDecl02 + `></wsc:Other>`, InvalidRequest, "end tag"},
		{"truncated", dkXML(strByID + nonce16)[:200], InvalidRequest, "unexpected EOF"},
		{"two elements", dkXML(strByID+nonce16) + dkXML(strByID+nonce16), InvalidRequest, "more than one element"},
		{"duplicate attribute", `<wsc:DerivedKeyToken ` + nsDecl02 + ` wsu:Id="a" xmlns:u2="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" u2:Id="b">` + strByID + nonce16 + `</wsc:DerivedKeyToken>`, InvalidRequest, "attribute Id twice"},
		{"deep", dkXML(strByID + strings.Repeat("<wsc:x>", 20) + strings.Repeat("</wsc:x>", 20) + nonce16), InvalidRequest, "nested deeper"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseDerivedKeyToken([]byte(c.xml), nil, nil)
			var f *Fault
			if !errors.As(err, &f) {
				t.Fatalf("error %v is not a *Fault", err)
			}
			if f.Local != c.code || !strings.Contains(f.Reason, c.why) {
				t.Fatalf("fault %s %q, want %s containing %q", f.Local, f.Reason, c.code, c.why)
			}
		})
	}
}

func TestParseSCT(t *testing.T) {
	x := `<wsc:SecurityContextToken ` + nsDecl02 + ` wsu:Id="sct-1"><wsc:Identifier> urn:uuid:abc </wsc:Identifier><wsc:Instance>2</wsc:Instance><dnse:Cookie xmlns:dnse="http://schemas.microsoft.com/ws/2006/05/security">AAAA</dnse:Cookie></wsc:SecurityContextToken>`
	s, err := ParseSCT([]byte(x), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != Feb2005 || s.ID != "sct-1" || s.Identifier != "urn:uuid:abc" || s.Instance != "2" {
		t.Fatalf("parsed %+v", s)
	}
	bad := map[string]string{
		"no Identifier":              `<wsc:SecurityContextToken ` + nsDecl02 + `/>`,
		"two Identifiers":            `<wsc:SecurityContextToken ` + nsDecl02 + `><wsc:Identifier>urn:a</wsc:Identifier><wsc:Identifier>urn:b</wsc:Identifier></wsc:SecurityContextToken>`,
		"not an absolute URI":        `<wsc:SecurityContextToken ` + nsDecl02 + `><wsc:Identifier>abc</wsc:Identifier></wsc:SecurityContextToken>`,
		"unexpected element Keys":    `<wsc:SecurityContextToken ` + nsDecl02 + `><wsc:Identifier>urn:a</wsc:Identifier><wsc:Keys/></wsc:SecurityContextToken>`,
		"Instance is empty":          `<wsc:SecurityContextToken ` + nsDecl02 + `><wsc:Identifier>urn:a</wsc:Identifier><wsc:Instance/></wsc:SecurityContextToken>`,
		"not a SecurityContextToken": `<wsc:DerivedKeyToken ` + nsDecl02 + `/>`,
	}
	for why, x := range bad {
		_, err := ParseSCT([]byte(x), nil, nil)
		var f *Fault
		if !errors.As(err, &f) || f.Local != BadContextToken || !strings.Contains(f.Reason, why) {
			t.Errorf("%s: got %v", why, err)
		}
	}
}
