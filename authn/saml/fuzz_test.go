package saml

import (
	"testing"
	"time"

	"github.com/beevik/etree"
)

const seedAssertion = `<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0">` +
	`<saml2:Issuer>https://idp</saml2:Issuer><saml2:Subject><saml2:NameID>alice</saml2:NameID>` +
	`<saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml2:SubjectConfirmationData NotOnOrAfter="2030-01-01T00:00:00Z"/></saml2:SubjectConfirmation></saml2:Subject>` +
	`<saml2:Conditions NotBefore="2020-01-01T00:00:00Z" NotOnOrAfter="2030-01-01T00:00:00Z"><saml2:AudienceRestriction><saml2:Audience>urn:a</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions>` +
	`<saml2:AttributeStatement><saml2:Attribute Name="groups"><saml2:AttributeValue>g</saml2:AttributeValue></saml2:Attribute></saml2:AttributeStatement>` +
	`</saml2:Assertion>`

// FuzzParseAssertion feeds the assertion reader and the structural checks
// that run before signature verification with arbitrary XML: they must
// never panic, and what parse accepts must satisfy the policy checks
// without panicking either.
func FuzzParseAssertion(f *testing.F) {
	f.Add([]byte(seedAssertion))
	f.Add([]byte(`<a:Assertion xmlns:a="urn:oasis:names:tc:SAML:2.0:assertion" ID="x"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:Reference URI="#x"/></ds:SignedInfo></ds:Signature></a:Assertion>`))
	m, err := New(Options{Certificates: nil, Policy: Policy{Issuers: []string{"https://idp"}}})
	if err == nil || m != nil {
		f.Fatal("New accepted no certificates")
	}
	m = &Module{c: Options{Policy: Policy{Issuers: []string{"https://idp"}, Audiences: []string{"urn:a"}, ClockSkew: time.Minute, MaxLifetime: 1 << 62}}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		doc := etree.NewDocument()
		if doc.ReadFromBytes(b) != nil || doc.Root() == nil {
			return
		}
		el := doc.Root()
		_ = shape(el, el.SelectAttrValue("ID", ""))
		a, err := parse(el)
		if err != nil {
			return
		}
		if a.NotOnOrAfter.IsZero() {
			t.Fatal("parse accepted an assertion without NotOnOrAfter")
		}
		_ = m.check(a, now)
	})
}
