package sts_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/secureconv"
	"github.com/authsvc/authsvc/sct"

	"github.com/authsvc/authsvc/sts/ststest"
	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

const issuer = "https://authsvc.example.test/sts"

func newReplica(t *testing.T, o ststest.Options) *ststest.Replica {
	t.Helper()
	store := sct.NewMemory(0)
	t.Cleanup(func() { store.Close() })
	return ststest.NewReplica(t, issuer, store, ststest.Registry(t), o)
}

// wantTrustFault checks that err is a *wstrust.Fault with code local in
// the namespace of v's wst or wsc (by the code).
func wantTrustFault(t *testing.T, err error, v *wstrust.Version, local string) *wstrust.Fault {
	t.Helper()
	var f *wstrust.Fault
	if !errors.As(err, &f) {
		t.Fatalf("got %v, want the WS-Trust fault %s", err, local)
	}
	ns := v.Trust
	switch local {
	case wstrust.BadContextToken, wstrust.RenewNeeded, wstrust.UnknownDerivationSource, wstrust.UnableToRenew:
		ns = v.SC
	}
	if f.Local != local || f.Namespace != ns {
		t.Fatalf("got fault {%s}%s (%s), want {%s}%s", f.Namespace, f.Local, f.Reason, ns, local)
	}
	return f
}

// wantWSSFault checks that err is an *authn.Fault with a WS-Security code.
func wantWSSFault(t *testing.T, err error, code wsse.FaultCode) *authn.Fault {
	t.Helper()
	var f *authn.Fault
	if !errors.As(err, &f) || f.Code != code {
		t.Fatalf("got %v, want wsse:%s", err, code)
	}
	return f
}

// issue bootstraps a context for alice with a UsernameToken by WSS4J.
func issue(t *testing.T, r *ststest.Replica, v *wstrust.Version, soap12 bool, entropy []byte) *ststest.Client {
	t.Helper()
	g := wss4j.SharedSC(t)
	rst := ststest.RST{V: v, Kind: wstrust.Issue, Entropy: entropy, Computed: entropy != nil, Context: "uuid-issue"}
	o := r.Serve(t, ststest.Bootstrap(t, g, rst, soap12, true, ststest.Password), true)
	if o.Err != nil {
		t.Fatalf("issue: %v", o.Err)
	}
	return ststest.Accept(t, g, o.Reply, soap12, entropy)
}

func entropy(t *testing.T) []byte {
	t.Helper()
	b, err := wstrust.NewEntropy(32)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLifecycle: in both versions and both SOAP versions, alice issues a
// context with a UsernameToken (digest and text) made by WSS4J, uses it for
// application messages signed by WSS4J (profile M), renews it (new key,
// same Identifier, new Instance; the old key is refused), and cancels it
// (then refused).
func TestLifecycle(t *testing.T) {
	g := wss4j.SharedSC(t)
	for _, v := range wstrust.Versions {
		for _, soap12 := range []bool{false, true} {
			for _, digest := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/soap12=%v/digest=%v", v, soap12, digest), func(t *testing.T) {
					r := newReplica(t, ststest.Options{})
					ce := entropy(t)
					rst := ststest.RST{V: v, Kind: wstrust.Issue, Entropy: ce, Computed: true, Context: "uuid-ctx-1"}
					env := rst.Envelope(soap12)
					raw, err := g.UsernameToken(env, ststest.User, ststest.Password, digest, 300)
					if err != nil {
						t.Fatal(err)
					}
					o := r.Serve(t, raw, true)
					if o.Err != nil || o.Kind != wstrust.Issue {
						t.Fatalf("issue: kind %v, %v", o.Kind, o.Err)
					}
					checkReply(t, o.Reply, env, soap12, wstrust.ReplyAction(rst.Action()))
					c := ststest.Accept(t, g, o.Reply, soap12, ce)
					if c.RSTR.Context != "uuid-ctx-1" || c.RSTR.Collection != (v == wstrust.V13) || c.RSTR.ComputedKey != v.CKPSHA1() || c.RSTR.KeySize != 256 {
						t.Fatalf("RSTR %+v", c.RSTR)
					}
					if !strings.HasPrefix(c.Identifier, "urn:uuid:") || len(c.Key) != 32 {
						t.Fatalf("identifier %q, key of %d bytes", c.Identifier, len(c.Key))
					}
					stored, err := r.Store.Get(t.Context(), issuer, c.Identifier)
					if err != nil || !bytes.Equal(stored.Key, c.Key) || stored.Subject.Principal != ststest.User || stored.Subject.Method != "UsernameToken" {
						t.Fatalf("stored %+v, %v", stored, err)
					}

					// Use.
					o = r.Serve(t, c.App(t, 200, wss4j.SC{}), false)
					if o.Err != nil || o.Kind != wstrust.NotRST {
						t.Fatalf("application message: %v", o.Err)
					}
					s := o.Subject
					if s.Principal != ststest.User || s.Method != secureconv.Method || s.TokenType != secureconv.TokenTypeDerivedKey ||
						len(s.Groups) != 1 || s.Groups[0] != ststest.Group || s.Attributes["mail"][0] != ststest.Mail ||
						s.Attributes[secureconv.AttrBootstrapMethod][0] != "UsernameToken" || s.Modules[0] != "contexts" {
						t.Fatalf("subject %+v", s)
					}

					// Profile T (the secret itself, Timestamp signed) on a secure
					// channel, and profile M by Identifier with ValueType.
					if o := r.Serve(t, c.App(t, 200, wss4j.SC{ProfileT: true, Parts: []string{"ts"}}), true); o.Err != nil || o.Subject.TokenType != secureconv.TokenTypeContext {
						t.Fatalf("profile T: %v", o.Err)
					}
					if o := r.Serve(t, c.App(t, 200, wss4j.SC{ByIdentifier: true, ValueType: true}), false); o.Err != nil {
						t.Fatalf("profile M by Identifier: %v", o.Err)
					}

					// Renew, signed with the context, with new client entropy.
					ce2 := entropy(t)
					renewEnv := ststest.RST{V: v, Kind: wstrust.Renew, Target: c.Identifier, Entropy: ce2, Computed: true, Context: "uuid-renew"}.Envelope(soap12)
					o = r.Serve(t, c.Sign(t, renewEnv, wss4j.SC{}), true)
					if o.Err != nil || o.Kind != wstrust.Renew {
						t.Fatalf("renew: %v", o.Err)
					}
					checkReply(t, o.Reply, renewEnv, soap12, wstrust.ReplyAction(v.ActionRenewSCT()))
					c2 := ststest.Accept(t, g, o.Reply, soap12, ce2)
					if c2.Identifier != c.Identifier || c2.RSTR.Token.Instance == "" || c2.RSTR.Token.Instance == stored.Instance || bytes.Equal(c2.Key, c.Key) || c2.RSTR.Context != "uuid-renew" {
						t.Fatalf("renewal %+v", c2.RSTR)
					}
					// The old key is refused; the new one works.
					wantWSSFault(t, r.Serve(t, c.App(t, 100, wss4j.SC{}), false).Err, wsse.FailedCheck)
					if o := r.Serve(t, c2.App(t, 100, wss4j.SC{ByIdentifier: true}), false); o.Err != nil {
						t.Fatalf("renewed context: %v", o.Err)
					}

					// Cancel, signed with the context.
					cancelEnv := ststest.RST{V: v, Kind: wstrust.Cancel, Target: c.Identifier}.Envelope(soap12)
					o = r.Serve(t, c2.Sign(t, cancelEnv, wss4j.SC{}), false)
					if o.Err != nil {
						t.Fatalf("cancel: %v", o.Err)
					}
					checkReply(t, o.Reply, cancelEnv, soap12, wstrust.ReplyAction(v.ActionCancelSCT()))
					if cr, err := wstrust.ParseRSTREnvelope(o.Reply, nil); err != nil || !cr.Cancelled {
						t.Fatalf("cancel response %+v, %v", cr, err)
					}
					err = r.Serve(t, c2.App(t, 100, wss4j.SC{}), false).Err
					wantTrustFault(t, err, v, wstrust.BadContextToken)
					// The chain's fault is wsc:BadContextToken itself, which the
					// server renders in its namespace.
					if f := wantWSSFault(t, err, wstrust.BadContextToken); f.Namespace != v.SC {
						t.Fatalf("fault namespace %q, want %q", f.Namespace, v.SC)
					}
				})
			}
		}
	}
}

// checkReply checks the reply's envelope: the request's SOAP version, the
// reply action, RelatesTo the request's MessageID, a Timestamp.
func checkReply(t *testing.T, reply, request []byte, soap12 bool, action string) {
	t.Helper()
	env, err := wsse.Parse(reply, nil)
	if err != nil {
		t.Fatalf("reply: %v\n%s", err, reply)
	}
	if (env.Version == wsse.SOAP12) != soap12 || env.Security == nil || env.Security.Timestamp == nil {
		t.Fatalf("reply version %v, security %+v", env.Version, env.Security)
	}
	reqEnv, _ := wsse.Parse(request, nil)
	ra, _ := wstrust.ParseAddressing(reqEnv)
	a, err := wstrust.ParseAddressing(env)
	if err != nil || a.Action != action || !bytes.Contains(reply, []byte("<a:RelatesTo>"+ra.MessageID+"</a:RelatesTo>")) {
		t.Fatalf("reply addressing %+v (%v), want action %s and RelatesTo %s", a, err, action, ra.MessageID)
	}
}

// TestKeyModes: client and server entropy (computed key), server entropy
// only (the secret in the proof token), client entropy only (the client's
// entropy is the key); KeySize honoured; the key the client derives is the
// one the store holds.
func TestKeyModes(t *testing.T) {
	g := wss4j.SharedSC(t)
	r := newReplica(t, ststest.Options{})
	for _, c := range []struct {
		name     string
		rst      ststest.RST
		entropy  []byte
		wantBits int
	}{
		{"computed", ststest.RST{Computed: true, KeySize: 512}, entropy(t), 512},
		{"server", ststest.RST{KeySize: 128}, nil, 128},
		{"server-default", ststest.RST{Generic: true}, nil, 256},
		{"client", ststest.RST{}, entropy(t), 256},
	} {
		t.Run(c.name, func(t *testing.T) {
			rst := c.rst
			rst.V, rst.Kind, rst.Entropy = wstrust.V13, wstrust.Issue, c.entropy
			o := r.Serve(t, ststest.Bootstrap(t, g, rst, true, true, ststest.Password), true)
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			cl := ststest.Accept(t, g, o.Reply, true, c.entropy)
			stored, err := r.Store.Get(t.Context(), issuer, cl.Identifier)
			if err != nil || !bytes.Equal(stored.Key, cl.Key) || len(cl.Key)*8 != c.wantBits {
				t.Fatalf("key of %d bits, stored %v", len(cl.Key)*8, err)
			}
			if c.name == "client" && (!bytes.Equal(cl.Key, c.entropy) || cl.RSTR.ProofSecret != nil || cl.RSTR.ComputedKey != "") {
				t.Fatalf("client entropy: RSTR %+v", cl.RSTR)
			}
			if o := r.Serve(t, cl.App(t, 100, wss4j.SC{V13: true}), false); o.Err != nil {
				t.Fatal(o.Err)
			}
		})
	}
}
