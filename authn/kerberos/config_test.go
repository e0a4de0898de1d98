package kerberos

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/replay"
)

const spn = "HTTP/soap.example.test@EXAMPLE.TEST"

func TestConfigValidate(t *testing.T) {
	var c Config
	doc := "keytab: http.keytab\nservice_principals: [" + spn + "]\nclock_skew: 2m\nstrip_realm: false\nprincipal_map: [{match: '(.*)@CHILD', principal: 'c-$1'}]\n"
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.ClockSkew != 2*time.Minute || *c.StripRealm || len(c.PrincipalMap) != 1 {
		t.Fatalf("%+v: %v", c, err)
	}
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Keytab = "" }, "keytab: a keytab file is required"},
		{func(c *Config) { c.ServicePrincipals = nil }, "service_principals: at least one"},
		{func(c *Config) { c.ServicePrincipals = []string{"HTTP/host"} }, `"HTTP/host" is not of the form service/host@REALM`},
		{func(c *Config) { c.ClockSkew = 2 * time.Hour }, "clock_skew: 2h0m0s is not between 0 and 1h"},
		{func(c *Config) { c.MaxTokenBytes = 2 << 20 }, "max_token_bytes: 2097152 is not between"},
		{func(c *Config) { c.KeytabReload = time.Millisecond }, "keytab_reload: 1ms is too short"},
		{func(c *Config) { c.Realms = []string{"A B"} }, `realms: "A B" is not a realm name`},
		{func(c *Config) { c.PrincipalMap = []MapRule{{Match: "(", Principal: "x"}} }, "principal_map[0].match"},
		{func(c *Config) { c.PrincipalMap = []MapRule{{Match: "x"}} }, "principal_map[0].principal: empty"},
	} {
		c2 := c
		tc.mod(&c2)
		if err := c2.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
}

// Open takes relative keytab paths from the configuration file's
// directory, and needs the replay cache.
func TestConfigOpenResolvesKeytabs(t *testing.T) {
	dir := t.TempDir()
	env := &modenv.Env{BaseDir: dir, Replay: replay.NewMemory(replay.MemoryOptions{MaxEntries: 10})}
	c := Config{Keytabs: []string{"missing.keytab"}, ServicePrincipals: []string{spn}, KeytabReload: -1}
	if _, err := c.Open(env); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "missing.keytab")) {
		t.Errorf("error %v, want it to name the resolved path", err)
	}
	if c.Keytabs[0] != "missing.keytab" {
		t.Errorf("Open changed the section: %v", c.Keytabs)
	}
	if _, err := c.Open(&modenv.Env{BaseDir: dir}); err == nil || !strings.Contains(err.Error(), "replay cache is required") {
		t.Errorf("without a replay cache: %v", err)
	}
}

func TestConfigTransit(t *testing.T) {
	var c Config
	doc := "keytab: k\nservice_principals: [" + spn + "]\ntrusted_transit_realms: [MIDDLE.TEST, /COM/HP]\ntrust_kdc_transit_check: false\n"
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || len(c.TrustedTransitRealms) != 2 || *c.TrustKDCTransitCheck {
		t.Fatalf("%+v: %v", c, err)
	}
	for _, bad := range []string{"", "A B", "A,B", "A@B", `A\B`} {
		c2 := c
		c2.TrustedTransitRealms = []string{bad}
		if err := c2.Validate(); err == nil || !strings.Contains(err.Error(), "trusted_transit_realms: ") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// Reload (SIGHUP) re-reads the module's keytab now, with polling off: a
// rotated key is in use at once; a broken file keeps the keys in use.
func TestModuleReloadRereadsTheKeytab(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "http.keytab")
	write := func(kvno int) {
		t.Helper()
		kt := keytab.New()
		if err := kt.AddEntry("HTTP/soap.example.test", "EXAMPLE.TEST", "pw", time.Now(), uint8(kvno), 18); err != nil {
			t.Fatal(err)
		}
		b, err := kt.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		// A new file (a new inode), as ktutil or a Secret update makes it.
		if err := os.WriteFile(path+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	write(2)
	env := &modenv.Env{BaseDir: dir, Replay: replay.NewMemory(replay.MemoryOptions{MaxEntries: 10})}
	c := Config{Keytab: "http.keytab", ServicePrincipals: []string{spn}, KeytabReload: -1}
	mod, err := c.Open(env)
	if err != nil {
		t.Fatal(err)
	}
	m := mod.(*Module)
	defer m.Close()
	kvno := func() int {
		t.Helper()
		_, v, err := m.keys.Key("HTTP/soap.example.test", "EXAMPLE.TEST", 0, 18)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if kvno() != 2 {
		t.Fatalf("kvno %d at start", kvno())
	}
	write(3)
	if kvno() != 2 {
		t.Fatal("the keytab was re-read without Reload although polling is off")
	}
	if err := m.Reload(); err != nil || kvno() != 3 {
		t.Fatalf("after Reload: kvno %d, %v", kvno(), err)
	}
	os.WriteFile(path, []byte("not a keytab"), 0o600)
	if err := m.Reload(); err == nil || kvno() != 3 {
		t.Fatalf("a broken keytab: kvno %d, %v", kvno(), err)
	}
}
