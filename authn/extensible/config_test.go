package extensible_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/authn/extensible"
	"github.com/authsvc/authsvc/config/modenv"
)

func TestExecConfigValidate(t *testing.T) {
	var c extensible.ExecConfig
	doc := "command: [bin/check, -v]\npersistent: true\ntimeout: 2s\nenv: [A=b]\ndir: work\nheaders: [X-Api-Key]\nsend_passwords: true\nmethod: Ticket\n"
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.Timeout != 2*time.Second || c.Document.Headers[0] != "X-Api-Key" || !c.Document.SendPasswords || c.Method != "Ticket" {
		t.Fatalf("%+v: %v", c, err)
	}
	for _, tc := range []struct {
		c    extensible.ExecConfig
		want string
	}{
		{extensible.ExecConfig{}, "command is required"},
		{extensible.ExecConfig{Command: []string{""}}, "command is required"},
		{extensible.ExecConfig{Command: []string{"x"}, Timeout: -1}, "must not be negative"},
		{extensible.ExecConfig{Command: []string{"x"}, Env: []string{"NOEQUALS"}}, `env entry "NOEQUALS" is not KEY=value`},
	} {
		if err := tc.c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tc.c, err, tc.want)
		}
		if _, err := extensible.NewExec(tc.c); err == nil || !strings.HasPrefix(err.Error(), "extensible: exec: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewExec(%+v): error %v", tc.c, err)
		}
	}
}

func TestHTTPConfigValidate(t *testing.T) {
	var c extensible.HTTPConfig
	doc := "url: https://auth.example.test/x\nretries: 2\nca_file: ca.pem\nrequest_headers: {Authorization: Bearer x}\nheaders: [X-Api-Key]\nmethod: Remote\n"
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.Retries != 2 || c.CAFile != "ca.pem" || c.RequestHeaders["Authorization"] != "Bearer x" {
		t.Fatalf("%+v: %v", c, err)
	}
	for _, tc := range []struct {
		c    extensible.HTTPConfig
		want string
	}{
		{extensible.HTTPConfig{URL: "ftp://x"}, `url: "ftp://x" is not an http(s) URL`},
		{extensible.HTTPConfig{URL: "https://x", CertFile: "c.pem"}, "cert_file and key_file go together"},
		{extensible.HTTPConfig{URL: "https://x", Retries: 11}, "retries must be between 0 and 10"},
		{extensible.HTTPConfig{URL: "https://x", Timeout: -1}, "must not be negative"},
		{extensible.HTTPConfig{URL: "http://auth.example.test", Document: extensible.DocumentOptions{SendPasswords: true}}, "send_passwords over plain http"},
	} {
		if err := tc.c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tc.c, err, tc.want)
		}
	}
	ok := extensible.HTTPConfig{URL: "http://localhost:1/", Document: extensible.DocumentOptions{SendPasswords: true}}
	if err := ok.Validate(); err != nil {
		t.Errorf("send_passwords over http to loopback: %v", err)
	}
}

// Open reads the TLS files relative to the configuration file's directory
// and says which key failed.
func TestHTTPConfigOpenTLSFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("junk\n"), 0o600)
	env := &modenv.Env{Name: "remote", BaseDir: dir}
	for _, tc := range []struct {
		c    extensible.HTTPConfig
		want string
	}{
		{extensible.HTTPConfig{URL: "https://x", CAFile: "missing.pem"}, "ca_file: open " + filepath.Join(dir, "missing.pem")},
		{extensible.HTTPConfig{URL: "https://x", CAFile: "junk.pem"}, "ca_file: " + filepath.Join(dir, "junk.pem") + " holds no PEM certificate"},
		{extensible.HTTPConfig{URL: "https://x", CertFile: "junk.pem", KeyFile: "junk.pem"}, "cert_file: "},
	} {
		if _, err := tc.c.Open(env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tc.c, err, tc.want)
		}
	}
	if m, err := (&extensible.HTTPConfig{URL: "https://x"}).Open(env); err != nil || m == nil {
		t.Errorf("without TLS files: %v", err)
	}
}
