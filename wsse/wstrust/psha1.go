package wstrust

import (
	"crypto/hmac"
	"crypto/sha1"
)

// PSHA1 returns the first n bytes of P_SHA1(secret, seed) as TLS 1.0
// defines it (RFC 2246, section 5): A(0) = seed, A(i) = HMAC-SHA1(secret,
// A(i-1)), output HMAC-SHA1(secret, A(1) + seed) + HMAC-SHA1(secret, A(2) +
// seed) + ...
//
// WS-Trust's computed key is PSHA1(client entropy, server entropy, keyBytes):
// the requestor's entropy is the secret, the issuer's the seed. WS-SC's
// derived key is PSHA1(context secret, label + nonce, offset + length)
// from offset on.
func PSHA1(secret, seed []byte, n int) []byte {
	out := make([]byte, 0, n+sha1.Size)
	m := hmac.New(sha1.New, secret)
	m.Write(seed)
	a := m.Sum(nil)
	for len(out) < n {
		m.Reset()
		m.Write(a)
		m.Write(seed)
		out = m.Sum(out)
		m.Reset()
		m.Write(a)
		a = m.Sum(a[:0])
	}
	return out[:n]
}
