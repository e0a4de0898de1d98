package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// keepAliveServer is authsvc on a real listener whose new connections are
// counted, with a chain that accepts alice (password pw) and refuses others.
// The server records whether the last request came chunked.
func keepAliveServer(t *testing.T, maxBody int64) (*httptest.Server, *atomic.Int64, *atomic.Bool) {
	return keepAliveServerWith(t, Options{MaxBodyBytes: maxBody})
}

// keepAliveServerWith is keepAliveServer with more options (the proxy).
func keepAliveServerWith(t *testing.T, o Options) (*httptest.Server, *atomic.Int64, *atomic.Bool) {
	t.Helper()
	alice := authn.ModuleFunc(func(_ context.Context, r *authn.Request, s *authn.Subject) (bool, error) {
		sec := r.Security()
		if sec == nil || len(sec.UsernameTokens) != 1 {
			return false, authn.ErrUnsupported
		}
		ut := sec.UsernameTokens[0]
		if ut.Username != "alice" || ut.Password != "pw" {
			return false, nil
		}
		s.Principal = ut.Username
		r.MarkProcessedAt(ut.Start)
		return true, nil
	})
	chain, err := authn.NewChain(authn.Entry{Name: "alice", Flag: authn.Requisite, Module: alice})
	if err != nil {
		t.Fatal(err)
	}
	o.Chain, o.Logger = chain, slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	var chunked atomic.Bool
	h := srv.Handler()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunked.Store(len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked" && r.ContentLength == -1)
		h.ServeHTTP(w, r)
	}))
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, &conns, &chunked
}

// bigMessage is an unsigned UsernameToken message whose Body holds size
// bytes of padding after the Body start tag.
func bigMessage(user string, size int) []byte {
	pad := "<pad>" + strings.Repeat("0123456789abcdef", size/16) + "</pad>"
	return wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: user, Password: "pw", NoNonce: true}, pad)
}

// TestKeepAliveBigBodies: messages of 300 KiB and 2 MiB, with Content-Length
// and chunked, accepted and refused, all travel over one TCP connection of
// Go's HTTP client: the server drops what follows the head up to
// max_body_bytes instead of leaving net/http (which drains 256 KiB at most)
// to close the connection.
func TestKeepAliveBigBodies(t *testing.T) {
	ts, conns, sentChunked := keepAliveServer(t, 4<<20)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	n := 0
	for _, size := range []int{300 << 10, 2 << 20} {
		for _, chunked := range []bool{false, true} {
			for _, user := range []string{"alice", "mallory"} {
				msg := bigMessage(user, size)
				var body io.Reader = bytes.NewReader(msg)
				if chunked {
					body = io.MultiReader(body) // unknown length: chunked
				}
				req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/authenticate", body)
				req.Header.Set("Content-Type", "text/xml")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%d bytes chunked=%v %s: %v", len(msg), chunked, user, err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				n++
				if sentChunked.Load() != chunked {
					t.Fatalf("chunked=%v but the server saw chunked=%v", chunked, sentChunked.Load())
				}
				want := http.StatusOK
				if user != "alice" {
					want = http.StatusUnauthorized
				}
				if resp.StatusCode != want || resp.Close {
					t.Fatalf("%d bytes chunked=%v %s: %d (close=%v) %s", len(msg), chunked, user, resp.StatusCode, resp.Close, out)
				}
				if user == "alice" && !strings.Contains(string(out), `"principal":"alice"`) {
					t.Fatalf("accepted without the subject: %s", out)
				}
				if user != "alice" {
					if code, _ := faultCode(t, wsse.SOAP11, out); code.Local != "FailedAuthentication" {
						t.Fatalf("refusal's fault code %v: %s", code, out)
					}
				}
				if c := conns.Load(); c != 1 {
					t.Fatalf("after %d requests (the last %d bytes, chunked=%v, %s): %d TCP connections, want 1", n, len(msg), chunked, user, c)
				}
			}
		}
	}
}

// TestKeepAliveOverLimit: a chunked message past max_body_bytes (which
// Content-Length cannot announce) is refused with 413 and an
// InvalidSecurity fault, before the chain, and the connection is not reused
// (what is left of the body is not read); the next request works on a new
// connection.
func TestKeepAliveOverLimit(t *testing.T) {
	ts, conns, _ := keepAliveServer(t, 1<<20)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	post := func(msg []byte, chunked bool) (*http.Response, []byte) {
		var body io.Reader = bytes.NewReader(msg)
		if chunked {
			body = io.MultiReader(body)
		}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/authenticate", body)
		req.Header.Set("Content-Type", "text/xml")
		resp, err := client.Do(req)
		if err != nil {
			// The server may close before the client has sent everything.
			return nil, []byte(err.Error())
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, out
	}
	resp, out := post(bigMessage("alice", 2<<20), true)
	if resp == nil {
		t.Fatalf("2 MiB chunked past a 1 MiB limit: %s", out)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB chunked past a 1 MiB limit: %d %s", resp.StatusCode, out)
	}
	if code, _ := faultCode(t, wsse.SOAP11, out); code.Local != "InvalidSecurity" {
		t.Fatalf("fault code %v: %s", code, out)
	}
	resp, out = post(bigMessage("alice", 900<<10), false)
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("900 KiB under the limit after a refused one: %v %s", resp, out)
	}
	if c := conns.Load(); c != 2 {
		t.Fatalf("%d connections, want 2 (the over-limit one closed, then one)", c)
	}
}

// TestKeepAliveProxyBigBodies: in proxy mode an accepted 2 MiB message is
// streamed whole to the upstream and a refused one is dropped unparsed, and
// both leave the client's connection open.
func TestKeepAliveProxyBigBodies(t *testing.T) {
	var upBytes atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		upBytes.Store(n)
		io.WriteString(w, "<ok/>")
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	ts, conns, _ := keepAliveServerWith(t, Options{MaxBodyBytes: 4 << 20, Proxy: &ProxyOptions{Upstream: u}})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for _, user := range []string{"alice", "mallory", "alice", "mallory"} {
		msg := bigMessage(user, 2<<20)
		upBytes.Store(0)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/service", bytes.NewReader(msg))
		req.Header.Set("Content-Type", "text/xml")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case user == "alice" && (resp.StatusCode != http.StatusOK || upBytes.Load() != int64(len(msg))):
			t.Fatalf("alice: %d, upstream got %d of %d bytes: %s", resp.StatusCode, upBytes.Load(), len(msg), out)
		case user != "alice" && (resp.StatusCode != http.StatusInternalServerError || upBytes.Load() != 0):
			t.Fatalf("mallory: %d, upstream got %d bytes: %s", resp.StatusCode, upBytes.Load(), out)
		case resp.Close:
			t.Fatalf("%s: the server closed the connection", user)
		}
	}
	if c := conns.Load(); c != 1 {
		t.Fatalf("%d client connections for four 2 MiB messages, want 1", c)
	}
}

// TestKeepAliveChunkedTrailers: chunked messages over 256 KiB whose last
// chunk carries trailer fields, written by hand on one TCP connection in
// many small writes (as a client streaming from a slow source would), are
// answered, and the connection serves the next request: the drain reads
// past the last chunk and its trailers, not only up to the body's end. A
// trailer naming an identity header changes nothing in the answer.
func TestKeepAliveChunkedTrailers(t *testing.T) {
	ts, conns, _ := keepAliveServer(t, 4<<20)
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	send := func(msg []byte, trailers string) {
		t.Helper()
		head := "POST /v1/authenticate HTTP/1.1\r\nHost: authsvc\r\nContent-Type: text/xml; charset=utf-8\r\n" +
			"Transfer-Encoding: chunked\r\nTrailer: X-Checksum, X-Authenticated-User\r\n\r\n"
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		// Chunks of 1-4 KiB, each in two writes (size line, then data).
		for i, n := 0, 0; i < len(msg); i += n {
			n = min(1024*(1+i%4), len(msg)-i)
			if _, err := fmt.Fprintf(c, "%x\r\n", n); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(append(msg[i:i+n:i+n], "\r\n"...)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := io.WriteString(c, "0\r\n"+trailers+"\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	for i, user := range []string{"alice", "mallory", "alice"} {
		msg := bigMessage(user, 300<<10+i*100<<10)
		send(msg, "X-Checksum: 5d41402abc4b2a76\r\nX-Authenticated-User: admin\r\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d (%s, %d bytes chunked with trailers): %v", i, user, len(msg), err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := http.StatusOK
		if user != "alice" {
			want = http.StatusUnauthorized
		}
		if resp.StatusCode != want || resp.Close {
			t.Fatalf("request %d (%s): %d (close=%v) %s", i, user, resp.StatusCode, resp.Close, out)
		}
		if user == "alice" && (!strings.Contains(string(out), `"principal":"alice"`) || strings.Contains(string(out), "admin")) {
			t.Fatalf("request %d: accepted as %s", i, out)
		}
	}
	// A small request on the same connection after the three.
	send(bigMessage("alice", 1<<10), "")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("small request after the chunked ones: %v %v", resp, err)
	}
	resp.Body.Close()
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d TCP connections, want 1", n)
	}
}
