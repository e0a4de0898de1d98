package testenv

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

// LiveEnv names the variable that selects the test tier. Unset (a laptop),
// a test whose service or client program is not installed skips with a
// message saying how to run it; "require" (test/run.sh, and so CI), it
// fails. Only a missing installation is decided here: a service that is
// installed but fails to start fails the test in both tiers.
const LiveEnv = "AUTHSVC_LIVE"

// ErrNotInstalled matches (errors.Is) the errors NotInstalled makes: a live
// part (a daemon, a client program, a JVM, a jar) is not installed, as
// opposed to one that is there and failed.
var ErrNotInstalled = errors.New("not installed")

// NotInstalled is the error a launcher that returns errors (test/wss4j,
// test/cxf) gives when what is missing; hand it to Check.
func NotInstalled(what string) error { return notInstalled{what} }

type notInstalled struct{ what string }

func (e notInstalled) Error() string        { return e.what + " is not installed" }
func (e notInstalled) Is(target error) bool { return target == ErrNotInstalled }

// missingVerdict decides what a test does about a live part that is not
// installed, given the value of LiveEnv: it fails (true) or skips (false),
// with the message to say. An unknown value of LiveEnv fails, so that a typo
// in CI cannot turn the live tier into skips.
func missingVerdict(live, what string) (fail bool, msg string) {
	switch live {
	case "require":
		return true, fmt.Sprintf("testenv: %s is not installed and %s=require; run test/setup.sh (the README's test command does)", what, LiveEnv)
	case "":
		return false, fmt.Sprintf("live test: needs %s; run test/setup.sh and then test/run.sh (or %s=require go test ./...)", what, LiveEnv)
	default:
		return true, fmt.Sprintf("testenv: %s=%q: only \"require\" or unset are meaningful (and %s is not installed)", LiveEnv, live, what)
	}
}

// Missing ends the test because what (a program, a jar, a Python module) is
// not installed: it skips in the unit tier and fails in the live tier (see
// LiveEnv). Call it only when the part is absent, never when it failed.
func Missing(t testing.TB, what string) {
	t.Helper()
	fail, msg := missingVerdict(os.Getenv(LiveEnv), what)
	if fail {
		t.Fatal(msg)
		return
	}
	t.Skip(msg)
}

// Check ends the test when err says a live part is not installed (it came
// from NotInstalled, see Missing) and fails it for any other error, with
// context naming what was being started. A nil err returns.
func Check(t testing.TB, context string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ni notInstalled
	if errors.As(err, &ni) {
		Missing(t, ni.what)
		return
	}
	t.Fatalf("%s: %v", context, err)
}
