package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestKDCRestartKeepsRealm: test/kdc/provision.sh run again on a directory
// that holds a realm (a container's volume after a restart) keeps its
// database and keytabs and only starts the KDC, on the new port: the
// service keytab is the same file, and alice still gets a ticket.
func TestKDCRestartKeepsRealm(t *testing.T) {
	k := StartKDC(t)
	before, err := os.ReadFile(k.Keytab)
	if err != nil {
		t.Fatal(err)
	}
	k.stop(t)

	k.Port = FreePort(t)
	cmd := exec.Command("/bin/sh", filepath.Join(Root(), "test", "kdc", "provision.sh"), k.Dir, strconv.Itoa(k.Port))
	cmd.Env = kdcEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("provision.sh again: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "already in") {
		t.Errorf("provision.sh did not say it kept the realm:\n%s", out)
	}
	after, err := os.ReadFile(k.Keytab)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the service keytab changed across a restart")
	}
	k.Kinit(t, "alice", "alice-pw")
}
