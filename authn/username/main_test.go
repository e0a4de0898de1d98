package username

import (
	"flag"
	"os"
	"testing"

	"github.com/authsvc/authsvc/test/wss4j"
)

var update = flag.Bool("update", false, "re-record testdata from WSS4J")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	wss4j.CloseShared()
	os.Exit(code)
}
