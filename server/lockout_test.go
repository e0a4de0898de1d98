package server

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/lockout"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
)

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
		Lockout: &lockout.Options{
			Principal: lockout.Policy{MaxFailures: 3, Window: time.Hour, Lockout: time.Minute, MaxLockout: time.Hour},
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
	if !strings.HasPrefix(last, "authsvc-locked-") || lockout.DecoyName("alice") == lockout.DecoyName("ａｌｉｃｅ") {
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
	srv, err := New(Options{Chain: chain, Logger: quiet, Lockout: &lockout.Options{
		Principal: lockout.Policy{MaxFailures: 3, Window: time.Hour, Lockout: time.Hour, MaxLockout: time.Hour},
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
	st := srv.guard.Store()
	for _, k := range []string{"p:alice", "p:alice@example.test"} {
		locked, _, _ := st.Status(context.Background(), k, time.Now())
		if locked != (k == "p:alice") {
			t.Errorf("%s locked = %v", k, locked)
		}
	}
}
