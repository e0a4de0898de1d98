package kerberos

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/jcmturner/aescts/v2"
)

// ctsEncrypt and ctsDecrypt against gokrb5's aescts, for both AES key
// sizes and every length from one block to several: the one-block case,
// whole blocks (plain CBC with the last two swapped) and every partial
// last block.
func TestCTSMatchesAescts(t *testing.T) {
	for _, ks := range []int{16, 32} {
		key := make([]byte, ks)
		rand.Read(key)
		blk, err := aes.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		var iv [16]byte
		for n := 16; n <= 200; n++ {
			p := make([]byte, n)
			rand.Read(p)
			_, want, err := aescts.Encrypt(key, iv[:], p)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, n)
			ctsEncrypt(blk, got, p)
			if !bytes.Equal(got, want) {
				t.Fatalf("key %d bytes, length %d: encrypt %x, aescts %x", ks, n, got, want)
			}
			back := make([]byte, n)
			ctsDecrypt(blk, back, want)
			if !bytes.Equal(back, p) {
				t.Fatalf("key %d bytes, length %d: decrypt %x, want %x", ks, n, back, p)
			}
			// A random ciphertext decrypts as aescts decrypts it.
			c := make([]byte, n)
			rand.Read(c)
			ref, err := aescts.Decrypt(key, iv[:], c)
			if err != nil {
				t.Fatal(err)
			}
			ctsDecrypt(blk, back, c)
			if !bytes.Equal(back, ref) {
				t.Fatalf("key %d bytes, length %d: decrypt of random %x, aescts %x", ks, n, back, ref)
			}
		}
	}
}

// The RFC 3962 Appendix B test vectors (AES-128, the zero IV).
func TestCTSVectors(t *testing.T) {
	key := hexBytes(t, "636869636b656e207465726979616b69")
	in := hexBytes(t, "4920776f756c64206c696b652074686520"+"47656e6572616c20476175277320436869"+"636b656e2c20706c656173652c20616e64"+"20776f6e746f6e20736f75702e")
	for _, v := range []struct {
		n   int
		out string
	}{
		{17, "c6353568f2bf8cb4d8a580362da7ff7f97"},
		{31, "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5"},
		{32, "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584"},
		{47, "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5"},
		{48, "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5be7fcbcc98ebf5a8"},
		{64, "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8"},
	} {
		blk, _ := aes.NewCipher(key)
		got := make([]byte, v.n)
		ctsEncrypt(blk, got, in[:v.n])
		if want := hexBytes(t, v.out); !bytes.Equal(got, want) {
			t.Fatalf("length %d: %x, RFC 3962 %x", v.n, got, want)
		}
		back := make([]byte, v.n)
		ctsDecrypt(blk, back, got)
		if !bytes.Equal(back, in[:v.n]) {
			t.Fatalf("length %d: decrypts to %x", v.n, back)
		}
	}
}

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
