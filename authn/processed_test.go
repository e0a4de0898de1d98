package authn

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/wsse"
)

const (
	s11    = `<s:Envelope xmlns:s="` + wsse.NSSOAP11 + `" xmlns:wsse="` + wsse.NSWSSE + `" xmlns:wsu="` + wsse.NSWSU + `" xmlns:ds="` + wsse.NSDSig + `" xmlns:xenc="` + NSXEnc + `" xmlns:x="urn:x">`
	ut     = `<wsse:UsernameToken><wsse:Username>alice</wsse:Username></wsse:UsernameToken>`
	sig    = `<ds:Signature><ds:SignedInfo/></ds:Signature>`
	encKey = `<xenc:EncryptedKey/>`
	ticket = `<x:Ticket>t</x:Ticket>`
)

func secEnvelope(t *testing.T, children string, other string) *Request {
	t.Helper()
	doc := s11 + `<s:Header><wsse:Security>` + children + `</wsse:Security>` + other + `</s:Header><s:Body/></s:Envelope>`
	env, err := wsse.Parse([]byte(doc), nil)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return &Request{Envelope: env}
}

// marking returns a module that marks the Security children with the given
// local names and then ends with r.
func marking(r res, locals ...string) Module {
	return ModuleFunc(func(_ context.Context, req *Request, s *Subject) (bool, error) {
		for i, e := range req.Security().Elements {
			for _, l := range locals {
				if e.Local == l {
					req.MarkProcessed(i)
				}
			}
		}
		switch r {
		case ok:
			s.Principal = "p"
			return true, nil
		case no:
			return false, Reject(wsse.FailedAuthentication, "no")
		case tech:
			return false, ErrUnavailable
		}
		return false, ErrUnsupported
	})
}

func TestUnprocessedElements(t *testing.T) {
	sigQ := QName{wsse.NSDSig, "Signature"}
	cases := []struct {
		name     string
		children string
		other    string // a Security header for another actor
		entries  []Entry
		pass     []QName
		code     wsse.FaultCode // "" for success
		reason   string
	}{
		{"all processed", ut + sig, "", []Entry{{"m", Required, marking(ok, "UsernameToken", "Signature")}}, nil, "", ""},
		{"signature left", ut + sig, "", []Entry{{"m", Required, marking(ok, "UsernameToken")}}, nil,
			wsse.InvalidSecurity, "{" + wsse.NSDSig + "}Signature at index 1"},
		{"encrypted key left", ut + encKey, "", []Entry{{"m", Required, marking(ok, "UsernameToken")}}, nil,
			wsse.InvalidSecurity, "EncryptedKey at index 1"},
		{"unknown token left", ut + ticket, "", []Entry{{"m", Required, marking(ok, "UsernameToken")}}, nil,
			wsse.UnsupportedSecurityToken, "{urn:x}Ticket at index 1"},
		{"second token beside the verified one", ut + ut, "", []Entry{{"m", Required, ModuleFunc(
			func(_ context.Context, req *Request, s *Subject) (bool, error) {
				req.MarkProcessedAt(req.Security().UsernameTokens[0].Start)
				s.Principal = "alice"
				return true, nil
			})}}, nil, wsse.UnsupportedSecurityToken, "UsernameToken at index 1"},
		{"signature passed through", ut + sig, "", []Entry{{"m", Required, marking(ok, "UsernameToken")}}, []QName{sigQ}, "", ""},
		{"pass-through is by exact name", ut + sig + encKey, "", []Entry{{"m", Required, marking(ok, "UsernameToken")}}, []QName{sigQ},
			wsse.InvalidSecurity, "EncryptedKey at index 2"},
		{"other actor's header is not ours", ut, `<wsse:Security s:actor="urn:other">` + sig + ticket + `</wsse:Security>`,
			[]Entry{{"m", Required, marking(ok, "UsernameToken")}}, nil, "", ""},
		// Marks of a module that did not succeed are discarded.
		{"optional module that rejects", ut + ticket, "", []Entry{
			{"users", Optional, marking(no, "UsernameToken")},
			{"tickets", Required, marking(ok, "Ticket")}}, nil, wsse.UnsupportedSecurityToken, "UsernameToken at index 0"},
		{"optional module with a technical failure", ut + ticket, "", []Entry{
			{"users", Optional, marking(tech, "UsernameToken")},
			{"tickets", Required, marking(ok, "Ticket")}}, nil, wsse.UnsupportedSecurityToken, "UsernameToken at index 0"},
		{"ignored module", ut + ticket, "", []Entry{
			{"users", Optional, marking(ign, "UsernameToken")},
			{"tickets", Sufficient, marking(ok, "Ticket")}}, nil, wsse.UnsupportedSecurityToken, "UsernameToken at index 0"},
		{"two modules each verify their own", ut + ticket, "", []Entry{
			{"users", Optional, marking(ok, "UsernameToken")},
			{"tickets", Required, marking(ok, "Ticket")}}, nil, "", ""},
		// A sufficient module that succeeds ends the chain: what the modules
		// after it would have verified is left unprocessed.
		{"sufficient stops before the other token", ut + ticket, "", []Entry{
			{"users", Sufficient, marking(ok, "UsernameToken")},
			{"tickets", Sufficient, marking(ok, "Ticket")}}, nil, wsse.UnsupportedSecurityToken, "Ticket at index 1"},
		{"empty header", "", "", []Entry{{"m", Required, ModuleFunc(
			func(_ context.Context, _ *Request, s *Subject) (bool, error) { s.Principal = "p"; return true, nil })}}, nil, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chain, err := NewChain(c.entries...)
			if err != nil {
				t.Fatal(err)
			}
			if c.pass != nil {
				chain = chain.WithPassThrough(c.pass...)
			}
			_, err = chain.Authenticate(context.Background(), secEnvelope(t, c.children, c.other))
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var f *Fault
			if !errors.As(err, &f) || f.Code != c.code || f.Temporary || !strings.Contains(f.Reason, c.reason) || !errors.Is(err, ErrUnprocessed) {
				t.Fatalf("got %v, want %s with %q", err, c.code, c.reason)
			}
		})
	}
}

// TestUnprocessedManyElements: past 64 children (the allocation-free
// bitmap), marks still count, and the reason stays bounded.
func TestUnprocessedManyElements(t *testing.T) {
	children := ut + strings.Repeat(ticket, 99) + sig
	chain, _ := NewChain(Entry{"m", Required, marking(ok, "UsernameToken", "Signature")})
	_, err := chain.Authenticate(context.Background(), secEnvelope(t, children, ""))
	var f *Fault
	if !errors.As(err, &f) || f.Code != wsse.UnsupportedSecurityToken || !strings.Contains(f.Reason, "and 91 more") || strings.Contains(f.Reason, "Signature") {
		t.Fatalf("got %v", err)
	}
	chain, _ = NewChain(Entry{"m", Required, marking(ok, "UsernameToken", "Signature", "Ticket")})
	if _, err := chain.Authenticate(context.Background(), secEnvelope(t, children, "")); err != nil {
		t.Fatalf("all marked: %v", err)
	}
	chain, _ = NewChain(Entry{"m", Required, marking(ok, "UsernameToken", "Ticket")})
	if _, err := chain.Authenticate(context.Background(), secEnvelope(t, children, "")); err == nil || AsFault(err).Code != wsse.InvalidSecurity {
		t.Fatalf("signature at index 100 left: %v", err)
	}
}

func TestMarkProcessedAt(t *testing.T) {
	req := secEnvelope(t, ut+sig+ticket, "")
	sec := req.Security()
	if !req.MarkProcessedAt(sec.Elements[2].Start) || !req.Processed(2) || req.Processed(0) {
		t.Fatal("MarkProcessedAt did not mark the element at its offset")
	}
	if req.MarkProcessedAt(sec.Elements[2].Start+1) || req.ElementAt(sec.UsernameTokens[0].Start) != 0 {
		t.Fatal("offsets that start no child")
	}
	req.MarkProcessed(-1)
	req.MarkProcessed(3)
	if len(req.processed) != 1 {
		t.Fatalf("out-of-range indexes were recorded: %v", req.processed)
	}
	(&Request{}).MarkProcessed(0) // no envelope: nothing to mark, no panic
}

func TestParseQName(t *testing.T) {
	for _, s := range []string{"{http://www.w3.org/2000/09/xmldsig#}Signature", "{urn:x}a.b-c_1", "{urn:x}_x"} {
		q, err := ParseQName(s)
		if err != nil || q.String() != s {
			t.Errorf("ParseQName(%q) = %v, %v", s, q, err)
		}
	}
	for _, s := range []string{"", "Signature", "ds:Signature", "http://www.w3.org/2000/09/xmldsig#Signature",
		"{}Signature", "{urn:x}", "{urn:x}ds:Signature", "{urn:x}1a", "{urn:x}a b", "{urn x}a", "{urn:x}{a}", "{urn:x"} {
		if q, err := ParseQName(s); err == nil {
			t.Errorf("ParseQName(%q) = %v, want an error", s, q)
		}
	}
}
