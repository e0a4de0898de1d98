package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/authsvc/authsvc/lockout"
)

// BenchmarkAuthenticateAPI: one small UsernameToken message through
// /v1/authenticate (parse, chain, JSON answer), without and with the
// brute-force guard (its memory store), and with the log at level info
// (one JSON line a request, as the service logs by default, written
// synchronously here).
func BenchmarkAuthenticateAPI(b *testing.B) {
	for _, name := range []string{"plain", "lockout", "logged"} {
		b.Run(name, func(b *testing.B) {
			o := Options{Chain: testChain(&testing.T{}), Logger: quiet}
			switch name {
			case "lockout":
				o.Lockout = lockoutOptions()
			case "logged":
				o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
			}
			srv, err := New(o)
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			msg := envelope("alice", "wonderland")
			b.ReportAllocs()
			for b.Loop() {
				if w := post(h, "/v1/authenticate", "192.0.2.1:1000", msg); w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

func lockoutOptions() *lockout.Options {
	p := lockout.Policy{MaxFailures: 5, Window: time.Hour, Lockout: time.Minute, MaxLockout: time.Hour}
	return &lockout.Options{Principal: p, Address: p}
}

// drainTransport is an upstream that reads and discards the request body
// and answers a fixed 200, so that a benchmark measures the proxy's own
// work.
type drainTransport struct{}

func (drainTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/xml"}},
		ContentLength: 5, Body: io.NopCloser(strings.NewReader("<ok/>")), Request: r}, nil
}

// BenchmarkProxySmall: one small UsernameToken message through proxy mode
// (parse, chain, rewrite, identity headers) to an upstream that costs
// next to nothing, with the headers a SOAP client sends: with a
// Content-Length (net/http's body then gives io.EOF with its last bytes,
// so the whole message is read before forwarding), and chunked, where
// the message is forwarded from the head read plus what follows.
func BenchmarkProxySmall(b *testing.B) {
	up, _ := url.Parse("http://upstream.invalid")
	srv, err := New(Options{Chain: testChain(&testing.T{}), Logger: quiet,
		Proxy: &ProxyOptions{Upstream: up, Transport: drainTransport{}}})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	msg := envelope("alice", "wonderland")
	for _, chunked := range []bool{false, true} {
		name := "length"
		if chunked {
			name = "chunked"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				body, n := iotest.DataErrReader(bytes.NewReader(msg)), int64(len(msg))
				if chunked {
					body, n = iotest.HalfReader(bytes.NewReader(msg)), -1
				}
				r := httptest.NewRequest(http.MethodPost, "/svc", body)
				r.ContentLength = n
				r.RemoteAddr = "192.0.2.1:1000"
				r.Header.Set("Content-Type", "text/xml")
				r.Header.Set("SOAPAction", `"urn:echo"`)
				r.Header.Set("User-Agent", "Apache-CXF/4.0")
				r.Header.Set("Accept", "*/*")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
