package wsse

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// validTextNaive is validText one rune at a time.
func validTextNaive(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 || !validXMLChar(r) {
			return false
		}
		b = b[n:]
	}
	return true
}

// TestValidTextWords compares validText, which reads words of eight bytes,
// with a rune-at-a-time check, on strings of 0 to 40 bytes with a few
// special bytes at random places.
func TestValidTextWords(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte{0, 0x1f, '\t', '\n', '\r', 0x7f, 0x80, 0xbf, 0xc3, 0xa9, 0xef, 0xbf, 0xbe, 0xed, 0xa0, 0xf4, 0x90, 0xff}
	buf := make([]byte, 40)
	for range 200000 {
		n := rng.IntN(len(buf) + 1)
		for i := range buf[:n] {
			buf[i] = byte(0x20 + rng.IntN(0x5f))
		}
		for range rng.IntN(3) {
			if n > 0 {
				buf[rng.IntN(n)] = special[rng.IntN(len(special))]
			}
		}
		if n >= 2 && rng.IntN(4) == 0 {
			copy(buf[rng.IntN(n-1):], "é")
		}
		if got, want := validText(buf[:n]), validTextNaive(buf[:n]); got != want {
			t.Fatalf("validText(%q) = %v, want %v", buf[:n], got, want)
		}
	}
}
