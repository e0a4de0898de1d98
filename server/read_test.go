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

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestReadEnvelopeSignedWhole: with a ds:Signature in the Security header
// the module sees the whole message (a signature may cover the Body), even
// when the reads split right after the Body start tag; without one, nothing
// far past the Body start tag is read before the chain decides (the rest
// is read and dropped after it).
func TestReadEnvelopeSignedWhole(t *testing.T) {
	var seen []byte
	var cr *countingReader
	readAtDecision := 0
	accept := authn.ModuleFunc(func(_ context.Context, r *authn.Request, s *authn.Subject) (bool, error) {
		sec := r.Security()
		if sec == nil || len(sec.UsernameTokens) != 1 {
			return false, authn.ErrUnsupported
		}
		seen = r.Envelope.Raw
		readAtDecision = cr.n
		s.Principal = sec.UsernameTokens[0].Username
		for i := range sec.Elements { // it stands for a module that verified them all
			r.MarkProcessed(i)
		}
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
	payload := "<e>" + strings.Repeat("<item>payload</item>\n", 50000) + "</e>" // ~1 MiB
	unsigned := string(wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "alice", Password: "pw", NoNonce: true}, payload))
	signed := strings.Replace(unsigned, "</wsse:Security>",
		`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature></wsse:Security>`, 1)
	for _, tc := range []struct {
		name   string
		msg    string
		signed bool
	}{{"unsigned", unsigned, false}, {"signed", signed, true}} {
		// The first read ends right after "<soap:Body", the rest comes 4 KiB
		// at a time.
		cut := strings.Index(tc.msg, "<soap:Body") + len("<soap:Body")
		cr = &countingReader{r: io.MultiReader(strings.NewReader(tc.msg[:cut]), iotest.HalfReader(strings.NewReader(tc.msg[cut:])))}
		req := httptest.NewRequest(http.MethodPost, "/v1/authenticate", cr)
		req.Header.Set("Content-Type", "text/xml")
		w := httptest.NewRecorder()
		seen = nil
		srv.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.name, w.Code, w.Body.String())
		}
		if tc.signed {
			if string(seen) != tc.msg {
				t.Errorf("signed: the module saw %d of the message's %d bytes", len(seen), len(tc.msg))
			}
		} else if readAtDecision > cut+64<<10 {
			t.Errorf("unsigned: read %d bytes of a %d-byte message whose Body starts at %d before the chain decided", readAtDecision, len(tc.msg), cut)
		}
		if cr.n != len(tc.msg) {
			// The rest is dropped after the decision (keep-alive).
			t.Errorf("%s: %d bytes of %d read by the end of the request", tc.name, cr.n, len(tc.msg))
		}
	}
}

// TestFaultVersionFromEnvelope: a SOAP 1.2 envelope sent with SOAP 1.1's
// Content-Type gets its fault in SOAP 1.2 once the envelope's start tag has
// been read, whether the header is malformed, the message is too large
// (a signed one read whole), or the chain rejects it; and the reverse.
func TestFaultVersionFromEnvelope(t *testing.T) {
	reject := authn.ModuleFunc(func(_ context.Context, r *authn.Request, s *authn.Subject) (bool, error) {
		return false, nil
	})
	chain, err := authn.NewChain(authn.Entry{Name: "none", Flag: authn.Requisite, Module: reject})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Chain: chain, MaxBodyBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []wsse.Version{wsse.SOAP11, wsse.SOAP12} {
		good := string(wsseclient.Envelope(v, wsseclient.UsernameToken{Username: "alice", Password: "pw", NoNonce: true}, "<e/>"))
		malformed := strings.Replace(good, "<wsse:Username>", "<wsse:Username><undeclared:x/>", 1)
		large := strings.Replace(good, "</wsse:Security>",
			`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></wsse:Security>`, 1)
		large = strings.Replace(large, "<e/>", "<e>"+strings.Repeat("x", 100<<10)+"</e>", 1)
		wrongCT := "application/soap+xml"
		if v == wsse.SOAP12 {
			wrongCT = "text/xml"
		}
		for name, msg := range map[string]string{"malformed": malformed, "rejected": good, "too large": large} {
			req := httptest.NewRequest(http.MethodPost, "/v1/authenticate", strings.NewReader(msg))
			req.Header.Set("Content-Type", wrongCT)
			req.ContentLength = -1 // the size is found while reading
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, req)
			body := w.Body.String()
			if w.Code < 400 || !strings.Contains(body, `Envelope xmlns:`) {
				t.Fatalf("%s SOAP %v: %d %s", name, v, w.Code, body)
			}
			if !strings.Contains(body, v.Namespace()) || strings.HasPrefix(w.Header().Get("Content-Type"), wrongCT) {
				t.Errorf("%s SOAP %v sent as %s: fault %s (%s)", name, v, wrongCT, w.Header().Get("Content-Type"), body)
			}
		}
	}
}

// TestReadRestGrowsWithData: a signed message whose Content-Length announces
// 10 MiB but which sends a few KiB and stops costs a buffer the size of what
// arrived, not of what was announced.
func TestReadRestGrowsWithData(t *testing.T) {
	srv, err := New(Options{Chain: mustChain(t), MaxBodyBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	msg := string(wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "alice", Password: "pw", NoNonce: true}, "<e/>"))
	msg = strings.Replace(msg, "</wsse:Security>",
		`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></wsse:Security>`, 1)
	req := httptest.NewRequest(http.MethodPost, "/v1/authenticate", strings.NewReader(msg))
	req.ContentLength = 10 << 20
	bp := new([]byte)
	res := &result{}
	if _, err := srv.readEnvelope(req.Body, bp, res, nil); err != nil {
		t.Fatal(err)
	}
	if c := cap(*bp); c > 64<<10 {
		t.Errorf("a %d-byte message announced as 10 MiB left a buffer of %d bytes", len(msg), c)
	}
}

func mustChain(t *testing.T) *authn.Chain {
	t.Helper()
	c, err := authn.NewChain(authn.Entry{Name: "none", Flag: authn.Requisite,
		Module: authn.ModuleFunc(func(context.Context, *authn.Request, *authn.Subject) (bool, error) { return false, nil })})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMaxSignedBytes: a message read whole (its Security header holds a
// signature) is refused with 413 and an InvalidSecurity fault once more
// than MaxSignedBytes have arrived, without reading the rest, although
// MaxBodyBytes would allow it; one below the limit is read and judged.
func TestMaxSignedBytes(t *testing.T) {
	srv, err := New(Options{Chain: mustChain(t), MaxBodyBytes: 16 << 20, MaxSignedBytes: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	signed := func(body int) string {
		msg := string(wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "alice", Password: "pw", NoNonce: true},
			"<e>"+strings.Repeat("x", body)+"</e>"))
		return strings.Replace(msg, "</wsse:Security>",
			`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></wsse:Security>`, 1)
	}
	post := func(msg string) (*httptest.ResponseRecorder, int) {
		body := &countingReader{r: strings.NewReader(msg)}
		req := httptest.NewRequest(http.MethodPost, "/v1/authenticate", body)
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		return w, body.n
	}

	big := signed(6 << 20)
	w, read := post(big)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "InvalidSecurity") {
		t.Errorf("%d-byte signed message: %d %s; want 413 with an InvalidSecurity fault", len(big), w.Code, w.Body)
	}
	if read > 2<<20 {
		t.Errorf("read %d bytes of a %d-byte signed message before refusing it past max_signed_bytes (1 MiB)", read, len(big))
	}

	small := signed(512 << 10)
	if w, read := post(small); w.Code == http.StatusRequestEntityTooLarge || read != len(small) {
		t.Errorf("%d-byte signed message: %d after reading %d bytes; want it read whole and judged", len(small), w.Code, read)
	}
}
