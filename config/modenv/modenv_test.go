package modenv

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/registry"
)

func TestEnv(t *testing.T) {
	env := &Env{BaseDir: "/etc/authsvc", Registries: map[string]registry.Set{"users": {}}}
	if got := env.Path("users.yaml"); got != filepath.Join("/etc/authsvc", "users.yaml") {
		t.Errorf("relative path: %s", got)
	}
	if got := env.Path("/abs/users.yaml"); got != "/abs/users.yaml" {
		t.Errorf("absolute path: %s", got)
	}
	if got := env.Path(""); got != "" {
		t.Errorf("empty path: %q", got)
	}
	if _, err := env.Registry("users"); err != nil {
		t.Error(err)
	}
	if _, err := env.Registry("people"); err == nil || !strings.Contains(err.Error(), `no registry named "people"`) {
		t.Errorf("unknown registry: %v", err)
	}
	if env.Log() == nil {
		t.Error("Log without a logger is nil")
	}
	w := env.With("m", env.Log())
	if w.Name != "m" || env.Name != "" || w.BaseDir != env.BaseDir {
		t.Errorf("With: %+v from %+v", w, env)
	}
}
