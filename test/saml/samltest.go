// Package samltest makes SAML 2.0 assertions for tests: keys and
// certificates from openssl and signatures from xmlsec1 (Debian's xmlsec1
// package), made at test time, so that our verifier meets a signer it did
// not write.
package samltest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

// IdP is a signing key with its self-signed certificate, both PEM, held in
// memory so that any test may sign with it.
type IdP struct {
	KeyPEM  []byte
	CertPEM []byte
}

func tool(t testing.TB, name string) string {
	t.Helper()
	return testenv.LookPath(t, name)
}

// Require ends the test when openssl or xmlsec1 is not installed (it skips
// or fails, see testenv.Missing). Call it before a sync.Once that makes an
// IdP, so that no test finds the Once spent by a skipped one.
func Require(t testing.TB) {
	t.Helper()
	tool(t, "openssl")
	tool(t, "xmlsec1")
}

// NewIdP makes an RSA key and a certificate for it with openssl.
func NewIdP(t testing.TB, name string) *IdP {
	t.Helper()
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	out, err := exec.Command(tool(t, "openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
		"-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN="+name).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	idp := &IdP{}
	if idp.KeyPEM, err = os.ReadFile(keyFile); err != nil {
		t.Fatal(err)
	}
	if idp.CertPEM, err = os.ReadFile(certFile); err != nil {
		t.Fatal(err)
	}
	return idp
}

// WriteCert writes the certificate into dir/name and returns the path.
func (idp *IdP) WriteCert(t testing.TB, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, idp.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Assertion describes an assertion to make.
type Assertion struct {
	ID        string
	Issuer    string
	NameID    string
	NotBefore time.Time
	// NotOnOrAfter; zero means NotBefore + 10 min.
	NotOnOrAfter time.Time
	Audience     string // "" leaves AudienceRestriction out
	// Method is the SubjectConfirmation method (default bearer).
	Method     string
	Attributes map[string][]string
	// Unsigned leaves the Signature out.
	Unsigned bool
}

func esc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

// Template returns the assertion's XML, with an empty signature template
// unless a.Unsigned.
func (a Assertion) Template() string {
	if a.NotOnOrAfter.IsZero() {
		a.NotOnOrAfter = a.NotBefore.Add(10 * time.Minute)
	}
	if a.Method == "" {
		a.Method = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	}
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
	var b strings.Builder
	fmt.Fprintf(&b, `<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="%s" IssueInstant="%s" Version="2.0">`,
		esc(a.ID), ts(a.NotBefore))
	fmt.Fprintf(&b, `<saml2:Issuer>%s</saml2:Issuer>`, esc(a.Issuer))
	if !a.Unsigned {
		fmt.Fprintf(&b, `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>`+
			`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`+
			`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>`+
			`<ds:Reference URI="#%s"><ds:Transforms>`+
			`<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>`+
			`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>`+
			`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>`+
			`</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>`, esc(a.ID))
	}
	fmt.Fprintf(&b, `<saml2:Subject><saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">%s</saml2:NameID>`+
		`<saml2:SubjectConfirmation Method="%s"><saml2:SubjectConfirmationData NotOnOrAfter="%s"/></saml2:SubjectConfirmation></saml2:Subject>`,
		esc(a.NameID), esc(a.Method), ts(a.NotOnOrAfter))
	fmt.Fprintf(&b, `<saml2:Conditions NotBefore="%s" NotOnOrAfter="%s">`, ts(a.NotBefore), ts(a.NotOnOrAfter))
	if a.Audience != "" {
		fmt.Fprintf(&b, `<saml2:AudienceRestriction><saml2:Audience>%s</saml2:Audience></saml2:AudienceRestriction>`, esc(a.Audience))
	}
	b.WriteString(`</saml2:Conditions>`)
	fmt.Fprintf(&b, `<saml2:AuthnStatement AuthnInstant="%s"><saml2:AuthnContext><saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement>`, ts(a.NotBefore))
	if len(a.Attributes) > 0 {
		b.WriteString(`<saml2:AttributeStatement>`)
		for _, k := range sortedKeys(a.Attributes) {
			fmt.Fprintf(&b, `<saml2:Attribute Name="%s">`, esc(k))
			for _, v := range a.Attributes[k] {
				fmt.Fprintf(&b, `<saml2:AttributeValue>%s</saml2:AttributeValue>`, esc(v))
			}
			b.WriteString(`</saml2:Attribute>`)
		}
		b.WriteString(`</saml2:AttributeStatement>`)
	}
	b.WriteString(`</saml2:Assertion>`)
	return b.String()
}

func sortedKeys(m map[string][]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

// Sign returns the assertion signed by xmlsec1 with the IdP's key (or the
// template as it is when a.Unsigned), without an XML declaration.
func (idp *IdP) Sign(t testing.TB, a Assertion) string {
	t.Helper()
	tmpl := a.Template()
	if a.Unsigned {
		return tmpl
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "tmpl.xml"), filepath.Join(dir, "signed.xml")
	keyFile, certFile := filepath.Join(dir, "key.pem"), idp.WriteCert(t, dir, "cert.pem")
	if err := os.WriteFile(keyFile, idp.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, []byte(tmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool(t, "xmlsec1"), "--sign", "--privkey-pem", keyFile+","+certFile,
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", "--output", out, in)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xmlsec1 --sign: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.HasPrefix(s, "<?xml") {
		s = s[strings.Index(s, "?>")+2:]
	}
	return strings.TrimSpace(s)
}

// Envelope puts header children into a SOAP 1.1 Security header and body
// into the Body.
func Envelope(security, body string) []byte {
	return []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
		`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" soap:mustUnderstand="1">` +
		security + `</wsse:Security></soap:Header><soap:Body>` + body + `</soap:Body></soap:Envelope>`)
}
