package sts_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sts"
	"github.com/authsvc/authsvc/sts/ststest"
	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// TestIssueRefusals: over plain HTTP without allow_insecure (and accepted
// with it), a wrong password (the chain's fault), an Issue authenticated by
// a security context, Amend, a RequestType that contradicts the action, a
// requested Lifetime in the past.
func TestIssueRefusals(t *testing.T) {
	g := wss4j.SharedSC(t)
	r := newReplica(t, ststest.Options{})
	v := wstrust.V13
	rst := ststest.RST{V: v, Kind: wstrust.Issue}

	o := r.Serve(t, ststest.Bootstrap(t, g, rst, false, true, ststest.Password), false)
	f := wantTrustFault(t, o.Err, v, wstrust.InvalidRequest)
	if !strings.Contains(f.Reason, "not confidential") || o.Subject == nil {
		t.Fatalf("insecure: %v (subject %v)", f, o.Subject)
	}
	insecure := newReplica(t, ststest.Options{STS: func(c *sts.Config) { c.AllowInsecure = true }})
	if o := insecure.Serve(t, ststest.Bootstrap(t, g, rst, false, true, ststest.Password), false); o.Err != nil {
		t.Fatalf("allow_insecure: %v", o.Err)
	}

	// A wrong password is the chain's rejection; Respond is never called.
	wantWSSFault(t, r.Serve(t, ststest.Bootstrap(t, g, rst, false, true, "wrong"), true).Err, wsse.FailedAuthentication)

	// An Issue signed with a context: the context cannot bootstrap another.
	c := issue(t, r, v, true, nil)
	o = r.Serve(t, c.Sign(t, rst.Envelope(true), wss4j.SC{}), true)
	f = wantTrustFault(t, o.Err, v, wstrust.InvalidRequest)
	if !strings.Contains(f.Reason, "cannot bootstrap") {
		t.Fatalf("bootstrap by context: %v", f)
	}

	// Amend: authenticated, then refused.
	amend := ststest.RST{V: v, Kind: wstrust.Amend, Target: c.Identifier}
	o = r.Serve(t, c.Sign(t, amend.Envelope(true), wss4j.SC{}), true)
	if o.Kind != wstrust.Amend {
		t.Fatalf("Amend classified as %v (%v)", o.Kind, o.Err)
	}
	wantTrustFault(t, o.Err, v, wstrust.InvalidRequest)

	// RequestType Cancel under the Issue action.
	bad := []byte(strings.Replace(string(rst.Envelope(true)), v.RequestIssue(), v.RequestCancel(), 1))
	raw, err := g.UsernameToken(bad, ststest.User, ststest.Password, true, 300)
	if err != nil {
		t.Fatal(err)
	}
	wantTrustFault(t, r.Serve(t, raw, true).Err, v, wstrust.InvalidRequest)

	// A Lifetime that ends before now.
	past := ststest.RST{V: v, Kind: wstrust.Issue, Expires: time.Now().Add(-time.Hour)}.Envelope(true)
	raw, err = g.UsernameToken(past, ststest.User, ststest.Password, true, 300)
	if err != nil {
		t.Fatal(err)
	}
	if f := wantTrustFault(t, r.Serve(t, raw, true).Err, v, wstrust.InvalidRequest); !strings.Contains(f.Reason, "Lifetime") {
		t.Fatalf("past Lifetime: %v", f)
	}

	// Contradicting actions (wsa:Action and SOAPAction) at Classify.
	req := ststest.Request(t, rst.Envelope(false), true, nil)
	if _, _, err := sts.Classify(req.Envelope, "", v.ActionCancelSCT()); err == nil {
		t.Fatal("contradicting actions classified")
	} else {
		wantTrustFault(t, err, wstrust.Feb2005, wstrust.InvalidRequest)
	}
}

// TestProofOfPossession: Renew and Cancel signed with another context are
// wsc:BadContextToken; authenticated by a UsernameToken only,
// wst:InvalidRequest; in both cases the target is untouched.
func TestProofOfPossession(t *testing.T) {
	g := wss4j.SharedSC(t)
	r := newReplica(t, ststest.Options{})
	for _, v := range wstrust.Versions {
		a := issue(t, r, v, false, nil)
		b := issue(t, r, v, false, entropy(t))
		for _, kind := range []wstrust.Kind{wstrust.Renew, wstrust.Cancel} {
			// b signs a request naming a.
			env := ststest.RST{V: v, Kind: kind, Target: a.Identifier}.Envelope(false)
			o := r.Serve(t, b.Sign(t, env, wss4j.SC{ByIdentifier: true}), true)
			f := wantTrustFault(t, o.Err, v, wstrust.BadContextToken)
			if !strings.Contains(f.Reason, "signed with context "+b.Identifier) {
				t.Fatalf("%s by another context: %v", kind, f)
			}
			// A UsernameToken alone proves nothing about the context.
			raw, err := g.UsernameToken(env, ststest.User, ststest.Password, true, 300)
			if err != nil {
				t.Fatal(err)
			}
			wantTrustFault(t, r.Serve(t, raw, true).Err, v, wstrust.InvalidRequest)
		}
		// a is untouched: it still signs messages.
		if o := r.Serve(t, a.App(t, 50, wss4j.SC{}), false); o.Err != nil {
			t.Fatal(o.Err)
		}
		// The target by #wsu:Id of the SCT in the header works too.
		env := ststest.RST{V: v, Kind: wstrust.Cancel, Target: "#sct-" + a.Identifier[len(a.Identifier)-12:]}.Envelope(false)
		if o := r.Serve(t, a.Sign(t, env, wss4j.SC{}), false); o.Err != nil {
			t.Fatalf("cancel by #id: %v", o.Err)
		}
	}
}

// TestRenewGrace: a context past its Expires is refused with wsc:RenewNeeded
// for application messages and cancellations, but renews (signed with the
// expired key) within the renew grace; past the grace it is
// wsc:BadContextToken and the renewal too.
func TestRenewGrace(t *testing.T) {
	g := wss4j.SharedSC(t)
	const life = 2 * time.Second
	r := newReplica(t, ststest.Options{STS: func(c *sts.Config) { c.RenewGrace = life }})
	v := wstrust.Feb2005
	issueShort := func() *ststest.Client {
		rst := ststest.RST{V: v, Kind: wstrust.Issue, Lifetime: life}
		o := r.Serve(t, ststest.Bootstrap(t, g, rst, false, true, ststest.Password), true)
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		return ststest.Accept(t, g, o.Reply, false, nil)
	}
	a, b := issueShort(), issueShort()
	if d := a.RSTR.Expires.Sub(a.RSTR.Created); d > life {
		t.Fatalf("lifetime %s, asked for %s", d, life)
	}
	// Sign before the expiry, send after it.
	app := a.App(t, 100, wss4j.SC{})
	cancel := a.Sign(t, ststest.RST{V: v, Kind: wstrust.Cancel, Target: a.Identifier}.Envelope(false), wss4j.SC{})
	renewB := b.RST(t, wstrust.Renew, nil, wss4j.SC{})
	renewA := a.RST(t, wstrust.Renew, nil, wss4j.SC{})
	time.Sleep(time.Until(a.RSTR.Expires.Add(100 * time.Millisecond)))

	wantTrustFault(t, r.Serve(t, app, false).Err, v, wstrust.RenewNeeded)
	wantTrustFault(t, r.Serve(t, cancel, false).Err, v, wstrust.RenewNeeded)
	o := r.Serve(t, renewB, true)
	if o.Err != nil {
		t.Fatalf("renew within the grace: %v", o.Err)
	}
	b2 := ststest.Accept(t, g, o.Reply, false, nil)
	if o := r.Serve(t, b2.App(t, 100, wss4j.SC{}), false); o.Err != nil {
		t.Fatalf("renewed: %v", o.Err)
	}

	// Past the grace.
	time.Sleep(time.Until(a.RSTR.Expires.Add(life + 100*time.Millisecond)))
	wantTrustFault(t, r.Serve(t, renewA, true).Err, v, wstrust.BadContextToken)
	if _, err := r.Store.Get(context.Background(), issuer, a.Identifier); !errors.Is(err, sct.ErrNotFound) {
		t.Fatalf("past the grace the store says %v", err)
	}
}

// TestMetrics: the counters move with issue, renew, cancel and refusals.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := sct.NewMemory(0)
	defer store.Close()
	s, err := sts.New(sts.Config{Issuer: issuer}, store, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := ststest.NewReplica(t, issuer, store, ststest.Registry(t), ststest.Options{})
	r.STS = s
	v := wstrust.V13
	c := issue(t, r, v, true, nil)
	if o := r.Serve(t, c.RST(t, wstrust.Renew, nil, wss4j.SC{}), false); o.Err == nil {
		t.Fatal("renew over plain HTTP accepted")
	}
	if o := r.Serve(t, c.RST(t, wstrust.Cancel, nil, wss4j.SC{}), false); o.Err != nil {
		t.Fatal(o.Err)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"authsvc_sts_issued_total", map[string]string{"version": "1.3"}},
		{"authsvc_sts_refused_total", map[string]string{"kind": "Renew", "reason": "insecure_channel"}},
		{"authsvc_sts_cancelled_total", map[string]string{"version": "1.3"}},
	} {
		if n, ok := testenv.MetricValue(t, reg, c.name, c.labels); !ok || n != 1 {
			t.Fatalf("%s%v = %v, want 1", c.name, c.labels, n)
		}
	}
	// A second Service on the same registry is refused (duplicate metrics).
	if _, err := sts.New(sts.Config{Issuer: issuer}, store, reg, nil); err == nil {
		t.Fatal("second registration accepted")
	}
}

// TestConfigValidate: defaults and errors that name the key.
func TestConfigValidate(t *testing.T) {
	c := sts.Config{Issuer: issuer}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Lifetime != 15*time.Minute || c.MaxLifetime != 8*time.Hour || c.KeySize != 256 || c.RenewGrace != 5*time.Minute {
		t.Fatalf("defaults %+v", c)
	}
	for _, bad := range []struct {
		c   sts.Config
		key string
	}{
		{sts.Config{}, "issuer"},
		{sts.Config{Issuer: strings.Repeat("x", sct.MaxIssuerLen+1)}, "issuer"},
		{sts.Config{Issuer: issuer, Lifetime: time.Second}, "lifetime"},
		{sts.Config{Issuer: issuer, Lifetime: time.Hour, MaxLifetime: time.Minute}, "max_lifetime"},
		{sts.Config{Issuer: issuer, KeySize: 100}, "key_size"},
		{sts.Config{Issuer: issuer, KeySize: 1024}, "key_size"},
		{sts.Config{Issuer: issuer, KeySize: 132}, "key_size"},
		{sts.Config{Issuer: issuer, RenewGrace: -time.Second}, "renew_grace"},
		{sts.Config{Issuer: issuer, RenewGrace: 8 * 24 * time.Hour}, "renew_grace"},
	} {
		if err := bad.c.Validate(); err == nil || !strings.Contains(err.Error(), "secure_conversation: "+bad.key+":") {
			t.Errorf("%+v: %v, want an error naming %s", bad.c, err, bad.key)
		}
	}
	if _, err := sts.New(sts.Config{Issuer: issuer}, nil, nil, nil); err == nil {
		t.Fatal("no store accepted")
	}
}

// TestRenewRace: two Renew RSTs signed with the same instance, both
// authenticated before either is served (two replicas at once): the first
// renews, the second loses the store's compare-and-swap with
// wsc:UnableToRenew and changes nothing.
func TestRenewRace(t *testing.T) {
	r := newReplica(t, ststest.Options{})
	v := wstrust.V13
	c := issue(t, r, v, false, nil)
	var reqs []*authn.Request
	var subjects []*authn.Subject
	for i := 0; i < 2; i++ {
		req := ststest.Request(t, c.RST(t, wstrust.Renew, nil, wss4j.SC{}), true, nil)
		req.MarkProcessedAt(req.Security().Timestamp.Start)
		s, err := r.Chain.Authenticate(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		reqs, subjects = append(reqs, req), append(subjects, s)
	}
	first, err := r.STS.Respond(context.Background(), reqs[0], subjects[0], wstrust.Renew)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.STS.Respond(context.Background(), reqs[1], subjects[1], wstrust.Renew)
	wantTrustFault(t, err, v, wstrust.UnableToRenew)
	renewed := ststest.Accept(t, c.Gen, first, false, nil)
	stored, err := r.Store.Get(context.Background(), issuer, c.Identifier)
	if err != nil || !bytes.Equal(stored.Key, renewed.Key) {
		t.Fatalf("store holds %v, %v; want the first renewal's key", stored, err)
	}
}
