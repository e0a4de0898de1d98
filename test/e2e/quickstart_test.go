package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

// TestQuickstart runs the README's first steps: the quickstart config as
// shipped, a PasswordDigest envelope from `authsvc envelope` (200), the
// README's PasswordText envelope with a wrong password (a fault), and a
// password hashed by `authsvc hash-password` that the users file accepts.
func TestQuickstart(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(testenv.Root(), "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	svc := StartService(t, read("quickstart.yaml"), map[string]string{"quickstart-users.yaml": read("quickstart-users.yaml")})

	env, err := exec.Command(binary(t), "envelope", "-user", "alice", "-password", "wonderland", "-digest").Output()
	if err != nil {
		t.Fatal(err)
	}
	resp, body := svc.Post(t, "/v1/authenticate", "text/xml", env)
	var s subject
	if resp.StatusCode != 200 || json.Unmarshal(body, &s) != nil || s.Principal != "alice" || s.TokenType != "PasswordDigest" {
		t.Fatalf("digest envelope: %d %s", resp.StatusCode, body)
	}

	readme, err := os.ReadFile(filepath.Join(testenv.Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(readme), "<soap:Envelope")
	j := strings.Index(string(readme), "</soap:Envelope>")
	if i < 0 || j < i {
		t.Fatal("no sample envelope in the README")
	}
	sample := string(readme[i : j+len("</soap:Envelope>")])
	resp, body = svc.Post(t, "/v1/authenticate", "text/xml", []byte(sample))
	if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "FailedAuthentication" {
		t.Fatalf("README sample: %d %s", resp.StatusCode, body)
	}
	resp, body = svc.Post(t, "/v1/authenticate", "text/xml", []byte(strings.Replace(sample, "not-the-password", "wonderland", 1)))
	if resp.StatusCode != 200 {
		t.Fatalf("README sample with the right password: %d %s", resp.StatusCode, body)
	}

	cmd := exec.Command(binary(t), "hash-password", "-stdin")
	cmd.Stdin = strings.NewReader("s3cret\n")
	hash, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(hash), "$argon2id$") {
		t.Fatalf("hash-password printed %q", hash)
	}
	svc2 := StartService(t, strings.Replace(baseConfig, "users.yaml", "u.yaml", 1),
		map[string]string{"u.yaml": "users:\n  - name: carol\n    password_hash: \"" + strings.TrimSpace(string(hash)) + "\"\n"})
	resp, body = svc2.Post(t, "/v1/authenticate", "text/xml", zeep(t, "--user", "carol", "--password", "s3cret"))
	if resp.StatusCode != 200 {
		t.Fatalf("hashed password: %d %s", resp.StatusCode, body)
	}
}
