package keytabs

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

// kadmin runs kadmin.local against the test realm.
func kadmin(t *testing.T, k *testenv.KDC, q string) {
	t.Helper()
	cmd := exec.Command(testenv.LookPath(t, "kadmin.local"), "-r", k.Realm, "-q", q)
	cmd.Env = append(k.Env(""), "KRB5_KDC_PROFILE="+filepath.Join(k.Dir, "kdc.conf"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kadmin.local %q: %v\n%s", q, err, out)
	}
}

func TestListMatchesKlist(t *testing.T) {
	k := testenv.StartKDC(t)
	var got bytes.Buffer
	if err := List(&got, k.Keytab); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.LookPath(t, "klist"), "-k", "-e", "-t", k.Keytab)
	cmd.Env = append(k.Env(""), "TZ=UTC", "LC_ALL=C")
	want, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	// klist formats the time in the local zone with the C locale's %x %X.
	t.Setenv("TZ", "UTC")
	got.Reset()
	local := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = local })
	if err := List(&got, k.Keytab); err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("List:\n%s\nklist -k -e -t:\n%s", got.String(), want)
	}
	if strings.Contains(got.String(), "\x00") {
		t.Error("binary in the listing")
	}
}

func TestKeySelectionAndRotation(t *testing.T) {
	k := testenv.StartKDC(t)
	path := filepath.Join(t.TempDir(), "svc.keytab")
	kadmin(t, k, "ktadd -norandkey -k "+path+" HTTP/localhost@EXAMPLE.TEST")
	s, err := Open([]string{path}, Options{ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Has("HTTP/localhost@EXAMPLE.TEST") || s.Has("HTTP/other.example.test@EXAMPLE.TEST") {
		t.Fatalf("principals %v", s.Principals())
	}
	k2, kv, err := s.Key("HTTP/localhost", "EXAMPLE.TEST", 2, 18)
	if err != nil || kv != 2 || len(k2.KeyValue) != 32 {
		t.Fatalf("Key kvno 2 aes256: kv %d len %d err %v", kv, len(k2.KeyValue), err)
	}
	_, _, err = s.Key("HTTP/localhost", "EXAMPLE.TEST", 7, 18)
	var ke *KeyError
	if !errors.As(err, &ke) || !errors.Is(err, ErrNoKVNO) || !strings.Contains(err.Error(), "kvno 7 (the keytab has kvno 2)") {
		t.Fatalf("unknown kvno: %v", err)
	}
	if _, _, err = s.Key("HTTP/localhost", "EXAMPLE.TEST", 2, 23); !errors.Is(err, ErrNoEType) || !strings.Contains(err.Error(), "arcfour-hmac") {
		t.Fatalf("unknown etype: %v", err)
	}
	if _, _, err = s.Key("HTTP/nope", "EXAMPLE.TEST", 2, 18); !errors.Is(err, ErrNoPrincipal) {
		t.Fatalf("unknown principal: %v", err)
	}
	if strings.Contains(err.Error(), string(k2.KeyValue)) {
		t.Fatal("key in error")
	}

	// Rotate: ktadd adds kvno 3 and keeps kvno 2 in the file. Lookups run
	// concurrently with the reload and must never fail.
	gen := s.Generation()
	stopReaders := make(chan struct{})
	var wg sync.WaitGroup
	var readErr error
	var once sync.Once
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stopReaders:
					return
				default:
				}
				if _, _, err := s.Key("HTTP/localhost", "EXAMPLE.TEST", 2, 18); err != nil {
					once.Do(func() { readErr = err })
				}
			}
		})
	}
	time.Sleep(10 * time.Millisecond) // mtime granularity
	kadmin(t, k, "ktadd -k "+path+" HTTP/localhost@EXAMPLE.TEST")
	changed, err := s.Reload()
	close(stopReaders)
	wg.Wait()
	if err != nil || !changed || s.Generation() == gen {
		t.Fatalf("Reload: changed %v err %v gen %d->%d", changed, err, gen, s.Generation())
	}
	if readErr != nil {
		t.Fatalf("lookup during reload: %v", readErr)
	}
	if _, kv, err := s.Key("HTTP/localhost", "EXAMPLE.TEST", 3, 18); err != nil || kv != 3 {
		t.Fatalf("new kvno: %d %v", kv, err)
	}
	k2b, _, err := s.Key("HTTP/localhost", "EXAMPLE.TEST", 2, 18)
	if err != nil || !bytes.Equal(k2b.KeyValue, k2.KeyValue) {
		t.Fatalf("old kvno after rotation: %v", err)
	}
	if _, kv, _ := s.Key("HTTP/localhost", "EXAMPLE.TEST", 0, 18); kv != 3 {
		t.Fatalf("kvno 0 picks %d, want the newest 3", kv)
	}
	if changed, err := s.Reload(); changed || err != nil {
		t.Fatalf("Reload without change: %v %v", changed, err)
	}

	// A broken file keeps the old keys.
	if err := os.WriteFile(path, []byte{5, 2, 0, 0, 0, 99, 1}, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reload(); err == nil {
		t.Fatal("broken keytab loaded")
	}
	if _, _, err := s.Key("HTTP/localhost", "EXAMPLE.TEST", 3, 18); err != nil {
		t.Fatalf("keys lost after failed reload: %v", err)
	}
}

func TestPollingReload(t *testing.T) {
	k := testenv.StartKDC(t)
	path := filepath.Join(t.TempDir(), "svc.keytab")
	kadmin(t, k, "ktadd -norandkey -k "+path+" HTTP/localhost@EXAMPLE.TEST")
	s, err := Open([]string{path}, Options{ReloadInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kadmin(t, k, "ktadd -norandkey -k "+path+" HTTP/other.example.test@EXAMPLE.TEST")
	deadline := time.Now().Add(5 * time.Second)
	for !s.Has("HTTP/other.example.test@EXAMPLE.TEST") {
		if time.Now().After(deadline) {
			t.Fatal("the poller did not pick up the change")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {5}, {4, 2}, {5, 3}, {5, 2, 0, 0, 0, 10, 0}, {5, 2, 0xff, 0xff, 0xff, 0x00}} {
		if _, err := Parse(b); err == nil && len(b) > 0 && b[0] != 5 {
			t.Errorf("Parse(%x) accepted", b)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte{5, 2})
	f.Add([]byte{5, 2, 0, 0, 0, 10, 0, 1, 0, 1, 'A', 0, 1, 'b', 0, 0})
	f.Add([]byte{5, 1, 10, 0, 0, 0, 2, 0, 1, 0, 'A', 1, 0, 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := Parse(b)
		if err == nil {
			for _, e := range es {
				_ = e.Principal()
			}
		}
	})
}
