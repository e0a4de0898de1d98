package kerberos

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
)

// legacyEnvelope is a SOAP message as WSE 1.0/2.0 and FileNet clients
// send a Kerberos token: the Security header in a pre-OASIS secext
// namespace, ValueType and EncodingType as QNames of it.
func legacyEnvelope(secNS, valueType, encodingType string, tok []byte) string {
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
		`<wsse:Security soap:mustUnderstand="1" xmlns:wsse="` + secNS + `" xmlns:wsu="http://schemas.xmlsoap.org/ws/2002/07/utility">` +
		`<wsu:Timestamp><wsu:Created>2026-03-01T12:00:00Z</wsu:Created></wsu:Timestamp>` +
		`<wsse:BinarySecurityToken ValueType="` + valueType + `" EncodingType="` + encodingType + `" wsu:Id="SecurityToken-1">` +
		base64.StdEncoding.EncodeToString(tok) +
		`</wsse:BinarySecurityToken></wsse:Security></soap:Header><soap:Body><ping/></soap:Body></soap:Envelope>`
}

func envRequest(t *testing.T, doc string, mt *minter) *authn.Request {
	t.Helper()
	env, err := wsse.Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &authn.Request{Envelope: env, Now: mt.now, Shared: map[string]any{}}
}

// TestLegacyWSETokens: the pre-OASIS shapes are Kerberos tokens (and
// nothing else in such a header is taken); QNames are resolved through the
// prefixes in scope, not compared as text.
func TestLegacyWSETokens(t *testing.T) {
	mt := newMinter(t)
	m := mt.module(t, nil)
	for _, ns := range []string{wsse.NSWSSE0207, wsse.NSWSSE0212} {
		s, err := login(m, envRequest(t, legacyEnvelope(ns, "wsse:Kerberosv5ST", "wsse:Base64Binary", gssWrap(mt.apReq(t, ticketOpts{}))), mt))
		if err != nil {
			t.Fatalf("%s: %v", ns, err)
		}
		if s.Name() != "alice@EXAMPLE.TEST" || s.Method != "Kerberos" || s.TokenType != "Kerberosv5ST" {
			t.Fatalf("%s: subject %+v", ns, s)
		}
	}
	// The WSE URI value type and no EncodingType in a pre-OASIS header.
	s, err := login(m, envRequest(t, legacyEnvelope(wsse.NSWSSE0212, ValueTypeWSE, "", mt.apReq(t, ticketOpts{})), mt))
	if err != nil || s.TokenType != "Kerberosv5ST" {
		t.Fatalf("URI value type: %+v %v", s, err)
	}
	// Another prefix bound to the same namespace names the same QName.
	doc := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:k="` + wsse.NSWSSE0207 + `"><soap:Header>` +
		`<wsse:Security xmlns:wsse="` + wsse.NSWSSE + `"><wsse:BinarySecurityToken ValueType="k:Kerberosv5ST" EncodingType="` + wsse.Base64Binary + `">` +
		base64.StdEncoding.EncodeToString(mt.apReq(t, ticketOpts{})) + `</wsse:BinarySecurityToken></wsse:Security></soap:Header><soap:Body/></soap:Envelope>`
	if s, err := login(m, envRequest(t, doc, mt)); err != nil || s.TokenType != "Kerberosv5ST" {
		t.Fatalf("QName in an OASIS header: %+v %v", s, err)
	}

	tok := mt.apReq(t, ticketOpts{})
	for name, doc := range map[string]string{
		// wsse bound to the OASIS namespace: {NSWSSE}Kerberosv5ST is no value type.
		"QName of the OASIS namespace": envelope("wsse:Kerberosv5ST", tok),
		// the same text, but wsse is bound to another namespace
		"QName of another namespace": legacyEnvelope("http://schemas.xmlsoap.org/ws/2003/06/secext", "wsse:Kerberosv5ST", "wsse:Base64Binary", tok),
		"unbound prefix":             legacyEnvelope(wsse.NSWSSE0207, "krb:Kerberosv5ST", "wsse:Base64Binary", tok),
		"other local name":           legacyEnvelope(wsse.NSWSSE0207, "wsse:X509v3", "wsse:Base64Binary", tok),
	} {
		if _, err := login(m, envRequest(t, doc, mt)); !errors.Is(err, authn.ErrUnsupported) {
			t.Errorf("%s: %v, want not a Kerberos token", name, err)
		}
	}
	_, err = login(m, envRequest(t, legacyEnvelope(wsse.NSWSSE0207, "wsse:Kerberosv5ST", "wsse:HexBinary", tok), mt))
	wantFault(t, err, wsse.InvalidSecurityToken, `EncodingType "wsse:HexBinary", not Base64Binary`)

	// Two Kerberos tokens, one in each shape.
	two := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
		`<wsse:Security xmlns:wsse="` + wsse.NSWSSE0207 + `">` +
		`<wsse:BinarySecurityToken ValueType="wsse:Kerberosv5ST">` + base64.StdEncoding.EncodeToString(tok) + `</wsse:BinarySecurityToken>` +
		`<wsse:BinarySecurityToken ValueType="` + ValueTypeWSE + `">` + base64.StdEncoding.EncodeToString(tok) + `</wsse:BinarySecurityToken>` +
		`</wsse:Security></soap:Header><soap:Body/></soap:Envelope>`
	_, err = login(m, envRequest(t, two, mt))
	wantFault(t, err, wsse.InvalidSecurity, "more than one Kerberos BinarySecurityToken")
}

// TestLegacyManyTokens: a pre-OASIS header stuffed with
// BinarySecurityTokens. Within the parser's element limit, a Kerberos
// token after a thousand other tokens is found and accepted; one more token
// than the limit allows refuses the message at parsing (InvalidSecurity,
// the limit named), before any module looks at it.
func TestLegacyManyTokens(t *testing.T) {
	mt := newMinter(t)
	m := mt.module(t, nil)
	stuffed := func(others int) string {
		var b strings.Builder
		b.WriteString(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
			`<wsse:Security xmlns:wsse="` + wsse.NSWSSE0207 + `">`)
		for i := 0; i < others; i++ {
			fmt.Fprintf(&b, `<wsse:BinarySecurityToken ValueType="wsse:X509v3" Id="x%d">AAAA</wsse:BinarySecurityToken>`, i)
		}
		b.WriteString(`<wsse:BinarySecurityToken ValueType="wsse:Kerberosv5ST" EncodingType="wsse:Base64Binary">` +
			base64.StdEncoding.EncodeToString(gssWrap(mt.apReq(t, ticketOpts{}))) +
			`</wsse:BinarySecurityToken></wsse:Security></soap:Header><soap:Body/></soap:Envelope>`)
		return b.String()
	}
	// Envelope, Header, Security, the others, the Kerberos token and the
	// Body: 1000 others stay within the default 1024 elements.
	s, err := login(m, envRequest(t, stuffed(1000), mt))
	if err != nil || s.Name() != "alice@EXAMPLE.TEST" {
		t.Fatalf("Kerberos token after 1000 others: %+v %v", s, err)
	}
	_, err = wsse.Parse([]byte(stuffed(wsse.DefaultLimits.MaxElements)), nil)
	var we *wsse.Error
	if !errors.As(err, &we) || we.Code != wsse.InvalidSecurity || !strings.Contains(we.Reason, fmt.Sprintf("more than %d elements", wsse.DefaultLimits.MaxElements)) {
		t.Fatalf("header of %d tokens: %v, want InvalidSecurity naming the element limit", wsse.DefaultLimits.MaxElements+1, err)
	}
}
