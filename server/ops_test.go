package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
)

type failing struct{}

func (failing) Check(context.Context) error {
	return errors.New("dial tcp 10.1.2.3:636: connection refused")
}

func get(h http.Handler, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

// The service's /readyz names a failing check without its error text (it
// may describe the internal network); the admin listener's has it. Drain
// makes both answer 503 with a "shutdown" check. With AdminOnlyMetrics,
// /metrics is only on the admin handler.
func TestReadinessDetailDrainAndAdmin(t *testing.T) {
	s, err := New(Options{Chain: testChain(t), Logger: quiet, AdminOnlyMetrics: true,
		Checkers: map[string]authn.Checker{"registry/directory": failing{}}})
	if err != nil {
		t.Fatal(err)
	}
	pub, admin := s.Handler(), s.AdminHandler()
	w := get(pub, "/readyz")
	if w.Code != 503 || !strings.Contains(w.Body.String(), `{"name":"registry/directory","ok":false,"error":"failing"}`) ||
		strings.Contains(w.Body.String(), "10.1.2.3") {
		t.Errorf("public /readyz: %d %s", w.Code, w.Body)
	}
	if w := get(admin, "/readyz"); w.Code != 503 || !strings.Contains(w.Body.String(), "dial tcp 10.1.2.3:636: connection refused") {
		t.Errorf("admin /readyz: %d %s", w.Code, w.Body)
	}
	if w := get(pub, "/metrics"); w.Code == 200 {
		t.Error("/metrics on the public handler with AdminOnlyMetrics")
	}
	if w := get(admin, "/metrics"); w.Code != 200 || !strings.Contains(w.Body.String(), `authsvc_dependency_check_failures_total{dependency="registry/directory"}`) {
		t.Errorf("admin /metrics: %d", w.Code)
	}

	ok, err := New(Options{Chain: testChain(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if w := get(ok.Handler(), "/readyz"); w.Code != 200 {
		t.Fatalf("ready before Drain: %d %s", w.Code, w.Body)
	}
	ok.Drain()
	for _, h := range []http.Handler{ok.Handler(), ok.AdminHandler()} {
		if w := get(h, "/readyz"); w.Code != 503 || !strings.Contains(w.Body.String(), `{"name":"shutdown","ok":false,"error":"shutting down"}`) {
			t.Errorf("/readyz after Drain: %d %s", w.Code, w.Body)
		}
	}
	if w := get(ok.Handler(), "/healthz"); w.Code != 200 {
		t.Errorf("/healthz after Drain: %d", w.Code)
	}
	if w := post(ok.Handler(), "/v1/authenticate", "192.0.2.1:1000", envelope("alice", "wonderland")); w.Code != 200 {
		t.Errorf("authenticate after Drain: %d", w.Code)
	}
}

// SwapAudit sends the next records to the new writer and hands back the
// old one; ReloadIdentityKeys swaps the keys, and a set without an active
// key is refused, keeping the keys in use.
func TestSwapAuditAndReloadIdentityKeys(t *testing.T) {
	var first, second bytes.Buffer
	k1, k2 := newKey(t), newKey(t)
	s, err := New(Options{Chain: testChain(t), Logger: quiet, Audit: &first,
		Identity: &IdentityOptions{Issuer: "https://a.test", Audience: []string{"x"}, Keys: []SigningKey{{ID: "k1", Key: k1}}}})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	post(h, "/v1/authenticate", "192.0.2.1:1000", envelope("alice", "wonderland"))
	if old := s.SwapAudit(&second); old != &first {
		t.Fatalf("SwapAudit returned %v", old)
	}
	post(h, "/v1/authenticate", "192.0.2.1:1000", envelope("alice", "nope"))
	if strings.Count(first.String(), "\n") != 1 || !strings.Contains(first.String(), `"outcome":"accepted"`) ||
		strings.Count(second.String(), "\n") != 1 || !strings.Contains(second.String(), `"outcome":"rejected"`) {
		t.Errorf("audit before the swap:\n%s\nafter:\n%s", &first, &second)
	}

	kid := func() string {
		t.Helper()
		w := post(h, "/v1/authenticate", "192.0.2.1:1000", envelope("alice", "wonderland"))
		tok := w.Header().Get("X-Authenticated-Assertion")
		hdr, _, _ := strings.Cut(tok, ".")
		return hdr
	}
	before := kid()
	if err := s.ReloadIdentityKeys([]SigningKey{{ID: "k1", Key: k1}, {ID: "k2", Key: k2}}); err != nil {
		t.Fatal(err)
	}
	after := kid()
	if before == after {
		t.Error("the assertion header names the same key after k2 was added (k2, later in the list, signs)")
	}
	if w := get(h, "/.well-known/jwks.json"); !strings.Contains(w.Body.String(), `"kid":"k2"`) {
		t.Errorf("JWKS: %s", w.Body)
	}
	future := []SigningKey{{ID: "k3", Key: newKey(t), ActiveFrom: time.Now().Add(time.Hour)}}
	if err := s.ReloadIdentityKeys(future); err == nil || !strings.Contains(err.Error(), "no identity key is active yet") {
		t.Fatalf("a set without an active key: %v", err)
	}
	if kid() != after {
		t.Error("a refused reload changed the signing key")
	}
}
