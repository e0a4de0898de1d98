// Package sha1chain computes chained SHA-1 (K_n = SHA-1(K_n-1) over the
// 20 bytes of the previous digest), the inner loop of the UsernameToken
// Profile 1.1 key derivation. crypto/sha1 costs about twice the compression
// itself per call on a 20-byte message (digest setup, padding, the final
// copy); on amd64 CPUs with the SHA extensions the chain runs in registers
// instead: the message of each step is the previous digest plus constant
// padding, so nothing leaves the vector registers between steps. Elsewhere
// it is crypto/sha1 in a loop.
package sha1chain

import (
	"crypto/sha1"
	"encoding/binary"
)

// Chain returns k hashed n more times: SHA-1(SHA-1(...SHA-1(k))). n < 1
// returns k.
func Chain(k [sha1.Size]byte, n int) [sha1.Size]byte {
	if n < 1 {
		return k
	}
	if !accelerated {
		return chainGeneric(k, n)
	}
	var h [5]uint32
	for i := range h {
		h[i] = binary.BigEndian.Uint32(k[4*i:])
	}
	chainSHANI(&h, n)
	var out [sha1.Size]byte
	for i := range h {
		binary.BigEndian.PutUint32(out[4*i:], h[i])
	}
	return out
}

// Accelerated reports whether Chain uses the SHA extensions.
func Accelerated() bool { return accelerated }

func chainGeneric(k [sha1.Size]byte, n int) [sha1.Size]byte {
	for i := 0; i < n; i++ {
		k = sha1.Sum(k[:])
	}
	return k
}
