package enrich_test

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/authn/enrich"
	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/registry"
)

func TestConfig(t *testing.T) {
	var c enrich.Config
	if err := yaml.Unmarshal([]byte("registry: directory\nstrip_realm: true\nrealms: [EXAMPLE.TEST]\ngroups_only: true\n"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.RegistryName() != "directory" || !c.GroupsOnly || c.Realms[0] != "EXAMPLE.TEST" {
		t.Fatalf("%+v: %v", c, err)
	}
	for _, tc := range []struct {
		c    enrich.Config
		want string
	}{
		{enrich.Config{}, "registry is required"},
		{enrich.Config{Registry: "d", Realms: []string{"X"}}, "realms: only meaningful with strip_realm: true"},
	} {
		if err := tc.c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tc.c, err, tc.want)
		}
	}

	env := &modenv.Env{Registries: map[string]registry.Set{"directory": fileRegistry(t).Set(), "passwords": {Passwords: fileRegistry(t)}}}
	if m, err := c.Open(env); err != nil || m == nil {
		t.Errorf("Open: %v", err)
	}
	c.Registry = "passwords"
	if _, err := c.Open(env); err == nil || !strings.Contains(err.Error(), `registry: "passwords" cannot look users up`) {
		t.Errorf("a registry without a directory: %v", err)
	}
	c.Registry = "nowhere"
	if _, err := c.Open(env); err == nil || !strings.Contains(err.Error(), `no registry named "nowhere"`) {
		t.Errorf("an unknown registry: %v", err)
	}
}
