package wstrust

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/test/wss4j"
)

// scgen compiles testdata/SCGen.java against Debian's WSS4J 1.6 and returns
// a function running it. A missing JDK or WSS4J skips or fails the test
// (testenv.Missing).
func scgen(t *testing.T) func(stdin []byte, args ...string) []byte {
	t.Helper()
	javac, java := testenv.LookPath(t, "javac"), testenv.LookPath(t, "java")
	for _, j := range wss4j.Jars {
		if _, err := os.Stat(j); err != nil {
			testenv.Missing(t, j+" (libwss4j-java)")
		}
	}
	dir := t.TempDir()
	cp := strings.Join(wss4j.Jars, string(os.PathListSeparator))
	src, _ := filepath.Abs("testdata/SCGen.java")
	if out, err := exec.Command(javac, "-nowarn", "-d", dir, "-cp", cp, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	return func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(java, append([]string{"-cp", dir + string(os.PathListSeparator) + cp, "SCGen"}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("SCGen %v: %v\n%s", args, err, stderr.Bytes())
		}
		return out
	}
}

// TestWSS4JLive runs WSS4J now: it re-derives the recorded DerivedKeyToken
// vectors, and signs fresh envelopes with a random context secret in every
// combination of version, reference style and profile, which the Resolver
// must verify.
func TestWSS4JLive(t *testing.T) {
	run := scgen(t)
	in, err := os.ReadFile("testdata/dk_input.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/dk_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := run(in, "dk"); !bytes.Equal(got, want) {
		t.Fatalf("WSS4J derives other keys than recorded:\n%s\nrecorded:\n%s", got, want)
	}

	secret, err := NewEntropy(32)
	if err != nil {
		t.Fatal(err)
	}
	uuid, _ := NewUUID()
	id := "urn:uuid:" + uuid
	live := &sct.Context{Identifier: id, Key: secret, Expires: time.Now().Add(time.Hour)}
	for _, rec := range recorded(t) {
		args := strings.Fields(rec[1])
		raw := run(nil, append(append([]string{"env"}, args...), hex.EncodeToString(secret), id)...)
		r := &Resolver{Lookup: lookupOf(live, nil), Now: time.Now(), Direct: args[3] == "T"}
		res, err := verifyWith(t, raw, r)
		if err != nil {
			t.Fatalf("%s: %v\n%s", rec[0], err, raw)
		}
		if !res.BodySigned || !res.TimestampSigned || r.Context != live {
			t.Fatalf("%s: result %+v", rec[0], res)
		}
	}
}
