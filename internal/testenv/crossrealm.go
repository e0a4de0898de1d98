package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// CrossRealmKDC is three MIT Kerberos realms chained by one-way trusts,
// CLIENT.TEST -> MIDDLE.TEST -> SERVICE.TEST, served by one krb5kdc that
// test/kdc/crossrealm.sh started: alice@CLIENT.TEST's tickets for
// HTTP/localhost@SERVICE.TEST name MIDDLE.TEST in their transited field.
type CrossRealmKDC struct {
	KDC // Realm is CLIENT.TEST; Keytab holds HTTP/localhost@SERVICE.TEST
}

// StartCrossRealmKDC provisions the three realms in a temporary directory
// and starts their KDC on a free loopback port, stopped when the test
// ends. With kdcChecks, SERVICE.TEST's KDC knows the path (capaths) and
// sets TRANSITED-POLICY-CHECKED; without, it issues the tickets without
// the flag. The MIT programs must be installed (see Missing).
func StartCrossRealmKDC(t testing.TB, kdcChecks bool) *CrossRealmKDC {
	t.Helper()
	for _, p := range []string{"krb5kdc", "kdb5_util", "kadmin.local", "kinit"} {
		LookPath(t, p)
	}
	dir := t.TempDir()
	k := &CrossRealmKDC{KDC{Realm: "CLIENT.TEST", Dir: dir, Config: filepath.Join(dir, "krb5.conf"), Keytab: filepath.Join(dir, "service.keytab")}}
	script := filepath.Join(Root(), "test", "kdc", "crossrealm.sh")
	env := kdcEnv()
	if kdcChecks {
		env = append(env, "KDC_CAPATHS=1")
	}
	var out []byte
	var err error
	for range 3 { // a free port may be taken by the time krb5kdc binds it
		k.Port = FreePort(t)
		cmd := exec.Command("/bin/sh", script, dir, strconv.Itoa(k.Port))
		cmd.Env = env
		if out, err = cmd.CombinedOutput(); err == nil {
			break
		}
	}
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "krb5kdc.log"))
		t.Fatalf("testenv: %s failed: %v\n%s\nkrb5kdc.log:\n%s", script, err, out, log)
	}
	t.Cleanup(func() { k.stop(t) })
	return k
}
