package kerberos

import (
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/wsse"
)

// TestCrossRealmTransited: MIT tickets of alice@CLIENT.TEST for
// HTTP/localhost@SERVICE.TEST, issued through MIDDLE.TEST (three live MIT
// realms), by a service KDC that did not check the path and by one that
// did (TRANSITED-POLICY-CHECKED).
func TestCrossRealmTransited(t *testing.T) {
	const spnXR = "HTTP/localhost@SERVICE.TEST"
	off := false
	for _, kdcChecks := range []bool{false, true} {
		k := testenv.StartCrossRealmKDC(t, kdcChecks)
		cc := k.Kinit(t, "alice", "alice-pw")
		toks := gssTokens(t, &k.KDC, cc, "krb5", spnXR, 3)
		now := time.Now()
		client := func(c *Config) { c.Realms = []string{"CLIENT.TEST"} }

		m := newModule(t, k.Keytab, client, spnXR)
		s, err := login(m, negotiateRequest(toks[0], now))
		if kdcChecks {
			if err != nil || s.Name() != "alice@CLIENT.TEST" {
				t.Fatalf("path checked by the KDC: %+v %v", s, err)
			}
			strict := newModule(t, k.Keytab, func(c *Config) { client(c); c.TrustKDCTransitCheck = &off }, spnXR)
			_, err = login(strict, negotiateRequest(toks[1], now))
			wantFault(t, err, wsse.FailedAuthentication, "passed through MIDDLE.TEST, which is not in trusted_transit_realms, and trust_kdc_transit_check is off")
		} else {
			wantFault(t, err, wsse.FailedAuthentication,
				"transited path: the ticket of alice@CLIENT.TEST for HTTP/localhost@SERVICE.TEST passed through MIDDLE.TEST, which is not in trusted_transit_realms, and the KDC did not check the path (no TRANSITED-POLICY-CHECKED flag)")
		}
		trusting := newModule(t, k.Keytab, func(c *Config) {
			client(c)
			c.TrustedTransitRealms = []string{"MIDDLE.TEST"}
			c.TrustKDCTransitCheck = &off
		}, spnXR)
		if s, err := login(trusting, negotiateRequest(toks[2], now)); err != nil || s.Name() != "alice@CLIENT.TEST" {
			t.Fatalf("MIDDLE.TEST trusted (KDC checked %v): %+v %v", kdcChecks, s, err)
		}
	}
}
