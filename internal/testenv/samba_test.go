package testenv

import (
	"bytes"
	"os/exec"
	"testing"
)

// The test domain starts, hands out tickets with MIT kinit, and refuses the
// accounts that provision.sh made unusable.
func TestSambaAD(t *testing.T) {
	ad := StartSambaAD(t)
	cc := ad.Kinit(t, "alice", SambaADUsers["alice"])
	out, err := exec.Command(LookPath(t, "klist"), "-c", "FILE:"+cc).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("alice@AD.EXAMPLE.TEST")) {
		t.Fatalf("klist after kinit alice: %v\n%s", err, out)
	}
	for _, u := range []string{"dave", "erin", "frank"} {
		if _, out, err := ad.TryKinit(t, u, SambaADUsers[u]); err == nil {
			t.Errorf("kinit %s (disabled, locked or expired) succeeded:\n%s", u, out)
		}
	}
	if _, _, err := ad.TryKinit(t, "alice", "wrong-pw"); err == nil {
		t.Error("kinit alice with a wrong password succeeded")
	}
}
