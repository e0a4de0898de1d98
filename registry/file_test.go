package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func writeUsers(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileRegistry(t *testing.T) {
	ah, err := HashPassword("wonderland", Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	bh, _ := bcrypt.GenerateFromPassword([]byte("builder"), bcrypt.MinCost)
	p := writeUsers(t, `users:
  - name: alice
    password_hash: "`+ah+`"
    digest_secret: wonderland
    groups: [g1, g2]
    attributes: {mail: [alice@example.test]}
  - name: bob
    password_hash: "`+string(bh)+`"
  - name: carol
    password_hash: "`+ah+`"
    disabled: true
`)
	r, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		user, pw string
		ok       bool
	}{
		{"alice", "wonderland", true}, {"alice", "Wonderland", false}, {"alice", "", false},
		{"bob", "builder", true}, {"bob", "wonderland", false},
		{"carol", "wonderland", false}, // disabled
		{"nobody", "wonderland", false},
	} {
		u, ok, err := r.VerifyPassword(ctx, c.user, c.pw)
		if err != nil || ok != c.ok || (ok && u.Name != c.user) {
			t.Errorf("VerifyPassword(%s, %q) = %v, %v, %v", c.user, c.pw, u, ok, err)
		}
	}
	s, u, err := r.LookupSecret(ctx, "alice")
	if err != nil || string(s) != "wonderland" || len(u.Groups) != 2 {
		t.Errorf("LookupSecret(alice) = %q %+v %v", s, u, err)
	}
	if _, _, err := r.LookupSecret(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bob has no secret: %v", err)
	}
	// Callers may change what they get without changing the registry.
	u.Groups[0] = "changed"
	if u2, _ := r.LookupUser(ctx, "alice"); u2.Groups[0] != "g1" {
		t.Errorf("registry changed through a returned user: %v", u2.Groups)
	}

	// Reload keeps the old content when the new file is broken.
	os.WriteFile(p, []byte("users: [{name: x}]"), 0o600)
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "needs password_hash or digest_secret") {
		t.Errorf("Reload of a broken file: %v", err)
	}
	if _, ok, _ := r.VerifyPassword(ctx, "alice", "wonderland"); !ok {
		t.Error("broken reload lost the old users")
	}
}

func TestParseUsersRejects(t *testing.T) {
	for doc, want := range map[string]string{
		"users: [{name: a, password_hash: plain}]": "unknown password hash format",
		"users: [{name: a, password_hash: '$argon2id$v=19$m=9999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'}]": "out of range",
		"users: [{name: a, digest_secret: x}, {name: a, digest_secret: y}]":                                        "listed twice",
		"users: [{name: a, digest_secret: x, colour: red}]":                                                        "field colour not found",
		"users: [{digest_secret: x}]":                                                                              "name is empty",
	} {
		if _, err := parseUsers([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", doc, err, want)
		}
	}
}

// A file registry answers all three questions and reloads; it has nothing
// to close.
func TestFileSet(t *testing.T) {
	r, err := OpenFile(writeUsers(t, "users: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := r.Set()
	if s.Passwords == nil || s.Secrets == nil || s.Directory == nil || s.Health == nil || s.Reloader == nil || s.Closer != nil {
		t.Errorf("file registry set: %+v", s)
	}
}

func TestFileConfigValidate(t *testing.T) {
	if err := (&FileConfig{}).Validate(); err == nil || err.Error() != "path is required" {
		t.Errorf("empty path: %v", err)
	}
	if err := (&FileConfig{Path: "users.yaml"}).Validate(); err != nil {
		t.Errorf("a path: %v", err)
	}
}
