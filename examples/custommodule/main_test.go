package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/app"
	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/config"
)

const secret = "0123456789abcdef-example-secret"

func envelope(ticket string) []byte {
	return []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:x="urn:example:ticket"><soap:Header>` +
		`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
		ticket + `</wsse:Security></soap:Header><soap:Body><ping/></soap:Body></soap:Envelope>`)
}

// TestCustomBinary runs the service in process with the extended table and
// authenticates over HTTP, as the built binary would.
func TestCustomBinary(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ticket-secret"), []byte(secret+"\n"), 0o600)
	cfgPath := filepath.Join(dir, "authsvc.yaml")
	os.WriteFile(cfgPath, []byte(`
log: {level: error}
chain:
  - name: tickets
    type: ticket
    flag: required
    secret_file: ticket-secret
    groups: [ticket-users]
`), 0o600)
	cfg, err := config.Load(cfgPath, Types())
	if err != nil {
		t.Fatal(err)
	}
	// Strict keys apply to custom sections too.
	if _, err := config.Parse([]byte("chain: [{name: t, type: ticket, flag: required, secret_file: x, colour: red}]"), Types()); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown key accepted: %v", err)
	}
	if _, err := config.Parse([]byte("chain: [{name: t, type: ticket, flag: required}]"), config.Builtin()); err == nil {
		t.Fatal("the stock table knows type ticket")
	}

	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, cfg, "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), func(a net.Addr) { addrc <- a })
	}()
	var url string
	select {
	case a := <-addrc:
		url = "http://" + a.String() + "/v1/authenticate"
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("service did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	post := func(body []byte) (int, []byte) {
		resp, err := http.Post(url, "text/xml; charset=utf-8", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := post(envelope(`<x:Ticket>` + Sign([]byte(secret), "carol") + `</x:Ticket>`))
	var s authn.Subject
	if code != 200 || json.Unmarshal(body, &s) != nil || s.Principal != "carol" || s.Method != "Ticket" || s.Groups[0] != "ticket-users" {
		t.Fatalf("good ticket: %d %s", code, body)
	}
	for name, env := range map[string][]byte{
		"bad mac":   envelope(`<x:Ticket>carol:00</x:Ticket>`),
		"other key": envelope(`<x:Ticket>` + Sign([]byte("another-secret-of-16-bytes"), "carol") + `</x:Ticket>`),
		"two":       envelope(`<x:Ticket>` + Sign([]byte(secret), "carol") + `</x:Ticket><x:Ticket>` + Sign([]byte(secret), "dave") + `</x:Ticket>`),
		"none":      envelope(``),
	} {
		if code, body := post(env); code == 200 || !bytes.Contains(body, []byte("Fault")) {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
}
