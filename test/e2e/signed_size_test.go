package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/test/wss4j"
)

// signedSizes are the Body payloads of the signed-message tests: none, the
// sizes at which a reader that stops at the Body start tag fails, and a
// MiB.
var signedSizes = []int{-1, 4 << 10, 16 << 10, 100 << 10, 1 << 20}

func sizeName(n int) string {
	if n < 0 {
		return "0KiB"
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// signedService is authsvc with a derived-key UsernameToken module, in
// proxy mode in front of up.
func signedService(t *testing.T, up *upstream) *Service {
	t.Helper()
	cfg := `
registries:
  users: {type: file, path: users.yaml}
chain:
  - name: users
    type: username
    flag: requisite
    registry: users
    derived_key: true
limits:
  max_body_bytes: 4194304
proxy:
  upstream: ` + up.URL + `
log: {level: debug}
`
	return StartService(t, cfg, map[string]string{"users.yaml": usersFile(t)})
}

// TestWSS4JSignedAnySize: Apache WSS4J derived-key messages whose signature
// covers the Body authenticate whatever the Body's size, SOAP 1.1 and 1.2,
// through the API and the proxy, and the proxy forwards them byte for byte.
// A reader that stopped at the Body start tag verified a truncated envelope
// and refused them from a few KiB on.
func TestWSS4JSignedAnySize(t *testing.T) {
	gen := wss4j.Shared(t)
	up := newUpstream(t)
	svc := signedService(t, up)
	for _, v := range []string{"11", "12"} {
		for _, size := range signedSizes {
			t.Run("soap"+v+"/"+sizeName(size), func(t *testing.T) {
				m := wss4j.Message{SOAP12: v == "12", User: "alice", Password: "wonderland", PayloadBytes: size}
				msg, err := gen.Envelope(m)
				if err != nil {
					t.Fatal(err)
				}
				resp, body := svc.Post(t, "/v1/authenticate", soapContentType(v), msg)
				if resp.StatusCode != 200 {
					t.Fatalf("API, %d-byte message: %d %s", len(msg), resp.StatusCode, body)
				}
				var s subject
				if err := json.Unmarshal(body, &s); err != nil || s.Principal != "alice" || s.TokenType != "DerivedKey" {
					t.Errorf("API subject %s (%v)", body, err)
				}

				msg, err = gen.Envelope(m)
				if err != nil {
					t.Fatal(err)
				}
				n := up.count()
				resp, body = svc.Post(t, "/svc", soapContentType(v), msg)
				if resp.StatusCode != 200 {
					t.Fatalf("proxy, %d-byte message: %d %s", len(msg), resp.StatusCode, body)
				}
				if up.count() != n+1 {
					t.Fatalf("upstream saw %d requests, want %d", up.count(), n+1)
				}
				if r := up.last(t); !bytes.Equal(r.body, msg) || r.header.Get("X-Authenticated-Token-Type") != "DerivedKey" {
					t.Errorf("upstream got %d bytes (sent %d, equal %v), token type %q", len(r.body), len(msg),
						bytes.Equal(r.body, msg), r.header.Get("X-Authenticated-Token-Type"))
				}
			})
		}
	}
}

// TestWSS4JSignedTamperedLarge: a change deep inside a 1 MiB signed Body,
// far past anything a header-only reader sees, is caught through the API and
// the proxy; the genuine signature it carried is then spent, so the same
// SignedInfo with yet another Body is refused as a replay.
func TestWSS4JSignedTamperedLarge(t *testing.T) {
	gen := wss4j.Shared(t)
	up := newUpstream(t)
	svc := signedService(t, up)
	tamper := func(msg []byte, with string) []byte {
		i := bytes.LastIndex(msg, []byte("value &amp; more text"))
		if i < len(msg)/2 {
			t.Fatalf("payload text not found late in the message (at %d of %d)", i, len(msg))
		}
		out := bytes.Clone(msg)
		copy(out[i:], with)
		return out
	}
	for _, path := range []string{"/v1/authenticate", "/svc"} {
		msg, err := gen.Envelope(wss4j.Message{User: "alice", Password: "wonderland", PayloadBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		resp, body := svc.Post(t, path, soapContentType("11"), tamper(msg, "VALUE"))
		if resp.StatusCode == 200 || faultCode(t, "11", body) != "FailedCheck" {
			t.Errorf("%s, tampered 1 MiB body: %d %s", path, resp.StatusCode, body)
		}
		resp, body = svc.Post(t, path, soapContentType("11"), tamper(msg, "Value"))
		if resp.StatusCode == 200 || faultCode(t, "11", body) != "InvalidSecurity" {
			t.Errorf("%s, the same SignedInfo with another body: %d %s", path, resp.StatusCode, body)
		}
	}
	if up.count() != 0 {
		t.Errorf("upstream saw %d requests, want 0", up.count())
	}
	// An untampered message of the same size passes: the refusals above
	// were about the changes, not the size.
	msg, err := gen.Envelope(wss4j.Message{User: "alice", Password: "wonderland", PayloadBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), msg)
	if resp.StatusCode != 200 {
		t.Errorf("untampered: %d %s", resp.StatusCode, body)
	}
}

// slowPost sends msg to path over a raw connection in the given pieces,
// pausing between them so that they arrive as separate reads, chunked (with
// a trailer) or with a Content-Length, and returns the response.
func slowPost(t *testing.T, svc *Service, path, ctype string, pieces [][]byte, chunked bool) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(svc.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	total := 0
	for _, p := range pieces {
		total += len(p)
	}
	hdr := "POST " + path + " HTTP/1.1\r\nHost: authsvc\r\nContent-Type: " + ctype + "\r\n"
	if chunked {
		hdr += "Transfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
	} else {
		hdr += fmt.Sprintf("Content-Length: %d\r\n\r\n", total)
	}
	if _, err := io.WriteString(conn, hdr); err != nil {
		t.Fatal(err)
	}
	for _, p := range pieces {
		w := p
		if chunked {
			w = append(append([]byte(fmt.Sprintf("%x\r\n", len(p))), p...), "\r\n"...)
		}
		if _, err := conn.Write(w); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if chunked {
		if _, err := io.WriteString(conn, "0\r\nX-Checksum: none\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestWSS4JSignedSmallWrites: a signed message whose first write ends right
// after "<soapenv:Body" (the parser sees the Body start tag before the rest
// has arrived), then trickles in 1 KiB writes, chunked with a trailer and
// with a Content-Length, through the API and the proxy.
func TestWSS4JSignedSmallWrites(t *testing.T) {
	gen := wss4j.Shared(t)
	up := newUpstream(t)
	svc := signedService(t, up)
	for _, chunked := range []bool{false, true} {
		for _, path := range []string{"/v1/authenticate", "/svc"} {
			msg, err := gen.Envelope(wss4j.Message{User: "alice", Password: "wonderland", PayloadBytes: 64 << 10})
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(msg, []byte(":Body"))
			if i < 0 {
				t.Fatal("no Body in the WSS4J message")
			}
			i += len(":Body")
			pieces := [][]byte{msg[:i]}
			for rest := msg[i:]; len(rest) > 0; {
				n := min(1024, len(rest))
				pieces = append(pieces, rest[:n])
				rest = rest[n:]
			}
			n := up.count()
			resp, body := slowPost(t, svc, path, soapContentType("11"), pieces, chunked)
			if resp.StatusCode != 200 {
				t.Fatalf("chunked=%v %s, %d writes: %d %s", chunked, path, len(pieces), resp.StatusCode, body)
			}
			if path == "/svc" {
				if up.count() != n+1 || !bytes.Equal(up.last(t).body, msg) {
					t.Errorf("chunked=%v: upstream did not get the message byte for byte", chunked)
				}
			}
		}
	}
}

// TestWSS4JSignedPastDefaultLimit: a 6 MiB WSS4J derived-key message is
// refused with 413 and an InvalidSecurity fault under the default
// limits.max_signed_bytes (4 MiB), the log naming the key, and accepted by
// a service configured with max_signed_bytes 8 MiB (and max_body_bytes
// 16 MiB). Before the key existed, the verifier refused every signed
// message over 4 MiB whatever max_body_bytes said.
func TestWSS4JSignedPastDefaultLimit(t *testing.T) {
	gen := wss4j.Shared(t)
	service := func(limits string) *Service { return derivedKeyService(t, limits) }
	msg := func() []byte { return sixMiBMessage(t, gen) }

	def := service("")
	resp, body := def.Post(t, "/v1/authenticate", soapContentType("11"), msg())
	if resp.StatusCode != http.StatusRequestEntityTooLarge || faultCode(t, "11", body) != "InvalidSecurity" {
		t.Errorf("default limits: %d %s; want 413 with InvalidSecurity", resp.StatusCode, body)
	}
	if l := def.LogLine(t, resp.Header.Get("X-Request-Id")); !strings.Contains(l, "max_signed_bytes 4194304") {
		t.Errorf("log line does not name max_signed_bytes: %s", l)
	}

	raised := service("limits: {max_body_bytes: 16777216, max_signed_bytes: 8388608}")
	resp, body = raised.Post(t, "/v1/authenticate", soapContentType("11"), msg())
	var s subject
	if resp.StatusCode != 200 || json.Unmarshal(body, &s) != nil || s.Principal != "alice" || s.TokenType != "DerivedKey" {
		t.Errorf("max_signed_bytes 8 MiB: %d %s", resp.StatusCode, body)
	}
}

// TestWSS4JSignedPastLimitChunked: the same 6 MiB WSS4J message sent as
// clients stream it, chunked in 16 KiB TCP writes with a trailer, through
// the API and the proxy. With the default max_signed_bytes (4 MiB) both
// refuse it with 413 and InvalidSecurity, and nothing reaches the
// upstream; with the limit raised to 8 MiB the proxy forwards it byte for
// byte, without the client's trailer. (TestWSS4JSignedPastDefaultLimit
// posts it with a Content-Length to the API only.)
func TestWSS4JSignedPastLimitChunked(t *testing.T) {
	gen := wss4j.Shared(t)
	up := newRawUpstream(t)
	service := func(limits string) *Service {
		return derivedKeyService(t, limits+"\nproxy: {upstream: "+up.URL+"}")
	}
	msg := func() []byte { return sixMiBMessage(t, gen) }
	trailer := []string{"X-Checksum: none"}
	header := []string{"Trailer: X-Checksum"}

	def := service("limits: {max_body_bytes: 16777216}")
	for _, path := range []string{"/v1/authenticate", "/svc"} {
		resp, body := sendChunked(t, def.URL, path, msg(), 16<<10, header, trailer)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || faultCode(t, "11", body) != "InvalidSecurity" {
			t.Errorf("%s, default max_signed_bytes: %d %s; want 413 with InvalidSecurity", path, resp.StatusCode, body)
		}
		if l := def.LogLine(t, resp.Header.Get("X-Request-Id")); !strings.Contains(l, "max_signed_bytes 4194304") {
			t.Errorf("%s: log line does not name max_signed_bytes: %s", path, l)
		}
	}
	if n := len(up.all()); n != 0 {
		t.Fatalf("the upstream received %d requests past max_signed_bytes", n)
	}

	raised := service("limits: {max_body_bytes: 16777216, max_signed_bytes: 8388608}")
	m := msg()
	resp, body := sendChunked(t, raised.URL, "/svc", m, 16<<10, header, trailer)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("echo from alice")) {
		t.Fatalf("max_signed_bytes 8 MiB, proxy: %d %.300s", resp.StatusCode, body)
	}
	reqs := up.all()
	if len(reqs) != 1 {
		t.Fatalf("the upstream received %d requests, want 1", len(reqs))
	}
	if r := reqs[0]; !r.complete || !bytes.Equal(r.body, m) || len(r.trailer) != 0 ||
		r.header.Get("X-Authenticated-Token-Type") != "DerivedKey" {
		t.Errorf("upstream: complete %v, %d bytes of %d (equal %v), trailer %v, token type %q", r.complete, len(r.body), len(m),
			bytes.Equal(r.body, m), r.trailer, r.header.Get("X-Authenticated-Token-Type"))
	}
}

// derivedKeyService is authsvc with a derived-key UsernameToken module and
// the extra configuration (limits, proxy) given.
func derivedKeyService(t *testing.T, extra string) *Service {
	t.Helper()
	cfg := `
registries:
  users: {type: file, path: users.yaml}
chain:
  - {name: users, type: username, flag: requisite, registry: users, derived_key: true}
` + extra + `
log: {level: info}
`
	return StartService(t, cfg, map[string]string{"users.yaml": usersFile(t)})
}

// sixMiBMessage is a new WSS4J derived-key message from alice with a 6 MiB
// Body: past the default max_signed_bytes (4 MiB), within 8 MiB.
func sixMiBMessage(t *testing.T, gen *wss4j.Generator) []byte {
	t.Helper()
	m, err := gen.Envelope(wss4j.Message{User: "alice", Password: "wonderland", PayloadBytes: 6 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) <= 6<<20 || len(m) > 8<<20 {
		t.Fatalf("the WSS4J message has %d bytes, want 6-8 MiB", len(m))
	}
	return m
}
