package sts_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/kerberos"
	"github.com/authsvc/authsvc/authn/secureconv"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sts"
	"github.com/authsvc/authsvc/sts/ststest"
	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// TestIssueKerberos: an Issue RST bootstrapped by a Kerberos
// BinarySecurityToken that MIT's GSSAPI (python3-gssapi) made against a
// real KDC; the context carries the Kerberos Subject, and WSS4J's messages
// signed with it authenticate as that Subject.
func TestIssueKerberos(t *testing.T) {
	k := testenv.StartKDC(t)
	cc := k.Kinit(t, "alice", "alice-pw")
	tok := base64.StdEncoding.EncodeToString(testenv.GSSTokens(t, k.Env(cc), "krb5", "HTTP/localhost@EXAMPLE.TEST", 1)[0])

	rc := replay.NewMemory(replay.MemoryOptions{SweepInterval: -1})
	defer rc.Close()
	km, err := (&kerberos.Config{Keytab: k.LocalhostKeytab, ServicePrincipals: []string{"HTTP/localhost@EXAMPLE.TEST"}, KeytabReload: -1}).
		Build(kerberos.Deps{Replay: rc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer km.Close()
	store := sct.NewMemory(0)
	defer store.Close()
	scm, err := secureconv.New(secureconv.Config{Issuer: issuer, Store: store, Replay: rc})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := authn.NewChain(authn.Entry{Name: "kerberos", Flag: authn.Sufficient, Module: km},
		authn.Entry{Name: "contexts", Flag: authn.Sufficient, Module: scm})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := sts.New(sts.Config{Issuer: issuer}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &ststest.Replica{Chain: chain, Module: scm, STS: svc, Store: store, Replay: rc}

	v := wstrust.Feb2005
	rst := string(ststest.RST{V: v, Kind: wstrust.Issue}.Envelope(false))
	rst = strings.Replace(rst, "</s:Header>", `<wsse:Security xmlns:wsse="`+wsse.NSWSSE+`"><wsse:BinarySecurityToken ValueType="`+
		kerberos.NSTokenProfile+`#GSS_Kerberosv5_AP_REQ" EncodingType="`+wsse.Base64Binary+`">`+tok+
		`</wsse:BinarySecurityToken></wsse:Security></s:Header>`, 1)
	o := r.Serve(t, []byte(rst), true)
	if o.Err != nil {
		t.Fatalf("issue: %v", o.Err)
	}
	if o.Subject.Method != "Kerberos" {
		t.Fatalf("bootstrap subject %+v", o.Subject)
	}
	c := ststest.Accept(t, wss4j.SharedSC(t), o.Reply, false, nil)
	o = r.Serve(t, c.App(t, 100, wss4j.SC{}), false)
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	s := o.Subject
	if s.Principal != "alice" || s.Realm != "EXAMPLE.TEST" || s.Method != secureconv.Method ||
		strings.Join(s.Attributes[secureconv.AttrBootstrapMethod], ",") != "Kerberos" {
		t.Fatalf("subject %+v", s)
	}
}
