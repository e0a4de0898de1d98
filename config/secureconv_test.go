package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn/secureconv"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	sctredis "github.com/authsvc/authsvc/sct/redis"
)

const scChain = `
registries:
  users: {type: file, path: users.yaml}
chain:
  - name: users
    type: username
    flag: sufficient
    registry: users
  - name: contexts
    type: secure_conversation
    flag: sufficient
`

func TestSecureConversationDefaults(t *testing.T) {
	c, err := Parse([]byte("secure_conversation:\n  issuer: urn:sts:test\n"+scChain), nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := c.SecureConversation
	if sc.Store != "memory" || sc.Lifetime != 15*time.Minute || sc.KeySize != 256 || sc.RenewGrace != 5*time.Minute {
		t.Errorf("defaults: %+v", sc)
	}
	m := c.Modules[1].Config.(*secureconv.Config)
	if m.Issuer != "urn:sts:test" || m.MaxAge != 5*time.Minute {
		t.Errorf("module: issuer %q max_age %s, want the STS's issuer and 5m", m.Issuer, m.MaxAge)
	}
	// The module's own issuer wins over the STS's.
	c, err = Parse([]byte("secure_conversation:\n  issuer: urn:sts:test\n"+scChain+"    issuer: urn:sts:other\n    allow_insecure: true\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Modules[1].Config.(*secureconv.Config); m.Issuer != "urn:sts:other" || !m.AllowInsecure {
		t.Errorf("module: %+v", m)
	}
}

func TestSecureConversationErrors(t *testing.T) {
	cases := []struct{ doc, want string }{
		{scChain, "type secure_conversation needs the top-level secure_conversation section"},
		{"secure_conversation:\n  lifetime: 10m\n" + scChain, "secure_conversation: issuer: is required"},
		{"secure_conversation:\n  issuer: x\n  key_size: 100\n" + scChain, "secure_conversation: key_size: 100 bits"},
		{"secure_conversation:\n  issuer: x\n  lifetmie: 10m\n" + scChain, `line 3: unknown key "lifetmie" in secure_conversation`},
		{"secure_conversation:\n  issuer: x\n  store: disk\n" + scChain, `store: "disk" is not memory or redis`},
		{"secure_conversation:\n  issuer: x\n  store: redis\n" + scChain, "store: redis needs a redis: section"},
		{"secure_conversation:\n  issuer: x\n  redis: {addrs: [\"127.0.0.1:1\"]}\n" + scChain, "redis: is set but store is memory"},
		{"secure_conversation:\n  issuer: x\n  store: redis\n  max_entries: 5\n  redis: {addrs: [\"127.0.0.1:1\"], keys: [{id: a, hex: \"" + strings.Repeat("ab", 32) + "\"}], write_key: a}\n" + scChain, "max_entries is for store: memory only"},
		{"secure_conversation:\n  issuer: x\n  store: redis\n  redis: {addrs: [\"127.0.0.1:1\"], keyz: []}\n" + scChain, `line 4: unknown key "keyz" in secure_conversation.redis`},
		{"secure_conversation:\n  issuer: x\n  store: redis\n  redis: {addrs: [\"127.0.0.1:1\"]}\n" + scChain, "secure_conversation: redis:"},
		{"secure_conversation:\n  issuer: x\n" + scChain + "    max_ag: 5m\n", `unknown key "max_ag" in chain[1] (contexts)`},
		{"secure_conversation:\n  issuer: x\n" + scChain + "    future_skew: -1s\n", "future_skew must not be negative"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.doc), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q\n%s", err, tc.want, tc.doc)
		}
	}
}

// TestSecureConversationBuildMemory: Build opens the memory store and the
// module reads it.
func TestSecureConversationBuildMemory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("users: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte("secure_conversation:\n  issuer: urn:sts:test\n  max_entries: 10\n"+scChain), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Path = filepath.Join(dir, "authsvc.yaml")
	rt, err := c.Build(nil2())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, ok := rt.Contexts.(*sct.Memory); !ok {
		t.Fatalf("store is %T", rt.Contexts)
	}
	if _, ok := rt.Checkers["secure_conversation"]; ok {
		t.Error("the memory store is a readiness check")
	}
	if rt.Chain == nil {
		t.Fatal("no chain")
	}
}

// TestSecureConversationBuildRedis: store: redis opens the encrypted Redis
// store with a key from a file relative to the configuration, and makes it
// a readiness check.
func TestSecureConversationBuildRedis(t *testing.T) {
	r := testenv.StartRedis(t)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"users.yaml":      "users: []\n",
		"secrets/sct-key": strings.Repeat("0f", 32) + "\n",
		"authsvc.yaml": "secure_conversation:\n  issuer: urn:sts:test\n  store: redis\n  redis:\n    addrs: [\"" + r.Addr +
			"\"]\n    key_prefix: \"cfgsct:\"\n    keys: [{id: k1, file: secrets/sct-key}]\n    write_key: k1\n" + scChain,
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Load(filepath.Join(dir, "authsvc.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := c.Build(nil2())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	st, ok := rt.Contexts.(*sctredis.Store)
	if !ok {
		t.Fatalf("store is %T", rt.Contexts)
	}
	if err := rt.Checkers["secure_conversation"].Check(context.Background()); err != nil {
		t.Fatalf("readiness: %v", err)
	}
	if k := st.Key("urn:sts:test", "urn:uuid:x"); !strings.HasPrefix(k, "cfgsct:") {
		t.Errorf("key_prefix not applied: %s", k)
	}
}
