package kerberos

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// AES in CBC mode with ciphertext stealing and a zero IV, as RFC 3962
// section 5 uses it (CBC-CS3: for two blocks or more the last two
// ciphertext blocks are swapped and the final one cut to the plaintext's
// length), over a cipher.Block made once per derived key. gokrb5's aescts
// makes a new AES key schedule and CBC modes, and copies the input, on
// every call; this does neither. Both work on inputs of at least one block
// (a Kerberos ciphertext always starts with a one-block confounder).
// TestCTSMatchesAescts checks them against aescts both ways.

const bs = aes.BlockSize

// ctsEncrypt writes the encryption of p (len(p) >= bs) to dst, which has
// len(p) bytes and does not overlap p. It works in dst alone: a scratch
// block on the stack would escape to the heap through the cipher.Block
// interface.
func ctsEncrypt(b cipher.Block, dst, p []byte) {
	n := len(p)
	if n == bs {
		b.Encrypt(dst, p)
		return
	}
	full := (n - 1) / bs // blocks before the last (partial or whole) one
	r := n - full*bs     // bytes in the last block, 1..bs
	for i := 0; i < full; i++ {
		blk := dst[i*bs : (i+1)*bs]
		if i == 0 {
			copy(blk, p[:bs]) // the zero IV
		} else {
			subtle.XORBytes(blk, p[i*bs:(i+1)*bs], dst[(i-1)*bs:i*bs])
		}
		b.Encrypt(blk, blk)
	}
	// The last block, zero-padded, chains to C[full-1], which then
	// closes the output cut to r bytes.
	blk := dst[(full-1)*bs : full*bs]
	copy(dst[full*bs:], blk[:r])
	subtle.XORBytes(blk[:r], blk[:r], p[full*bs:])
	b.Encrypt(blk, blk)
}

// ctsDecrypt writes the decryption of c (len(c) >= bs) to dst, which has
// len(c) bytes and does not overlap c. Like ctsEncrypt it works in dst.
func ctsDecrypt(b cipher.Block, dst, c []byte) {
	n := len(c)
	if n == bs {
		b.Decrypt(dst, c)
		return
	}
	full := (n - 1) / bs
	r := n - full*bs
	for i := 0; i < full-1; i++ {
		blk := dst[i*bs : (i+1)*bs]
		b.Decrypt(blk, c[i*bs:(i+1)*bs])
		if i > 0 {
			subtle.XORBytes(blk, blk, c[(i-1)*bs:i*bs])
		}
	}
	// c[(full-1)*bs:full*bs] encrypts the padded last block chained to
	// C[full-1]: its decryption is the last plaintext XOR C[full-1], and
	// past r bytes (zero padding) C[full-1] itself, whose first r bytes
	// close the ciphertext.
	blk := dst[(full-1)*bs : full*bs]
	b.Decrypt(blk, c[(full-1)*bs:full*bs])
	subtle.XORBytes(dst[full*bs:], blk[:r], c[full*bs:])
	copy(blk[:r], c[full*bs:]) // blk is now C[full-1]
	b.Decrypt(blk, blk)
	if full > 1 {
		subtle.XORBytes(blk, blk, c[(full-2)*bs:(full-1)*bs])
	}
}
