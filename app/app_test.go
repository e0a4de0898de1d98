package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/registry"
)

// SIGHUP's reload re-reads a file registry through its capability set,
// and a file that no longer parses keeps the old content and says why.
func TestReloadRegistries(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.yaml")
	if err := os.WriteFile(users, []byte("users: [{name: alice, digest_secret: a}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := registry.OpenFile(users)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	rt := &config.Runtime{Registries: map[string]registry.Set{"users": r.Set(), "dir": {}}}
	svc := &service{rt: rt, logger: logger}
	lookup := func(name string) bool {
		_, err := r.LookupUser(context.Background(), name)
		return err == nil
	}

	os.WriteFile(users, []byte("users: [{name: bob, digest_secret: b}]\n"), 0o600)
	svc.reloadFiles()
	if !lookup("bob") || lookup("alice") || !strings.Contains(logs.String(), "registry reloaded") {
		t.Fatalf("after a reload: bob %v, alice %v; log %s", lookup("bob"), lookup("alice"), logs.String())
	}

	os.WriteFile(users, []byte("users: [{name: carol, pasword: x}]\n"), 0o600)
	svc.reloadFiles()
	if !lookup("bob") || !strings.Contains(logs.String(), "reload failed; keeping the old content") {
		t.Fatalf("after a failed reload: bob %v; log %s", lookup("bob"), logs.String())
	}
}

func TestTLSConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	_, err := tlsConfig(&config.TLS{CertFile: "c.pem", KeyFile: "k.pem"}, filepath.Join(dir, "authsvc.yaml"))
	if err == nil || !strings.Contains(err.Error(), "tls.cert_file: ") || !strings.Contains(err.Error(), "tls.key_file: ") ||
		!strings.Contains(err.Error(), filepath.Join(dir, "c.pem")) {
		t.Errorf("missing key pair: %v", err)
	}
}
