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

// Each message is written into one buffer of its exact size: the lengths
// are worked out first (tlvLen), then the headers and contents appended in
// order, with no intermediate slice per field.

// encAPRepPart is the DER of an EncAPRepPart with ctime (UTC), cusec and seq.
func encAPRepPart(ctime time.Time, cusec int, seq int64) []byte {
	var tb [32]byte
	gt := kerberosTime(tb[:0], ctime)
	body := tlvLen(tlvLen(len(gt))) + tlvLen(intLen(int64(cusec)))
	if seq != 0 {
		body += tlvLen(intLen(seq))
	}
	b := make([]byte, 0, tlvLen(tlvLen(body)))
	b = appendHeader(b, 0x60|27, tlvLen(body))
	b = appendHeader(b, 0x30, body)
	b = appendHeader(b, 0xa0, tlvLen(len(gt)))
	b = appendHeader(b, 0x18, len(gt))
	b = append(b, gt...)
	b = appendHeader(b, 0xa1, intLen(int64(cusec)))
	b = appendInteger(b, int64(cusec))
	if seq != 0 {
		b = appendHeader(b, 0xa3, intLen(seq))
		b = appendInteger(b, seq)
	}
	return b
}

// apRepDER is the DER of an AP-REP whose enc-part is ed.
func apRepDER(ed types.EncryptedData) []byte {
	enc := tlvLen(intLen(int64(ed.EType))) + tlvLen(tlvLen(len(ed.Cipher)))
	if ed.KVNO != 0 {
		enc += tlvLen(intLen(int64(ed.KVNO)))
	}
	body := tlvLen(intLen(5)) + tlvLen(intLen(15)) + tlvLen(tlvLen(enc))
	b := make([]byte, 0, tlvLen(tlvLen(body)))
	b = appendHeader(b, 0x60|15, tlvLen(body))
	b = appendHeader(b, 0x30, body)
	b = appendHeader(b, 0xa0, intLen(5))
	b = appendInteger(b, 5)
	b = appendHeader(b, 0xa1, intLen(15))
	b = appendInteger(b, 15)
	b = appendHeader(b, 0xa2, tlvLen(enc))
	b = appendHeader(b, 0x30, enc)
	b = appendHeader(b, 0xa0, intLen(int64(ed.EType)))
	b = appendInteger(b, int64(ed.EType))
	if ed.KVNO != 0 {
		b = appendHeader(b, 0xa1, intLen(int64(ed.KVNO)))
		b = appendInteger(b, int64(ed.KVNO))
	}
	b = appendHeader(b, 0xa2, tlvLen(len(ed.Cipher)))
	b = appendHeader(b, 0x04, len(ed.Cipher))
	return append(b, ed.Cipher...)
}

// tlvLen is the length of a TLV with n bytes of content (appendLen's
// minimal definite length).
func tlvLen(n int) int {
	switch {
	case n < 0x80:
		return 2 + n
	case n < 0x100:
		return 3 + n
	case n < 0x10000:
		return 4 + n
	}
	return 5 + n
}

// appendHeader appends the tag and length of a TLV with n bytes of content.
func appendHeader(b []byte, tag byte, n int) []byte { return appendLen(append(b, tag), n) }

// intLen is the length of appendInteger's TLV for v.
func intLen(v int64) int {
	n := 1
	for w := v; w > 127 || w < -128; w >>= 8 {
		n++
	}
	return 2 + n
}

// appendInteger appends a DER INTEGER: two's complement, minimal octets.
func appendInteger(b []byte, v int64) []byte {
	n := intLen(v) - 2
	b = append(b, 0x02, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// kerberosTime appends a KerberosTime's content: GeneralizedTime
// YYYYMMDDHHMMSSZ (UTC, no fraction).
func kerberosTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "20060102150405Z")
}
