package username

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/authsvc/authsvc/test/wss4j"
)

var update = flag.Bool("update", false, "re-record testdata from WSS4J")

// gen is the WSS4J generator shared by the package's tests: compiled and
// started once, since a JVM takes most of a second to start.
var gen *wss4j.Generator

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	gen, err = wss4j.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "username tests need Java and WSS4J:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := gen.Close(); err != nil && code == 0 {
		fmt.Fprintln(os.Stderr, "wss4j generator:", err)
	}
	os.Exit(code)
}
