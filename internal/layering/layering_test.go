package layering

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const mod = "github.com/authsvc/authsvc"

// TestImportRules checks, from `go list`, the direction of dependencies:
// registries and caches know no chain (registry/ and replay/ import nothing
// under authn/; they speak health's contract), the server only speaks HTTP
// (server/ imports no login module), brute-force protection knows no chain
// (lockout/ depends on nothing under authn/, directly or not), and health
// imports nothing of authsvc. Test files are not counted: a test may wire
// whatever it needs.
func TestImportRules(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}|{{join .Deps " "}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	modules := []string{mod + "/authn/username", mod + "/authn/kerberos", mod + "/authn/saml",
		mod + "/authn/extensible", mod + "/authn/enrich", mod + "/authn/secureconv",
		mod + "/sts"} // the STS is the server's through an interface (server.STS)
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		direct, deps, _ := strings.Cut(line, "|")
		f := strings.Fields(direct)
		pkg, imports := f[0], f[1:]
		rel := strings.TrimPrefix(pkg, mod+"/")
		if under(rel, "lockout") {
			checked++
			for _, dep := range strings.Fields(deps) {
				if dep == mod+"/authn" || strings.HasPrefix(dep, mod+"/authn/") {
					t.Errorf("%s depends on %s: brute-force protection must not know the chain", pkg, dep)
				}
			}
		}
		for _, imp := range imports {
			switch {
			case (under(rel, "registry") || under(rel, "replay")) && (imp == mod+"/authn" || strings.HasPrefix(imp, mod+"/authn/")):
				t.Errorf("%s imports %s: registries and caches must not know the chain (use %s/health)", pkg, imp, mod)
			case under(rel, "server"):
				for _, m := range modules {
					if imp == m || strings.HasPrefix(imp, m+"/") {
						t.Errorf("%s imports the login module %s: the server only speaks HTTP", pkg, imp)
					}
				}
			case rel == "health" && strings.HasPrefix(imp, mod+"/"):
				t.Errorf("health imports %s: it must depend on nothing of authsvc", imp)
			}
		}
		if under(rel, "registry") || under(rel, "replay") || under(rel, "server") || rel == "health" {
			checked++
		}
	}
	if checked < 9 {
		t.Fatalf("checked only %d packages; go list output:\n%s", checked, out)
	}
}

func under(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }
