package kerberos

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/wsse"
)

// By default an RC4 (arcfour-hmac) ticket, as Active Directory issues to
// accounts without msDS-SupportedEncryptionTypes, is refused with the
// ticket's enctype and the fix; AES tickets pass; listing rc4-hmac in
// enctypes accepts it.
func TestEnctypeAllowList(t *testing.T) {
	mt := newMinter(t, 17, 18, 23)
	m := mt.module(t, nil)
	for _, et := range []int32{17, 18} {
		s, err := login(m, bstRequest(t, vtAPREQ, mt.apReq(t, ticketOpts{etype: et}), mt.now))
		if err != nil || s.Principal != "alice" {
			t.Fatalf("etype %d: %+v, %v", et, s, err)
		}
	}
	_, err := login(m, bstRequest(t, vtAPREQ, mt.apReq(t, ticketOpts{etype: 23}), mt.now))
	f := wantFault(t, err, wsse.UnsupportedAlgorithm, "encrypted with arcfour-hmac")
	for _, want := range []string{"msDS-SupportedEncryptionTypes=24", "add arcfour-hmac to enctypes", mintSPN} {
		if !strings.Contains(f.Reason, want) {
			t.Errorf("reason %q lacks %q", f.Reason, want)
		}
	}
	m2 := mt.module(t, func(c *Config) { c.Enctypes = Enctypes{"rc4-hmac", "aes256-cts-hmac-sha1-96"} })
	if _, err := login(m2, bstRequest(t, vtAPREQ, mt.apReq(t, ticketOpts{etype: 23}), mt.now)); err != nil {
		t.Fatalf("rc4 listed: %v", err)
	}
	_, err = login(m2, bstRequest(t, vtAPREQ, mt.apReq(t, ticketOpts{etype: 17}), mt.now))
	wantFault(t, err, wsse.UnsupportedAlgorithm, "encrypted with aes128-cts-hmac-sha1-96")
}

func TestEnctypesConfig(t *testing.T) {
	var c Config
	doc := "keytab: k\nservice_principals: [" + spn + "]\nenctypes:\n  - aes256-cts-hmac-sha1-96\n  - rc4-hmac\n"
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil || c.Validate() != nil || len(c.Enctypes) != 2 {
		t.Fatalf("%v %v", c.Enctypes, err)
	}
	doc = "keytab: k\nservice_principals: [" + spn + "]\nenctypes:\n  - aes256-cts-hmac-sha1-96\n  - aes512-rot13\n"
	err := yaml.Unmarshal([]byte(doc), &c)
	if err == nil || !strings.Contains(err.Error(), `line 5: enctypes[1]: unknown encryption type "aes512-rot13"`) {
		t.Errorf("unknown name: %v", err)
	}
	c = Config{Keytab: "k", ServicePrincipals: []string{spn}, Enctypes: Enctypes{"des-cbc-crc", "bogus"}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `enctypes[1]: unknown encryption type "bogus"`) {
		t.Errorf("Validate: %v", err)
	}
}
