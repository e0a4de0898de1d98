package username

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
)

const (
	garbageSignature = `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/>` +
		`<ds:SignatureValue>Z2FyYmFnZQ==</ds:SignatureValue></ds:Signature>`
	encryptedKey = `<xenc:EncryptedKey xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:CipherData>` +
		`<xenc:CipherValue>Z2FyYmFnZQ==</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>`
	unknownToken = `<x:Ticket xmlns:x="urn:example:ticket">t</x:Ticket>`
)

// withElement puts extra at the end of the message's Security header.
func withElement(t *testing.T, msg []byte, extra string) []byte {
	t.Helper()
	i := bytes.LastIndex(msg, []byte("</wsse:Security>"))
	if i < 0 {
		t.Fatalf("no Security end tag in %s", msg)
	}
	return append(append(append([]byte(nil), msg[:i]...), extra...), msg[i:]...)
}

func chainLogin(t *testing.T, c *authn.Chain, msg []byte, at time.Time, secure bool) (*authn.Subject, error) {
	t.Helper()
	env, err := wsse.Parse(msg, nil)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, msg)
	}
	return c.Authenticate(context.Background(), &authn.Request{Envelope: env, Now: at, Secure: secure, ID: "test"})
}

func wantChainFault(t *testing.T, err error, code wsse.FaultCode, reason string) {
	t.Helper()
	var f *authn.Fault
	if !errors.As(err, &f) {
		t.Fatalf("got %v, want a %s fault", err, code)
	}
	if f.Code != code || f.Temporary || !strings.Contains(f.Reason, reason) {
		t.Fatalf("fault %v, want %s with %q", err, code, reason)
	}
}

// TestChainRefusesUnprocessedElements: a valid PasswordDigest token does not
// carry a signature, encryption or token that nothing verified through the
// chain.
func TestChainRefusesUnprocessedElements(t *testing.T) {
	f := newFixture(t, nil)
	chain, err := authn.NewChain(authn.Entry{Name: "users", Flag: authn.Requisite, Module: f.m})
	if err != nil {
		t.Fatal(err)
	}
	nonce := byte(0)
	fresh := func() []byte {
		nonce++
		return digestMsg("alice", "wonderland", now, bytes.Repeat([]byte{nonce}, 16))
	}
	if s, err := chainLogin(t, chain, fresh(), now, false); err != nil || s.Principal != "alice" {
		t.Fatalf("valid token alone: %v, %v", s, err)
	}
	for _, c := range []struct {
		name, extra string
		code        wsse.FaultCode
		reason      string
	}{
		{"garbage signature", garbageSignature, wsse.InvalidSecurity, "{http://www.w3.org/2000/09/xmldsig#}Signature at index 1"},
		{"encrypted key", encryptedKey, wsse.InvalidSecurity, "{http://www.w3.org/2001/04/xmlenc#}EncryptedKey at index 1"},
		{"unknown token", unknownToken, wsse.UnsupportedSecurityToken, "{urn:example:ticket}Ticket at index 1"},
		{"token and signature", unknownToken + garbageSignature, wsse.InvalidSecurity, "Ticket at index 1, {http://www.w3.org/2000/09/xmldsig#}Signature at index 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := chainLogin(t, chain, withElement(t, fresh(), c.extra), now, false)
			wantChainFault(t, err, c.code, c.reason)
		})
	}
}

// TestChainRejectedTokenIsNotProcessed: an optional UsernameToken module that
// rejects the token has not processed it, even though another module
// accepts the request.
func TestChainRejectedTokenIsNotProcessed(t *testing.T) {
	f := newFixture(t, nil)
	other := authn.ModuleFunc(func(_ context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
		if req.Authorization != "" {
			return false, authn.ErrUnsupported
		}
		s.Principal = "from-elsewhere"
		return true, nil
	})
	chain, err := authn.NewChain(
		authn.Entry{Name: "users", Flag: authn.Optional, Module: f.m},
		authn.Entry{Name: "other", Flag: authn.Required, Module: other})
	if err != nil {
		t.Fatal(err)
	}
	// alice with a wrong password: the username module rejects her token
	// and the other module's success must not carry it through.
	msg := digestMsg("alice", "nope", now, bytes.Repeat([]byte{7}, 16))
	_, err = chainLogin(t, chain, msg, now, false)
	wantChainFault(t, err, wsse.UnsupportedSecurityToken, "UsernameToken at index 0")
}

// TestChainDerivedKeyWSS4JProcessed: a WSS4J derived-key message (token,
// Timestamp, signature) passes through a chain: the module reports all
// three processed. A garbage element beside them does not.
func TestChainDerivedKeyWSS4JProcessed(t *testing.T) {
	chain, err := authn.NewChain(authn.Entry{Name: "dk", Flag: authn.Requisite, Module: newDerivedModule(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if s, err := chainLogin(t, chain, wss4jEnvelope(t, wss4j.Message{}), now, false); err != nil || s.Principal != "bob" {
		t.Fatalf("WSS4J derived-key message: %v, %v", s, err)
	}
	raw := withElement(t, wss4jEnvelope(t, wss4j.Message{Parts: []string{"body", "ts", "ut"}}), encryptedKey)
	_, err = chainLogin(t, chain, raw, now, false)
	wantChainFault(t, err, wsse.InvalidSecurity, "{http://www.w3.org/2001/04/xmlenc#}EncryptedKey")
}
