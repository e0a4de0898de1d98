package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/server"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// TestVerifyBehindAuthsvc puts the example upstream behind a real authsvc
// server (in process, with a stand-in chain) and checks that it accepts
// the assertions authsvc signs, follows a key rotation, and refuses forged
// or missing ones.
func TestVerifyBehindAuthsvc(t *testing.T) {
	chain, err := authn.NewChain(authn.Entry{Name: "t", Flag: authn.Required, Module: authn.ModuleFunc(
		func(_ context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
			if sec := req.Security(); sec != nil && len(sec.UsernameTokens) == 1 && sec.UsernameTokens[0].Password == "pw" {
				s.Principal, s.Method, s.TokenType = sec.UsernameTokens[0].Username, "UsernameToken", "PasswordText"
				req.MarkProcessedAt(sec.UsernameTokens[0].Start)
				return true, nil
			}
			return false, authn.Reject(wsse.FailedAuthentication, "wrong")
		})})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	_, k1, _ := ed25519.GenerateKey(rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	var authsvcURL string
	v := &Verifier{Issuer: "https://authsvc.test", Audience: "backend", MinRefresh: time.Nanosecond,
		Now: func() time.Time { return now }}
	up := httptest.NewServer(v.Middleware("X-Authenticated-Assertion", http.HandlerFunc(echo)))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	srv, err := server.New(server.Options{Chain: chain, Now: clock, Logger: slog.New(slog.DiscardHandler),
		Proxy: &server.ProxyOptions{Upstream: u},
		Identity: &server.IdentityOptions{Issuer: "https://authsvc.test", Audience: []string{"backend"}, TTL: time.Minute,
			Keys: []server.SigningKey{{ID: "k1", Key: k1}, {ID: "k2", Key: k2, ActiveFrom: now.Add(time.Hour)}}}})
	if err != nil {
		t.Fatal(err)
	}
	as := httptest.NewServer(srv.Handler())
	defer as.Close()
	authsvcURL = as.URL
	v.JWKSURL = authsvcURL + "/.well-known/jwks.json"

	call := func(user, pw string) (int, string) {
		msg := wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: user, Password: pw}, "<Echo/>")
		resp, err := http.Post(authsvcURL+"/svc", "text/xml", bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call("alice", "pw"); code != 200 || !strings.Contains(body, "hello alice (UsernameToken)") {
		t.Fatalf("through authsvc: %d %s", code, body)
	}
	// Rotation: k2 takes over; the verifier learns it from the JWKS.
	now = now.Add(time.Hour)
	if code, body := call("bob", "pw"); code != 200 || !strings.Contains(body, "hello bob") {
		t.Fatalf("after rotation: %d %s", code, body)
	}
	if code, _ := call("bob", "wrong"); code != 500 {
		t.Errorf("rejected by authsvc: %d", code)
	}

	// Straight to the upstream: no assertion, a forged one, a stale one.
	direct := func(tok string) int {
		req, _ := http.NewRequest(http.MethodPost, up.URL, strings.NewReader("<x/>"))
		req.Header.Set("X-Authenticated-User", "mallory")
		if tok != "" {
			req.Header.Set("X-Authenticated-Assertion", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := direct(""); c != 401 {
		t.Errorf("no assertion: %d", c)
	}
	forged := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJtYWxsb3J5In0."
	if c := direct(forged); c != 401 {
		t.Errorf("alg none: %d", c)
	}
	// A real assertion, used after it expired.
	resp, err := http.Post(authsvcURL+"/v1/authenticate", "text/xml",
		bytes.NewReader(wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "carol", Password: "pw"}, "")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tok := resp.Header.Get("X-Authenticated-Assertion")
	if c := direct(tok); c != 200 {
		t.Errorf("fresh assertion: %d", c)
	}
	now = now.Add(2 * time.Minute)
	if c := direct(tok); c != 401 {
		t.Errorf("expired assertion: %d", c)
	}
}
