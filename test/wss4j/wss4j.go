// Package wss4j drives Apache WSS4J 1.6 (Debian's libwss4j-java) from Go
// tests: it compiles Gen.java with javac into a temporary directory and keeps
// one JVM running that answers requests for derived keys and signed SOAP
// envelopes. Tests use it as the real client that authsvc must interoperate
// with; a missing Java or WSS4J skips the test in the unit tier and fails it
// in the live one (internal/testenv.Missing), a failing one fails it.
package wss4j

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

// Jars is the classpath of Debian's WSS4J 1.6.19 with its dependencies.
var Jars = []string{
	"/usr/share/java/wss4j.jar",
	"/usr/share/java/xmlsec.jar",
	"/usr/share/java/commons-logging.jar",
	"/usr/share/java/slf4j-api.jar",
}

// Generator is a running Gen.java.
type Generator struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	dir string
}

func source() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "Gen.java")
}

// programs finds javac, java and the WSS4J jars; what is missing is a
// testenv.NotInstalled error.
func programs() (javac, java string, err error) {
	if javac, err = exec.LookPath("javac"); err != nil {
		return "", "", fmt.Errorf("wss4j: %w", testenv.NotInstalled("javac (a JDK, openjdk-17-jdk-headless)"))
	}
	if java, err = exec.LookPath("java"); err != nil {
		return "", "", fmt.Errorf("wss4j: %w", testenv.NotInstalled("java"))
	}
	for _, j := range Jars {
		if _, err := os.Stat(j); err != nil {
			return "", "", fmt.Errorf("wss4j: %w", testenv.NotInstalled(j+" (libwss4j-java)"))
		}
	}
	return javac, java, nil
}

// Start compiles the generator and starts a JVM running it.
func Start() (*Generator, error) {
	javac, java, err := programs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "authsvc-wss4j-")
	if err != nil {
		return nil, err
	}
	cp := strings.Join(Jars, string(os.PathListSeparator))
	out, err := exec.Command(javac, "-nowarn", "-d", dir, "-cp", cp, source()).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("wss4j: javac: %v\n%s", err, out)
	}
	cmd := exec.Command(java, "-cp", dir+string(os.PathListSeparator)+cp, "Gen")
	cmd.Stderr = io.Discard // SLF4J and JUL chatter; errors come back as ERR lines
	in, err := cmd.StdinPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("wss4j: starting java: %w", err)
	}
	return &Generator{cmd: cmd, in: in, out: bufio.NewReaderSize(stdout, 1<<16), dir: dir}, nil
}

// Close stops the JVM and removes the compiled classes.
func (g *Generator) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.in.Close()
	err := g.cmd.Wait()
	os.RemoveAll(g.dir)
	return err
}

func (g *Generator) call(fields ...string) ([]byte, error) {
	for _, f := range fields {
		if strings.ContainsAny(f, "\t\n") {
			return nil, errors.New("wss4j: a field contains a tab or newline")
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := io.WriteString(g.in, strings.Join(fields, "\t")+"\n"); err != nil {
		return nil, fmt.Errorf("wss4j: writing to the generator: %w", err)
	}
	line, err := g.out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("wss4j: reading from the generator: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "OK "):
		return base64.StdEncoding.DecodeString(line[3:])
	case strings.HasPrefix(line, "ERR "):
		return nil, fmt.Errorf("wss4j: %s", line[4:])
	}
	return nil, fmt.Errorf("wss4j: unexpected answer %q", line)
}

// DerivedKey returns UsernameToken.generateDerivedKey(password, salt, iterations).
func (g *Generator) DerivedKey(password string, salt []byte, iterations int) ([]byte, error) {
	h, err := g.call("kat", password, hex.EncodeToString(salt), strconv.Itoa(iterations))
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(string(h))
}

// Message describes an envelope for Envelope to make.
type Message struct {
	SOAP12     bool
	User       string
	Password   string
	Iterations int    // default 1000
	SigAlg     string // "hmac-sha1" (default) or "hmac-sha256"
	DigestAlg  string // "sha1" (default) or "sha256"
	// Parts to sign: "body", "ts", "ut" (default body and ts).
	Parts []string
	// TTL is the Timestamp's lifetime in seconds; 0 (the default) means
	// 300, negative means no Timestamp.
	TTL int
	// Nonce adds a Nonce and Created to the UsernameToken.
	Nonce bool
	// PayloadBytes is about how much text goes in the Body (default 200;
	// negative for an empty payload element).
	PayloadBytes int
}

// Envelope returns a SOAP envelope that WSS4J built and signed.
func (g *Generator) Envelope(m Message) ([]byte, error) {
	soap := "11"
	if m.SOAP12 {
		soap = "12"
	}
	if m.Iterations == 0 {
		m.Iterations = 1000
	}
	if m.SigAlg == "" {
		m.SigAlg = "hmac-sha1"
	}
	if m.DigestAlg == "" {
		m.DigestAlg = "sha1"
	}
	if len(m.Parts) == 0 {
		m.Parts = []string{"body", "ts"}
	}
	switch {
	case m.TTL == 0:
		m.TTL = 300
	case m.TTL < 0:
		m.TTL = 0
	}
	switch {
	case m.PayloadBytes == 0:
		m.PayloadBytes = 200
	case m.PayloadBytes < 0:
		m.PayloadBytes = 0
	}
	nonce := "0"
	if m.Nonce {
		nonce = "1"
	}
	return g.call("env", soap, m.User, m.Password, strconv.Itoa(m.Iterations), m.SigAlg, m.DigestAlg,
		strings.Join(m.Parts, ","), strconv.Itoa(m.TTL), nonce, strconv.Itoa(m.PayloadBytes))
}

// Shared starts one generator for a test binary on first use and hands the
// same one to every caller; a failure to start fails each caller's test,
// and a missing Java or WSS4J skips or fails it (testenv.Missing).
// Call CloseShared from TestMain after m.Run.
func Shared(t testing.TB) *Generator {
	t.Helper()
	shared.once.Do(func() { shared.gen, shared.err = Start() })
	testenv.Check(t, "interop tests need Java and WSS4J", shared.err)
	return shared.gen
}

// CloseShared stops the generators Shared and SharedSC started, if any.
func CloseShared() {
	if shared.gen != nil {
		shared.gen.Close()
	}
	if sharedSC.gen != nil {
		sharedSC.gen.Close()
	}
}

var shared struct {
	once sync.Once
	gen  *Generator
	err  error
}
