package config

import (
	"strings"
	"testing"
	"time"
)

func TestShutdownDelayAndAdmin(t *testing.T) {
	c, err := Parse([]byte("shutdown_delay: 5s\nadmin: {listen: 127.0.0.1:9090}\n"+minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ShutdownDelay != 5*time.Second || c.Admin == nil || c.Admin.Listen != "127.0.0.1:9090" {
		t.Fatalf("parsed %v %+v", c.ShutdownDelay, c.Admin)
	}
	if c, err := Parse([]byte(minimal), nil); err != nil || c.ShutdownDelay != 0 || c.Admin != nil {
		t.Fatalf("defaults: %v %v %v", err, c.ShutdownDelay, c.Admin)
	}
	cases := []struct{ doc, want string }{
		{"shutdown_delay: -1s\n", "line 1: shutdown_delay: -1s is not between 0s and 5m0s"},
		{"listen: 127.0.0.1:8080\nshutdown_delay: 1h\n", "line 2: shutdown_delay: 1h0m0s is not between"},
		{"shutdown_delay: 15\n", "line 1: shutdown_delay: want a duration such as 5m, 30s or 1h30m, got 15"},
		{"admin: {}\n", "line 1: admin.listen is required"},
		{"\nadmin:\n  listen: localhost\n", "line 3: admin.listen: \"localhost\" is not host:port"},
		{"listen: 127.0.0.1:8080\nadmin:\n  listen: 127.0.0.1:8080\n", "line 3: admin.listen: 127.0.0.1:8080 is also listen"},
		{"admin:\n  listen: 127.0.0.1:9090\n  tls: true\n", `line 3: unknown key "tls" in admin (known keys: listen)`},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.doc+minimal), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestChangesNameWhatAReloadCannotApply(t *testing.T) {
	base := `listen: 127.0.0.1:8080
tls: {cert_file: a.pem, key_file: a.key}
identity:
  issuer: https://a.example
  audience: [x]
  keys: [{file: k1.pem}]
audit: {output: audit.jsonl}
registries:
  users: {type: file, path: users.yaml}
chain:
  - name: users
    type: username
    flag: sufficient
    registry: users
`
	old, err := Parse([]byte(base), nil)
	if err != nil {
		t.Fatal(err)
	}
	same, err := old.Changes(old)
	if err != nil || len(same) != 0 {
		t.Fatalf("a file compared with itself: %v %v", same, err)
	}
	// Only live keys changed: nothing to report.
	live := strings.NewReplacer("a.pem", "b.pem", "a.key", "b.key", "[{file: k1.pem}]", "[{file: k1.pem}, {file: k2.pem, kid: two}]",
		"audit.jsonl", "audit2.jsonl").Replace(base)
	if ch := changes(t, old, live); len(ch) != 0 {
		t.Errorf("live changes reported as needing a restart: %+v", ch)
	}
	// Listen, a flag, a new chain entry, a new section, a removed key.
	edited := strings.NewReplacer("listen: 127.0.0.1:8080", "listen: 127.0.0.1:8081", "flag: sufficient", "flag: required",
		"issuer: https://a.example", "issuer: https://b.example").Replace(base) + "gateway: {enabled: true}\n"
	got := changes(t, old, edited)
	want := []Change{{"listen", 1}, {"identity.issuer", 4}, {"chain[0].flag", 13}, {"gateway", 15}}
	if len(got) != len(want) {
		t.Fatalf("changes %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	grown := base + "  - {name: more, type: username, flag: optional, registry: users}\n"
	if ch := changes(t, old, grown); len(ch) != 1 || ch[0].Key != "chain" {
		t.Errorf("an added chain entry: %+v", ch)
	}
	noTLS := strings.Replace(base, "tls: {cert_file: a.pem, key_file: a.key}\n", "", 1)
	if ch := changes(t, old, noTLS); len(ch) != 1 || ch[0] != (Change{Key: "tls"}) {
		t.Errorf("tls removed: %+v", ch)
	}
	// The same content in another YAML style is no change.
	block := strings.Replace(base, "audit: {output: audit.jsonl}", "audit:\n  output: audit.jsonl", 1)
	if ch := changes(t, old, block); len(ch) != 0 {
		t.Errorf("a restyled section: %+v", ch)
	}
}

func changes(t *testing.T, old *Config, doc string) []Change {
	t.Helper()
	next, err := Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := old.Changes(next)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}
