package kerberos

import (
	"time"

	"github.com/jcmturner/gokrb5/v8/types"
)

// The AP-REP of HTTP Negotiate's mutual authentication (RFC 4120 5.5.2),
// DER-encoded by hand: it has four fixed fields, and gokrb5's reflective
// ASN.1 marshaller (struct tags parsed with strings.Split, reflect.DeepEqual
// for every OPTIONAL field) cost as much as the rest of the reply. The
// output is byte for byte what asn1.Marshal with gokrb5's types gives
// (TestAPRepDER compares them).
//
//	EncAPRepPart ::= [APPLICATION 27] SEQUENCE {
//	        ctime      [0] KerberosTime,
//	        cusec      [1] Microseconds,
//	        subkey     [2] EncryptionKey OPTIONAL,  -- never sent
//	        seq-number [3] UInt32 OPTIONAL }        -- absent when 0, as gokrb5 does
//	AP-REP ::= [APPLICATION 15] SEQUENCE {
//	        pvno    [0] INTEGER (5),
//	        msg-type [1] INTEGER (15),
//	        enc-part [2] EncryptedData }
//	EncryptedData ::= SEQUENCE {
//	        etype  [0] Int32,
//	        kvno   [1] UInt32 OPTIONAL,             -- absent when 0, as gokrb5 does
//	        cipher [2] OCTET STRING }

// encAPRepPart is the DER of an EncAPRepPart with ctime (UTC), cusec and seq.
func encAPRepPart(ctime time.Time, cusec int, seq int64) []byte {
	var body []byte
	body = appendExplicit(body, 0, appendGeneralizedTime(nil, ctime))
	body = appendExplicit(body, 1, appendInteger(nil, int64(cusec)))
	if seq != 0 {
		body = appendExplicit(body, 3, appendInteger(nil, seq))
	}
	return appendTLV(nil, 0x60|27, appendTLV(nil, 0x30, body))
}

// apRepDER is the DER of an AP-REP whose enc-part is ed.
func apRepDER(ed types.EncryptedData) []byte {
	var e []byte
	e = appendExplicit(e, 0, appendInteger(nil, int64(ed.EType)))
	if ed.KVNO != 0 {
		e = appendExplicit(e, 1, appendInteger(nil, int64(ed.KVNO)))
	}
	e = appendExplicit(e, 2, appendTLV(nil, 0x04, ed.Cipher))
	var body []byte
	body = appendExplicit(body, 0, appendInteger(nil, 5))
	body = appendExplicit(body, 1, appendInteger(nil, 15))
	body = appendExplicit(body, 2, appendTLV(nil, 0x30, e))
	return appendTLV(nil, 0x60|15, appendTLV(nil, 0x30, body))
}

// appendExplicit appends content under the context tag [n] (constructed);
// appendTLV (token.go) writes minimal definite lengths.
func appendExplicit(b []byte, n byte, content []byte) []byte {
	return appendTLV(b, 0xa0|n, content)
}

// appendInteger appends a DER INTEGER: two's complement, minimal octets.
func appendInteger(b []byte, v int64) []byte {
	n := 1
	for w := v; w > 127 || w < -128; w >>= 8 {
		n++
	}
	b = append(b, 0x02, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// appendGeneralizedTime appends a KerberosTime: GeneralizedTime
// YYYYMMDDHHMMSSZ, no fraction.
func appendGeneralizedTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	return appendTLV(b, 0x18, t.AppendFormat(make([]byte, 0, 15), "20060102150405Z"))
}
