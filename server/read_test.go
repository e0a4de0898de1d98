package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// TestReadEnvelopeTrickled: a message that arrives a byte per read, with
// "Body" in its header text long before the Body, is still read and judged.
func TestReadEnvelopeTrickled(t *testing.T) {
	accept := authn.ModuleFunc(func(_ context.Context, r *authn.Request, s *authn.Subject) (bool, error) {
		sec := r.Security()
		if sec == nil || len(sec.UsernameTokens) != 1 {
			return false, authn.ErrUnsupported
		}
		s.Principal = sec.UsernameTokens[0].Username
		r.MarkProcessedAt(sec.UsernameTokens[0].Start)
		return true, nil
	})
	chain, err := authn.NewChain(authn.Entry{Name: "any", Flag: authn.Requisite, Module: accept})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Chain: chain})
	if err != nil {
		t.Fatal(err)
	}
	// A header of ~40 KB in which the word "Body" appears long before the
	// real Body, sent one byte per read.
	filler := `<x:pad xmlns:x="urn:pad">` + strings.Repeat("Body text ", 4000) + `</x:pad>`
	msg := string(wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "alice", Password: "pw", NoNonce: true}, "<e/>"))
	msg = strings.Replace(msg, "<soap:Header>", "<soap:Header>"+filler, 1)
	for _, body := range []string{msg, msg + strings.Repeat(" ", 100000)} {
		req := httptest.NewRequest(http.MethodPost, "/v1/authenticate", iotest.OneByteReader(strings.NewReader(body)))
		req.Header.Set("Content-Type", "text/xml")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"principal":"alice"`) {
			t.Fatalf("trickled message: %d %s", w.Code, w.Body.String())
		}
	}
}

func TestSpoofsIdentity(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Authenticated-User": true, "x-authenticated-groups": true, "X_Authenticated_User": true,
		"X-AUTHENTICATED_Principal": true, "X-Authenticated": false, "X-Authenticator-User": false,
		"Authorization": false, "X-Authenticated-": true,
	} {
		if got := spoofsIdentity(name, "X-Authenticated-"); got != want {
			t.Errorf("spoofsIdentity(%q) = %v", name, got)
		}
	}
}

// TestPanicBecomesSOAPFault: a module that panics (a bug) costs the client
// a well-formed SOAP fault, not a dropped connection, and the service stays up.
func TestPanicBecomesSOAPFault(t *testing.T) {
	boom := authn.ModuleFunc(func(context.Context, *authn.Request, *authn.Subject) (bool, error) { panic("bug") })
	chain, _ := authn.NewChain(authn.Entry{Name: "boom", Flag: authn.Required, Module: boom})
	srv, err := New(Options{Chain: chain, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	msg := wsseclient.Envelope(wsse.SOAP12, wsseclient.UsernameToken{Username: "a", Password: "b", NoNonce: true}, "")
	for i := 0; i < 2; i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/authenticate", strings.NewReader(string(msg)))
		req.Header.Set("Content-Type", "application/soap+xml")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		if w.Code != 500 || !strings.Contains(w.Body.String(), "<env:Value>env:Receiver</env:Value>") ||
			!strings.HasPrefix(w.Header().Get("Content-Type"), "application/soap+xml") {
			t.Fatalf("%d %s %s", w.Code, w.Header(), w.Body.String())
		}
	}
}
