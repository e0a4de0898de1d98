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
	return sendRaw(t, svcURL, path, msg, chunk, true, header, trailer)
}

// sendRaw sends msg in writes of piece bytes, chunked or with a
// Content-Length.
func sendRaw(t *testing.T, svcURL, path string, msg []byte, piece int, chunked bool, header, trailer []string) (*http.Response, []byte) {
	t.Helper()
	chunk := piece
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
		fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: authsvc\r\nContent-Type: text/xml; charset=utf-8\r\n", path)
		if chunked {
			b.WriteString("Transfer-Encoding: chunked\r\n")
		} else {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", len(msg))
		}
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
			frame := string(p)
			if chunked {
				frame = fmt.Sprintf("%x\r\n%s\r\n", len(p), p)
			}
			if err := w(frame); err != nil {
				errc <- err // the service may answer (and stop reading) early
				return
			}
		}
		if !chunked {
			errc <- nil
			return
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

const (
	zeepBodyStart = "<soap-env:Body>"
	zeepBodyEnd   = "</soap-env:Body>"
	zeepEnvEnd    = "</soap-env:Envelope>"
)

// withPayload puts a realistic payload of about size bytes (elements,
// attributes, references, a CDATA section, a comment, non-ASCII text) at
// the start of the zeep message's Body.
func withPayload(t *testing.T, msg []byte, size int) []byte {
	t.Helper()
	var p bytes.Buffer
	p.WriteString(`<x:orders xmlns:x="urn:example:orders" x:batch="7">`)
	for i := 0; p.Len() < size; i++ {
		fmt.Fprintf(&p, "\n  <x:order id=\"%d\" state='open'><x:customer>Zoë &amp; Søren Ltd. &#x263A;</x:customer>"+
			"<x:note><![CDATA[<b>fragile</b> & urgent]]></x:note><!-- line %d --><x:total cur=\"EUR\">%d.50</x:total></x:order>", i, i, i)
	}
	p.WriteString("\n</x:orders>")
	i := bytes.Index(msg, []byte(zeepBodyStart))
	if i < 0 {
		t.Fatalf("no %s in the zeep message", zeepBodyStart)
	}
	i += len(zeepBodyStart)
	return append(append(append([]byte(nil), msg[:i]...), p.Bytes()...), msg[i:]...)
}

// spoiled is a way to make a message that authenticates but whose part
// after the Body start tag is not what the upstream should get.
type spoiled struct {
	name  string
	spoil func(msg []byte) []byte
}

var spoils = []spoiled{
	{"second Header after the Body", func(m []byte) []byte {
		return bytes.Replace(m, []byte(zeepBodyEnd), []byte(zeepBodyEnd+`<soap-env:Header><x:Role xmlns:x="urn:x">admin</x:Role></soap-env:Header>`), 1)
	}},
	{"second Envelope", func(m []byte) []byte {
		return append(m, []byte(`<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><ns0:Delete xmlns:ns0="urn:example:echo"/></soap-env:Body></soap-env:Envelope>`)...)
	}},
	{"DOCTYPE in the body", func(m []byte) []byte {
		return bytes.Replace(m, []byte(zeepBodyStart), []byte(zeepBodyStart+`<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`), 1)
	}},
	{"unclosed Body", func(m []byte) []byte {
		return bytes.TrimSuffix(bytes.TrimSpace(m), []byte(zeepBodyEnd+zeepEnvEnd))
	}},
	{"trailing garbage", func(m []byte) []byte { return append(m, []byte("\ngarbage")...) }},
}

// TestProxyStrictEnvelope: with proxy.strict_envelope, the part of the
// message after the Body start tag is checked while it streams to the
// upstream. Good messages of KiB to 1 MiB, sent in many small writes,
// chunked or not, reach the upstream byte for byte; a message with a second
// Header after the Body, a second Envelope, a DOCTYPE, an unclosed Body or
// trailing garbage is refused with an InvalidSecurity fault and the
// upstream never receives it whole. Without the option the same messages
// pass (the documented default).
func TestProxyStrictEnvelope(t *testing.T) {
	strictUp := newRawUpstream(t)
	strict := StartService(t, baseConfig+"proxy:\n  upstream: "+strictUp.URL+"\n  strict_envelope: true\n",
		map[string]string{"users.yaml": usersFile(t)})
	plainUp := newRawUpstream(t)
	plain := StartService(t, baseConfig+"proxy:\n  upstream: "+plainUp.URL+"\n",
		map[string]string{"users.yaml": usersFile(t)})

	sizes := []int{4 << 10, 64 << 10, 1 << 20}
	msgs := zeepMessages(t, 2*len(sizes)*2+2*len(spoils)*3)
	next := func() []byte {
		m := msgs[0]
		msgs = msgs[1:]
		return m
	}

	t.Run("good messages pass byte for byte", func(t *testing.T) {
		for _, size := range sizes {
			for _, chunked := range []bool{true, false} {
				msg := withPayload(t, next(), size)
				before := len(strictUp.all())
				resp, body := sendRaw(t, strict.URL, "/svc", msg, 1400, chunked, nil, nil)
				if resp.StatusCode != 200 || !bytes.Contains(body, []byte("echo from alice")) {
					t.Fatalf("%d bytes, chunked %v: status %d: %s", len(msg), chunked, resp.StatusCode, body)
				}
				reqs := strictUp.all()
				if len(reqs) != before+1 {
					t.Fatalf("upstream received %d requests, want 1", len(reqs)-before)
				}
				if r := reqs[len(reqs)-1]; !r.complete || !bytes.Equal(r.body, msg) {
					t.Errorf("%d bytes, chunked %v: the upstream got %d bytes (complete %v), not the message", len(msg), chunked, len(r.body), r.complete)
				}
			}
		}
		// Also a realistic message with a comment and white space after the Envelope.
		msg := append(withPayload(t, next(), 8<<10), []byte("\n<!-- end -->\n")...)
		if resp, body := sendRaw(t, strict.URL, "/svc", msg, 512, true, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("trailing comment: status %d: %s", resp.StatusCode, body)
		}
		if r := strictUp.all(); !bytes.Equal(r[len(r)-1].body, msg) {
			t.Errorf("trailing comment: the upstream did not get the message")
		}
	})

	for _, sp := range spoils {
		t.Run(sp.name, func(t *testing.T) {
			for _, chunked := range []bool{true, false} {
				msg := sp.spoil(withPayload(t, next(), 256<<10))
				before := len(strictUp.all())
				resp, body := sendRaw(t, strict.URL, "/svc", msg, 1400, chunked, nil, nil)
				if resp.StatusCode != 500 || faultCode(t, "11", body) != "InvalidSecurity" {
					t.Fatalf("chunked %v: status %d: %s", chunked, resp.StatusCode, body)
				}
				waitLogLine(t, strict, resp.Header.Get("X-Request-Id"), `"reason":"strict_envelope: after the SOAP Body start tag`)
				for _, r := range strictUp.all()[before:] {
					if r.complete {
						t.Errorf("chunked %v: the upstream received a complete request of %d bytes (message %d bytes)", chunked, len(r.body), len(msg))
					}
				}
				// Small, in one write: the service may read it whole
				// before authenticating.
				resp, body = strict.Post(t, "/svc", soapContentType("11"), sp.spoil(next()))
				if resp.StatusCode != 500 || faultCode(t, "11", body) != "InvalidSecurity" {
					t.Fatalf("small: status %d: %s", resp.StatusCode, body)
				}
				for _, r := range strictUp.all()[before:] {
					if r.complete {
						t.Errorf("small: the upstream received a complete request")
					}
				}
				// Without strict_envelope the message passes as it is.
				msg = sp.spoil(withPayload(t, next(), 256<<10))
				resp, body = sendRaw(t, plain.URL, "/svc", msg, 1400, chunked, nil, nil)
				if resp.StatusCode != 200 {
					t.Fatalf("without strict_envelope: status %d: %s", resp.StatusCode, body)
				}
				if r := plainUp.all(); !bytes.Equal(r[len(r)-1].body, msg) {
					t.Errorf("without strict_envelope the upstream did not get the message as sent")
				}
			}
		})
	}
	strict.Healthy(t)
	resp, err := http.Get(strict.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("\nauthsvc_proxy_strict_envelope_refusals_total %d\n", 4*len(spoils)); !strings.Contains(string(m), want) {
		t.Errorf("metrics lack %q", strings.TrimSpace(want))
	}
}

// waitLogLine waits (up to 5 s) for a log line with the request id that
// contains sub: the log arrives through a pipe, line by line.
func waitLogLine(t *testing.T, svc *Service, requestID, sub string) {
	t.Helper()
	if requestID == "" {
		t.Fatal("no request id")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range strings.Split(svc.Log(), "\n") {
			if strings.Contains(l, requestID) && strings.Contains(l, sub) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line for request %s with %q", requestID, sub)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
