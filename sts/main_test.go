package sts_test

import (
	"os"
	"testing"

	"github.com/authsvc/authsvc/test/wss4j"
)

func TestMain(m *testing.M) {
	code := m.Run()
	wss4j.CloseShared()
	os.Exit(code)
}
