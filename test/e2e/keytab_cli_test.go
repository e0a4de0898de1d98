package e2e

import (
	"os/exec"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

// TestKeytabListCLI: `authsvc keytab list` prints what MIT's `klist -k -e -t`
// prints for a keytab exported by the test KDC.
func TestKeytabListCLI(t *testing.T) {
	k := testenv.StartKDC(t)
	ours, err := exec.Command(binary(t), "keytab", "list", k.LocalhostKeytab).CombinedOutput()
	if err != nil {
		t.Fatalf("authsvc keytab list: %v\n%s", err, ours)
	}
	klist := exec.Command(testenv.LookPath(t, "klist"), "-k", "-e", "-t", k.LocalhostKeytab)
	klist.Env = k.Env("")
	theirs, err := klist.Output()
	if err != nil {
		t.Fatalf("klist: %v", err)
	}
	if string(ours) != string(theirs) {
		t.Errorf("authsvc keytab list:\n%s\nklist -k -e -t:\n%s", ours, theirs)
	}
	if out, err := exec.Command(binary(t), "keytab", "list").CombinedOutput(); err == nil {
		t.Errorf("keytab list without a file succeeded: %s", out)
	}
}
