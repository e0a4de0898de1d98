package kerberos

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// A strict DER decoder for the two messages read on every request, the
// KRB_AP_REQ (with its Ticket) and the Authenticator (RFC 4120 5.5.1), into
// gokrb5's types. gokrb5 decodes them with a reflective ASN.1 decoder
// (gofork's encoding/asn1), which was about a sixth of the server's CPU.
//
// It decodes what gokrb5 decodes, to the same values (der_test.go compares
// them over recorded and minted tokens and in FuzzAPReqDER and
// FuzzAuthenticatorDER), except that it is stricter where gokrb5 is
// lenient (each such refusal wraps errDERStrict):
//
//   - DER only: every element has a one-byte tag and a minimal definite
//     length within its parent; an explicit tag [n] holds exactly one
//     element (gokrb5 ignores the length of the explicit tag);
//   - no element that the schema does not have: bytes after the last
//     field of a SEQUENCE, fields out of order, an OPTIONAL field holding
//     an element of another type, a ticket under a tag other than [3], and
//     bytes after the AP-REQ are refused (gokrb5 skips or ignores them). Bytes after the Authenticator are ignored, as gokrb5
//     and MIT do: the plaintext of a block cipher (des3) may be padded;
//   - KerberosString is a GeneralString (gokrb5 also takes Printable, IA5,
//     T61 and UTF8 strings);
//   - KerberosTime is a GeneralizedTime of the form YYYYMMDDHHMMSSZ
//     (gokrb5 also takes a UTCTime and a +hhmm/-hhmm offset);
//   - ap-options has at least one octet of flags (the module reads bits 1
//     and 2; gokrb5 takes an empty BIT STRING, and types.IsFlagSet then
//     panics on it);
//   - a PrincipalName has 1 to derMaxNameComponents components, an
//     Authenticator's authorization-data at most derMaxAuthzEntries
//     entries.
//
// Lengths are checked against the input before anything is allocated; the
// allocations are the strings and the slices of names and
// authorization-data entries. OCTET STRINGs and BIT STRINGs alias the
// input (gokrb5 copies OCTET STRINGs).
const (
	derMaxNameComponents = 32
	derMaxAuthzEntries   = 64
)

// errDERStrict marks a refusal of an input gokrb5 may take (see above).
var errDERStrict = errors.New("stricter than gokrb5")

func derStrict(format string, args ...any) error {
	return fmt.Errorf("%w: %s (%w)", ErrToken, fmt.Sprintf(format, args...), errDERStrict)
}

// derExplicit reads the explicit tag [n] at the head of b (the context
// class, constructed) and the one element it holds: that element's tag and
// content, and what follows [n].
func derExplicit(b []byte, n byte) (tag byte, content, rest []byte, err error) {
	t, wrap, rest, err := tlv(b)
	if err != nil {
		return 0, nil, nil, err
	}
	if t != 0xa0|n {
		return 0, nil, nil, tokenErr("field [%d] expected, tag 0x%02x found", n, t)
	}
	tag, content, after, err := tlv(wrap)
	if err != nil {
		return 0, nil, nil, err
	}
	if len(after) != 0 {
		return 0, nil, nil, derStrict("%d bytes after the element of [%d]", len(after), n)
	}
	return tag, content, rest, nil
}

// derHas reports whether b starts with the explicit tag [n].
func derHas(b []byte, n byte) bool { return len(b) > 0 && b[0] == 0xa0|n }

// derOptional reads the OPTIONAL explicit field [n], which holds an element
// of tag want: its content. gokrb5 takes an element of another type as the
// field's absence (and may then skip the rest of the SEQUENCE): strict.
func derOptional(b []byte, n, want byte) (content, rest []byte, err error) {
	tag, content, rest, err := derExplicit(b, n)
	if err == nil && tag != want {
		err = derStrict("OPTIONAL field [%d] holds an element of tag 0x%02x", n, tag)
	}
	return content, rest, err
}

// derEnd refuses bytes after the last field of a SEQUENCE.
func derEnd(rest []byte, what string) error {
	if len(rest) != 0 {
		return derStrict("%d bytes after the last field of %s", len(rest), what)
	}
	return nil
}

// derSeq reads the explicit tag [n] holding a SEQUENCE: its content.
func derSeq(b []byte, n byte) (content, rest []byte, err error) {
	tag, content, rest, err := derExplicit(b, n)
	if err == nil && tag != 0x30 {
		err = tokenErr("field [%d] is not a SEQUENCE (tag 0x%02x)", n, tag)
	}
	return content, rest, err
}

// derInt64 decodes an INTEGER of at most 8 octets, minimally encoded, as
// gokrb5 does for int and int64 fields.
func derInt64(tag byte, c []byte) (int64, error) {
	if tag != 0x02 {
		return 0, tokenErr("INTEGER expected, tag 0x%02x found", tag)
	}
	switch {
	case len(c) == 0:
		return 0, tokenErr("empty INTEGER")
	case len(c) > 8:
		return 0, tokenErr("INTEGER of %d octets", len(c))
	case len(c) > 1 && (c[0] == 0 && c[1]&0x80 == 0 || c[0] == 0xff && c[1]&0x80 != 0):
		return 0, tokenErr("INTEGER not minimally encoded")
	}
	v := int64(int8(c[0]))
	for _, x := range c[1:] {
		v = v<<8 | int64(x)
	}
	return v, nil
}

// derInt reads [n] INTEGER into an int64 within [lo, hi].
func derInt(b []byte, n byte, lo, hi int64) (v int64, rest []byte, err error) {
	tag, c, rest, err := derExplicit(b, n)
	if err != nil {
		return 0, nil, err
	}
	if v, err = derInt64(tag, c); err != nil {
		return 0, nil, err
	}
	if v < lo || v > hi {
		return 0, nil, tokenErr("INTEGER [%d] out of range", n)
	}
	return v, rest, nil
}

// derInt32 reads [n] INTEGER into an int32.
func derInt32(b []byte, n byte) (int32, []byte, error) {
	v, rest, err := derInt(b, n, math.MinInt32, math.MaxInt32)
	return int32(v), rest, err
}

// derIntField reads [n] INTEGER into an int.
func derIntField(b []byte, n byte) (int, []byte, error) {
	v, rest, err := derInt(b, n, math.MinInt, math.MaxInt) // gokrb5's int fields
	return int(v), rest, err
}

// derStringTag checks that an element is a GeneralString.
func derStringTag(tag byte) error {
	switch tag {
	case 0x1b:
		return nil
	case 0x0c, 0x13, 0x14, 0x16: // UTF8, Printable, T61, IA5
		return derStrict("KerberosString of type 0x%02x, not GeneralString", tag)
	}
	return tokenErr("string expected, tag 0x%02x found", tag)
}

// derString reads [n] GeneralString.
func derString(b []byte, n byte) (string, []byte, error) {
	tag, c, rest, err := derExplicit(b, n)
	if err != nil {
		return "", nil, err
	}
	if err := derStringTag(tag); err != nil {
		return "", nil, err
	}
	return string(c), rest, nil
}

// derOctets reads [n] OCTET STRING; the content aliases b.
func derOctets(b []byte, n byte) ([]byte, []byte, error) {
	tag, c, rest, err := derExplicit(b, n)
	if err == nil && tag != 0x04 {
		err = tokenErr("field [%d] is not an OCTET STRING (tag 0x%02x)", n, tag)
	}
	return c, rest, err
}

// derPrincipalName decodes the content of a PrincipalName SEQUENCE. The
// components are substrings of one string.
func derPrincipalName(b []byte) (types.PrincipalName, error) {
	var pn types.PrincipalName
	nt, b, err := derInt32(b, 0)
	if err != nil {
		return pn, err
	}
	seq, rest, err := derSeq(b, 1)
	if err != nil {
		return pn, err
	}
	if err := derEnd(rest, "a PrincipalName"); err != nil {
		return pn, err
	}
	n := 0
	for r := seq; len(r) > 0; n++ {
		if n == derMaxNameComponents {
			return pn, derStrict("a name of more than %d components", derMaxNameComponents)
		}
		tag, _, next, err := tlv(r)
		if err != nil {
			return pn, err
		}
		if err := derStringTag(tag); err != nil {
			return pn, err
		}
		r = next
	}
	if n == 0 {
		return pn, derStrict("a name without components")
	}
	all := string(seq)
	pn.NameType = nt
	pn.NameString = make([]string, n)
	for i, r := 0, seq; i < n; i++ {
		_, c, next, _ := tlv(r) // checked above
		end := len(seq) - len(next)
		pn.NameString[i] = all[end-len(c) : end]
		r = next
	}
	return pn, nil
}

// derEncryptedData decodes the content of an EncryptedData SEQUENCE.
func derEncryptedData(b []byte) (types.EncryptedData, error) {
	var ed types.EncryptedData
	var err error
	if ed.EType, b, err = derInt32(b, 0); err != nil {
		return ed, err
	}
	if derHas(b, 1) {
		var c []byte
		var v int64
		if c, b, err = derOptional(b, 1, 0x02); err != nil {
			return ed, err
		}
		if v, err = derInt64(0x02, c); err != nil {
			return ed, err
		}
		if v < math.MinInt || v > math.MaxInt {
			return ed, tokenErr("kvno out of range")
		}
		ed.KVNO = int(v)
	}
	if ed.Cipher, b, err = derOctets(b, 2); err != nil {
		return ed, err
	}
	return ed, derEnd(b, "an EncryptedData")
}

// derTypedOctets decodes the content of a SEQUENCE { [0] Int32, [1] OCTET
// STRING }: a Checksum, an EncryptionKey, an AuthorizationData entry.
func derTypedOctets(b []byte, what string) (int32, []byte, error) {
	t, b, err := derInt32(b, 0)
	if err != nil {
		return 0, nil, err
	}
	v, b, err := derOctets(b, 1)
	if err != nil {
		return 0, nil, err
	}
	return t, v, derEnd(b, what)
}

// derBitString decodes a BIT STRING as gokrb5 does (Bytes aliases c),
// with at least one octet of bits.
func derBitString(tag byte, c []byte) (asn1.BitString, error) {
	if tag != 0x03 {
		return asn1.BitString{}, tokenErr("BIT STRING expected, tag 0x%02x found", tag)
	}
	if len(c) == 0 {
		return asn1.BitString{}, tokenErr("empty BIT STRING")
	}
	pad := int(c[0])
	if pad > 7 || len(c) == 1 && pad > 0 || c[len(c)-1]&(1<<pad-1) != 0 {
		return asn1.BitString{}, tokenErr("invalid padding bits in BIT STRING")
	}
	if len(c) == 1 {
		return asn1.BitString{}, derStrict("KerberosFlags without flags")
	}
	return asn1.BitString{Bytes: c[1:], BitLength: (len(c)-1)*8 - pad}, nil
}

// derTime decodes a KerberosTime: a GeneralizedTime YYYYMMDDHHMMSSZ.
func derTime(tag byte, c []byte) (time.Time, error) {
	if tag != 0x18 {
		if tag == 0x17 {
			return time.Time{}, derStrict("KerberosTime is a UTCTime")
		}
		return time.Time{}, tokenErr("GeneralizedTime expected, tag 0x%02x found", tag)
	}
	if len(c) != 15 || c[14] != 'Z' {
		return time.Time{}, derStrict("KerberosTime %q not of the form YYYYMMDDHHMMSSZ", c)
	}
	var d [14]int
	for i, x := range c[:14] {
		if x < '0' || x > '9' {
			return time.Time{}, derStrict("KerberosTime %q not of the form YYYYMMDDHHMMSSZ", c)
		}
		d[i] = int(x - '0')
	}
	year := d[0]*1000 + d[1]*100 + d[2]*10 + d[3]
	mon, day := d[4]*10+d[5], d[6]*10+d[7]
	hh, mm, ss := d[8]*10+d[9], d[10]*10+d[11], d[12]*10+d[13]
	t := time.Date(year, time.Month(mon), day, hh, mm, ss, 0, time.UTC)
	if mon < 1 || mon > 12 || day < 1 || t.Day() != day || hh > 23 || mm > 59 || ss > 59 {
		return time.Time{}, tokenErr("KerberosTime %q is not a valid time", c)
	}
	return t, nil
}

// derApplication reads the [APPLICATION n] element at the head of b holding
// a SEQUENCE: the SEQUENCE's content and what follows the element.
func derApplication(b []byte, n byte, what string) (content, rest []byte, err error) {
	tag, app, rest, err := tlv(b)
	if err != nil {
		return nil, nil, err
	}
	if tag != 0x60|n {
		return nil, nil, tokenErr("%s expected ([APPLICATION %d]), tag 0x%02x found", what, n, tag)
	}
	tag, content, after, err := tlv(app)
	if err != nil {
		return nil, nil, err
	}
	if tag != 0x30 {
		return nil, nil, tokenErr("%s is not a SEQUENCE (tag 0x%02x)", what, tag)
	}
	if len(after) != 0 {
		return nil, nil, derStrict("%d bytes after the SEQUENCE of %s", len(after), what)
	}
	return content, rest, nil
}

// decodeAPReqDER decodes a KRB_AP_REQ into ap, as ap.Unmarshal does.
func decodeAPReqDER(b []byte, ap *messages.APReq) error {
	*ap = messages.APReq{}
	seq, rest, err := derApplication(b, 14, "AP-REQ")
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return derStrict("%d bytes after the AP-REQ", len(rest))
	}
	if ap.PVNO, seq, err = derIntField(seq, 0); err != nil {
		return err
	}
	if ap.MsgType, seq, err = derIntField(seq, 1); err != nil {
		return err
	}
	tag, c, seq, err := derExplicit(seq, 2)
	if err != nil {
		return err
	}
	if ap.APOptions, err = derBitString(tag, c); err != nil {
		return err
	}
	if tag, c, seq, err = tlv(seq); err != nil {
		return err
	}
	if tag != 0xa3 {
		return derStrict("the ticket is not under [3] (tag 0x%02x)", tag)
	}
	if err := derTicket(c, &ap.Ticket); err != nil {
		return err
	}
	if c, seq, err = derSeq(seq, 4); err != nil {
		return err
	}
	if ap.EncryptedAuthenticator, err = derEncryptedData(c); err != nil {
		return err
	}
	if err := derEnd(seq, "the AP-REQ"); err != nil {
		return err
	}
	if ap.MsgType != 14 {
		return tokenErr("AP-REQ of message type %d", ap.MsgType)
	}
	return nil
}

// derTicket decodes the element of the AP-REQ's [3]: a Ticket, exactly.
func derTicket(b []byte, t *messages.Ticket) error {
	seq, rest, err := derApplication(b, 1, "Ticket")
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return derStrict("%d bytes after the Ticket", len(rest))
	}
	if t.TktVNO, seq, err = derIntField(seq, 0); err != nil {
		return err
	}
	if t.Realm, seq, err = derString(seq, 1); err != nil {
		return err
	}
	c, seq, err := derSeq(seq, 2)
	if err != nil {
		return err
	}
	if t.SName, err = derPrincipalName(c); err != nil {
		return err
	}
	if c, seq, err = derSeq(seq, 3); err != nil {
		return err
	}
	if t.EncPart, err = derEncryptedData(c); err != nil {
		return err
	}
	return derEnd(seq, "the Ticket")
}

// decodeAuthenticatorDER decodes an Authenticator into a, as a.Unmarshal
// does. Bytes after it are ignored (block cipher padding).
func decodeAuthenticatorDER(b []byte, a *types.Authenticator) error {
	*a = types.Authenticator{}
	seq, _, err := derApplication(b, 2, "Authenticator")
	if err != nil {
		return err
	}
	if a.AVNO, seq, err = derIntField(seq, 0); err != nil {
		return err
	}
	if a.CRealm, seq, err = derString(seq, 1); err != nil {
		return err
	}
	c, seq, err := derSeq(seq, 2)
	if err != nil {
		return err
	}
	if a.CName, err = derPrincipalName(c); err != nil {
		return err
	}
	if derHas(seq, 3) {
		if c, seq, err = derOptional(seq, 3, 0x30); err != nil {
			return err
		}
		if a.Cksum.CksumType, a.Cksum.Checksum, err = derTypedOctets(c, "a Checksum"); err != nil {
			return err
		}
	}
	if a.Cusec, seq, err = derIntField(seq, 4); err != nil {
		return err
	}
	tag, c, seq, err := derExplicit(seq, 5)
	if err != nil {
		return err
	}
	if a.CTime, err = derTime(tag, c); err != nil {
		return err
	}
	return derAuthenticatorTail(seq, a)
}

// derAuthenticatorTail decodes the Authenticator's optional subkey[6],
// seq-number[7] and authorization-data[8].
func derAuthenticatorTail(seq []byte, a *types.Authenticator) error {
	var c []byte
	var err error
	if derHas(seq, 6) {
		if c, seq, err = derOptional(seq, 6, 0x30); err != nil {
			return err
		}
		if a.SubKey.KeyType, a.SubKey.KeyValue, err = derTypedOctets(c, "an EncryptionKey"); err != nil {
			return err
		}
	}
	if derHas(seq, 7) {
		if c, seq, err = derOptional(seq, 7, 0x02); err != nil {
			return err
		}
		if a.SeqNumber, err = derInt64(0x02, c); err != nil {
			return err
		}
	}
	if derHas(seq, 8) {
		if c, seq, err = derOptional(seq, 8, 0x30); err != nil {
			return err
		}
		if a.AuthorizationData, err = derAuthorizationData(c); err != nil {
			return err
		}
	}
	return derEnd(seq, "the Authenticator")
}

// derAuthorizationData decodes the content of an AuthorizationData
// (SEQUENCE OF SEQUENCE { ad-type[0], ad-data[1] }).
func derAuthorizationData(b []byte) (types.AuthorizationData, error) {
	n := 0
	for r := b; len(r) > 0; n++ {
		if n == derMaxAuthzEntries {
			return nil, derStrict("authorization-data of more than %d entries", derMaxAuthzEntries)
		}
		tag, _, next, err := tlv(r)
		if err != nil {
			return nil, err
		}
		if tag != 0x30 {
			return nil, tokenErr("authorization-data entry is not a SEQUENCE (tag 0x%02x)", tag)
		}
		r = next
	}
	ad := make(types.AuthorizationData, n)
	for i := range ad {
		_, c, next, _ := tlv(b)
		var err error
		if ad[i].ADType, ad[i].ADData, err = derTypedOctets(c, "an authorization-data entry"); err != nil {
			return nil, err
		}
		b = next
	}
	return ad, nil
}
