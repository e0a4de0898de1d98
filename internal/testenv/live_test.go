package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMissingVerdict(t *testing.T) {
	for _, c := range []struct {
		live     string
		fail     bool
		contains []string
	}{
		{"", false, []string{"live test: needs slapd;", "run test/setup.sh and then test/run.sh", "AUTHSVC_LIVE=require go test ./..."}},
		{"require", true, []string{"slapd is not installed", "AUTHSVC_LIVE=require", "run test/setup.sh"}},
		{"yes", true, []string{`AUTHSVC_LIVE="yes"`, `only "require" or unset`, "slapd is not installed"}},
		{"REQUIRE", true, []string{`AUTHSVC_LIVE="REQUIRE"`}},
	} {
		fail, msg := missingVerdict(c.live, "slapd")
		if fail != c.fail {
			t.Errorf("%s=%q: fail = %v, want %v (%s)", LiveEnv, c.live, fail, c.fail, msg)
		}
		for _, s := range c.contains {
			if !strings.Contains(msg, s) {
				t.Errorf("%s=%q: message %q does not say %q", LiveEnv, c.live, msg, s)
			}
		}
	}
}

func TestNotInstalled(t *testing.T) {
	err := fmt.Errorf("wss4j: %w", NotInstalled("javac"))
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("%v does not match ErrNotInstalled", err)
	}
	if got := err.Error(); got != "wss4j: javac is not installed" {
		t.Fatalf("Error() = %q", got)
	}
	if errors.Is(errors.New("javac: exit status 1"), ErrNotInstalled) {
		t.Fatal("a failure matched ErrNotInstalled")
	}
}

// helperEnv makes TestMissingTier, in a child test binary, ask for a missing
// program or hand Check an error, as the live tests do.
const helperEnv = "AUTHSVC_TESTENV_HELPER"

func missingHelper(t *testing.T, helper string) {
	switch helper {
	case "lookpath":
		LookPath(t, "authsvc-no-such-program")
		t.Error("LookPath returned for a missing program")
	case "check-missing":
		Check(t, "starting the generator", fmt.Errorf("wss4j: %w", NotInstalled("javac")))
		t.Error("Check returned for a missing program")
	case "python-module":
		PythonWith(t, "authsvc_no_such_module")
		t.Error("PythonWith returned for a missing module")
	case "check-failed":
		Check(t, "starting the generator", errors.New("javac: exit status 1"))
		t.Error("Check returned for a failure")
	default:
		t.Fatalf("%s=%q", helperEnv, helper)
	}
}

// TestMissingTier runs the test binary itself: a missing program skips the
// test with the message naming how to run the live tier when AUTHSVC_LIVE
// is unset and fails it when it is "require"; a live part that is installed
// but fails fails the test in both tiers.
func TestMissingTier(t *testing.T) {
	if h := os.Getenv(helperEnv); h != "" {
		missingHelper(t, h)
		return
	}
	for _, c := range []struct {
		helper, live string
		ok           bool
		want         string
	}{
		{"lookpath", "", true, "live test: needs authsvc-no-such-program; run test/setup.sh and then test/run.sh (or AUTHSVC_LIVE=require go test ./...)"},
		{"lookpath", "require", false, "testenv: authsvc-no-such-program is not installed and AUTHSVC_LIVE=require"},
		{"check-missing", "", true, "live test: needs javac; run test/setup.sh"},
		{"check-missing", "require", false, "testenv: javac is not installed and AUTHSVC_LIVE=require"},
		{"python-module", "", true, "live test: needs the Python module authsvc_no_such_module (python3-authsvc_no_such_module); run test/setup.sh"},
		{"python-module", "require", false, "testenv: the Python module authsvc_no_such_module (python3-authsvc_no_such_module) is not installed"},
		{"check-failed", "", false, "starting the generator: javac: exit status 1"},
		{"check-failed", "require", false, "starting the generator: javac: exit status 1"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingTier$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+c.helper, LiveEnv+"="+c.live)
		out, err := cmd.CombinedOutput()
		if (err == nil) != c.ok {
			t.Errorf("%s, %s=%q: exit %v, want success %v\n%s", c.helper, LiveEnv, c.live, err, c.ok, out)
			continue
		}
		verdict := "--- FAIL: TestMissingTier"
		if c.ok {
			verdict = "--- SKIP: TestMissingTier"
		}
		if !strings.Contains(string(out), verdict) || !strings.Contains(string(out), c.want) {
			t.Errorf("%s, %s=%q: want %q and %q in\n%s", c.helper, LiveEnv, c.live, verdict, c.want, out)
		}
	}
}
