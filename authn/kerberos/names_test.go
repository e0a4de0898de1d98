package kerberos

import (
	"testing"

	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/authsvc/authsvc/authn"
)

// A component holding "@", "/" or "\" keeps its structure, escaped as RFC
// 1964 and MIT's krb5_unparse_name render it: the one-component name
// "mallory@EVIL.TEST" of EXAMPLE.TEST is not mallory of EVIL.TEST, and the
// one-component "svc/host" is not the two-component svc/host.
func TestPrincipalNamesEscaped(t *testing.T) {
	mt := newMinter(t)
	for _, tc := range []struct {
		client            []string
		principal, full   string
		mapped, stripName string
	}{
		{[]string{"mallory@EVIL.TEST"}, `mallory\@EVIL.TEST`, `mallory\@EVIL.TEST@EXAMPLE.TEST`, `m-mallory\@EVIL.TEST`, `mallory\@EVIL.TEST@EXAMPLE.TEST`},
		{[]string{"svc/host"}, `svc\/host`, `svc\/host@EXAMPLE.TEST`, `m-svc\/host`, `svc\/host@EXAMPLE.TEST`},
		{[]string{"svc", "host"}, `svc/host`, `svc/host@EXAMPLE.TEST`, `m-svc/host`, `svc/host@EXAMPLE.TEST`},
		{[]string{`back\slash`}, `back\\slash`, `back\\slash@EXAMPLE.TEST`, `m-back\\slash`, `back\\slash@EXAMPLE.TEST`},
		{[]string{"alice"}, "alice", "alice@EXAMPLE.TEST", "m-alice", "alice@EXAMPLE.TEST"},
	} {
		s, err := login(mt.module(t, nil), bstRequest(t, vtAPREQ, mt.apReq(t, ticketOpts{client: tc.client}), mt.now))
		if err != nil {
			t.Fatalf("%q: %v", tc.client, err)
		}
		if s.Principal != tc.principal || s.Realm != "EXAMPLE.TEST" || s.Name() != tc.stripName {
			t.Errorf("%q: principal %q realm %q name %q, want %q, EXAMPLE.TEST, %q", tc.client, s.Principal, s.Realm, s.Name(), tc.principal, tc.stripName)
		}
		if got := s.Attributes["kerberos_principal"]; len(got) != 1 || got[0] != tc.full {
			t.Errorf("%q: kerberos_principal %q, want %q", tc.client, got, tc.full)
		}
		// strip_realm false: the full escaped name, and Name() does not add
		// the realm a second time.
		keep := false
		s, err = login(mt.module(t, func(c *Config) { c.StripRealm = &keep }), bstRequest(t, vtAPREQ, mt.apReq(t, ticketOpts{client: tc.client}), mt.now))
		if err != nil || s.Principal != tc.full || s.Name() != tc.full {
			t.Errorf("%q: strip_realm false: %+v %v, want %q", tc.client, s, err, tc.full)
		}
		// principal_map sees the escaped name: a rule for EVIL.TEST does not
		// match a client of EXAMPLE.TEST.
		s, err = login(mt.module(t, func(c *Config) {
			c.PrincipalMap = []MapRule{{Match: `([^@]*)@EVIL\.TEST`, Principal: "evil-$1"}, {Match: `(.*)@EXAMPLE\.TEST`, Principal: "m-$1"}}
		}), bstRequest(t, vtAPREQ, mt.apReq(t, ticketOpts{client: tc.client}), mt.now))
		if err != nil || s.Principal != tc.mapped {
			t.Errorf("%q: principal_map gave %+v %v, want %q", tc.client, s, err, tc.mapped)
		}
	}
}

func TestPrincipalStringMIT(t *testing.T) {
	for in, want := range map[string]string{"a\nb": `a\nb`, "a\tb": `a\tb`, "a\x00b": `a\0b`, "a\bb": `a\bb`} {
		if got := principalString(types.PrincipalName{NameString: []string{in}}); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if got := realmString(`EX@AMPLE\`); got != `EX\@AMPLE\\` {
		t.Errorf("realm: %q", got)
	}
	s := authn.Subject{Principal: `a\@b`, Realm: "R"}
	if s.Name() != `a\@b@R` {
		t.Errorf("Name: %q", s.Name())
	}
}
