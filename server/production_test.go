package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/lockout"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// testChain accepts alice/wonderland from a UsernameToken.
func testChain(t *testing.T) *authn.Chain {
	t.Helper()
	m := authn.ModuleFunc(func(_ context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
		sec := req.Security()
		if sec == nil || len(sec.UsernameTokens) == 0 {
			return false, authn.ErrUnsupported
		}
		ut := sec.UsernameTokens[0]
		if ut.Username != "alice" || ut.Password != "wonderland" {
			return false, authn.Reject(wsse.FailedAuthentication, "wrong password")
		}
		s.Principal, s.Method, s.TokenType = "alice", "UsernameToken", "PasswordText"
		s.AddGroups("soap-users")
		req.MarkProcessedAt(ut.Start)
		return true, nil
	})
	c, err := authn.NewChain(authn.Entry{Name: "users", Flag: authn.Requisite, Module: m})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var quiet = slog.New(slog.DiscardHandler)

func envelope(user, pw string) []byte {
	return wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: user, Password: pw}, "<x/>")
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func post(h http.Handler, path, peer string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.RemoteAddr = peer
	r.Header.Set("Content-Type", "text/xml")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestLockoutThroughServer(t *testing.T) {
	clk := &clock{t: time.Now()}
	srv, err := New(Options{Chain: testChain(t), Logger: quiet, Now: clk.now,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")},
		Lockout: &lockout.Options{
			Principal: lockout.Policy{MaxFailures: 3, Window: time.Minute, Lockout: time.Minute, MaxLockout: time.Hour},
			Address:   lockout.Policy{MaxFailures: 10, Window: time.Minute, Lockout: time.Minute, MaxLockout: time.Hour},
		}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for i := 0; i < 3; i++ {
		if w := post(h, "/v1/authenticate", "192.0.2.1:1000", envelope("alice", "guess")); w.Code != 401 {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	wrong := post(h, "/v1/authenticate", "192.0.2.2:1000", envelope("alice", "guess"))
	locked := post(h, "/v1/authenticate", "192.0.2.2:1000", envelope("ALICE", "wonderland"))
	if locked.Code != 401 {
		t.Fatalf("locked principal with the right password: %d", locked.Code)
	}
	strip := func(b string) string { return b[:strings.Index(b, "<authsvc:RequestId")] }
	if strip(wrong.Body.String()) != strip(locked.Body.String()) {
		t.Errorf("a locked principal's fault differs from a wrong password's:\n%s\n%s", wrong.Body, locked.Body)
	}
	clk.add(time.Minute)
	if w := post(h, "/v1/authenticate", "192.0.2.2:1000", envelope("alice", "wonderland")); w.Code != 200 {
		t.Fatalf("after the lockout: %d %s", w.Code, w.Body)
	}

	// Address: ten users guessed from one client behind the trusted proxy.
	for i := 0; i < 10; i++ {
		post(h, "/v1/authenticate", "10.0.0.1:1", envelope("u"+string(rune('a'+i)), "x"), "X-Forwarded-For", "198.51.100.7")
	}
	if w := post(h, "/v1/authenticate", "10.0.0.1:1", envelope("alice", "wonderland"), "X-Forwarded-For", "198.51.100.7"); w.Code != 401 {
		t.Errorf("locked address accepted: %d", w.Code)
	}
	// Another client behind the same proxy is not locked.
	if w := post(h, "/v1/authenticate", "10.0.0.1:1", envelope("alice", "wonderland"), "X-Forwarded-For", "198.51.100.8"); w.Code != 200 {
		t.Errorf("other client refused: %d", w.Code)
	}
	// X-Forwarded-For from an untrusted peer is not believed: the peer's own
	// address is counted, not the locked one it names.
	if w := post(h, "/v1/authenticate", "198.51.100.20:5", envelope("alice", "wonderland"), "X-Forwarded-For", "198.51.100.7"); w.Code != 200 {
		t.Errorf("untrusted peer: %d", w.Code)
	}
}

func newKey(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestIdentityRotationAndGateway(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	old := newKey(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	next := clk.t.Add(time.Hour)
	var audit bytes.Buffer
	srv, err := New(Options{Chain: testChain(t), Logger: quiet, Now: clk.now, Audit: &audit,
		Gateway: &GatewayOptions{},
		Identity: &IdentityOptions{Issuer: "https://authsvc.test", Audience: []string{"backend"}, TTL: time.Minute,
			Keys: []SigningKey{{ID: "old", Key: old}, {ID: "new", Key: ec, ActiveFrom: next}}}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	kids := func() string {
		r := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range set.Keys {
			if !k.IsPublic() {
				t.Fatal("private key published")
			}
			ids = append(ids, k.KeyID+"/"+k.Algorithm)
		}
		return strings.Join(ids, ",")
	}
	verify := func(tok, wantKid string) AssertionClaims {
		t.Helper()
		parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		if parsed.Headers[0].KeyID != wantKid {
			t.Errorf("signed by %q, want %q", parsed.Headers[0].KeyID, wantKid)
		}
		var pub any = old.Public()
		if wantKid == "new" {
			pub = ec.Public()
		}
		var c AssertionClaims
		if err := parsed.Claims(pub, &c); err != nil {
			t.Fatal(err)
		}
		if err := c.ValidateWithLeeway(jwt.Expected{Issuer: "https://authsvc.test", AnyAudience: []string{"backend"}, Time: clk.now()}, 0); err != nil {
			t.Error(err)
		}
		return c
	}
	// Before rotation: old signs, new is pre-published.
	if k := kids(); k != "old/EdDSA,new/ES256" {
		t.Errorf("jwks before rotation: %s", k)
	}
	w := post(h, "/v1/ext-authz/soap/echo", "127.0.0.1:1", envelope("alice", "wonderland"),
		"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/soap/echo")
	if w.Code != 200 {
		t.Fatalf("gateway: %d %s", w.Code, w.Body)
	}
	c := verify(w.Header().Get("X-Authenticated-Assertion"), "old")
	if c.Subject != "alice" || c.AuthMethod != "UsernameToken" || c.TokenType != "PasswordText" ||
		strings.Join(c.Groups, ",") != "soap-users" || c.ID == "" || c.RequestID != w.Header().Get("X-Request-Id") {
		t.Errorf("claims %+v", c)
	}
	if _, ok := w.Header()["X-Authenticated-Realm"]; !ok || w.Header().Get("X-Authenticated-User") != "alice" {
		t.Errorf("identity headers %v", w.Header())
	}
	// After rotation: new signs; old is listed until its assertions expired.
	clk.add(time.Hour)
	w = post(h, "/v1/ext-authz", "127.0.0.1:1", envelope("alice", "wonderland"))
	verify(w.Header().Get("X-Authenticated-Assertion"), "new")
	if k := kids(); k != "old/EdDSA,new/ES256" {
		t.Errorf("jwks just after rotation: %s", k)
	}
	clk.add(time.Minute + assertionLeeway)
	if k := kids(); k != "new/ES256" {
		t.Errorf("jwks after old assertions expired: %s", k)
	}
	// A rejection is the SOAP fault.
	w = post(h, "/v1/ext-authz", "127.0.0.1:1", envelope("alice", "nope"))
	if w.Code != 500 || !strings.Contains(w.Body.String(), "wsse:FailedAuthentication") || w.Header().Get("X-Authenticated-Assertion") != "" {
		t.Errorf("gateway reject: %d %v %s", w.Code, w.Header(), w.Body)
	}
	// Audit: three records, no password.
	lines := strings.Split(strings.TrimSpace(audit.String()), "\n")
	if len(lines) != 3 || strings.Contains(audit.String(), "wonderland") || strings.Contains(audit.String(), "nope") {
		t.Fatalf("audit:\n%s", audit.String())
	}
	var rec AuditRecord
	json.Unmarshal([]byte(lines[0]), &rec)
	if rec.Outcome != "accepted" || rec.Principal != "alice" || rec.URI != "POST /soap/echo" || rec.Endpoint != "gateway" {
		t.Errorf("audit record %+v", rec)
	}
	json.Unmarshal([]byte(lines[2]), &rec)
	if rec.Outcome != "rejected" || rec.Principal != "alice" || rec.Fault != "FailedAuthentication" || rec.Reason != "wrong password" {
		t.Errorf("audit record %+v", rec)
	}
}
