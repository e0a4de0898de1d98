package kerberos

import (
	"errors"
	"strings"

	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/authsvc/authsvc/wsse"
)

// A cross-realm ticket's transited field (RFC 4120 3.3.3.2) names the
// realms between the client's realm and the service's that took part in
// issuing it; each of them could have vouched for a client of any realm.
// The service realm's KDC may check that path against its own policy (MIT:
// [capaths]) and say so with the TRANSITED-POLICY-CHECKED flag. A path that
// names realms is accepted when every realm in it is in
// trusted_transit_realms, or when the KDC checked it and
// trust_kdc_transit_check (default true) says to rely on that; anything
// else, including a path with null subfields (realms it does not name) or
// in an unknown encoding, is refused.

const (
	trDomainX500Compress = 1   // RFC 4120 3.3.3.2
	maxTransitRealms     = 128 // bound on the realms of one path
)

// parseTransited decodes DOMAIN-X500-COMPRESS contents: realm names
// separated by commas; a name ending in "." is completed with the previous
// name (domain style), one starting with "/" is appended to the previous
// X.500 name, a leading space stops either; "\" escapes the next
// character. gaps reports a null subfield: the path went through every
// realm between its neighbours, which it does not name.
func parseTransited(b []byte) (realms []string, gaps bool, err error) {
	if len(b) == 0 {
		return nil, false, nil
	}
	prev := ""
	var cur strings.Builder
	escaped, literal := false, false
	flush := func() error {
		name := cur.String()
		cur.Reset()
		switch {
		case name == "" && !literal:
			gaps = true
			return nil
		case escaped:
			// a name with escapes is taken as written
		case name[0] == ' ':
			name = name[1:]
		case strings.HasSuffix(name, "."):
			if prev == "" || prev[0] == '/' {
				return errors.New("a domain-style name to complete without a previous name")
			}
			name += prev
		case name[0] == '/' && strings.HasPrefix(prev, "/"):
			name = prev + name
		}
		if name == "" {
			return errors.New("an empty realm name")
		}
		if len(realms) == maxTransitRealms {
			return errors.New("more than 128 realms")
		}
		realms = append(realms, name)
		prev = name
		return nil
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '\\':
			if i+1 == len(b) {
				return nil, false, errors.New("a trailing backslash")
			}
			i++
			cur.WriteByte(b[i])
			escaped, literal = true, true
		case ',':
			if err := flush(); err != nil {
				return nil, false, err
			}
			escaped, literal = false, false
		default:
			cur.WriteByte(c)
		}
	}
	if err := flush(); err != nil {
		return nil, false, err
	}
	return realms, gaps, nil
}

// checkTransited applies the transit policy to a decrypted ticket.
func (m *Module) checkTransited(enc *messages.EncTicketPart, spn string) error {
	tr := &enc.Transited
	if len(tr.Contents) == 0 {
		return nil // a ticket of the service's realm, or a direct trust
	}
	kdcChecked := m.trustKDCTransit && types.IsFlagSet(&enc.Flags, flags.TransitedPolicyChecked)
	who := func() string { return principalString(enc.CName) + "@" + realmString(enc.CRealm) }
	if tr.TRType != trDomainX500Compress {
		if kdcChecked {
			return nil
		}
		return reject(wsse.FailedAuthentication, "transited path: the ticket of %s for %s has a transited encoding of type %d, which this service cannot check, and the KDC did not check the path", who(), spn, tr.TRType)
	}
	realms, gaps, err := parseTransited(tr.Contents)
	if err != nil {
		return reject(wsse.FailedAuthentication, "transited path: the ticket of %s for %s: the transited field does not parse: %v", who(), spn, err)
	}
	if kdcChecked {
		return nil
	}
	why := "the KDC did not check the path (no TRANSITED-POLICY-CHECKED flag)"
	if !m.trustKDCTransit {
		why = "trust_kdc_transit_check is off"
	}
	for _, r := range realms {
		if !m.transit[r] {
			return reject(wsse.FailedAuthentication, "transited path: the ticket of %s for %s passed through %s, which is not in trusted_transit_realms, and %s", who(), spn, r, why)
		}
	}
	if gaps {
		return reject(wsse.FailedAuthentication, "transited path: the ticket of %s for %s passed through realms the path does not name (%q), and %s", who(), spn, tr.Contents, why)
	}
	return nil
}
