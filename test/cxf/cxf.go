// Package cxf drives the Apache CXF 4.2.3 JAX-WS client of this folder
// (src/main/java/authsvc/cxf/Client.java, built by build.sh with Maven) from
// Go tests: the real WS-SecureConversation client that authsvc's STS must
// interoperate with (issue 12). One Run is one JVM: CXF asks the URL for a
// SecurityContextToken (its RST, bootstrapped by a UsernameToken over TLS),
// calls the Echo operation signed with it, and with Cancel cancels it. Run
// returns every HTTP message CXF sent and received. A missing Java or Maven,
// or a client that does not build, is an error, never a reason to skip.
package cxf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

// The policies of echo-sc.wsdl. Every SecureConversationToken is issued
// through a TransportBinding with a signed UsernameToken (PasswordText), so
// URL must be https.
const (
	// PolicyT: TransportBinding; the SCT's own secret (no derived keys)
	// signs the Timestamp (issue 12's profile T). WS-SecurityPolicy 1.2,
	// WS-Trust 1.3, WS-SC 200512.
	PolicyT = "T"
	// PolicyM: SymmetricBinding; a DerivedKeyToken from the SCT signs Body
	// and Timestamp, nothing is encrypted (profile M). SP 1.2, WS-Trust 1.3.
	PolicyM = "M"
	// PolicyT2005 and PolicyM2005: the same with WS-SecurityPolicy 2005/07
	// and sp:Trust10, so WS-Trust and WS-SC Feb 2005.
	PolicyT2005 = "T2005"
	PolicyM2005 = "M2005"
)

// Options says what Run does.
type Options struct {
	URL    string // the endpoint CXF sends the RST and the call to
	Policy string // one of the Policy constants
	CAFile string // PEM certificates to trust for https (none: the JVM's defaults)
	// User and Password default to the quickstart's alice / wonderland.
	User, Password string
	Text           string // the Echo text (default "hello")
	// Cancel cancels the context after the call, with a request secured by
	// the same policy and context.
	Cancel bool
	// API is for authsvc's API mode (/v1/authenticate), which answers an
	// accepted call with the Subject as JSON: a 2xx application/json answer
	// is then the Reply, and CXF is handed an empty SOAP envelope instead.
	API bool
	// Digest bootstraps with a PasswordDigest UsernameToken (sp:HashPassword)
	// instead of PasswordText.
	Digest bool
}

// Message is one HTTP message CXF sent or received, as CXF saw it.
type Message struct {
	Sent bool
	// Line is "POST <url>" for a request, "HTTP <status>" for a response.
	Line string
	// Header holds the headers CXF set (Content-Type, SOAPAction) or got.
	Header []string
	Body   []byte
}

// Result is what one Run saw.
type Result struct {
	Messages []Message
	// Reply is the client's standard output on success: the echoed text (with
	// API, the JSON answer) and, after a cancel, a line "cancelled <token id>".
	Reply string
	// Stderr is the JVM's standard error (CXF's log and any stack trace).
	Stderr string
}

// Dir is the folder of this package (pom.xml, build.sh, target/).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

var built struct {
	once sync.Once
	cp   string
	err  error
}

// Build runs build.sh once per test binary (it does nothing when
// target/ is up to date) and returns the client's classpath.
func Build() (string, error) {
	built.once.Do(func() { built.cp, built.err = build() })
	return built.cp, built.err
}

func build() (string, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return "", fmt.Errorf("cxf: %w", testenv.NotInstalled("java (openjdk-17-jdk-headless)"))
	}
	dir := Dir()
	if _, err := os.Stat(filepath.Join(dir, "target", "cxf-client.jar")); err != nil {
		if _, err := exec.LookPath("mvn"); err != nil {
			return "", fmt.Errorf("cxf: %w", testenv.NotInstalled("mvn (maven, to build test/cxf)"))
		}
	}
	cmd := exec.Command("bash", filepath.Join(dir, "build.sh"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cxf: building the client (test/cxf/build.sh): %v\n%s", err, out)
	}
	jar := filepath.Join(dir, "target", "cxf-client.jar")
	lib := filepath.Join(dir, "target", "lib")
	if _, err := os.Stat(jar); err != nil {
		return "", fmt.Errorf("cxf: build.sh left no %s: %w", jar, err)
	}
	jars, err := filepath.Glob(filepath.Join(lib, "*.jar"))
	if err != nil || len(jars) == 0 {
		return "", fmt.Errorf("cxf: build.sh left no jars in %s", lib)
	}
	return jar + string(os.PathListSeparator) + filepath.Join(lib, "*"), nil
}

// Require builds the client like Build; a missing Java or Maven skips or
// fails the test (testenv.Missing), a failing build fails it.
func Require(t testing.TB) string {
	t.Helper()
	cp, err := Build()
	testenv.Check(t, "cxf", err)
	return cp
}

// Run builds the client if needed and runs it once. When the client fails,
// the error carries its reason ("cxf-client: error: ...") and the Result
// still holds every message exchanged up to then.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.URL == "" {
		return nil, errors.New("cxf: Options.URL is empty")
	}
	switch o.Policy {
	case PolicyT, PolicyM, PolicyT2005, PolicyM2005:
	default:
		return nil, fmt.Errorf("cxf: unknown policy %q", o.Policy)
	}
	cp, err := Build()
	if err != nil {
		return nil, err
	}
	out, err := os.MkdirTemp("", "authsvc-cxf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	args := []string{
		// A short-lived client on a small machine: start fast.
		"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
		"-cp", cp, "authsvc.cxf.Client",
		"-url", o.URL, "-policy", o.Policy, "-out", out,
	}
	if o.CAFile != "" {
		args = append(args, "-ca", o.CAFile)
	}
	if o.User != "" {
		args = append(args, "-user", o.User)
	}
	if o.Password != "" {
		args = append(args, "-password", o.Password)
	}
	if o.Text != "" {
		args = append(args, "-text", o.Text)
	}
	if o.Cancel {
		args = append(args, "-cancel")
	}
	if o.API {
		args = append(args, "-api")
	}
	if o.Digest {
		args = append(args, "-digest")
	}
	cmd := exec.CommandContext(ctx, "java", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	res := &Result{Reply: strings.TrimRight(stdout.String(), "\n"), Stderr: stderr.String()}
	msgs, readErr := readMessages(out)
	res.Messages = msgs
	if runErr != nil {
		return res, fmt.Errorf("cxf: client against %s (policy %s): %v: %s", o.URL, o.Policy, runErr, reason(res.Stderr))
	}
	if readErr != nil {
		return res, readErr
	}
	return res, nil
}

// reason is the client's last "cxf-client:" line, or the end of stderr.
func reason(stderr string) string {
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "cxf-client:") {
			return lines[i]
		}
	}
	if len(stderr) > 2000 {
		stderr = "..." + stderr[len(stderr)-2000:]
	}
	return "no reason given; stderr:\n" + stderr
}

// readMessages reads the NN-out.http / NN-in.http files Client.java wrote.
func readMessages(dir string) ([]Message, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.http"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var msgs []Message
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		m, err := parseMessage(b)
		if err != nil {
			return nil, fmt.Errorf("cxf: %s: %w", filepath.Base(n), err)
		}
		m.Sent = strings.HasSuffix(n, "-out.http")
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func parseMessage(b []byte) (Message, error) {
	head, body, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		return Message{}, errors.New("no blank line after the headers")
	}
	lines := strings.Split(string(head), "\n")
	return Message{Line: lines[0], Header: lines[1:], Body: body}, nil
}

// Get returns the value of the first header name (case-insensitive).
func (m Message) Get(name string) string {
	for _, h := range m.Header {
		k, v, ok := strings.Cut(h, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
