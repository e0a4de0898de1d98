package username

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// FuzzLogin runs whatever the parser accepts through the module: no token
// content may panic it, and nothing but the right secret may succeed.
func FuzzLogin(f *testing.F) {
	h, _ := registry.HashPassword("wonderland", registry.Argon2Params{Memory: 8, Time: 1, Threads: 1})
	p := filepath.Join(f.TempDir(), "users.yaml")
	os.WriteFile(p, []byte("users:\n  - name: alice\n    password_hash: \""+h+"\"\n    digest_secret: wonderland\n"), 0o600)
	reg, err := registry.OpenFile(p)
	if err != nil {
		f.Fatal(err)
	}
	cache := replay.NewMemory(replay.MemoryOptions{MaxEntries: 1 << 16, SweepInterval: -1, Now: func() time.Time { return now }})
	f.Cleanup(func() { cache.Close() })
	pol := DefaultPolicy
	pol.DerivedKey = true
	m, err := New(Options{Policy: pol, Passwords: reg, Secrets: reg, Replay: cache})
	if err != nil {
		f.Fatal(err)
	}
	for _, digest := range []bool{false, true} {
		f.Add(wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "alice", Password: "wonderland", Digest: digest, Created: now}, ""))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := wsse.Parse(b, nil)
		if err != nil {
			return
		}
		req := &authn.Request{Envelope: env, Now: now, Secure: true}
		s := &authn.Subject{}
		ok, err := m.Login(context.Background(), req, s)
		if ok && (err != nil || s.Principal != "alice") {
			t.Fatalf("accepted as %q with error %v", s.Principal, err)
		}
	})
}
