package wss4j

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

// StartSC compiles SCGen.java (secure-conversation messages) and starts a
// JVM running it. Its Generator answers UsernameToken and SecureConversation;
// the other methods belong to Start's.
func StartSC() (*Generator, error) {
	javac, java, err := programs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "authsvc-scgen-")
	if err != nil {
		return nil, err
	}
	cp := strings.Join(Jars, string(os.PathListSeparator))
	src := filepath.Join(filepath.Dir(source()), "SCGen.java")
	if out, err := exec.Command(javac, "-nowarn", "-d", dir, "-cp", cp, src).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("wss4j: javac SCGen.java: %v\n%s", err, out)
	}
	cmd := exec.Command(java, "-cp", dir+string(os.PathListSeparator)+cp, "SCGen")
	cmd.Stderr = io.Discard
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
	return &Generator{cmd: cmd, in: in, out: bufio.NewReaderSize(stdout, 1<<20), dir: dir}, nil
}

// UsernameToken returns env (a SOAP envelope, 1.1 or 1.2, with or without
// a Header) with a Security header that WSS4J filled: a Timestamp living
// ttlSeconds (0: none) and a UsernameToken with Nonce and Created, its
// password as PasswordDigest or PasswordText.
func (g *Generator) UsernameToken(env []byte, user, password string, digest bool, ttlSeconds int) ([]byte, error) {
	d := "0"
	if digest {
		d = "1"
	}
	return g.call("ut", user, password, d, strconv.Itoa(ttlSeconds), base64.StdEncoding.EncodeToString(env))
}

// SC describes how SecureConversation signs a message with a security
// context's key.
type SC struct {
	// V13 selects WS-SecureConversation 1.3's namespace (else Feb 2005's).
	V13 bool
	// ByIdentifier makes the DerivedKeyToken reference the context by its
	// Identifier (else by the #wsu:Id of the SCT in the header).
	ByIdentifier bool
	// ValueType adds the SCT ValueType to the reference.
	ValueType bool
	// ProfileT signs with the context's secret itself (else profile M, a
	// DerivedKeyToken).
	ProfileT bool
	// Secret and Identifier are the context's.
	Secret     []byte
	Identifier string
	// Parts are what the signature covers: "body", "ts" (default both),
	// and SOAP headers by expanded name, "{namespace}local".
	Parts []string
	// TTL is the Timestamp's life in seconds; 0 means 300, negative none.
	TTL int
}

// SecureConversation returns env with a Security header holding a
// Timestamp, a SecurityContextToken and an HMAC-SHA1 signature made by
// WSS4J with the context's key as sc says.
func (g *Generator) SecureConversation(env []byte, sc SC) ([]byte, error) {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	wsc, ref, profile := "1", "id", "M"
	if sc.V13 {
		wsc = "2"
	}
	if sc.ByIdentifier {
		ref = "identifier"
	}
	if sc.ProfileT {
		profile = "T"
	}
	parts := sc.Parts
	if len(parts) == 0 {
		parts = []string{"body", "ts"}
	}
	ttl := sc.TTL
	switch {
	case ttl == 0:
		ttl = 300
	case ttl < 0:
		ttl = 0
	}
	return g.call("sc", wsc, ref, b(sc.ValueType), profile, hex.EncodeToString(sc.Secret), sc.Identifier,
		strings.Join(parts, ","), strconv.Itoa(ttl), base64.StdEncoding.EncodeToString(env))
}

// SharedSC starts one SCGen for a test binary on first use and hands the
// same one to every caller; a failure to start fails each caller's test,
// and a missing Java or WSS4J skips or fails it (testenv.Missing).
// Call CloseShared from TestMain after m.Run.
func SharedSC(t testing.TB) *Generator {
	t.Helper()
	sharedSC.once.Do(func() { sharedSC.gen, sharedSC.err = StartSC() })
	testenv.Check(t, "interop tests need Java and WSS4J", sharedSC.err)
	return sharedSC.gen
}

var sharedSC struct {
	once sync.Once
	gen  *Generator
	err  error
}
