package sts_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	sctredis "github.com/authsvc/authsvc/sct/redis"
	"github.com/authsvc/authsvc/sts/ststest"
	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// redisStores opens n stores (separate clients) on r with one prefix and
// keyring: n replicas of one deployment.
func redisStores(t *testing.T, r *testenv.Redis, n int) []sct.Store {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	prefix := make([]byte, 6)
	rand.Read(prefix)
	cfg := sctredis.Config{Addrs: []string{r.Addr}, Timeout: 2 * time.Second, KeyPrefix: "test:sts:" + hex.EncodeToString(prefix) + ":",
		Keys: []sctredis.KeyConfig{{ID: "k1", Hex: hex.EncodeToString(key)}}, WriteKey: "k1"}
	var out []sct.Store
	for i := 0; i < n; i++ {
		s, err := cfg.Open(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// TestThreeReplicas: three replicas (STS, chain, module) over three clients
// of one real Redis: issue on A, use on B, renew on B, use the renewed
// context on C and A, cancel on C; then A and B refuse it.
func TestThreeReplicas(t *testing.T) {
	g := wss4j.SharedSC(t)
	r := testenv.StartRedis(t)
	reg := ststest.Registry(t)
	var rs []*ststest.Replica
	for _, s := range redisStores(t, r, 3) {
		rs = append(rs, ststest.NewReplica(t, issuer, s, reg, ststest.Options{}))
	}
	a, b, c := rs[0], rs[1], rs[2]
	for _, v := range wstrust.Versions {
		ce := entropy(t)
		cl := issue(t, a, v, true, ce)
		if o := b.Serve(t, cl.App(t, 200, wss4j.SC{}), false); o.Err != nil || o.Subject.Principal != ststest.User {
			t.Fatalf("%s: use on B: %v", v, o.Err)
		}
		o := b.Serve(t, cl.RST(t, wstrust.Renew, entropy(t), wss4j.SC{ByIdentifier: true}), true)
		if o.Err != nil {
			t.Fatalf("%s: renew on B: %v", v, o.Err)
		}
		// The client's new key: P_SHA1 of the entropy it sent in the renewal
		// (ststest.Client.RST made it; read it back from the request).
		renewed := ststest.Accept(t, g, o.Reply, true, rstEntropy(t, o))
		for _, rep := range []*ststest.Replica{c, a} {
			if o := rep.Serve(t, renewed.App(t, 200, wss4j.SC{}), false); o.Err != nil {
				t.Fatalf("%s: renewed context: %v", v, o.Err)
			}
			// The old key is refused everywhere.
			wantWSSFault(t, rep.Serve(t, cl.App(t, 200, wss4j.SC{}), false).Err, "FailedCheck")
		}
		if o := c.Serve(t, renewed.RST(t, wstrust.Cancel, nil, wss4j.SC{}), false); o.Err != nil {
			t.Fatalf("%s: cancel on C: %v", v, o.Err)
		}
		for _, rep := range []*ststest.Replica{a, b} {
			wantTrustFault(t, rep.Serve(t, renewed.App(t, 200, wss4j.SC{}), false).Err, v, wstrust.BadContextToken)
		}
		wantTrustFault(t, a.Serve(t, renewed.RST(t, wstrust.Renew, nil, wss4j.SC{}), true).Err, v, wstrust.BadContextToken)
	}
}

// rstEntropy returns the client entropy of the RST that o served.
func rstEntropy(t *testing.T, o *ststest.Outcome) []byte {
	t.Helper()
	rst, err := wstrust.ParseRSTEnvelope(o.Req.Envelope, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rst.Entropy
}

// TestStoreDown: with Redis stopped, Issue (after a successful chain) and
// messages signed with a context fail closed with health.ErrUnavailable.
func TestStoreDown(t *testing.T) {
	g := wss4j.SharedSC(t)
	r := testenv.StartRedis(t)
	rep := ststest.NewReplica(t, issuer, redisStores(t, r, 1)[0], ststest.Registry(t), ststest.Options{})
	v := wstrust.V13
	cl := issue(t, rep, v, false, nil)
	app := cl.App(t, 100, wss4j.SC{})
	rst := ststest.Bootstrap(t, g, ststest.RST{V: v, Kind: wstrust.Issue}, false, true, ststest.Password)
	r.Stop()
	o := rep.Serve(t, rst, true)
	if o.Subject == nil || !errors.Is(o.Err, health.ErrUnavailable) {
		t.Fatalf("issue with the store down: %v", o.Err)
	}
	var f *wstrust.Fault
	if errors.As(o.Err, &f) {
		t.Fatalf("store down answered as a fault: %v", f)
	}
	if err := rep.Serve(t, app, true).Err; !errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("message with the store down: %v", err)
	}
}
