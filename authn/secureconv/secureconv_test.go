package secureconv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/secureconv"
	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	sctredis "github.com/authsvc/authsvc/sct/redis"
	"github.com/authsvc/authsvc/sts/ststest"
	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

const issuer = "https://authsvc.example.test/sts"

// fixture is a replica over a memory store, and a context of alice's in it.
type fixture struct {
	r   *ststest.Replica
	c   *ststest.Client
	ctx *sct.Context
}

func newContext(t testing.TB, iss string, v *wstrust.Version, life time.Duration) *sct.Context {
	t.Helper()
	key, _ := wstrust.NewEntropy(32)
	id, _ := wstrust.NewUUID()
	inst, _ := wstrust.NewUUID()
	now := time.Now()
	return &sct.Context{
		Identifier: "urn:uuid:" + id, Instance: "urn:uuid:" + inst, Issuer: iss, Key: key,
		Created: now, Expires: now.Add(life), RenewUntil: now.Add(life + time.Hour),
		Subject: sct.Subject{Principal: ststest.User, Realm: "EXAMPLE.TEST", Method: "Kerberos",
			Groups: []string{"g1", "g2"}, Attributes: map[string][]string{"mail": {ststest.Mail}}},
	}
}

func newFixture(t testing.TB, store sct.Store, v *wstrust.Version, soap12 bool, o ststest.Options) *fixture {
	t.Helper()
	if store == nil {
		m := sct.NewMemory(0)
		t.Cleanup(func() { m.Close() })
		store = m
	}
	r := ststest.NewReplica(t, issuer, store, ststest.Registry(t), o)
	c := newContext(t, issuer, v, time.Hour)
	if err := store.Issue(context.Background(), c.Clone()); err != nil {
		t.Fatal(err)
	}
	return &fixture{r: r, ctx: c, c: &ststest.Client{Gen: wss4j.SharedSC(t), V: v, SOAP12: soap12, Identifier: c.Identifier, Key: c.Key}}
}

// TestProfiles: WSS4J signs application messages with the context's key in
// both versions, both SOAP versions, both reference styles with and without
// ValueType, profiles M and T (T on a secure channel); the chain accepts
// them and the Subject is the context's.
func TestProfiles(t *testing.T) {
	for _, v := range wstrust.Versions {
		for _, soap12 := range []bool{false, true} {
			f := newFixture(t, nil, v, soap12, ststest.Options{})
			for _, sc := range []wss4j.SC{
				{}, {ValueType: true}, {ByIdentifier: true}, {ByIdentifier: true, ValueType: true},
				{ProfileT: true}, {ProfileT: true, ValueType: true},
				{ProfileT: true, ByIdentifier: true}, {ProfileT: true, ByIdentifier: true, ValueType: true},
			} {
				t.Run(fmt.Sprintf("%s/soap12=%v/%+v", v, soap12, sc), func(t *testing.T) {
					o := f.r.Serve(t, f.c.App(t, 300, sc), sc.ProfileT)
					if o.Err != nil {
						t.Fatal(o.Err)
					}
					s := o.Subject
					typ := secureconv.TokenTypeDerivedKey
					if sc.ProfileT {
						typ = secureconv.TokenTypeContext
					}
					if s.Principal != ststest.User || s.Realm != "EXAMPLE.TEST" || s.Method != secureconv.Method || s.TokenType != typ ||
						strings.Join(s.Groups, ",") != "g1,g2" || s.Attributes["mail"][0] != ststest.Mail ||
						strings.Join(s.Attributes[secureconv.AttrBootstrapMethod], ",") != "Kerberos" {
						t.Fatalf("subject %+v", s)
					}
					u := secureconv.UsedBy(o.Req)
					if u == nil || u.Context.Identifier != f.ctx.Identifier || u.Version != v || u.Expired ||
						(u.Profile == secureconv.ProfileT) != sc.ProfileT {
						t.Fatalf("used %+v", u)
					}
				})
			}
		}
	}
}

func wantSC(t *testing.T, err error, local string) {
	t.Helper()
	var wf *wstrust.Fault
	var af *authn.Fault
	if !errors.As(err, &af) || af.Temporary || !errors.As(err, &wf) || wf.Local != local || wf.Namespace != wf.Version.SC {
		t.Fatalf("got %v, want a rejection with wsc:%s", err, local)
	}
	if string(af.Code) != local || af.Namespace != wf.Version.SC || af.Module != "contexts" {
		t.Fatalf("fault %+v", af)
	}
}

func wantWSS(t *testing.T, err error, code wsse.FaultCode, reason string) {
	t.Helper()
	var af *authn.Fault
	if !errors.As(err, &af) || af.Code != code || af.Temporary || !strings.Contains(af.Reason, reason) {
		t.Fatalf("got %v, want wsse:%s (%q)", err, code, reason)
	}
}

// TestRejections: every way a message signed with a context is refused,
// with its fault.
func TestRejections(t *testing.T) {
	v := wstrust.V13
	f := newFixture(t, nil, v, true, ststest.Options{})
	store := f.r.Store
	ctx := context.Background()

	t.Run("unknown context", func(t *testing.T) {
		other := *f.c
		other.Identifier = "urn:uuid:00000000-0000-4000-8000-000000000000"
		wantSC(t, f.r.Serve(t, other.App(t, 100, wss4j.SC{}), true).Err, wstrust.BadContextToken)
	})
	t.Run("other issuer", func(t *testing.T) {
		c := newContext(t, "https://elsewhere.example.test/sts", v, time.Hour)
		if err := store.Issue(ctx, c.Clone()); err != nil {
			t.Fatal(err)
		}
		cl := &ststest.Client{Gen: f.c.Gen, V: v, SOAP12: true, Identifier: c.Identifier, Key: c.Key}
		wantSC(t, f.r.Serve(t, cl.App(t, 100, wss4j.SC{}), true).Err, wstrust.BadContextToken)
	})
	t.Run("cancelled", func(t *testing.T) {
		c := newContext(t, issuer, v, time.Hour)
		if err := store.Issue(ctx, c.Clone()); err != nil {
			t.Fatal(err)
		}
		cl := &ststest.Client{Gen: f.c.Gen, V: v, SOAP12: true, Identifier: c.Identifier, Key: c.Key}
		msg := cl.App(t, 100, wss4j.SC{})
		if err := store.Cancel(ctx, issuer, c.Identifier); err != nil {
			t.Fatal(err)
		}
		wantSC(t, f.r.Serve(t, msg, true).Err, wstrust.BadContextToken)
	})
	t.Run("wrong key", func(t *testing.T) {
		cl := *f.c
		cl.Key = bytes.Repeat([]byte{7}, 32)
		wantWSS(t, f.r.Serve(t, cl.App(t, 100, wss4j.SC{}), true).Err, wsse.FailedCheck, "does not match SignedInfo")
	})
	t.Run("replay", func(t *testing.T) {
		msg := f.c.App(t, 100, wss4j.SC{})
		if o := f.r.Serve(t, msg, true); o.Err != nil {
			t.Fatal(o.Err)
		}
		wantWSS(t, f.r.Serve(t, msg, true).Err, wsse.InvalidSecurity, "replayed")
		msgT := f.c.App(t, 100, wss4j.SC{ProfileT: true})
		if o := f.r.Serve(t, msgT, true); o.Err != nil {
			t.Fatal(o.Err)
		}
		wantWSS(t, f.r.Serve(t, msgT, true).Err, wsse.InvalidSecurity, "replayed")
	})
	t.Run("profile T insecure", func(t *testing.T) {
		err := f.r.Serve(t, f.c.App(t, 100, wss4j.SC{ProfileT: true}), false).Err
		wantSC(t, err, wstrust.BadContextToken)
		if !strings.Contains(err.Error(), "secure channel") {
			t.Fatal(err)
		}
	})
	t.Run("profile T insecure allowed", func(t *testing.T) {
		g := newFixture(t, nil, v, true, ststest.Options{Module: func(c *secureconv.Config) { c.AllowInsecure = true }})
		if o := g.r.Serve(t, g.c.App(t, 100, wss4j.SC{ProfileT: true}), false); o.Err != nil {
			t.Fatal(o.Err)
		}
	})
	t.Run("profile M unsigned Body", func(t *testing.T) {
		wantWSS(t, f.r.Serve(t, f.c.App(t, 100, wss4j.SC{Parts: []string{"ts"}}), true).Err, wsse.InvalidSecurity, "does not cover the Body")
	})
	t.Run("profile T Timestamp only", func(t *testing.T) {
		// WCF's TransportWithMessageCredential: accepted.
		if o := f.r.Serve(t, f.c.App(t, 100, wss4j.SC{ProfileT: true, Parts: []string{"ts"}}), true); o.Err != nil {
			t.Fatal(o.Err)
		}
	})
	t.Run("unsigned Timestamp", func(t *testing.T) {
		for _, p := range []bool{false, true} {
			wantWSS(t, f.r.Serve(t, f.c.App(t, 100, wss4j.SC{ProfileT: p, Parts: []string{"body"}}), true).Err, wsse.InvalidSecurity, "does not cover the Timestamp")
		}
	})
	t.Run("no Timestamp", func(t *testing.T) {
		wantWSS(t, f.r.Serve(t, f.c.App(t, 100, wss4j.SC{Parts: []string{"body"}, TTL: -1}), true).Err, wsse.InvalidSecurity, "needs a signed Timestamp")
	})
	t.Run("tampered Body", func(t *testing.T) {
		msg := f.c.App(t, 100, wss4j.SC{})
		msg = bytes.Replace(msg, []byte("xxxx"), []byte("xxxy"), 1)
		wantWSS(t, f.r.Serve(t, msg, true).Err, wsse.FailedCheck, "does not match")
	})
	t.Run("no signature", func(t *testing.T) {
		msg := f.c.App(t, 100, wss4j.SC{})
		i, j := bytes.Index(msg, []byte("<ds:Signature")), bytes.Index(msg, []byte("</ds:Signature>"))
		if i < 0 || j < 0 {
			t.Fatalf("no ds:Signature in %s", msg)
		}
		msg = append(msg[:i:i], msg[j+len("</ds:Signature>"):]...)
		wantWSS(t, f.r.Serve(t, msg, true).Err, wsse.InvalidSecurity, "without a Signature")
	})
	t.Run("expired within grace", func(t *testing.T) {
		c := newContext(t, issuer, v, 1500*time.Millisecond)
		if err := store.Issue(ctx, c.Clone()); err != nil {
			t.Fatal(err)
		}
		cl := &ststest.Client{Gen: f.c.Gen, V: v, SOAP12: true, Identifier: c.Identifier, Key: c.Key}
		msg := cl.App(t, 100, wss4j.SC{})
		forged := *cl
		forged.Key = bytes.Repeat([]byte{9}, 32)
		forgedMsg := forged.App(t, 100, wss4j.SC{})
		time.Sleep(time.Until(c.Expires.Add(50 * time.Millisecond)))
		wantSC(t, f.r.Serve(t, msg, true).Err, wstrust.RenewNeeded)
		// Without the key, nobody learns that the context needs renewing.
		wantWSS(t, f.r.Serve(t, forgedMsg, true).Err, wsse.FailedCheck, "does not match")
	})
}

// TestLargeBody: profile M over a 1 MiB Body.
func TestLargeBody(t *testing.T) {
	f := newFixture(t, nil, wstrust.Feb2005, false, ststest.Options{})
	msg := f.c.App(t, 1<<20, wss4j.SC{})
	if len(msg) < 1<<20 {
		t.Fatalf("message of %d bytes", len(msg))
	}
	if o := f.r.Serve(t, msg, false); o.Err != nil {
		t.Fatal(o.Err)
	}
	// The same message with its end altered: its SignatureValue is spent,
	// refused before the Body is digested.
	i := bytes.LastIndex(msg, []byte("x &amp; more"))
	msg[i] = 'y'
	wantWSS(t, f.r.Serve(t, msg, false).Err, wsse.InvalidSecurity, "replayed")
	// A fresh message altered at its end: the Body's digest does not match.
	msg = f.c.App(t, 1<<20, wss4j.SC{})
	msg[bytes.LastIndex(msg, []byte("x &amp; more"))] = 'y'
	wantWSS(t, f.r.Serve(t, msg, false).Err, wsse.FailedCheck, "does not match")
}

// TestStoreDown: with the Redis store stopped, a message signed with a
// context is a technical failure (health.ErrUnavailable): the chain fails
// closed with a temporary fault, never a rejection or a success.
func TestStoreDown(t *testing.T) {
	r := testenv.StartRedis(t)
	key, _ := wstrust.NewEntropy(32)
	store, err := (&sctredis.Config{Addrs: []string{r.Addr}, Timeout: 2 * time.Second,
		Keys: []sctredis.KeyConfig{{ID: "k1", Hex: fmt.Sprintf("%x", key)}}, WriteKey: "k1"}).Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := newFixture(t, store, wstrust.V13, true, ststest.Options{})
	if o := f.r.Serve(t, f.c.App(t, 100, wss4j.SC{}), true); o.Err != nil {
		t.Fatal(o.Err)
	}
	msg := f.c.App(t, 100, wss4j.SC{})
	r.Stop()
	err = f.r.Serve(t, msg, true).Err
	var af *authn.Fault
	if !errors.As(err, &af) || !af.Temporary || !errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("store down: %v", err)
	}
	var wf *wstrust.Fault
	if errors.As(err, &wf) {
		t.Fatalf("store down answered as a WS-SC fault: %v", wf)
	}
}

// TestConfig: Validate names the key, New needs its dependencies.
func TestConfig(t *testing.T) {
	c := secureconv.Config{Issuer: issuer}
	if err := c.Validate(); err != nil || c.MaxAge != 5*time.Minute || c.FutureSkew != time.Minute {
		t.Fatalf("%+v: %v", c, err)
	}
	for _, bad := range []struct {
		c   secureconv.Config
		key string
	}{
		{secureconv.Config{}, "issuer"},
		{secureconv.Config{Issuer: issuer, MaxAge: -1}, "max_age"},
		{secureconv.Config{Issuer: issuer, FutureSkew: -1}, "future_skew"},
	} {
		if err := bad.c.Validate(); err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%+v: %v", bad.c, err)
		}
	}
	if _, err := secureconv.New(secureconv.Config{Issuer: issuer}); err == nil {
		t.Fatal("New without store and replay cache")
	}
}

// TestIgnored: a message without WS-SC tokens is not the module's.
func TestIgnored(t *testing.T) {
	f := newFixture(t, nil, wstrust.V13, false, ststest.Options{})
	raw, err := f.c.Gen.UsernameToken(ststest.Envelope(false, "", "", ststest.Payload(10)), ststest.User, ststest.Password, true, 300)
	if err != nil {
		t.Fatal(err)
	}
	req := ststest.Request(t, raw, true, nil)
	if ok, err := f.r.Module.Login(context.Background(), req, &authn.Subject{}); ok || !errors.Is(err, authn.ErrUnsupported) {
		t.Fatalf("Login = %v, %v", ok, err)
	}
}

// TestSignedAddressingHeaders: clients that sign WS-Addressing headers
// (CXF's and WCF's symmetric bindings sign To, Action, MessageID) are
// accepted: WSS4J signs Body, Timestamp and wsa:To and wsa:Action, direct
// children of the SOAP Header. A wsa header moved into the Body (a
// wrapping attempt) is still refused.
func TestSignedAddressingHeaders(t *testing.T) {
	f := newFixture(t, nil, wstrust.V13, false, ststest.Options{})
	env := []byte(`<s:Envelope xmlns:s="` + ststest.SOAP11 + `" xmlns:a="` + wstrust.NSWSA + `"><s:Header>` +
		`<a:To>https://service.example/echo</a:To><a:Action>urn:example:echo</a:Action></s:Header><s:Body>` +
		ststest.Payload(100) + `</s:Body></s:Envelope>`)
	sc := wss4j.SC{Parts: []string{"body", "ts", "{" + wstrust.NSWSA + "}To", "{" + wstrust.NSWSA + "}Action"}}
	msg := f.c.Sign(t, env, sc)
	if n := bytes.Count(msg, []byte("<ds:Reference ")); n != 4 {
		t.Fatalf("WSS4J made %d references, want 4:\n%s", n, msg)
	}
	if o := f.r.Serve(t, msg, false); o.Err != nil || o.Subject == nil || o.Subject.Principal != ststest.User {
		t.Fatalf("signed WS-Addressing headers: %+v", o)
	}

	// The signed wsa:To moved into the Body, an unsigned one in its place:
	// the reference now names an element inside the Body.
	msg = f.c.Sign(t, env, sc)
	i := bytes.Index(msg, []byte("<a:To "))
	j := bytes.Index(msg, []byte("</a:To>")) + len("</a:To>")
	to := append([]byte(nil), msg[i:j]...)
	moved := append(append(append([]byte(nil), msg[:i]...), []byte("<a:To>https://evil.example/</a:To>")...), msg[j:]...)
	k := bytes.Index(moved, []byte("<m:echo"))
	moved = append(append(append([]byte(nil), moved[:k]...), to...), moved[k:]...)
	wantWSS(t, f.r.Serve(t, moved, false).Err, wsse.InvalidSecurity, "neither the Body nor")
}

// TestProfileTByIdentifier: WSS4J's KeyInfo names the context by its
// Identifier URI, with no SCT it points to (CUSTOM_SYMM_SIGNING_DIRECT):
// accepted on a secure channel, refused on a plain one and for a context
// the store does not hold.
func TestProfileTByIdentifier(t *testing.T) {
	f := newFixture(t, nil, wstrust.V13, false, ststest.Options{})
	sc := wss4j.SC{ProfileT: true, ByIdentifier: true, Parts: []string{"ts"}}
	msg := f.c.App(t, 100, sc)
	if !bytes.Contains(msg, []byte(`URI="`+f.ctx.Identifier+`"`)) {
		t.Fatalf("WSS4J did not name the context by Identifier:\n%s", msg)
	}
	if o := f.r.Serve(t, msg, true); o.Err != nil {
		t.Fatal(o.Err)
	}
	wantSC(t, f.r.Serve(t, f.c.App(t, 100, sc), false).Err, wstrust.BadContextToken)
	other := &ststest.Client{Gen: f.c.Gen, V: wstrust.V13, Identifier: "urn:uuid:00000000-0000-4000-8000-000000000000", Key: f.ctx.Key}
	wantSC(t, f.r.Serve(t, other.App(t, 100, sc), true).Err, wstrust.BadContextToken)
}
