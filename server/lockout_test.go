package server

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
)

func TestLockoutNameFolding(t *testing.T) {
	// Spellings the test slapd binds as alice (see lockoutName), and more.
	for _, n := range []string{"alice", "Alice", " alice", "ALICE  ", "\talice\n",
		"ａｌｉｃｅ", "ＡＬＩＣＥ", "ａlice", "alicｅ", "𝐚lice", "𝑨LICE", "ⓐlice", "ªlice", "ALİCE", "alİce",
		"\u00a0alice", "alice\u3000", "\u2000Alice\u00a0", "al\u00adice", "ali\u200bce", "a\u200dlice", "alice\ufe0f"} {
		if got := lockoutName(n); got != "alice" {
			t.Errorf("lockoutName(%q) = %q", n, got)
		}
	}
	for _, pair := range [][2]string{{"straße", "STRASSE"}, {"ｊ　ｄｏｅ", "J  Doe"}, {"ΟΔΥΣΣΕΥΣ", "οδυσσευς"}} {
		if lockoutName(pair[0]) != lockoutName(pair[1]) {
			t.Errorf("lockoutName(%q) = %q, lockoutName(%q) = %q", pair[0], lockoutName(pair[0]), pair[1], lockoutName(pair[1]))
		}
	}
	// Names a directory keeps apart stay apart: accents, dotless i.
	for _, n := range []string{"alic", "a b", "álice", "a\u0301lice", "alıce", "al ice"} {
		if lockoutName(n) == "alice" {
			t.Errorf("lockoutName(%q) folded to alice", n)
		}
	}
	if lockoutName("a  b") != "a b" {
		t.Error("inner spaces not collapsed")
	}
}

// TestLockKeysShared: both stores are handed the key lockKeysFor derives,
// so look-alike spellings share one counter in memory and in Redis alike.
func TestLockKeysShared(t *testing.T) {
	p := LockPolicy{MaxFailures: 1, Window: time.Minute, Lockout: time.Minute, MaxLockout: time.Minute}
	s := &Server{o: Options{Lockout: &LockoutOptions{Principal: p, Address: p}}}
	a := s.lockKeysFor("alice", netip.MustParseAddr("192.0.2.1"))
	for _, n := range []string{"ａｌｉｃｅ", "𝐚lice", " ALİCE\u00a0"} {
		if b := s.lockKeysFor(n, netip.MustParseAddr("192.0.2.1")); b != a {
			t.Errorf("keys of %q = %+v, of alice %+v", n, b, a)
		}
	}
}

// TestLockedRunsChain: a locked principal is refused after the chain ran
// under a decoy name (so it costs what a wrong password costs), with the
// wrong password's fault, and a right password then resets nothing.
func TestLockedRunsChain(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	m := authn.ModuleFunc(func(_ context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
		ut := req.Security().UsernameTokens[0]
		mu.Lock()
		seen = append(seen, ut.Username)
		mu.Unlock()
		if ut.Username != "alice" || ut.Password != "wonderland" {
			return false, authn.Reject(wsse.FailedAuthentication, "wrong password")
		}
		s.Principal, s.Method = "alice", "UsernameToken"
		req.MarkProcessedAt(ut.Start)
		return true, nil
	})
	chain, err := authn.NewChain(authn.Entry{Name: "users", Flag: authn.Requisite, Module: m})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	reg := prometheus.NewRegistry()
	srv, err := New(Options{Chain: chain, Logger: quiet, Now: clk.now, Registry: reg,
		Lockout: &LockoutOptions{
			Principal: LockPolicy{MaxFailures: 3, Window: time.Hour, Lockout: time.Minute, MaxLockout: time.Hour},
		}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	var wrong *httptest.ResponseRecorder
	for i := 0; i < 3; i++ {
		wrong = post(h, "/v1/authenticate", "192.0.2.1:1000", envelope("alice", "guess"))
	}
	calls := func() (n int, last string) {
		mu.Lock()
		defer mu.Unlock()
		return len(seen), seen[len(seen)-1]
	}
	observed := func() uint64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "authsvc_module_duration_seconds" {
				return mf.GetMetric()[0].GetHistogram().GetSampleCount()
			}
		}
		return 0
	}
	before, obsBefore := len(seen), observed()
	for _, name := range []string{"alice", "ａｌｉｃｅ"} {
		locked := post(h, "/v1/authenticate", "192.0.2.1:1000", envelope(name, "wonderland"))
		strip := func(b string) string { return b[:strings.Index(b, "<authsvc:RequestId")] }
		if locked.Code != 401 || strip(locked.Body.String()) != strip(wrong.Body.String()) {
			t.Errorf("%q locked: %d %s", name, locked.Code, locked.Body)
		}
	}
	n, last := calls()
	if n != before+2 || observed() != obsBefore+2 {
		t.Fatalf("the chain ran %d times (module duration observed %d times) for 2 locked requests, want 2",
			n-before, observed()-obsBefore)
	}
	if !strings.HasPrefix(last, "authsvc-locked-") || decoyName("alice") == decoyName("ａｌｉｃｅ") {
		t.Errorf("the module saw user %q while alice was locked, want a decoy name", last)
	}
	// The right password during the lock reset nothing: the first failure
	// after the lock ends locks again.
	clk.add(time.Minute)
	post(h, "/v1/authenticate", "192.0.2.1:1000", envelope("alice", "guess"))
	if w := post(h, "/v1/authenticate", "192.0.2.1:1000", envelope("alice", "wonderland")); w.Code != 401 {
		t.Errorf("a right password while locked reset the counter: %d %s", w.Code, w.Body)
	}
	clk.add(2 * time.Minute)
	if w := post(h, "/v1/authenticate", "192.0.2.1:1000", envelope("alice", "wonderland")); w.Code != 200 {
		t.Errorf("after the second lock: %d %s", w.Code, w.Body)
	}
}

// TestLockoutResolvedPrincipal: failures count against the user a registry
// resolved the claimed name to, and that user's lock holds under a name the
// fold does not join (a mail address).
func TestLockoutResolvedPrincipal(t *testing.T) {
	m := authn.ModuleFunc(func(ctx context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
		ut := req.Security().UsernameTokens[0]
		if ut.Username != "alice" && ut.Username != "alice@example.test" {
			return false, authn.Reject(wsse.FailedAuthentication, "unknown user")
		}
		registry.TraceResolved(ctx, "alice")
		if ut.Password != "wonderland" {
			return false, authn.Reject(wsse.FailedAuthentication, "wrong password")
		}
		s.Principal, s.Method = "alice", "UsernameToken"
		return true, nil
	})
	chain, err := authn.NewChain(authn.Entry{Name: "users", Flag: authn.Requisite, Module: m})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Chain: chain, Logger: quiet, Lockout: &LockoutOptions{
		Principal: LockPolicy{MaxFailures: 3, Window: time.Hour, Lockout: time.Hour, MaxLockout: time.Hour},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, n := range []string{"alice@example.test", "alice", "alice@example.test"} {
		post(h, "/v1/authenticate", "192.0.2.1:1000", envelope(n, "guess"))
	}
	for _, n := range []string{"alice", "alice@example.test"} {
		if w := post(h, "/v1/authenticate", "192.0.2.1:1000", envelope(n, "wonderland")); w.Code != 401 {
			t.Errorf("%q while alice is locked: %d %s", n, w.Code, w.Body)
		}
	}
	st := srv.o.Lockout.Store
	for _, k := range []string{"p:alice", "p:alice@example.test"} {
		locked, _, _ := st.Status(context.Background(), k, time.Now())
		if locked != (k == "p:alice") {
			t.Errorf("%s locked = %v", k, locked)
		}
	}
}
