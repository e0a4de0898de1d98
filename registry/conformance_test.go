package registry_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/registry/registrytest"
)

func TestFileConformance(t *testing.T) {
	h1, _ := registry.HashPassword("wonderland", registry.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1})
	h2, _ := registry.HashPassword("builder", registry.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1})
	p := filepath.Join(t.TempDir(), "users.yaml")
	os.WriteFile(p, []byte("users:\n  - name: alice\n    password_hash: \""+h1+"\"\n    groups: [soap-users]\n"+
		"  - name: bob\n    password_hash: \""+h2+"\"\n"), 0o600)
	r, err := registry.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	registrytest.Run(t, r, registrytest.Fixture{User: "alice", Password: "wonderland", Group: "soap-users", Other: "bob", OtherPassword: "builder"})
}
