package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authsvc/authsvc/config"
)

// The quickstart's secure_conversation section gives the server an STS,
// whose metrics are on the server's registry; without the section there
// is none.
func TestServerOptionsSTS(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "examples", "quickstart.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	rt, err := cfg.Build(logger)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	opts, err := serverOptions(cfg, rt, logger)
	if err != nil {
		t.Fatal(err)
	}
	if opts.STS == nil || opts.Registry == nil {
		t.Fatalf("STS %v, registry %v", opts.STS, opts.Registry)
	}
	// A metric of the same name cannot be registered again: the STS's is there.
	dup := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authsvc_sts_issued_total", Help: "x"}, []string{"version"})
	if err := opts.Registry.Register(dup); err == nil {
		t.Error("authsvc_sts_issued_total is not on the server's registry")
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("users: []\n"), 0o600)
	doc := "registries:\n  users: {type: file, path: users.yaml}\nchain:\n  - {name: users, type: username, flag: sufficient, registry: users}\n"
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(doc), 0o600)
	cfg, err = config.Load(filepath.Join(dir, "a.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rt2, err := cfg.Build(logger)
	if err != nil {
		t.Fatal(err)
	}
	defer rt2.Close()
	if opts, err := serverOptions(cfg, rt2, logger); err != nil || opts.STS != nil {
		t.Fatalf("without the section: STS %v, %v", opts.STS, err)
	}
}
