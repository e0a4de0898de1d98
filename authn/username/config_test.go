package username

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
)

func TestConfigDecodesWithDefaults(t *testing.T) {
	c := NewConfig()
	doc := "registry: users\nrequire_nonce: true\nmax_age: 2m\nderived_key: true\nsigned_parts: [Body]\nrealm: EXAMPLE\n"
	if err := yaml.Unmarshal([]byte(doc), c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Registry != "users" || !c.RequireNonce || c.MaxAge != 2*time.Minute || c.FutureSkew != time.Minute ||
		!c.PasswordText || !c.PasswordDigest || c.Realm != "EXAMPLE" || c.RegistryName() != "users" {
		t.Errorf("decoded %+v", c)
	}
	// The derived-key defaults are filled in by Validate.
	if c.MinIterations != DefaultMinIterations || c.MaxIterations != DefaultMaxIterations || len(c.SignedParts) != 1 {
		t.Errorf("derived-key defaults: %+v", c.Policy)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Registry = "" }, "registry is required"},
		{func(c *Config) { c.PasswordText, c.PasswordDigest = false, false }, "nothing would be accepted"},
		{func(c *Config) { c.MinIterations = -1 }, "min_iterations and max_iterations"},
		{func(c *Config) { c.MinIterations, c.MaxIterations = 5000, 2000 }, "min not above max"},
		{func(c *Config) { c.SignedParts = []string{PartBody} }, "signed_parts: only meaningful with derived_key"},
		{func(c *Config) { c.DerivedKey, c.SignedParts = true, []string{} }, "signed_parts is empty"},
		{func(c *Config) { c.DerivedKey, c.SignedParts = true, []string{"Header"} }, `unknown part "Header"`},
		{func(c *Config) { c.MaxAge = 0 }, "max_age must be positive"},
		{func(c *Config) { c.FutureSkew = -time.Second }, "future_skew must not be negative"},
	} {
		cfg := NewConfig()
		cfg.Registry = "users"
		c.mod(cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want it to contain %q", err, c.want)
		}
	}
}

type passwordsOnly struct{}

func (passwordsOnly) VerifyPassword(context.Context, string, string) (*registry.User, bool, error) {
	return nil, false, nil
}

// Open takes the named registry's capabilities: a registry that can verify
// passwords but holds no secrets (as LDAP) cannot serve PasswordDigest or
// derived keys, and one that cannot verify passwords cannot serve
// PasswordText. The error names the key and the registry.
func TestConfigOpenNeedsCapabilities(t *testing.T) {
	env := &modenv.Env{Replay: replay.NewMemory(replay.MemoryOptions{MaxEntries: 10}),
		Registries: map[string]registry.Set{"dir": {Passwords: passwordsOnly{}}, "none": {}, "file": testRegistry(t).Set()}}
	for _, c := range []struct {
		reg  string
		mod  func(*Config)
		want string
	}{
		{"dir", func(*Config) {}, `registry "dir": username: password_digest: the registry holds no password-equivalent`},
		{"dir", func(c *Config) { c.PasswordDigest, c.DerivedKey = false, true }, "derived_key: the registry holds no"},
		{"none", func(c *Config) { c.PasswordDigest = false }, "password_text: the registry cannot verify passwords"},
		{"people", func(*Config) {}, `no registry named "people"`},
	} {
		cfg := NewConfig()
		cfg.Registry = c.reg
		c.mod(cfg)
		if _, err := cfg.Open(env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.reg, err, c.want)
		}
	}
	cfg := NewConfig()
	cfg.Registry = "dir"
	cfg.PasswordDigest = false
	if m, err := cfg.Open(env); err != nil || m == nil {
		t.Errorf("PasswordText over a password-only registry: %v", err)
	}
	cfg.Registry = "file"
	cfg.PasswordDigest = true
	if _, err := cfg.Open(&modenv.Env{Registries: env.Registries}); err == nil || !strings.Contains(err.Error(), "a replay cache is required") {
		t.Errorf("without a replay cache: %v", err)
	}
}
