package saml_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/authn/saml"
	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/replay"
)

func TestConfigValidate(t *testing.T) {
	var c saml.Config
	doc := "idp_certificates: [idp.pem]\nissuers: [" + issuer + "]\naudiences: [" + audience + "]\nclock_skew: 1m\ngroups_attribute: groups\n"
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.ClockSkew != time.Minute || c.Issuers[0] != issuer || c.GroupsAttribute != "groups" {
		t.Fatalf("%+v: %v", c, err)
	}
	for _, tc := range []struct {
		mod  func(*saml.Config)
		want string
	}{
		{func(c *saml.Config) { c.IdPCertificates = nil }, "idp_certificates: at least one"},
		{func(c *saml.Config) { c.Issuers = nil }, "issuers: at least one"},
		{func(c *saml.Config) { c.ClockSkew = 2 * time.Hour }, "clock_skew: 2h0m0s is not between 0 and 1h"},
		{func(c *saml.Config) { c.MaxLifetime = -time.Second }, "must not be negative"},
	} {
		c2 := c
		tc.mod(&c2)
		if err := c2.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
}

// Open reads the certificate files relative to the configuration's
// directory, and names the file it cannot use.
func TestConfigOpen(t *testing.T) {
	good, _ := idps(t)
	dir := t.TempDir()
	good.WriteCert(t, dir, "idp.pem")
	os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("no certificate here\n"), 0o600)
	env := &modenv.Env{BaseDir: dir, Replay: replay.NewMemory(replay.MemoryOptions{})}
	c := saml.Config{IdPCertificates: []string{"idp.pem"}, Policy: saml.Policy{Issuers: []string{issuer}}}
	if m, err := c.Open(env); err != nil || m == nil {
		t.Fatalf("Open: %v", err)
	}
	for _, tc := range []struct{ file, want string }{
		{"missing.pem", "idp_certificates: open "},
		{"junk.pem", "idp_certificates: " + filepath.Join(dir, "junk.pem") + " holds no PEM certificate"},
	} {
		c.IdPCertificates = []string{"idp.pem", tc.file}
		if _, err := c.Open(env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.file, err, tc.want)
		}
	}
}
