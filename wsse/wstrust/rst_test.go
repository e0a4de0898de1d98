package wstrust

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/wsse"
)

func parseEnv(t testing.TB, raw []byte) *wsse.Envelope {
	t.Helper()
	env, err := wsse.Parse(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestClassifyAndReplyAction(t *testing.T) {
	cases := []struct {
		action string
		v      *Version
		k      Kind
		reply  string
	}{
		{"http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT", Feb2005, Issue, "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT"},
		{"http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT/Renew", Feb2005, Renew, "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT/Renew"},
		{"http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT/Cancel", Feb2005, Cancel, "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT/Cancel"},
		{"http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT/Amend", Feb2005, Amend, "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT/Amend"},
		{"http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue", Feb2005, Issue, "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue"},
		{"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/SCT", V13, Issue, "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTR/SCT"},
		{"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue", V13, Issue, "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal"},
		{"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Renew", V13, Renew, "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTR/RenewFinal"},
		{"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Cancel", V13, Cancel, "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTR/CancelFinal"},
		{"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/SCT-Cancel", V13, Cancel, "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTR/SCT-Cancel"},
		{"http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Renew", Feb2005, Renew, "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Renew"},
		{"http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Cancel", Feb2005, Cancel, "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Cancel"},
		{"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/SCT/Cancel", V13, Cancel, "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTR/SCT/Cancel"},
		{"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/SCT/Amend", V13, Amend, "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTR/SCT/Amend"},
		{"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTR/SCT", nil, NotRST, ""},
		{"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Validate", nil, NotRST, ""},
		{"urn:example:echo", nil, NotRST, ""},
		{"", nil, NotRST, ""},
	}
	for _, c := range cases {
		v, k := Classify(c.action)
		if v != c.v || k != c.k || ReplyAction(c.action) != c.reply {
			t.Errorf("%q: %v %v %q, want %v %v %q", c.action, v, k, ReplyAction(c.action), c.v, c.k, c.reply)
		}
	}
}

func TestAction(t *testing.T) {
	wcf, err := os.ReadFile("testdata/rst-wcf-feb2005.xml")
	if err != nil {
		t.Fatal(err)
	}
	cxf, err := os.ReadFile("testdata/rst-cxf-v13.xml")
	if err != nil {
		t.Fatal(err)
	}
	noWSA := []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/><soap:Body><x/></soap:Body></soap:Envelope>`)
	wsa2004 := []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><w:Action xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"> http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT/Cancel </w:Action><w:MessageID xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing">uuid:m-1</w:MessageID></soap:Header><soap:Body><x/></soap:Body></soap:Envelope>`)
	cases := []struct {
		name            string
		raw             []byte
		ct, soapAction  string
		want, messageID string
		wantErr         string
	}{
		{"wcf header", wcf, "application/soap+xml; charset=utf-8", "", Feb2005.ActionIssueSCT(), "urn:uuid:2b9a0c1e-5d4f-4a3b-8c7d-6e5f4a3b2c1d", ""},
		{"header agrees with content-type", wcf, `application/soap+xml; charset=utf-8; action="` + Feb2005.ActionIssueSCT() + `"`, "", Feb2005.ActionIssueSCT(), "urn:uuid:2b9a0c1e-5d4f-4a3b-8c7d-6e5f4a3b2c1d", ""},
		{"cxf default namespace", cxf, "text/xml", `"` + V13.ActionIssueSCT() + `"`, V13.ActionIssueSCT(), "urn:uuid:0d1c2b3a-4958-4a6b-9c8d-7e6f5a4b3c2d", ""},
		{"wsa 2004/08 trimmed", wsa2004, "text/xml", "", Feb2005.ActionCancelSCT(), "uuid:m-1", ""},
		{"soap 1.2 action parameter", noWSA, `application/soap+xml;action="` + V13.ActionIssue() + `"`, "", V13.ActionIssue(), "", ""},
		{"SOAPAction quoted", noWSA, "text/xml", `"` + V13.ActionCancel() + `"`, V13.ActionCancel(), "", ""},
		{"SOAPAction bare", noWSA, "text/xml", V13.ActionRenew(), V13.ActionRenew(), "", ""},
		{"none", noWSA, "text/xml", "", "", "", ""},
		{"mismatch", wcf, "application/soap+xml", `"urn:other"`, "", "", "differs from the transport's action"},
		{"mismatch in content-type", wcf, `application/soap+xml; action="urn:other"`, "", "", "", "differs"},
		{"two actions", bytes.Replace(wsa2004, []byte("<w:MessageID"), []byte(`<w:Action xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing">urn:x</w:Action><w:MessageID`), 1), "text/xml", "", "", "", "two wsa:Action"},
		{"two namespaces", bytes.Replace(wsa2004, []byte(`<w:MessageID xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing">`), []byte(`<w:MessageID xmlns:w="http://www.w3.org/2005/08/addressing">`), 1), "text/xml", "", "", "", "two namespaces"},
		{"action with element content", bytes.Replace(wsa2004, []byte(` http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT/Cancel `), []byte(`<b/>`), 1), "text/xml", "", "", "", "holds an element"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := parseEnv(t, c.raw)
			got, err := Action(env, c.ct, c.soapAction)
			if c.wantErr != "" {
				var f *Fault
				if !errors.As(err, &f) || f.Local != InvalidRequest || !strings.Contains(f.Reason, c.wantErr) {
					t.Fatalf("got %q, %v; want InvalidRequest %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
			a, err := ParseAddressing(env)
			if err != nil || a.MessageID != c.messageID {
				t.Fatalf("MessageID %+v %v, want %q", a, err, c.messageID)
			}
		})
	}
}

func TestParseRSTEnvelope(t *testing.T) {
	wcf, err := os.ReadFile("testdata/rst-wcf-feb2005.xml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRSTEnvelope(parseEnv(t, wcf), Feb2005, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != Feb2005 || r.Kind != Issue || r.Context != "uuid-7c1d2e3f" || r.TokenType != Feb2005.TokenTypeSCT() ||
		!bytes.Equal(r.Entropy, bytes.Repeat([]byte{1}, 32)) || r.EntropyType != Feb2005.Nonce() || r.KeySize != 256 || r.Target != nil {
		t.Fatalf("WCF RST read as %+v", r)
	}
	// The issue's known answer, through the RST: client entropy 32×0x01,
	// server entropy 32×0x02.
	p, err := ComputeKey(r, bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != ProofComputed || p.KeySize != 256 || !strings.HasPrefix(strings.ToLower(hexs(p.Key)), "e7dee695899af2c5b5603c57cc0bbfb1cef01b0c5b4c1f113a95b064cebd65ed") {
		t.Fatalf("proof %+v", p)
	}
	// A version mismatch between action and RST.
	if _, err := ParseRSTEnvelope(parseEnv(t, wcf), V13, nil); err == nil || !strings.Contains(err.Error(), "under an action of WS-Trust 1.3") {
		t.Fatalf("version mismatch: %v", err)
	}

	cxf, err := os.ReadFile("testdata/rst-cxf-v13.xml")
	if err != nil {
		t.Fatal(err)
	}
	r, err = ParseRSTEnvelope(parseEnv(t, cxf), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != V13 || r.Kind != Issue || r.KeySize != 128 || len(r.Entropy) != 16 || r.ComputedKeyAlgorithm != V13.CKPSHA1() ||
		!r.Created.Equal(time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)) || !r.Expires.Equal(time.Date(2026, 12, 3, 21, 15, 0, 5e8, time.UTC)) {
		t.Fatalf("CXF RST read as %+v", r)
	}
	if r.KeyBytes() != 16 {
		t.Fatalf("KeyBytes %d", r.KeyBytes())
	}

	// Bodies that are not one RST.
	for why, body := range map[string]string{
		"the Body is empty":          ``,
		"more than one element":      `<a/><b/>`,
		"not a RequestSecurityToken": `<m:echo xmlns:m="urn:x"/>`,
		"text in Body":               `hello`,
	} {
		raw := []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`)
		_, err := ParseRSTEnvelope(parseEnv(t, raw), nil, nil)
		var f *Fault
		if !errors.As(err, &f) || f.Local != InvalidRequest || !strings.Contains(f.Reason, why) {
			t.Errorf("%s: %v", why, err)
		}
	}
}

func hexs(b []byte) string {
	const d = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, d[c>>4], d[c&15])
	}
	return string(s)
}

const wst05 = `xmlns:t="http://schemas.xmlsoap.org/ws/2005/02/trust"`
const wsse05 = `xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"`

func rstXML(inner string) string {
	return `<t:RequestSecurityToken ` + wst05 + ` ` + wsse05 + ` xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:c="http://schemas.xmlsoap.org/ws/2005/02/sc">` + inner + `</t:RequestSecurityToken>`
}

const (
	issueRT  = `<t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</t:RequestType>`
	cancelRT = `<t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Cancel</t:RequestType>`
	renewRT  = `<t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Renew</t:RequestType>`
	ent32    = `<t:Entropy><t:BinarySecret Type="http://schemas.xmlsoap.org/ws/2005/02/trust/Nonce">AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=</t:BinarySecret></t:Entropy>`
)

func TestParseRSTTargets(t *testing.T) {
	cases := []struct {
		name, xml string
		kind      Kind
		check     func(*Target) bool
	}{
		{"cancel by #id", rstXML(cancelRT + `<t:CancelTarget><o:SecurityTokenReference><o:Reference URI="#sct-1"/></o:SecurityTokenReference></t:CancelTarget>`), Cancel,
			func(t *Target) bool { return t.Ref != nil && t.Ref.ID == "sct-1" && t.Identifier() == "" }},
		{"cancel by Identifier with ValueType", rstXML(cancelRT + `<t:CancelTarget><o:SecurityTokenReference><o:Reference URI="urn:uuid:abc" ValueType="http://schemas.xmlsoap.org/ws/2005/02/sc/sct"/></o:SecurityTokenReference></t:CancelTarget>`), Cancel,
			func(t *Target) bool { return t.Ref != nil && t.Identifier() == "urn:uuid:abc" }},
		{"renew with embedded SCT", rstXML(renewRT + `<t:RenewTarget><c:SecurityContextToken u:Id="s"><c:Identifier>urn:uuid:abc</c:Identifier><c:Instance>i1</c:Instance></c:SecurityContextToken></t:RenewTarget>` + ent32), Renew,
			func(t *Target) bool {
				return t.SCT != nil && t.Identifier() == "urn:uuid:abc" && t.SCT.Instance == "i1"
			}},
	}
	for _, c := range cases {
		r, err := ParseRST([]byte(c.xml), nil, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.Kind != c.kind || r.Target == nil || !c.check(r.Target) {
			t.Fatalf("%s: %+v %+v", c.name, r, r.Target)
		}
	}
}

func TestParseRSTRejects(t *testing.T) {
	cases := []struct{ name, xml, why string }{
		{"no RequestType", rstXML(ent32), "no RequestType"},
		{"validate", rstXML(`<t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Validate</t:RequestType>`), "is not Issue, Renew or Cancel"},
		{"other version's RequestType", rstXML(`<t:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</t:RequestType>`), "is not Issue, Renew or Cancel of WS-Trust 2005/02"},
		{"SAML token type", rstXML(issueRT + `<t:TokenType>urn:oasis:names:tc:SAML:2.0:assertion</t:TokenType>`), "only http://schemas.xmlsoap.org/ws/2005/02/sc/sct is issued"},
		{"two RequestTypes", rstXML(issueRT + issueRT), "two RequestType"},
		{"two Entropy", rstXML(issueRT + ent32 + ent32), "two Entropy"},
		{"entropy too short", rstXML(issueRT + `<t:Entropy><t:BinarySecret>AQEBAQEBAQEBAQEBAQEB</t:BinarySecret></t:Entropy>`), "BinarySecret is not Base64 of 16 to 128 bytes"},
		{"entropy too long", rstXML(issueRT + `<t:Entropy><t:BinarySecret>` + strings.Repeat("AQEB", 44) + `</t:BinarySecret></t:Entropy>`), "16 to 128 bytes"},
		{"entropy not base64", rstXML(issueRT + `<t:Entropy><t:BinarySecret>****</t:BinarySecret></t:Entropy>`), "not Base64"},
		{"entropy type", rstXML(issueRT + `<t:Entropy><t:BinarySecret Type="urn:x">AQEBAQEBAQEBAQEBAQEBAQ==</t:BinarySecret></t:Entropy>`), `BinarySecret Type "urn:x"`},
		{"encrypted entropy", rstXML(issueRT + `<t:Entropy><e:EncryptedKey xmlns:e="http://www.w3.org/2001/04/xmlenc#"/></t:Entropy>`), "encrypted entropy is not supported"},
		{"keysize 64", rstXML(issueRT + `<t:KeySize>64</t:KeySize>`), "KeySize (bits): 64 is outside 128..512"},
		{"keysize 1024", rstXML(issueRT + `<t:KeySize>1024</t:KeySize>`), "outside 128..512"},
		{"keysize 130", rstXML(issueRT + `<t:KeySize>130</t:KeySize>`), "not a multiple of 8"},
		{"keysize text", rstXML(issueRT + `<t:KeySize>big</t:KeySize>`), "not a decimal number"},
		{"computed key algorithm", rstXML(issueRT + `<t:ComputedKeyAlgorithm>urn:x</t:ComputedKeyAlgorithm>`), `ComputedKeyAlgorithm "urn:x"`},
		{"public key", rstXML(issueRT + `<t:KeyType>http://schemas.xmlsoap.org/ws/2005/02/trust/PublicKey</t:KeyType>`), "only http://schemas.xmlsoap.org/ws/2005/02/trust/SymmetricKey keys"},
		{"lifetime malformed", rstXML(issueRT + `<t:Lifetime><u:Created>2026-12-03T20:00:00</u:Created></t:Lifetime>`), "Lifetime Created: malformed xsd:dateTime"},
		{"lifetime inverted", rstXML(issueRT + `<t:Lifetime><u:Created>2026-12-03T20:00:00Z</u:Created><u:Expires>2026-12-03T19:00:00Z</u:Expires></t:Lifetime>`), "Expires is not after Created"},
		{"lifetime foreign", rstXML(issueRT + `<t:Lifetime><t:Created>2026-12-03T20:00:00Z</t:Created></t:Lifetime>`), "unexpected {http://schemas.xmlsoap.org/ws/2005/02/trust}Created in Lifetime"},
		{"cancel without target", rstXML(cancelRT), "a Cancel request without a CancelTarget"},
		{"renew with cancel target", rstXML(renewRT + `<t:CancelTarget><o:SecurityTokenReference><o:Reference URI="#s"/></o:SecurityTokenReference></t:CancelTarget>`), "a Renew request without a RenewTarget"},
		{"issue with target", rstXML(issueRT + `<t:CancelTarget><o:SecurityTokenReference><o:Reference URI="#s"/></o:SecurityTokenReference></t:CancelTarget>`), "CancelTarget in an Issue request"},
		{"target empty", rstXML(cancelRT + `<t:CancelTarget/>`), "CancelTarget: holds 0 elements"},
		{"target STR to X509", rstXML(cancelRT + `<t:CancelTarget><o:SecurityTokenReference><o:Reference URI="#s" ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"/></o:SecurityTokenReference></t:CancelTarget>`), "ValueType"},
		{"target SCT without Identifier", rstXML(cancelRT + `<t:CancelTarget><c:SecurityContextToken/></t:CancelTarget>`), "no Identifier"},
		{"target other", rstXML(cancelRT + `<t:CancelTarget><x:y xmlns:x="urn:x"/></t:CancelTarget>`), "holds {urn:x}y"},
		{"context too long", `<t:RequestSecurityToken ` + wst05 + ` Context="` + strings.Repeat("c", 513) + `">` + issueRT + `</t:RequestSecurityToken>`, "Context attribute"},
		{"text in RST", rstXML(issueRT + `hello`), "holds text"},
		{"DTD", `<!DOCTYPE t:RequestSecurityToken [<!ENTITY x "y">]>` + rstXML(issueRT), "DTD"},
		{"external entity", rstXML(issueRT + `<t:TokenType>&xxe;</t:TokenType>`), "malformed XML"},
		{"not UTF-8 declared", `<?xml version="1.0" encoding="ISO-8859-1"?>` + rstXML(issueRT), `encoding "ISO-8859-1" is not UTF-8`},
		{"too many elements", rstXML(issueRT + strings.Repeat(`<x:e xmlns:x="urn:x"/>`, 300)), "more than 256 elements"},
		{"RSTR instead", `<t:RequestSecurityTokenResponse ` + wst05 + `/>`, "not a RequestSecurityToken"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRST([]byte(c.xml), nil, nil, nil)
			var f *Fault
			if !errors.As(err, &f) || f.Local != InvalidRequest || f.Namespace != Feb2005.Trust || !strings.Contains(f.Reason, c.why) {
				t.Fatalf("got %v, want InvalidRequest containing %q", err, c.why)
			}
		})
	}
	// Attributes and size.
	var attrs strings.Builder
	for i := 0; i < 40; i++ {
		attrs.WriteString(` a` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `="1"`)
	}
	_, err := ParseRST([]byte(`<t:RequestSecurityToken `+wst05+attrs.String()+`>`+issueRT+`</t:RequestSecurityToken>`), nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "attributes, more than 32") {
		t.Fatalf("attributes: %v", err)
	}
	_, err = ParseRST([]byte(rstXML(issueRT+`<t:TokenType>`+strings.Repeat(" ", 70000)+`</t:TokenType>`)), nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "larger than 65536") {
		t.Fatalf("size: %v", err)
	}
}

func TestComputeKey(t *testing.T) {
	client := bytes.Repeat([]byte{1}, 32)
	server := bytes.Repeat([]byte{2}, 32)
	r := &RST{Version: V13, Kind: Issue, Entropy: client}
	// Both: computed.
	p, err := ComputeKey(r, server)
	if err != nil || p.Kind != ProofComputed || hexs(p.Key) != "e7dee695899af2c5b5603c57cc0bbfb1cef01b0c5b4c1f113a95b064cebd65ed" || !bytes.Equal(p.ServerEntropy, server) {
		t.Fatalf("computed: %+v %v", p, err)
	}
	// KeySize 512 with 64 bytes of server entropy: a 64-byte computed key.
	r512 := &RST{Version: V13, Kind: Issue, Entropy: client, KeySize: 512}
	if p, err := ComputeKey(r512, bytes.Repeat([]byte{2}, 64)); err != nil || len(p.Key) != 64 || p.KeySize != 512 {
		t.Fatalf("512: %+v %v", p, err)
	}
	// Server only: its entropy is the key.
	p, err = ComputeKey(&RST{Version: V13, Kind: Issue}, server)
	if err != nil || p.Kind != ProofSecret || !bytes.Equal(p.Key, server) {
		t.Fatalf("secret: %+v %v", p, err)
	}
	// Client only: the client's entropy is the key.
	p, err = ComputeKey(r, nil)
	if err != nil || p.Kind != ProofNone || !bytes.Equal(p.Key, client) || p.KeySize != 256 {
		t.Fatalf("client: %+v %v", p, err)
	}
	for name, c := range map[string]struct {
		r      *RST
		server []byte
		code   string
	}{
		"no entropy at all":              {&RST{Version: V13}, nil, InvalidRequest},
		"server entropy of a wrong size": {r, server[:16], RequestFailed},
		"CK without client entropy":      {&RST{Version: V13, ComputedKeyAlgorithm: V13.CKPSHA1()}, server, InvalidRequest},
		"CK without server entropy":      {&RST{Version: V13, Entropy: client, ComputedKeyAlgorithm: V13.CKPSHA1()}, nil, InvalidRequest},
		"client key too long":            {&RST{Version: V13, Entropy: bytes.Repeat([]byte{1}, 100)}, nil, InvalidRequest},
		"client key and other KeySize":   {&RST{Version: V13, Entropy: client, KeySize: 128}, nil, InvalidRequest},
	} {
		_, err := ComputeKey(c.r, c.server)
		var f *Fault
		if !errors.As(err, &f) || f.Local != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
}

func TestFault(t *testing.T) {
	f := NewFault(V13, BadContextToken, "context x unknown")
	if f.Namespace != V13.SC || f.Prefix() != "wsc" || f.Receiver() || f.FaultString() == "" || !strings.Contains(f.Error(), "context x unknown") {
		t.Fatalf("%+v", f)
	}
	f = NewFault(nil, RequestFailed, "store down")
	if f.Namespace != Feb2005.Trust || f.Prefix() != "wst" || !f.Receiver() {
		t.Fatalf("%+v", f)
	}
	cause := errors.New("cause")
	if !errors.Is(&Fault{Local: InvalidRequest, Err: cause}, cause) {
		t.Fatal("Unwrap")
	}
}

// A Body nested deeper than any RST is refused without reading it all
// recursively, and so is a Body with more elements than the bound.
func TestParseRSTEnvelopeBounds(t *testing.T) {
	for why, body := range map[string]string{
		"nested deeper than 256": strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000),
		"more than 100000":       "<a>" + strings.Repeat("<b/>", 100001) + "</a>",
	} {
		raw := []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`)
		_, err := ParseRSTEnvelope(parseEnv(t, raw), nil, nil)
		var f *Fault
		if !errors.As(err, &f) || f.Local != InvalidRequest || !strings.Contains(f.Reason, why) {
			t.Errorf("%s: %v", why, err)
		}
	}
}
