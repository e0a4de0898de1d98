package testenv

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// SambaAD is a private Active Directory domain, AD.EXAMPLE.TEST (NetBIOS
// ADEX), on a Samba AD domain controller started by test/ad/provision.sh.
// Its accounts are listed in that script; SambaADUsers has their passwords.
type SambaAD struct {
	// Realm is AD.EXAMPLE.TEST; Domain the NetBIOS name ADEX.
	Realm, Domain string
	// Addr is the loopback address the DC listens on (127.x.y.z): LDAP on
	// 389 and LDAPS on 636, the KDC on KDCPort.
	Addr    string
	KDCPort int
	// Dir holds every file of the domain.
	Dir string
	// Config is the krb5.conf for MIT clients (KRB5_CONFIG).
	Config string
	// Keytab holds HTTP/localhost and HTTP/authsvc.ad.example.test (AES);
	// LegacyKeytab HTTP/legacy.ad.example.test (RC4 only).
	Keytab, LegacyKeytab string
	// CAFile signs the DC's LDAPS certificate, which names ServerName.
	CAFile, ServerName string
	// BaseDN is DC=ad,DC=example,DC=test; AdminDN and AdminPassword the
	// domain administrator's.
	BaseDN, AdminDN, AdminPassword string
}

// SambaADUsers are the domain's users and their passwords.
var SambaADUsers = map[string]string{
	"alice": "Alice-pw-1", "bob": "Bob-pw-1", "rc4user": "Rc4user-pw-1",
	"dave": "Dave-pw-1", "erin": "Erin-pw-1", "frank": "Frank-pw-1", "grace": "Grace-pw-1",
	"kdis": "Kdis-pw-1", "klock": "Klock-pw-1", "kexp": "Kexp-pw-1", "kchg": "Kchg-pw-1",
}

// LDAPURL is ldaps://Addr.
func (a *SambaAD) LDAPURL() string { return "ldaps://" + a.Addr }

// StartSambaAD starts a domain controller of the test domain on a loopback
// address of its own, copied from a domain provisioned once (kept under
// os.TempDir, keyed by the provisioning scripts' contents); it is stopped
// when the test ends. samba and samba-tool must be installed and the test
// must run as root (samba binds LDAP on port 389): otherwise the test skips
// or fails (see Missing).
func StartSambaAD(t testing.TB) *SambaAD {
	t.Helper()
	for _, p := range []string{"samba", "samba-tool", "kinit", "openssl", "flock"} {
		LookPath(t, p)
	}
	if os.Geteuid() != 0 {
		Missing(t, "root privileges (the Samba AD DC binds LDAP on port 389)")
		return nil
	}
	root := Root()
	script := filepath.Join(root, "test", "ad", "provision.sh")
	template, err := sambaTemplate(root)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	addr, unlock := sambaAddress(t)
	dir := t.TempDir()
	a := &SambaAD{
		Realm: "AD.EXAMPLE.TEST", Domain: "ADEX", Addr: addr, Dir: dir,
		Config:       filepath.Join(dir, "krb5.conf"),
		Keytab:       filepath.Join(dir, "authsvc.keytab"),
		LegacyKeytab: filepath.Join(dir, "legacy.keytab"),
		CAFile:       filepath.Join(dir, "ca.pem"), ServerName: "dc1.ad.example.test",
		BaseDN:        "DC=ad,DC=example,DC=test",
		AdminDN:       "CN=Administrator,CN=Users,DC=ad,DC=example,DC=test",
		AdminPassword: "Admin-pw-1",
	}
	var out []byte
	for range 3 {
		a.KDCPort = FreePort(t)
		cmd := exec.Command("/bin/sh", script, dir, addr, strconv.Itoa(a.KDCPort))
		cmd.Env = append(kdcEnv(), "AD_TEMPLATE="+template)
		out, err = cmd.CombinedOutput()
		if err == nil {
			break
		}
		a.stop(t)
	}
	if err != nil {
		unlock()
		log, _ := os.ReadFile(filepath.Join(dir, "log.samba"))
		t.Fatalf("testenv: %s failed: %v\n%s\nlog.samba:\n%s", script, err, out, log)
	}
	t.Cleanup(func() {
		a.stop(t)
		unlock()
	})
	return a
}

// sambaTemplate names the directory that keeps the provisioned domain
// between runs: a new one whenever the provisioning scripts change.
func sambaTemplate(root string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"provision.sh", "accounts.py"} {
		b, err := os.ReadFile(filepath.Join(root, "test", "ad", f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return filepath.Join(os.TempDir(), "authsvc-samba-"+hex.EncodeToString(h.Sum(nil))[:16], "template"), nil
}

// sambaAddress picks a loopback address for one DC: its LDAP port (389) is
// fixed, so two DCs (two test packages run in parallel) need two addresses.
// The address is held by an exclusive lock on a file named after it until
// unlock is called.
func sambaAddress(t testing.TB) (addr string, unlock func()) {
	t.Helper()
	base := int(time.Now().UnixNano()/1000) % 200
	for i := range 200 {
		n := 20 + (base+i)%200
		addr = fmt.Sprintf("127.0.86.%d", n)
		f, err := os.OpenFile(filepath.Join(os.TempDir(), "authsvc-samba-"+addr+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close()
			continue
		}
		// Something not ours may listen there (a DC left over by a killed run).
		if l, err := net.Listen("tcp", addr+":389"); err == nil {
			l.Close()
			return addr, func() { f.Close() }
		}
		f.Close()
	}
	t.Fatal("testenv: no free loopback address for a Samba DC in 127.0.86.20-219")
	return "", nil
}

func (a *SambaAD) stop(t testing.TB) {
	if _, err := os.Stat(filepath.Join(a.Dir, "run", "samba.pid")); err != nil {
		return // never started
	}
	stopByPidFile(t, "samba", filepath.Join(a.Dir, "run", "samba.pid"), 5*time.Second)
}

// Env returns the environment for an MIT Kerberos client of this domain
// using the credential cache ccache ("" for none).
func (a *SambaAD) Env(ccache string) []string {
	env := append(kdcEnv(), "KRB5_CONFIG="+a.Config)
	if ccache != "" {
		env = append(env, "KRB5CCNAME=FILE:"+ccache)
	}
	return env
}

// Kinit obtains a ticket-granting ticket for user (a name of the domain,
// without realm) with MIT kinit and returns the path of the new credential
// cache.
func (a *SambaAD) Kinit(t testing.TB, user, password string) string {
	t.Helper()
	cc, out, err := a.TryKinit(t, user, password)
	if err != nil {
		t.Fatalf("testenv: kinit %s: %v\n%s", user, err, out)
	}
	return cc
}

// TryKinit is Kinit that returns kinit's failure (and output) instead of
// failing the test: the DC refuses disabled, locked and expired accounts.
func (a *SambaAD) TryKinit(t testing.TB, user, password string) (ccache string, out []byte, err error) {
	t.Helper()
	kinit := LookPath(t, "kinit")
	f, err := os.CreateTemp(a.Dir, "cc-"+user+"-*")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cc := f.Name()
	f.Close()
	os.Remove(cc) // kinit creates it
	cmd := exec.Command(kinit, user+"@"+a.Realm)
	cmd.Env = a.Env(cc)
	cmd.Stdin = strings.NewReader(password + "\n")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	return cc, buf.Bytes(), err
}

// LDAP returns a connection to the DC over LDAPS, bound as the domain
// administrator; it is closed when the test ends.
func (a *SambaAD) LDAP(t testing.TB) *goldap.Conn {
	t.Helper()
	pem, err := os.ReadFile(a.CAFile)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := goldap.DialURL(a.LDAPURL(), goldap.DialWithTLSConfig(&tls.Config{ServerName: a.ServerName, RootCAs: pool, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatalf("testenv: LDAP to the DC: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(a.AdminDN, a.AdminPassword); err != nil {
		t.Fatalf("testenv: LDAP bind as the administrator: %v", err)
	}
	return c
}

// UserDN is the DN of one of the domain's users (CN=name,CN=Users,...).
func (a *SambaAD) UserDN(name string) string { return "CN=" + name + ",CN=Users," + a.BaseDN }

// ObjectSID returns the SID (S-1-5-21-...) of the object whose
// sAMAccountName is name.
func (a *SambaAD) ObjectSID(t testing.TB, name string) string {
	t.Helper()
	res, err := a.LDAP(t).Search(goldap.NewSearchRequest(a.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		2, 10, false, "(sAMAccountName="+goldap.EscapeFilter(name)+")", []string{"objectSid"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("testenv: objectSid of %s: %v", name, err)
	}
	b := res.Entries[0].GetRawAttributeValue("objectSid")
	if len(b) < 8 || len(b) != 8+4*int(b[1]) {
		t.Fatalf("testenv: objectSid of %s: malformed %x", name, b)
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	s := fmt.Sprintf("S-%d-%d", b[0], auth)
	for i := 8; i < len(b); i += 4 {
		s += fmt.Sprintf("-%d", binary.LittleEndian.Uint32(b[i:]))
	}
	return s
}

// Modify replaces attributes of the entry dn (as the administrator): the
// live tests disable, lock and expire accounts with it.
func (a *SambaAD) Modify(t testing.TB, dn string, attrs map[string]string) {
	t.Helper()
	req := goldap.NewModifyRequest(dn, nil)
	for k, v := range attrs {
		req.Replace(k, []string{v})
	}
	if err := a.LDAP(t).Modify(req); err != nil {
		t.Fatalf("testenv: modifying %s: %v", dn, err)
	}
}
