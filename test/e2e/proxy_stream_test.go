package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/wsse"
)

// rawUpstream is a SOAP endpoint on a bare TCP listener that keeps the
// exact bytes of every request it reads (request line, headers, chunk
// framing, trailers), so a test sees what a trailer-merging upstream sees.
type rawUpstream struct {
	URL  string
	ln   net.Listener
	mu   sync.Mutex
	reqs []rawRequest
	wg   sync.WaitGroup
}

type rawRequest struct {
	raw      []byte // everything read from the connection for this request
	header   http.Header
	trailer  http.Header
	body     []byte
	complete bool // the body was read to its end without an error
	err      error
}

func newRawUpstream(t *testing.T) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{URL: "http://" + ln.Addr().String(), ln: ln}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				u.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		u.wg.Wait()
	})
	return u
}

// teeConn records what is read from a connection.
type teeConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.buf.Write(p[:n])
	return n, err
}

func (u *rawUpstream) serve(c net.Conn) {
	defer c.Close()
	tc := &teeConn{Conn: c}
	br := bufio.NewReader(tc)
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		// What the reader buffered past this request belongs to the next.
		raw := append([]byte(nil), tc.buf.Bytes()[:tc.buf.Len()-br.Buffered()]...)
		rest := append([]byte(nil), tc.buf.Bytes()[tc.buf.Len()-br.Buffered():]...)
		tc.buf.Reset()
		tc.buf.Write(rest)
		u.mu.Lock()
		u.reqs = append(u.reqs, rawRequest{raw: raw, header: req.Header, trailer: req.Trailer, body: body,
			complete: err == nil, err: err})
		u.mu.Unlock()
		if err != nil {
			return
		}
		resp := fmt.Sprintf(`<s:Envelope xmlns:s="%s"><s:Body><e:EchoResponse xmlns:e="urn:example:echo"><e:text>echo from %s</e:text></e:EchoResponse></s:Body></s:Envelope>`,
			wsse.NSSOAP11, req.Header.Get("X-Authenticated-User"))
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s", len(resp), resp)
	}
}

func (u *rawUpstream) all() []rawRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]rawRequest(nil), u.reqs...)
}

// sendChunked sends msg to the service as a chunked POST in many small TCP
// writes (chunks of size chunk), with the trailer lines after the last
// chunk, and returns the response.
func sendChunked(t *testing.T, svcURL, path string, msg []byte, chunk int, header, trailer []string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(svcURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	errc := make(chan error, 1)
	go func() {
		w := func(s string) error { _, err := io.WriteString(c, s); return err }
		var b strings.Builder
		fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: authsvc\r\nContent-Type: text/xml; charset=utf-8\r\nTransfer-Encoding: chunked\r\n", path)
		for _, h := range header {
			b.WriteString(h + "\r\n")
		}
		b.WriteString("\r\n")
		if err := w(b.String()); err != nil {
			errc <- err
			return
		}
		for i := 0; i < len(msg); i += chunk {
			p := msg[i:min(i+chunk, len(msg))]
			if err := w(fmt.Sprintf("%x\r\n%s\r\n", len(p), p)); err != nil {
				errc <- err // the service may answer (and stop reading) early
				return
			}
		}
		b.Reset()
		b.WriteString("0\r\n")
		for _, h := range trailer {
			b.WriteString(h + "\r\n")
		}
		b.WriteString("\r\n")
		errc <- w(b.String())
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v (writing: %v)", err, <-errc)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestProxyDropsClientTrailers: HTTP trailers are headers too. A client
// that sends identity headers as trailers (in either spelling) must not
// reach the upstream with them, nor with a Trailer announcement of them:
// an upstream that merges trailers into its headers would see a forged
// identity. The identity headers authsvc sets are the only ones upstream.
func TestProxyDropsClientTrailers(t *testing.T) {
	up := newRawUpstream(t)
	cfg := baseConfig + "proxy:\n  upstream: " + up.URL + "\n"
	svc := StartService(t, cfg, map[string]string{"users.yaml": usersFile(t)})
	msg := zeep(t, "--user", "alice", "--password", "wonderland", "--digest", "--text", "z", "--text-repeat", "20000")
	resp, body := sendChunked(t, svc.URL, "/svc", msg, 700,
		[]string{"Trailer: X-Authenticated-User, X_Authenticated_Groups, X-Request-Id, X-Other", "X-Authenticated-User: mallory", "Te: trailers",
			"Connection: keep-alive, X-Authenticated-User, X-Request-Id"},
		[]string{"X-Authenticated-User: admin", "X_Authenticated_Groups: wheel", "X-Request-Id: forged", "X-Other: harmless",
			"X-Authenticated-Principal: root@EVIL"}) // the last one unannounced
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("echo from alice")) {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	reqs := up.all()
	if len(reqs) != 1 {
		t.Fatalf("upstream received %d requests", len(reqs))
	}
	r := reqs[0]
	if !r.complete || !bytes.Equal(r.body, msg) {
		t.Fatalf("upstream body: complete %v, %d bytes of %d (%v)", r.complete, len(r.body), len(msg), r.err)
	}
	if len(r.trailer) != 0 {
		t.Errorf("client trailers reached the upstream: %v", r.trailer)
	}
	lower := bytes.ToLower(r.raw)
	for _, s := range []string{"admin", "wheel", "mallory", "forged", "harmless", "root@evil", "\r\ntrailer:"} {
		if bytes.Contains(lower, []byte(s)) {
			t.Errorf("the upstream's request contains %q:\n%s", s, headOf(r.raw))
		}
	}
	if g := r.header.Values("X-Authenticated-User"); len(g) != 1 || g[0] != "alice" {
		t.Errorf("X-Authenticated-User = %q", g)
	}
	svc.WaitLog(t, `"msg":"proxy: client trailers are not forwarded"`)
	if g := r.header.Get("X-Authenticated-Groups"); g != "soap-users,a%2Cb" {
		t.Errorf("X-Authenticated-Groups = %q", g)
	}
	if g := r.header.Values("X-Request-Id"); len(g) != 1 || g[0] == "forged" {
		t.Errorf("X-Request-Id = %q", g)
	}
}

// headOf is the request up to the end of its header block, for messages.
func headOf(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[:i]
	}
	return raw
}
