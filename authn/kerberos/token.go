package kerberos

import (
	"bytes"
	"errors"
	"fmt"
)

// Framing is how a Kerberos AP-REQ arrived.
type Framing int

// The framings Unwrap recognises.
const (
	// FrameRaw is a bare KRB_AP_REQ ([APPLICATION 14]).
	FrameRaw Framing = iota + 1
	// FrameGSS is an RFC 2743 InitialContextToken of the Kerberos V5 mech
	// (RFC 4121): 0x60, the mech OID, TOK_ID 01 00, the AP-REQ.
	FrameGSS
	// FrameSPNEGO is an RFC 4178 NegTokenInit whose mechToken is a FrameGSS
	// token for the first mech it proposes.
	FrameSPNEGO
)

func (f Framing) String() string {
	switch f {
	case FrameRaw:
		return "raw AP-REQ"
	case FrameGSS:
		return "GSS krb5"
	case FrameSPNEGO:
		return "SPNEGO"
	}
	return fmt.Sprintf("Framing(%d)", int(f))
}

// DER contents of the OIDs involved.
var (
	oidKRB5   = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02} // 1.2.840.113554.1.2.2
	oidMSKRB5 = []byte{0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02} // 1.2.840.48018.1.2.2 (Windows)
	oidSPNEGO = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}                   // 1.3.6.1.5.5.2
)

// Token is an unwrapped initial context token.
type Token struct {
	// APReq is the DER of the KRB_AP_REQ.
	APReq   []byte
	Framing Framing
	// Mech is the OID (DER contents) framing the client's krb5 GSS token:
	// the standard one, or Microsoft's when a client frames with it. The
	// AP-REP is framed with the same, as MIT's acceptor does (RFC 4121
	// 4.1: MIT's initiator refuses a reply framed with another).
	Mech []byte
	// NegMech is, for SPNEGO, the mech the client proposed first: the
	// reply's supportedMech. Windows lists MS-KRB5 (1.2.840.48018.1.2.2)
	// first while framing its token with the standard krb5 OID.
	NegMech []byte
	// MechTypes is the DER of the NegTokenInit's mechTypes (the SEQUENCE
	// OF OID with its header): what a mechListMIC covers (RFC 4178 5).
	MechTypes []byte
	// MechListMIC is the NegTokenInit's mechListMIC (an RFC 4121 MIC
	// token), nil when absent.
	MechListMIC []byte
}

// ErrToken reports a token that is not a Kerberos initial context token.
var ErrToken = errors.New("kerberos: malformed token")

func tokenErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrToken, fmt.Sprintf(format, args...))
}

// tlv reads one DER element with a one-byte tag and a definite length.
func tlv(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, tokenErr("truncated element")
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, tokenErr("multi-byte tag 0x%02x", tag)
	}
	n := int(b[1])
	p := 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(b) < 2+k {
			return 0, nil, nil, tokenErr("bad length of element 0x%02x", tag)
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		p += k
		if n < 0x80 || (k > 1 && b[2] == 0) {
			return 0, nil, nil, tokenErr("non-minimal length of element 0x%02x", tag)
		}
	}
	if n > len(b)-p {
		return 0, nil, nil, tokenErr("element 0x%02x of %d bytes runs past the end (%d left)", tag, n, len(b)-p)
	}
	return tag, b[p : p+n], b[p+n:], nil
}

// checkAPReq checks the DER frame of an AP-REQ strictly, since the ASN.1
// decoder behind gokrb5 tolerates trailing bytes inside explicit tags:
// [APPLICATION 14] SEQUENCE { [0] INTEGER, [1] INTEGER, [2] BIT STRING,
// [3] Ticket, [4] EncryptedData }, each field exactly filled.
func checkAPReq(b []byte) error {
	tag, app, rest, err := tlv(b)
	if err != nil {
		return err
	}
	if tag != 0x6e || len(rest) != 0 {
		return tokenErr("not an AP-REQ, or bytes after it")
	}
	tag, seq, rest, err := tlv(app)
	if err != nil {
		return err
	}
	if tag != 0x30 || len(rest) != 0 {
		return tokenErr("AP-REQ is not a SEQUENCE")
	}
	inner := [...]byte{0x02, 0x02, 0x03, 0x61, 0x30}
	for i, want := range inner {
		tag, field, r, err := tlv(seq)
		if err != nil {
			return err
		}
		if tag != 0xa0+byte(i) {
			return tokenErr("AP-REQ field %d has tag 0x%02x", i, tag)
		}
		t, _, r2, err := tlv(field)
		if err != nil {
			return err
		}
		if t != want || len(r2) != 0 {
			return tokenErr("AP-REQ field %d is malformed", i)
		}
		seq = r
	}
	if len(seq) != 0 {
		return tokenErr("bytes after the AP-REQ's fields")
	}
	return nil
}

func isKRB5(oid []byte) bool { return bytes.Equal(oid, oidKRB5) || bytes.Equal(oid, oidMSKRB5) }

// Unwrap finds the AP-REQ in a token: raw, GSS-framed or SPNEGO. It
// allocates nothing; the slices alias b.
func Unwrap(b []byte) (Token, error) {
	if len(b) == 0 {
		return Token{}, tokenErr("empty")
	}
	switch b[0] {
	case 0x6e: // [APPLICATION 14] KRB_AP_REQ
		if err := checkAPReq(b); err != nil {
			return Token{}, err
		}
		return Token{APReq: b, Framing: FrameRaw, Mech: oidKRB5}, nil
	case 0x60: // [APPLICATION 0] InitialContextToken
		_, inner, rest, err := tlv(b)
		if err != nil {
			return Token{}, err
		}
		if len(rest) != 0 {
			return Token{}, tokenErr("%d bytes after the GSS token", len(rest))
		}
		tag, oid, body, err := tlv(inner)
		if err != nil {
			return Token{}, err
		}
		if tag != 0x06 {
			return Token{}, tokenErr("GSS token without a mech OID")
		}
		switch {
		case isKRB5(oid):
			if len(body) < 2 || body[0] != 0x01 || body[1] != 0x00 {
				return Token{}, tokenErr("krb5 GSS token is not an AP-REQ (TOK_ID 01 00)")
			}
			ap := body[2:]
			if len(ap) == 0 || ap[0] != 0x6e {
				return Token{}, tokenErr("krb5 GSS token does not carry an AP-REQ")
			}
			if err := checkAPReq(ap); err != nil {
				return Token{}, err
			}
			return Token{APReq: ap, Framing: FrameGSS, Mech: oid}, nil
		case bytes.Equal(oid, oidSPNEGO):
			return unwrapNegTokenInit(body)
		}
		return Token{}, tokenErr("GSS token of a mech other than Kerberos V5 (NTLM?)")
	case 0xa1:
		return Token{}, tokenErr("SPNEGO NegTokenResp: a continuation, not an initial token")
	}
	return Token{}, tokenErr("unknown token type 0x%02x", b[0])
}

// unwrapNegTokenInit reads NegotiationToken ::= CHOICE { negTokenInit [0] NegTokenInit, ... }.
func unwrapNegTokenInit(b []byte) (Token, error) {
	tag, init, rest, err := tlv(b)
	if err != nil {
		return Token{}, err
	}
	if tag != 0xa0 || len(rest) != 0 {
		return Token{}, tokenErr("SPNEGO token is not a NegTokenInit")
	}
	tag, seq, rest, err := tlv(init)
	if err != nil {
		return Token{}, err
	}
	if tag != 0x30 || len(rest) != 0 {
		return Token{}, tokenErr("NegTokenInit is not a SEQUENCE")
	}
	var firstMech, mechTypes, mechToken, mic []byte
	last := -1
	for len(seq) > 0 {
		tag, field, r, err := tlv(seq)
		if err != nil {
			return Token{}, err
		}
		seq = r
		n := int(tag) - 0xa0
		if n < 0 || n > 4 || n <= last {
			return Token{}, tokenErr("NegTokenInit field 0x%02x out of order", tag)
		}
		last = n
		switch n {
		case 0: // mechTypes [0] SEQUENCE OF OID
			mechTypes = field
			t, list, r2, err := tlv(field)
			if err != nil {
				return Token{}, err
			}
			if t != 0x30 || len(r2) != 0 {
				return Token{}, tokenErr("NegTokenInit mechTypes is not a SEQUENCE")
			}
			t, oid, _, err := tlv(list)
			if err != nil {
				return Token{}, err
			}
			if t != 0x06 {
				return Token{}, tokenErr("NegTokenInit mechTypes holds a non-OID")
			}
			firstMech = oid
		case 2: // mechToken [2] OCTET STRING
			t, tok, r2, err := tlv(field)
			if err != nil {
				return Token{}, err
			}
			if t != 0x04 || len(r2) != 0 {
				return Token{}, tokenErr("NegTokenInit mechToken is not an OCTET STRING")
			}
			mechToken = tok
		case 3, 4: // mechListMIC [3] OCTET STRING; [3] is negHints and [4] the MIC in MS-SPNG's NegTokenInit2
			t, v, r2, err := tlv(field)
			if err != nil {
				return Token{}, err
			}
			if len(r2) != 0 || (t != 0x04 && !(n == 3 && t == 0x30)) {
				return Token{}, tokenErr("NegTokenInit field %d is malformed", n)
			}
			if t == 0x04 {
				if mic != nil {
					return Token{}, tokenErr("NegTokenInit with two mechListMICs")
				}
				mic = v
			}
		}
	}
	if firstMech == nil {
		return Token{}, tokenErr("NegTokenInit without mechTypes")
	}
	if !isKRB5(firstMech) {
		return Token{}, tokenErr("SPNEGO prefers a mech other than Kerberos V5 (NTLM?)")
	}
	if mechToken == nil {
		return Token{}, tokenErr("NegTokenInit without an optimistic Kerberos token")
	}
	if len(mechToken) == 0 || mechToken[0] != 0x60 {
		return Token{}, tokenErr("SPNEGO mechToken is not a GSS krb5 token")
	}
	t, err := Unwrap(mechToken)
	if err != nil {
		return Token{}, err
	}
	if t.Framing != FrameGSS {
		return Token{}, tokenErr("SPNEGO inside SPNEGO")
	}
	t.Framing = FrameSPNEGO
	t.NegMech, t.MechTypes, t.MechListMIC = firstMech, mechTypes, mic
	return t, nil
}

func appendLen(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	default:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// WrapReply frames an AP-REP the way the AP-REQ came: raw, as a krb5 GSS
// token (TOK_ID 02 00) framed with the OID of the client's token, or inside
// an SPNEGO NegTokenResp. The NegTokenResp has negState accept-completed,
// supportedMech the mech the client proposed first (Token.NegMech: for
// Windows MS-KRB5, while the AP-REP inside stays framed with the OID of its
// token, the standard one), the AP-REP as responseToken unless aprep is nil
// (no mutual authentication: the final token only completes the client's
// SPNEGO context) and mic as mechListMIC unless nil.
func WrapReply(t Token, aprep, mic []byte) []byte {
	mech := t.Mech
	if mech == nil {
		mech = oidKRB5
	}
	if aprep != nil && t.Framing == FrameRaw {
		return aprep
	}
	// The GSS token's length, then (SPNEGO) the NegTokenResp's: one
	// buffer of the exact size, written in order.
	gssBody, gss := 0, 0
	if aprep != nil {
		gssBody = tlvLen(len(mech)) + 2 + len(aprep)
		gss = tlvLen(gssBody)
	}
	if t.Framing != FrameSPNEGO {
		if aprep == nil {
			return nil
		}
		return appendGSS(make([]byte, 0, gss), mech, gssBody, aprep)
	}
	neg := t.NegMech
	if neg == nil {
		neg = mech
	}
	fields := len(negAcceptCompleted) + tlvLen(tlvLen(len(neg)))
	if aprep != nil {
		fields += tlvLen(tlvLen(gss))
	}
	if mic != nil {
		fields += tlvLen(tlvLen(len(mic)))
	}
	b := make([]byte, 0, tlvLen(tlvLen(fields)))
	b = appendHeader(b, 0xa1, tlvLen(fields))
	b = appendHeader(b, 0x30, fields)
	b = append(b, negAcceptCompleted...)
	b = appendHeader(b, 0xa1, tlvLen(len(neg)))
	b = appendHeader(b, 0x06, len(neg))
	b = append(b, neg...)
	if aprep != nil {
		b = appendHeader(b, 0xa2, tlvLen(gss))
		b = appendHeader(b, 0x04, gss)
		b = appendGSS(b, mech, gssBody, aprep)
	}
	if mic != nil {
		b = appendHeader(b, 0xa3, tlvLen(len(mic)))
		b = appendHeader(b, 0x04, len(mic))
		b = append(b, mic...)
	}
	return b
}

// negAcceptCompleted is a NegTokenResp's negState field, accept-completed.
var negAcceptCompleted = []byte{0xa0, 0x03, 0x0a, 0x01, 0x00}

// appendGSS appends the GSS framing of a krb5 AP-REP (RFC 2743 3.1, RFC
// 1964 1.1: the mech OID, TOK_ID 02 00); body is its content's length.
func appendGSS(b, mech []byte, body int, aprep []byte) []byte {
	b = appendHeader(b, 0x60, body)
	b = appendHeader(b, 0x06, len(mech))
	b = append(b, mech...)
	b = append(b, 0x02, 0x00)
	return append(b, aprep...)
}
