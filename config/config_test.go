package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/authn/username"
	"github.com/authsvc/authsvc/registry"
)

const minimal = `
registries:
  users: {type: file, path: users.yaml}
chain:
  - name: users
    type: username
    flag: sufficient
    registry: users
`

func TestParseMinimalDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.Security.Timestamp.MaxAge.Minutes() != 5 || len(c.Modules) != 1 {
		t.Errorf("defaults: %+v", c)
	}
	u := c.Modules[0].Config.(*username.Config)
	if !u.PasswordText || !u.PasswordDigest || u.MaxAge.Minutes() != 5 || u.FutureSkew.Seconds() != 60 {
		t.Errorf("username defaults: %+v", u)
	}
}

func TestPassThroughBuildsIntoTheChain(t *testing.T) {
	doc := "security:\n  pass_through:\n    - \"{http://www.w3.org/2000/09/xmldsig#}Signature\"\n    - '{http://www.w3.org/2001/04/xmlenc#}EncryptedKey'\n" + minimal
	c, err := Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("users: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Path = filepath.Join(dir, "authsvc.yaml")
	rt, err := c.Build(nil2())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	got := rt.Chain.PassThrough()
	if len(got) != 2 || got[0].String() != "{http://www.w3.org/2000/09/xmldsig#}Signature" || got[1].Local != "EncryptedKey" {
		t.Fatalf("chain passes through %v", got)
	}
}

func TestParseErrorsNameTheKey(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"listn: x\n" + minimal, `line 1: unknown key "listn" in the top level`},
		{strings.Replace(minimal, "registry: users", "registry: users\n    pasword_digest: false", 1), `line 9: unknown key "pasword_digest" in chain[0] (users)`},
		{strings.Replace(minimal, "path: users.yaml", "path: users.yaml, colour: red", 1), `unknown key "colour" in registries.users`},
		{strings.Replace(minimal, "type: username", "type: usrname", 1), `unknown module type "usrname"`},
		{strings.Replace(minimal, "flag: sufficient", "flag: mandatory", 1), `unknown control flag "mandatory"`},
		{strings.Replace(minimal, "    flag: sufficient\n", "", 1), "flag is required"},
		{strings.Replace(minimal, "registry: users", "registry: people", 1), `no registry named "people"`},
		{strings.Replace(minimal, "type: file", "type: csv", 1), `unknown registry type "csv"`},
		{"replay: {type: memcache}\n" + minimal, `unknown type "memcache"`},
		{"replay: {max_entries: 10, ttl: 5}\n" + minimal, `unknown key "ttl" in replay`},
		{"replay: {max_entries: 10, quota: {principal: 5, adress: 5}}\n" + minimal, `unknown key "adress" in replay.quota`},
		{"replay: {max_entries: 10, quota: {principal: 11}}\n" + minimal, "quota.principal: 11 is more than max_entries 10"},
		{"replay: {quota: {address: -2}}\n" + minimal, "quota.address: -2 is neither a limit"},
		{"replay: {quota: {window: -1s}}\n" + minimal, "quota.window: must not be negative"},
		{"trusted_proxies: [somewhere]\n" + minimal, "trusted_proxies[0]"},
		{"proxy: {upstream: 'ftp://x'}\n" + minimal, "proxy.upstream"},
		{"log: {level: loud}\n" + minimal, "log.level"},
		{"tls: {cert_file: a.pem}\n" + minimal, "key_file are both required"},
		{strings.Replace(minimal, "registry: users", "registry: users\n    password_text: false\n    password_digest: false", 1), "nothing would be accepted"},
		{"registries: {}\nchain: []\n", "at least one module"},
		{"security:\n  pass_through:\n    - '{urn:x}A'\n    - 'ds:Signature'\n" + minimal, `line 4: security.pass_through[1]: "ds:Signature" is not {namespace}local`},
		{"security:\n  pass_through: ['{}Signature']\n" + minimal, "line 2: security.pass_through[0]: \"{}Signature\" is not {namespace}local: empty namespace"},
		{"security:\n  pass_through:\n    - {a: b}\n" + minimal, "line 3: security.pass_through[0]: want a string"},
		{"security:\n  pass_through: '{urn:x}A'\n" + minimal, "line 2"},
		{"security:\n  pas_through: []\n" + minimal, `line 2: unknown key "pas_through" in security`},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want it to contain %q\n%s", err, c.want, c.doc)
		}
	}
}

func TestBuildOpensEverything(t *testing.T) {
	dir := t.TempDir()
	h, _ := registry.HashPassword("pw", registry.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1})
	os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("users:\n  - name: a\n    password_hash: \""+h+"\"\n    digest_secret: pw\n"), 0o600)
	cfgPath := filepath.Join(dir, "authsvc.yaml")
	os.WriteFile(cfgPath, []byte(minimal), 0o600)
	c, err := Load(cfgPath, Builtin())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := c.Build(nil2())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if len(rt.Chain.Entries()) != 1 || rt.Checkers["registry/users"] == nil || rt.Checkers["replay"] == nil {
		t.Errorf("runtime %+v", rt)
	}
	// A users file that does not parse fails at Build with its path.
	os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("users:\n  - name: a\n    pasword_hash: x\n"), 0o600)
	if _, err := c.Build(nil2()); err == nil || !strings.Contains(err.Error(), "users.yaml") {
		t.Errorf("bad users file: %v", err)
	}
}

// The example configurations shipped in examples/ must stay valid.
func TestProxyStrictEnvelope(t *testing.T) {
	c, err := Parse([]byte("proxy: {upstream: 'http://127.0.0.1:9000'}\n"+minimal), nil)
	if err != nil || c.Proxy.StrictEnvelope {
		t.Fatalf("default: %v %+v", err, c.Proxy)
	}
	c, err = Parse([]byte("proxy: {upstream: 'http://127.0.0.1:9000', strict_envelope: true}\n"+minimal), nil)
	if err != nil || !c.Proxy.StrictEnvelope {
		t.Fatalf("strict_envelope: true: %v %+v", err, c.Proxy)
	}
	_, err = Parse([]byte("proxy: {upstream: 'http://127.0.0.1:9000', strict_envelope: maybe}\n"+minimal), nil)
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("strict_envelope: maybe: %v", err)
	}
}

func TestExampleConfigsParse(t *testing.T) {
	files, _ := filepath.Glob("../examples/*/authsvc.yaml")
	files = append(files, "../examples/quickstart.yaml")
	for _, f := range files {
		if _, err := Load(f, Builtin()); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if len(files) < 2 {
		t.Fatalf("found only %v", files)
	}
}

// The README's configuration example must stay valid.
func TestREADMEExampleParses(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "A fuller example:")
	if i < 0 {
		t.Fatal("README has no configuration example")
	}
	s = s[i:]
	start := strings.Index(s, "```yaml\n") + len("```yaml\n")
	end := strings.Index(s[start:], "```")
	if _, err := Parse([]byte(s[start:start+end]), Builtin()); err != nil {
		t.Fatalf("README example: %v", err)
	}
}

// A file registry without a path is refused at load time, naming it.
func TestFileRegistryNeedsAPath(t *testing.T) {
	_, err := Parse([]byte(strings.Replace(minimal, "{type: file, path: users.yaml}", "{type: file}", 1)), nil)
	if err == nil || !strings.Contains(err.Error(), "registries.users: path is required") {
		t.Errorf("error %v", err)
	}
}

// TestMaxSignedBytes: limits.max_signed_bytes defaults to 4 MiB, or to
// max_body_bytes when that is smaller; it may not exceed max_body_bytes (the
// default 10 MiB when unset) nor 1 GiB.
func TestMaxSignedBytes(t *testing.T) {
	for doc, want := range map[string]int64{
		"":                                 4 << 20,
		"limits: {max_body_bytes: 1000}\n": 1000,
		"limits: {max_body_bytes: 67108864, max_signed_bytes: 33554432}\n": 32 << 20,
		"limits: {max_signed_bytes: 10485760}\n":                           10 << 20,
	} {
		c, err := Parse([]byte(doc+minimal), nil)
		if err != nil {
			t.Errorf("%q: %v", doc, err)
			continue
		}
		if c.Limits.MaxSignedBytes != want {
			t.Errorf("%q: max_signed_bytes %d, want %d", doc, c.Limits.MaxSignedBytes, want)
		}
	}
	for doc, want := range map[string]string{
		"limits: {max_signed_bytes: 10485761}\n":                               "max_signed_bytes 10485761 is more than max_body_bytes 10485760",
		"limits: {max_body_bytes: 1000, max_signed_bytes: 2000}\n":             "max_signed_bytes 2000 is more than max_body_bytes 1000",
		"limits: {max_body_bytes: 4294967296, max_signed_bytes: 2147483648}\n": "is more than 1073741824",
		"limits: {max_signed_bytes: -1}\n":                                     "must not be negative",
	} {
		if _, err := Parse([]byte(doc+minimal), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want an error with %q", doc, err, want)
		}
	}
}
