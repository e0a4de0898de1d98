package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// TestFloorAuthenticates: the floor targets do the authentication they
// stand for. A fresh PasswordDigest token is accepted (the API answers the
// Subject, the proxy forwards); the same token again is a replay, and a
// wrong password is refused, on both.
func TestFloorAuthenticates(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bare, err := startBare()
	if err != nil {
		t.Fatal(err)
	}
	base, err := startFloor(ctx, bare, "bench", "bench-secret")
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string, msg []byte) (int, []byte) {
		t.Helper()
		resp, err := http.Post(base+path, "text/xml; charset=utf-8", bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	token := func(password string) []byte {
		return wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "bench", Password: password, Digest: true},
			`<e:Echo xmlns:e="urn:example:echo"/>`)
	}
	for _, path := range []string{"/v1/authenticate", "/soap/echo"} {
		msg := token("bench-secret")
		code, body := post(path, msg)
		if code != 200 {
			t.Fatalf("%s, fresh token: %d %s", path, code, body)
		}
		if path == "/v1/authenticate" {
			var s struct{ Principal, Method string }
			if err := json.Unmarshal(body, &s); err != nil || s.Principal != "bench" || s.Method != "UsernameToken" {
				t.Errorf("subject %s (%v)", body, err)
			}
		} else if !bytes.Contains(body, []byte("EchoResponse")) {
			t.Errorf("proxy answered %s, not the upstream's response", body)
		}
		if code, body := post(path, msg); code != http.StatusUnauthorized {
			t.Errorf("%s, replayed token: %d %s", path, code, body)
		}
		if code, body := post(path, token("wrong")); code != http.StatusUnauthorized {
			t.Errorf("%s, wrong password: %d %s", path, code, body)
		}
	}
}
