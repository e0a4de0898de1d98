package saml_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/saml"
	"github.com/authsvc/authsvc/replay"
	samltest "github.com/authsvc/authsvc/test/saml"
	"github.com/authsvc/authsvc/wsse"
)

const (
	issuer   = "https://idp.example.test"
	audience = "urn:authsvc:test"
)

var (
	idpOnce           sync.Once
	idp, untrustedIdP *samltest.IdP
)

func idps(t *testing.T) (*samltest.IdP, *samltest.IdP) {
	t.Helper()
	samltest.Require(t)
	idpOnce.Do(func() {
		idp = samltest.NewIdP(t, "idp")
		untrustedIdP = samltest.NewIdP(t, "evil")
	})
	if idp == nil || untrustedIdP == nil {
		t.Fatal("making the test IdPs failed in an earlier test")
	}
	return idp, untrustedIdP
}

func cert(t *testing.T, p *samltest.IdP) *x509.Certificate {
	b, _ := pem.Decode(p.CertPEM)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func module(t *testing.T) *saml.Module {
	good, _ := idps(t)
	m, err := saml.New(saml.Options{Certificates: []*x509.Certificate{cert(t, good)}, Policy: saml.Policy{Issuers: []string{issuer},
		Audiences: []string{audience}, GroupsAttribute: "groups"}, Replay: replay.NewMemory(replay.MemoryOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func good(id string) samltest.Assertion {
	return samltest.Assertion{ID: id, Issuer: issuer, NameID: "alice", NotBefore: time.Now().Add(-time.Minute),
		Audience: audience, Attributes: map[string][]string{"groups": {"admins", "soap-users"}, "mail": {"alice@example.test"}}}
}

func login(t *testing.T, m authn.Module, env []byte) (*authn.Subject, error) {
	t.Helper()
	e, err := wsse.Parse(env, nil)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, env)
	}
	var s authn.Subject
	req := &authn.Request{Envelope: e, ID: "r", Now: time.Now(), Shared: map[string]any{}}
	ok, err := m.Login(context.Background(), req, &s)
	if ok != (err == nil) {
		t.Fatalf("ok %v with err %v", ok, err)
	}
	return &s, err
}

func TestAccept(t *testing.T) {
	g, _ := idps(t)
	m := module(t)
	a := g.Sign(t, good("_ok1"))
	s, err := login(t, m, samltest.Envelope(a, "<ping/>"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Principal != "alice" || s.Method != "SAML2" || strings.Join(s.Groups, ",") != "admins,soap-users" ||
		s.Attributes["mail"][0] != "alice@example.test" || s.Attributes["saml_issuer"][0] != issuer {
		t.Fatalf("subject %+v", s)
	}
	// The prefix of the assertion may be declared on the envelope.
	b := strings.Replace(a, ` xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"`, "", 1)
	env := strings.Replace(string(samltest.Envelope(b, "")), `<soap:Envelope `, `<soap:Envelope xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" `, 1)
	if _, err := login(t, module(t), []byte(env)); err != nil {
		t.Fatalf("namespace on the envelope: %v", err)
	}
}

func TestAttacks(t *testing.T) {
	g, evil := idps(t)
	ok := g.Sign(t, good("_victim"))
	bob := good("_bob")
	bob.NameID = "bob"
	bobSigned := g.Sign(t, bob)

	unsigned := good("_unsigned")
	unsigned.Unsigned = true
	unsigned.NameID = "admin"
	expired := good("_expired")
	expired.NotBefore = time.Now().Add(-time.Hour)
	expired.NotOnOrAfter = time.Now().Add(-10 * time.Minute)
	future := good("_future")
	future.NotBefore = time.Now().Add(time.Hour)
	wrongAud := good("_aud")
	wrongAud.Audience = "urn:someone-else"
	noAud := good("_noaud")
	noAud.Audience = ""
	wrongIss := good("_iss")
	wrongIss.Issuer = "https://evil.example.test"
	hok := good("_hok")
	hok.Method = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"

	// An unsigned copy of the victim assertion, for wrapping.
	forged := good("_victim")
	forged.Unsigned = true
	forged.NameID = "admin"
	sigOf := func(signed string) string {
		i := strings.Index(signed, "<ds:Signature")
		j := strings.Index(signed, "</ds:Signature>") + len("</ds:Signature>")
		return signed[i:j]
	}
	// The forged assertion carrying the victim's signature (ID swap).
	swapped := strings.Replace(forged.Template(), "</saml2:Issuer>", "</saml2:Issuer>"+sigOf(ok), 1)
	// Bob's signature moved onto an assertion with bob's ID but alice's content.
	idSwap := good("_bob")
	idSwap.Unsigned = true
	idSwapped := strings.Replace(idSwap.Template(), "</saml2:Issuer>", "</saml2:Issuer>"+sigOf(bobSigned), 1)
	// The victim's signature on an assertion with another ID.
	otherID := good("_other")
	otherID.Unsigned = true
	otherIDd := strings.Replace(otherID.Template(), "</saml2:Issuer>", "</saml2:Issuer>"+sigOf(ok), 1)
	// The signed assertion hidden inside an unsigned one (Advice).
	outer := good("_outer")
	outer.Unsigned = true
	outer.NameID = "admin"
	nested := strings.Replace(outer.Template(), "</saml2:Conditions>", "</saml2:Conditions><saml2:Advice>"+ok+"</saml2:Advice>", 1)
	// Tampered after signing.
	tampered := strings.Replace(ok, ">alice<", ">admin<", 1)

	cases := []struct {
		name     string
		env      []byte
		code     wsse.FaultCode
		inReason string
	}{
		{"unsigned", samltest.Envelope(g.Sign(t, unsigned), ""), wsse.FailedCheck, "not signed"},
		{"wrapping: signed in body, unsigned in header", samltest.Envelope(forged.Template(), ok), wsse.FailedCheck, "not signed"},
		{"wrapping: signed in another header", []byte(strings.Replace(string(samltest.Envelope(forged.Template(), "")),
			"<soap:Header>", "<soap:Header><x:Other xmlns:x=\"urn:x\">"+ok+"</x:Other>", 1)), wsse.FailedCheck, "not signed"},
		{"wrapping: extra assertion", samltest.Envelope(ok+forged.Template(), ""), wsse.InvalidSecurityToken, "2 assertions"},
		{"wrapping: signed assertion nested", samltest.Envelope(nested, ""), wsse.InvalidSecurityToken, ""},
		{"expired", samltest.Envelope(g.Sign(t, expired), ""), wsse.MessageExpired, "expired"},
		{"not yet valid", samltest.Envelope(g.Sign(t, future), ""), wsse.InvalidSecurityToken, "not valid before"},
		{"wrong audience", samltest.Envelope(g.Sign(t, wrongAud), ""), wsse.FailedAuthentication, "audience"},
		{"no audience", samltest.Envelope(g.Sign(t, noAud), ""), wsse.FailedAuthentication, "AudienceRestriction"},
		{"wrong issuer", samltest.Envelope(g.Sign(t, wrongIss), ""), wsse.FailedAuthentication, "issuer"},
		{"holder-of-key", samltest.Envelope(g.Sign(t, hok), ""), wsse.UnsupportedSecurityToken, "bearer"},
		{"signature of another assertion", samltest.Envelope(swapped, ""), wsse.FailedCheck, "does not verify"},
		{"ID swap", samltest.Envelope(idSwapped, ""), wsse.FailedCheck, "does not verify"},
		{"signature referencing another ID", samltest.Envelope(otherIDd, ""), wsse.InvalidSecurityToken, "Reference"},
		{"tampered", samltest.Envelope(tampered, ""), wsse.FailedCheck, "does not verify"},
		{"untrusted key", samltest.Envelope(evil.Sign(t, good("_evil")), ""), wsse.FailedCheck, "does not verify"},
	}
	m := module(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := login(t, m, c.env)
			var f *authn.Fault
			if !errors.As(err, &f) || f.Temporary {
				t.Fatalf("want a rejection, got %v", err)
			}
			if f.Code != c.code || !strings.Contains(f.Error(), c.inReason) {
				t.Fatalf("fault %v, want code %s and %q", f, c.code, c.inReason)
			}
		})
	}
	// The untouched victim still works, and only once.
	if _, err := login(t, m, samltest.Envelope(ok, "")); err != nil {
		t.Fatalf("victim: %v", err)
	}
	_, err := login(t, m, samltest.Envelope(ok, ""))
	var f *authn.Fault
	if !errors.As(err, &f) || !strings.Contains(f.Reason, "already used") {
		t.Fatalf("replay: %v", err)
	}
}

func TestNoAssertionIsIgnored(t *testing.T) {
	_, err := login(t, module(t), samltest.Envelope("", ""))
	if !errors.Is(err, authn.ErrUnsupported) {
		t.Fatal(err)
	}
}
