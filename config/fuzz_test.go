package config

import (
	"os"
	"testing"
)

// FuzzParse: no configuration file, however broken, panics the loader.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	for _, p := range []string{"../examples/quickstart.yaml", "../examples/compose/authsvc.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("chain: [{name: a, type: username, flag: required, registry: &x r}]\nregistries: {r: *x}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, nil)
		if err == nil && len(c.Modules) == 0 {
			t.Fatal("accepted a configuration without modules")
		}
	})
}
