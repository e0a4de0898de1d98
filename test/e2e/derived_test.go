package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/authsvc/authsvc/test/wss4j"
)

func TestMain(m *testing.M) {
	code := m.Run()
	wss4j.CloseShared()
	os.Exit(code)
}

// TestWSS4JDerivedKeyEndToEnd: messages signed by Apache WSS4J with a
// UsernameToken Profile 1.1 derived key authenticate through the HTTP API and
// the proxy of the built binary; a replay and a tampered body do not.
func TestWSS4JDerivedKeyEndToEnd(t *testing.T) {
	gen := wss4j.Shared(t)
	up := newUpstream(t)
	cfg := `
registries:
  users: {type: file, path: users.yaml}
chain:
  - name: users
    type: username
    flag: requisite
    registry: users
    derived_key: true
proxy:
  upstream: ` + up.URL + `
log: {level: debug}
`
	svc := StartService(t, cfg, map[string]string{"users.yaml": usersFile(t)})

	for _, soap12 := range []bool{false, true} {
		v := "11"
		if soap12 {
			v = "12"
		}
		msg, err := gen.Envelope(wss4j.Message{SOAP12: soap12, User: "alice", Password: "wonderland"})
		if err != nil {
			t.Fatal(err)
		}
		resp, body := svc.Post(t, "/v1/authenticate", soapContentType(v), msg)
		if resp.StatusCode != 200 {
			t.Fatalf("SOAP %s: status %d %s", v, resp.StatusCode, body)
		}
		var s subject
		json.Unmarshal(body, &s)
		if s.Principal != "alice" || s.TokenType != "DerivedKey" {
			t.Errorf("subject %+v", s)
		}
		resp, body = svc.Post(t, "/v1/authenticate", soapContentType(v), msg)
		if resp.StatusCode != http.StatusUnauthorized || faultCode(t, v, body) != "InvalidSecurity" {
			t.Errorf("replay: %d %s", resp.StatusCode, body)
		}
	}

	// Through the proxy, byte for byte.
	msg, err := gen.Envelope(wss4j.Message{User: "alice", Password: "wonderland"})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := svc.Post(t, "/svc", soapContentType("11"), msg)
	if resp.StatusCode != 200 {
		t.Fatalf("proxy: %d %s", resp.StatusCode, body)
	}
	if r := up.last(t); !bytes.Equal(r.body, msg) || r.header.Get("X-Authenticated-Token-Type") != "DerivedKey" {
		t.Errorf("upstream got %d bytes, token type %q", len(r.body), r.header.Get("X-Authenticated-Token-Type"))
	}

	// A tampered body: the signature no longer covers it.
	msg, err = gen.Envelope(wss4j.Message{User: "alice", Password: "wonderland", PayloadBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	// Insert an element just before the Body's end tag, whatever its prefix.
	i := bytes.LastIndex(msg[:bytes.LastIndex(msg, []byte("Body>"))], []byte("</"))
	tampered := append(append(append([]byte{}, msg[:i]...), []byte("<x xmlns='urn:x'>more</x>")...), msg[i:]...)
	resp, body = svc.Post(t, "/svc", soapContentType("11"), tampered)
	if resp.StatusCode != 500 || faultCode(t, "11", body) != "FailedCheck" {
		t.Errorf("tampered body through the proxy: %d %s", resp.StatusCode, body)
	}
	if up.count() != 1 {
		t.Errorf("upstream saw %d requests, want 1", up.count())
	}

	// A wrong password: FailedAuthentication.
	msg, err = gen.Envelope(wss4j.Message{User: "alice", Password: "not-it"})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = svc.Post(t, "/v1/authenticate", soapContentType("11"), msg)
	if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "FailedAuthentication" {
		t.Errorf("wrong password: %d %s", resp.StatusCode, body)
	}
}
