package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// authsvcBinary builds ./cmd/authsvc once for the package's tests.
func authsvcBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authsvc-deploy-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "authsvc")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/authsvc")
		cmd.Dir = testenv.Root()
		binOut, binErr = cmd.CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("go build ./cmd/authsvc: %v\n%s", binErr, binOut)
	}
	return binPath
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runAuthsvc runs the binary and returns its combined output and exit code.
func runAuthsvc(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(authsvcBinary(t), args...).CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("authsvc %v: %v", args, err)
	}
	return string(out), 0
}
