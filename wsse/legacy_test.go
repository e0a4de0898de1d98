package wsse

import (
	"strings"
	"testing"
)

// TestParsePreOASISSecurity: a Security header in the secext namespace of
// the 2002 drafts (WSE 1.0/2.0, FileNet) yields its own
// BinarySecurityTokens, apart from the OASIS ones, with QName attributes
// resolved through the prefixes in scope; nothing else in it is typed.
func TestParsePreOASISSecurity(t *testing.T) {
	for _, ns := range []string{NSWSSE0207, NSWSSE0212} {
		doc := env11 + `<s:Header><wsse:Security xmlns:wsse="` + ns + `" s:mustUnderstand="1">` +
			`<wsse:UsernameToken><wsse:Username>u</wsse:Username><wsse:Password>p</wsse:Password></wsse:UsernameToken>` +
			`<o:UsernameToken xmlns:o="` + NSWSSE + `"><o:Username>u</o:Username></o:UsernameToken>` +
			`<o:BinarySecurityToken xmlns:o="` + NSWSSE + `" ValueType="x">AAAA</o:BinarySecurityToken>` +
			`<wsu:Timestamp xmlns:wsu="` + NSWSU + `"><wsu:Created>2026-01-01T00:00:00Z</wsu:Created></wsu:Timestamp>` +
			`<wsse:BinarySecurityToken ValueType="wsse:Kerberosv5ST" EncodingType="wsse:Base64Binary" Id="k">YWJj</wsse:BinarySecurityToken>` +
			`</wsse:Security></s:Header><s:Body/></s:Envelope>`
		env, err := Parse([]byte(doc), nil)
		if err != nil {
			t.Fatalf("%s: %v", ns, err)
		}
		sec := env.Security
		if sec == nil || sec.Space != ns || !sec.MustUnderstand {
			t.Fatalf("%s: security %+v", ns, sec)
		}
		if len(sec.UsernameTokens) != 0 || len(sec.BinaryTokens) != 0 || sec.Timestamp != nil {
			t.Fatalf("%s: typed more than the legacy BST: %+v", ns, sec)
		}
		if len(sec.LegacyBinaryTokens) != 1 || len(sec.Elements) != 5 {
			t.Fatalf("%s: %d legacy tokens, %d elements", ns, len(sec.LegacyBinaryTokens), len(sec.Elements))
		}
		b := sec.LegacyBinaryTokens[0]
		if b.ValueType != "wsse:Kerberosv5ST" || b.ValueTypeSpace != ns || b.EncodingType != "wsse:Base64Binary" || b.EncodingTypeSpace != ns ||
			b.Value != "YWJj" || b.ID != "k" || !strings.HasPrefix(doc[b.Start:b.End], "<wsse:BinarySecurityToken") {
			t.Fatalf("%s: token %+v", ns, b)
		}
	}

	// OASIS headers: URIs are not resolved as QNames; a QName whose prefix
	// is declared is.
	doc := env11 + `<s:Header><wsse:Security ` + wsseNS + ` xmlns:old="` + NSWSSE0207 + `">` +
		`<wsse:BinarySecurityToken ValueType="http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#GSS_Kerberosv5_AP_REQ" EncodingType="` + Base64Binary + `">YWJj</wsse:BinarySecurityToken>` +
		`<wsse:BinarySecurityToken ValueType="old:Kerberosv5ST" EncodingType="nope:Base64Binary">YWJj</wsse:BinarySecurityToken>` +
		`</wsse:Security></s:Header><s:Body/></s:Envelope>`
	env, err := Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	sec := env.Security
	if sec.Space != NSWSSE || len(sec.BinaryTokens) != 2 || len(sec.LegacyBinaryTokens) != 0 {
		t.Fatalf("OASIS header %+v", sec)
	}
	if b := sec.BinaryTokens[0]; b.ValueTypeSpace != "" || b.EncodingTypeSpace != "" {
		t.Fatalf("URI resolved as a QName: %+v", b)
	}
	if b := sec.BinaryTokens[1]; b.ValueTypeSpace != NSWSSE0207 || b.EncodingTypeSpace != "" {
		t.Fatalf("QName: %+v", b)
	}

	// One Security header for us, whatever its namespace.
	two := env11 + `<s:Header><wsse:Security ` + wsseNS + `/><old:Security xmlns:old="` + NSWSSE0212 + `"/></s:Header><s:Body/></s:Envelope>`
	if _, err := Parse([]byte(two), nil); err == nil || !strings.Contains(err.Error(), "more than one Security header") {
		t.Fatalf("two Security headers: %v", err)
	}
	// Another secext-looking namespace is not a Security header.
	other := env11 + `<s:Header><x:Security xmlns:x="http://schemas.xmlsoap.org/ws/2003/06/secext"/></s:Header><s:Body/></s:Envelope>`
	if env, err := Parse([]byte(other), nil); err != nil || env.Security != nil {
		t.Fatalf("other namespace: %+v %v", env, err)
	}
}
