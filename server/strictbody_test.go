package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// sinkTransport is an upstream that reads the whole request body and
// answers 200; it keeps what it read.
type sinkTransport struct {
	got    []byte
	header http.Header
}

func (s *sinkTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var err error
	s.got = s.got[:0]
	s.header = r.Header.Clone()
	if r.Body != nil {
		var b bytes.Buffer
		_, err = io.Copy(&b, r.Body)
		s.got = append(s.got, b.Bytes()...)
		r.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/xml"}},
		Body: io.NopCloser(strings.NewReader("<ok/>")), Request: r}, nil
}

func strictServer(t testing.TB, strict bool, tr http.RoundTripper) *Server {
	t.Helper()
	accept := authn.ModuleFunc(func(_ context.Context, r *authn.Request, s *authn.Subject) (bool, error) {
		sec := r.Security()
		if sec == nil || len(sec.UsernameTokens) != 1 {
			return false, authn.ErrUnsupported
		}
		s.Principal, s.Method, s.TokenType = sec.UsernameTokens[0].Username, "UsernameToken", "PasswordText"
		r.MarkProcessedAt(sec.UsernameTokens[0].Start)
		return true, nil
	})
	chain, err := authn.NewChain(authn.Entry{Name: "any", Flag: authn.Requisite, Module: accept})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := url.Parse("http://upstream.invalid")
	srv, err := New(Options{Chain: chain, Proxy: &ProxyOptions{Upstream: up, StrictEnvelope: strict, Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// payload of about size bytes: "elements" is markup-heavy, "text" one big
// text node (Base64-like).
func payload(kind string, size int) string {
	var b strings.Builder
	b.WriteString(`<e:Echo xmlns:e="urn:example:echo">`)
	for b.Len() < size {
		if kind == "text" {
			b.WriteString(strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", 28) + "\n")
		} else {
			fmt.Fprintf(&b, `<e:item id="%d" kind='a'><e:name>widget &amp; co</e:name><e:price cur="EUR">12.50</e:price></e:item>`+"\n", b.Len())
		}
	}
	b.WriteString(`</e:Echo>`)
	return b.String()
}

func message(body string) []byte {
	return wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "alice", Password: "pw", NoNonce: true}, body)
}

// TestCheckedBodyHoldsTheLastByte: whatever the read sizes, a good message
// comes out unchanged, and a refused one never comes out whole.
func TestCheckedBodyHoldsTheLastByte(t *testing.T) {
	good := message(payload("elements", 20000))
	bad := append(append([]byte(nil), good...), "<x/>"...)
	for _, c := range []struct {
		name string
		msg  []byte
		ok   bool
	}{{"good", good, true}, {"trailing element", bad, false},
		{"unclosed Body", good[:bytes.LastIndex(good, []byte("</soap:Body>"))], false}} {
		env, err := wsse.Parse(c.msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		newBody := func(r io.Reader) *checkedBody {
			return &checkedBody{r: r, c: wsse.NewBodyChecker(env), refused: func(*wsse.Error) {}}
		}
		rest := c.msg[env.BodyStart:]
		readers := map[string]func() io.Reader{
			"one byte per read":   func() io.Reader { return iotest.OneByteReader(newBody(bytes.NewReader(rest))) },
			"one byte from below": func() io.Reader { return newBody(iotest.OneByteReader(bytes.NewReader(rest))) },
			"half reads":          func() io.Reader { return iotest.HalfReader(newBody(iotest.DataErrReader(bytes.NewReader(rest)))) },
			"whole":               func() io.Reader { return newBody(bytes.NewReader(rest)) },
		}
		for rn, r := range readers {
			got, err := io.ReadAll(r())
			if c.ok {
				if err != nil || !bytes.Equal(got, rest) {
					t.Errorf("%s, %s: %d of %d bytes, %v", c.name, rn, len(got), len(rest), err)
				}
				continue
			}
			var ee *envelopeError
			if !errors.As(err, &ee) || len(got) >= len(rest) {
				t.Errorf("%s, %s: %d of %d bytes passed, error %v", c.name, rn, len(got), len(rest), err)
			}
		}
		if c.ok {
			if err := iotest.TestReader(newBody(bytes.NewReader(rest)), rest); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		}
	}
}

// TestProxyStrictScrubbed: with scrub_password the forwarded head is
// shorter; the check still starts at the Body start tag.
func TestProxyStrictScrubbed(t *testing.T) {
	tr := &sinkTransport{}
	srv := strictServer(t, true, tr)
	srv.o.Proxy.ScrubPassword = true
	msg := message(payload("elements", 5000))
	req := httptest.NewRequest(http.MethodPost, "/svc", iotest.HalfReader(bytes.NewReader(msg)))
	req.Header.Set("Content-Type", "text/xml")
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, req)
	if w.Code != 200 || !bytes.Equal(tr.got, bytes.Replace(msg, []byte(">pw<"), []byte("><"), 1)) {
		t.Fatalf("%d %s; upstream got %d bytes of %d", w.Code, w.Body.String(), len(tr.got), len(msg))
	}
	bad := append(append([]byte(nil), msg...), "junk"...)
	req = httptest.NewRequest(http.MethodPost, "/svc", iotest.HalfReader(bytes.NewReader(bad)))
	req.Header.Set("Content-Type", "text/xml")
	w = httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, req)
	if w.Code != 500 || !strings.Contains(w.Body.String(), "wsse:InvalidSecurity") {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
}

// BenchmarkProxyStrictEnvelope: the proxy handler forwarding a 1 MiB
// message to an upstream that reads it all, with and without
// strict_envelope.
func BenchmarkProxyStrictEnvelope(b *testing.B) {
	for _, kind := range []string{"elements", "text"} {
		msg := message(payload(kind, 1<<20))
		for _, strict := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/strict=%v", kind, strict), func(b *testing.B) {
				tr := &sinkTransport{got: make([]byte, 0, len(msg))}
				srv := strictServer(b, strict, tr)
				h := srv.Handler()
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodPost, "/svc", bytes.NewReader(msg))
					req.Header.Set("Content-Type", "text/xml")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != 200 || len(tr.got) != len(msg) {
						b.Fatalf("%d %s", w.Code, w.Body.String())
					}
				}
			})
		}
	}
}

// TestProxyOwnHeadersNotOverridable: no spelling of a header the proxy
// sets (identity headers, X-Request-Id, the assertion header even outside
// the identity prefix) sent by the client reaches the upstream.
func TestProxyOwnHeadersNotOverridable(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tr := &sinkTransport{}
	accept := authn.ModuleFunc(func(_ context.Context, r *authn.Request, s *authn.Subject) (bool, error) {
		s.Principal, s.Method = "alice", "UsernameToken"
		for i := range r.Security().Elements {
			r.MarkProcessed(i)
		}
		return true, nil
	})
	chain, _ := authn.NewChain(authn.Entry{Name: "any", Flag: authn.Requisite, Module: accept})
	up, _ := url.Parse("http://upstream.invalid")
	srv, err := New(Options{Chain: chain, Proxy: &ProxyOptions{Upstream: up, Transport: tr},
		Identity: &IdentityOptions{Issuer: "https://authsvc.test", Audience: []string{"up"}, Header: "X-Identity",
			Keys: []SigningKey{{Key: key}}}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/svc", bytes.NewReader(message("<e/>")))
	req.Header.Set("Content-Type", "text/xml")
	for _, k := range []string{"X_Identity", "x_identity", "X-IDENTITY", "X_Request_Id", "X_Authenticated_User", "x-authenticated-groups"} {
		req.Header[k] = []string{"forged"}
	}
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	for k, v := range tr.header {
		for _, x := range v {
			if x == "forged" {
				t.Errorf("the client's %s reached the upstream", k)
			}
		}
	}
	if tr.header.Get("X-Identity") == "" || tr.header.Get("X-Authenticated-User") != "alice" || tr.header.Get("X-Request-Id") == "" {
		t.Errorf("the proxy's own headers are missing: %v", tr.header)
	}
}

// TestSetIdentityNames: the identity headers are written under the names
// Header.Set would give them, for any prefix spelling, each with its own
// one-element value (appending to one must not change another).
func TestSetIdentityNames(t *testing.T) {
	sub := &authn.Subject{Principal: "al,ice", Realm: "EXAMPLE.ORG", Method: "UsernameToken",
		TokenType: "PasswordText", Groups: []string{"a", "b%c"}}
	for _, prefix := range []string{"X-Authenticated-", "x-auth-", "X_ID_", "remote-"} {
		want := http.Header{}
		want.Set(prefix+"User", "al%2Cice")
		want.Set(prefix+"Realm", "EXAMPLE.ORG")
		want.Set(prefix+"Principal", "al%2Cice@EXAMPLE.ORG")
		want.Set(prefix+"Method", "UsernameToken")
		want.Set(prefix+"Token-Type", "PasswordText")
		want.Set(prefix+"Groups", "a,b%25c")
		got := http.Header{}
		setIdentity(got, newIdentityNames(prefix), sub)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("prefix %q:\n got %v\nwant %v", prefix, got, want)
		}
		got.Add(prefix+"User", "x")
		if v := got.Values(prefix + "Realm"); len(v) != 1 || v[0] != "EXAMPLE.ORG" {
			t.Fatalf("prefix %q: appending to User changed Realm: %q", prefix, v)
		}
	}
	got := http.Header{}
	setIdentity(got, newIdentityNames("X-A-"), &authn.Subject{Principal: "bob", Method: "Kerberos"})
	if len(got) != 3 || got.Get("X-A-Principal") != "bob" {
		t.Fatalf("without realm, token type or groups: %v", got)
	}
}

// writerToTransport records whether the forwarded body offers WriteTo.
type writerToTransport struct{ writerTo bool }

func (t *writerToTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	_, t.writerTo = r.Body.(io.WriterTo)
	return drainTransport{}.RoundTrip(r)
}

// TestForwardedBodyHasNoWriteTo: the transport copies a body that offers
// WriteTo through it, and io.MultiReader's allocates 32 KiB per call. A
// chunked message is forwarded as head plus rest, through a MultiReader.
func TestForwardedBodyHasNoWriteTo(t *testing.T) {
	tr := &writerToTransport{}
	up, _ := url.Parse("http://upstream.invalid")
	srv, err := New(Options{Chain: testChain(t), Logger: quiet, Proxy: &ProxyOptions{Upstream: up, Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	msg := envelope("alice", "wonderland")
	r := httptest.NewRequest(http.MethodPost, "/svc", iotest.HalfReader(bytes.NewReader(msg)))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "text/xml")
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	if w.Code != 200 || tr.writerTo {
		t.Fatalf("status %d, forwarded body offers WriteTo: %v", w.Code, tr.writerTo)
	}
}
