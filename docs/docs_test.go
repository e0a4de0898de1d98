// Package docs_test checks the Markdown documentation against the
// repository: every file or directory README.md and docs/*.md link to or
// name exists, and every nginx configuration replaces X-Forwarded-For as
// docs/gateways.md says.
package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

// markdown returns README.md and docs/*.md, relative to the repository root.
func markdown(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.Root(), "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, f := range files {
		rel, _ := filepath.Rel(testenv.Root(), f)
		out = append(out, rel)
	}
	return out
}

var (
	// A Markdown link or image target: [text](target "title").
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	// A path into the repository named in the text: it starts with one of
	// the repository's top-level directories (or a root file such as
	// docker-compose.yml). After a double quote it is a JSON value (a
	// readiness check's name such as "registry/users"), not a path.
	goIdent  = regexp.MustCompile(`\.[A-Z][A-Za-z0-9]*$`)
	repoPath = regexp.MustCompile("(?:^|[\\s`('=:,])((?:docs|examples|test|deploy|bench|cmd|internal|app|server|config|authn|wsse|wsseclient|registry|replay|keytabs|lockout|sts|sct|health)/[A-Za-z0-9_.\\-/]*[A-Za-z0-9_/]|docker-compose[a-z.]*\\.yml|Dockerfile|BENCHMARKS\\.md)")
)

// TestDocsReferToFilesThatExist: a relative link resolves against the
// document's directory; a path named in the text (or a code block) against
// the repository root or, failing that, the document's directory.
func TestDocsReferToFilesThatExist(t *testing.T) {
	root := testenv.Root()
	checked := 0
	for _, doc := range markdown(t) {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		dir := filepath.Dir(filepath.Join(root, doc))
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			checked++
			if _, err := os.Stat(filepath.Join(dir, target)); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, m[1])
			}
		}
		for _, m := range repoPath.FindAllStringSubmatch(text, -1) {
			// A Go identifier after a package path: sct/redis.Config.
			p := goIdent.ReplaceAllString(m[1], "")
			checked++
			_, err1 := os.Stat(filepath.Join(root, p))
			_, err2 := os.Stat(filepath.Join(dir, p))
			if err1 != nil && err2 != nil {
				t.Errorf("%s names %s, which does not exist", doc, p)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d references checked: the patterns find nothing", checked)
	}
}

// TestNginxReplacesXForwardedFor: docs/gateways.md says nginx must replace
// X-Forwarded-For with the address it sees ($remote_addr), never append to
// what the client sent ($proxy_add_x_forwarded_for): authsvc believes the
// header from a trusted proxy and counts brute-force failures by it. Every
// nginx configuration in the docs and examples does so.
func TestNginxReplacesXForwardedFor(t *testing.T) {
	root := testenv.Root()
	confs, _ := filepath.Glob(filepath.Join(root, "examples", "*", "*.conf"))
	sources := map[string]string{}
	for _, f := range confs {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "proxy_pass") {
			rel, _ := filepath.Rel(root, f)
			sources[rel] = string(b)
		}
	}
	for _, doc := range markdown(t) {
		b, _ := os.ReadFile(filepath.Join(root, doc))
		if strings.Contains(string(b), "proxy_pass") {
			sources[doc] = string(b)
		}
	}
	if _, ok := sources["examples/replicas/nginx.conf"]; !ok {
		t.Fatal("examples/replicas/nginx.conf not found")
	}
	if _, ok := sources["docs/gateways.md"]; !ok {
		t.Fatal("docs/gateways.md has no nginx configuration")
	}
	set := regexp.MustCompile(`(?i)proxy_set_header\s+X-Forwarded-For\s+(\S+);`)
	for name, text := range sources {
		found := set.FindAllStringSubmatch(text, -1)
		if len(found) == 0 {
			t.Errorf("%s proxies without setting X-Forwarded-For", name)
		}
		for _, m := range found {
			if m[1] != "$remote_addr" {
				t.Errorf("%s sets X-Forwarded-For to %s, not $remote_addr", name, m[1])
			}
		}
	}
}
