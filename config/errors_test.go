package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseReportsEveryError: one pass finds every unknown key, wrong type
// and invalid value, each with its line; a wrong type says what was
// expected and what was found.
func TestParseReportsEveryError(t *testing.T) {
	doc := `listen: 127.0.0.1:8080
shutdown_timeout: 15
limits: {max_depth: deep}
log: {level: loud}
registries:
  users: {type: file, path: users.yaml}
chain:
  - name: users
    type: username
    flag: sufficient
    registry: users
    max_age: forever
  - name: krb
    type: kerberos
    flag: sufficient
    keytab: /k
    service_principals: [HTTP/x@X]
    clock_skew: 15
  - name: krb2
    type: kerberos
    flg: sufficient
proxy: {upstream: 'ftp://x', scrub_password: sometimes}
`
	_, err := Parse([]byte(doc), nil)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T %v, want Errors", err, err)
	}
	for _, want := range []string{
		"line 2: shutdown_timeout: want a duration such as 5m, 30s or 1h30m, got 15",
		"line 3: limits.max_depth: want an integer, got deep",
		`line 4: log.level: "loud" is not debug`,
		"line 12: chain[0] (users).max_age: want a duration such as 5m, 30s or 1h30m, got forever",
		"line 18: chain[1] (krb).clock_skew: want a duration such as 5m, 30s or 1h30m, got 15",
		"line 19: chain[2] (krb2).flag is required",
		"line 22: proxy.scrub_password: want true or false, got sometimes",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
	for _, e := range errs {
		if !strings.HasPrefix(e.Error(), "line ") {
			t.Errorf("error without a line: %v", e)
		}
	}
}

func TestParseEmptyFile(t *testing.T) {
	for _, doc := range []string{"", "\n\n", "# only a comment\n", "---\n"} {
		_, err := Parse([]byte(doc), nil)
		if err == nil || !strings.Contains(err.Error(), "the file is empty") {
			t.Errorf("%q: %v", doc, err)
		}
	}
	_, err := Parse([]byte("- a\n- b\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "line 1: the file: want a mapping of keys, got a list") {
		t.Errorf("a list: %v", err)
	}
}

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{"PORT": "9443", "UPSTREAM": "http://10.0.0.5:9000", "EMPTY": "", "LEVEL": "debug"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	doc := `listen: "127.0.0.1:${PORT}"
limits:
  max_depth: ${DEPTH:-40}
  max_elements: ${PORT}
log: {level: "${LEVEL}", format: '${FORMAT:-text}'}
security: {actor: "urn:$${not-a-var}:$x"}
proxy: {upstream: "${UPSTREAM}", header_prefix: "X-${EMPTY:-Auth}-"}
` + minimal
	c, err := parse([]byte(doc), nil, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9443" || c.Limits.MaxDepth != 40 || c.Limits.MaxElements != 9443 || c.Log.Level != "debug" ||
		c.Log.Format != "text" || c.Security.Actor != "urn:${not-a-var}:$x" || c.Proxy.URL().Host != "10.0.0.5:9000" || c.Proxy.HeaderPrefix != "X-Auth-" {
		t.Fatalf("expanded: listen %q limits %+v log %+v actor %q proxy %+v", c.Listen, c.Limits, c.Log, c.Security.Actor, c.Proxy)
	}
	// A quoted value stays a string: max_depth: "${PORT}" is not an integer.
	if _, err := parse([]byte("limits: {max_depth: \"${PORT}\"}\n"+minimal), nil, lookup); err == nil || !strings.Contains(err.Error(), "want an integer") {
		t.Errorf("quoted: %v", err)
	}
	// A value is data: it cannot add keys.
	env["INJECT"] = "x\nlisten: 0.0.0.0:1"
	c, err = parse([]byte("security:\n  actor: ${INJECT}\n"+minimal), nil, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.Security.Actor != env["INJECT"] || c.Listen != "127.0.0.1:8080" {
		t.Errorf("injection: %q %q", c.Security.Actor, c.Listen)
	}
	for doc, want := range map[string]string{
		"log:\n  level: ${NOPE}\n":          "line 2: ${NOPE}: environment variable NOPE is not set",
		"security: {actor: \"${PORT\"}\n":   `line 1: "${PORT": ${ without a closing }`,
		"security: {actor: \"${1X}\"}\n":    `line 1: ${1X}: "1X" is not a variable name`,
		"security: {actor: \"${A B}\"}\n":   `is not a variable name`,
		"log: {level: '${NOPE}${NOPE2}'}\n": "NOPE is not set",
	} {
		_, err := parse([]byte(doc+minimal), nil, lookup)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", doc, err, want)
		}
	}
}

// TestCheckNamesTheKeyLine: Check's errors carry the line of the key that
// names the file, and an audit output that is a directory is refused.
func TestCheckNamesTheKeyLine(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "audit"), 0o700)
	cfg := `registries:
  users:
    type: file
    path: missing-users.yaml
chain:
  - name: users
    type: username
    flag: sufficient
    registry: users
audit:
  output: audit
`
	p := filepath.Join(dir, "authsvc.yaml")
	os.WriteFile(p, []byte(cfg), 0o600)
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check(nil)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("Check: %v", err)
	}
	if !strings.HasPrefix(errs[0].Error(), "line 4: registries.users: ") || !strings.Contains(errs[0].Error(), "missing-users.yaml") {
		t.Errorf("registry: %v", errs[0])
	}
	if !strings.HasPrefix(errs[1].Error(), "line 11: audit.output: ") || !strings.Contains(errs[1].Error(), "not a regular file") {
		t.Errorf("audit: %v", errs[1])
	}
}

// TestConfigurationDocExamples: the YAML examples of docs/configuration.md
// parse (with the variables they use set; a fragment without a chain gets
// the minimal one).
func TestConfigurationDocExamples(t *testing.T) {
	b, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"UPSTREAM_URL": "http://127.0.0.1:9000", "CREDENTIALS_DIRECTORY": "/run/credentials/authsvc.service"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	blocks := strings.Split(string(b), "```yaml\n")[1:]
	if len(blocks) < 2 {
		t.Fatalf("found %d yaml examples", len(blocks))
	}
	for _, blk := range blocks {
		doc, _, _ := strings.Cut(blk, "```")
		if !strings.Contains(doc, "chain:") {
			doc += minimal
		}
		c, err := parse([]byte(doc), nil, lookup)
		if err != nil {
			t.Errorf("example\n%s\n: %v", doc, err)
			continue
		}
		if strings.Contains(doc, "CREDENTIALS_DIRECTORY") && !strings.Contains(fmt.Sprint(c.Modules[0].Config), "/run/credentials/authsvc.service/service.keytab") {
			t.Errorf("keytab not expanded: %+v", c.Modules[0].Config)
		}
	}
}
