package kerberos

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/authsvc/authsvc/wsse"
)

func TestParseTransited(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		gaps bool
	}{
		{"", nil, false},
		{"MIDDLE.TEST", []string{"MIDDLE.TEST"}, false},
		// RFC 4120 3.3.3.2's examples: domain style and X.500 style.
		{"EDU,MIT.,ATHENA.,WASHINGTON.EDU,CS.", []string{"EDU", "MIT.EDU", "ATHENA.MIT.EDU", "WASHINGTON.EDU", "CS.WASHINGTON.EDU"}, false},
		{"/COM,/HP,/APOLLO, /COM/DEC", []string{"/COM", "/COM/HP", "/COM/HP/APOLLO", "/COM/DEC"}, false},
		// Null subfields: every realm between its neighbours, unnamed.
		{",EDU", []string{"EDU"}, true},
		{"EDU,", []string{"EDU"}, true},
		{"A.TEST,,B.TEST", []string{"A.TEST", "B.TEST"}, true},
		{`WEIRD\,REALM`, []string{"WEIRD,REALM"}, false},
	} {
		got, gaps, err := parseTransited([]byte(tc.in))
		if err != nil || !slices.Equal(got, tc.want) || gaps != tc.gaps {
			t.Errorf("%q: %q gaps %v %v, want %q gaps %v", tc.in, got, gaps, err, tc.want, tc.gaps)
		}
	}
	for _, bad := range []string{"MIT.", `A\`, strings.Repeat("A,", 200)} {
		if _, _, err := parseTransited([]byte(bad)); err == nil {
			t.Errorf("%.20q: accepted", bad)
		}
	}
	// The bound on the realms of a path, exactly: 128 are taken, 129 are
	// refused, with or without a domain-style completion at the end.
	path := func(n int) string {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("R%d.TEST", i)
		}
		return strings.Join(names, ",")
	}
	if got, _, err := parseTransited([]byte(path(maxTransitRealms))); err != nil || len(got) != maxTransitRealms || got[127] != "R127.TEST" {
		t.Errorf("%d realms: %d parsed, %v", maxTransitRealms, len(got), err)
	}
	if got, _, err := parseTransited([]byte(path(maxTransitRealms-1) + ",SUB.")); err != nil || len(got) != maxTransitRealms || got[127] != "SUB.R126.TEST" {
		t.Errorf("%d realms, the last completed: %d parsed, %v", maxTransitRealms, len(got), err)
	}
	for _, p := range []string{path(maxTransitRealms + 1), path(maxTransitRealms) + ",SUB."} {
		if _, _, err := parseTransited([]byte(p)); err == nil || !strings.Contains(err.Error(), "more than 128 realms") {
			t.Errorf("%d realms: %v, want the bound named", maxTransitRealms+1, err)
		}
	}
}

// TestTransitedHermetic: a cross-realm ticket whose transited path names
// realms is accepted only when each of them is in trusted_transit_realms,
// or the service realm's KDC checked the path (TRANSITED-POLICY-CHECKED)
// and trust_kdc_transit_check is on.
func TestTransitedHermetic(t *testing.T) {
	mt := newMinter(t)
	realms := func(c *Config) { c.Realms = []string{"EXAMPLE.TEST", "OTHER.TEST"} }
	tr := func(s string) *messages.TransitedEncoding {
		return &messages.TransitedEncoding{TRType: 1, Contents: []byte(s)}
	}
	checked := []int{flags.TransitedPolicyChecked}
	off := false
	for _, tc := range []struct {
		name   string
		cfg    func(*Config)
		o      ticketOpts
		reason string // "" when accepted
	}{
		{"direct cross-realm", realms, ticketOpts{realm: "OTHER.TEST"}, ""},
		{"through an unknown realm", realms, ticketOpts{realm: "OTHER.TEST", transited: tr("MIDDLE.TEST")},
			"transited path: the ticket of alice@OTHER.TEST for HTTP/soap.example.test@EXAMPLE.TEST passed through MIDDLE.TEST, which is not in trusted_transit_realms, and the KDC did not check the path (no TRANSITED-POLICY-CHECKED flag)"},
		{"KDC checked it", realms, ticketOpts{realm: "OTHER.TEST", transited: tr("MIDDLE.TEST"), flags: checked}, ""},
		{"KDC check not trusted", func(c *Config) { realms(c); c.TrustKDCTransitCheck = &off },
			ticketOpts{realm: "OTHER.TEST", transited: tr("MIDDLE.TEST"), flags: checked}, "passed through MIDDLE.TEST, which is not in trusted_transit_realms"},
		{"trusted transit realm", func(c *Config) { realms(c); c.TrustedTransitRealms = []string{"MIDDLE.TEST"} },
			ticketOpts{realm: "OTHER.TEST", transited: tr("MIDDLE.TEST")}, ""},
		{"compressed names resolved", func(c *Config) { realms(c); c.TrustedTransitRealms = []string{"TEST", "MIDDLE.TEST"} },
			ticketOpts{realm: "OTHER.TEST", transited: tr("TEST,MIDDLE.,EVIL.")}, "passed through EVIL.MIDDLE.TEST, which is not"},
		{"unnamed realms", func(c *Config) { realms(c); c.TrustedTransitRealms = []string{"MIDDLE.TEST"} },
			ticketOpts{realm: "OTHER.TEST", transited: tr("MIDDLE.TEST,")}, "passed through realms the path does not name"},
		{"unnamed realms, KDC checked", func(c *Config) { realms(c); c.TrustedTransitRealms = []string{"MIDDLE.TEST"} },
			ticketOpts{realm: "OTHER.TEST", transited: tr("MIDDLE.TEST,"), flags: checked}, ""},
		{"unknown encoding", realms, ticketOpts{realm: "OTHER.TEST", transited: &messages.TransitedEncoding{TRType: 2, Contents: []byte("x")}},
			"transited encoding of type 2"},
		{"malformed", realms, ticketOpts{realm: "OTHER.TEST", transited: tr("MIDDLE.")}, "transited field does not parse"},
		{"malformed, KDC checked", realms, ticketOpts{realm: "OTHER.TEST", transited: tr("MIDDLE."), flags: checked}, "transited field does not parse"},
		{"unknown encoding, KDC checked", realms, ticketOpts{realm: "OTHER.TEST", transited: &messages.TransitedEncoding{TRType: 2, Contents: []byte("x")}, flags: checked}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mt.module(t, tc.cfg)
			s, err := login(m, bstRequest(t, vtAPREQ, mt.apReq(t, tc.o), mt.now))
			if tc.reason == "" {
				if err != nil || s.Name() != "alice@OTHER.TEST" {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantFault(t, err, wsse.FailedAuthentication, tc.reason)
		})
	}
}
