package sha1chain

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"testing"
)

// reference is the chain as the profile defines it, one crypto/sha1 call
// per step.
func reference(k [sha1.Size]byte, n int) [sha1.Size]byte {
	for i := 0; i < n; i++ {
		k = sha1.Sum(k[:])
	}
	return k
}

// TestAccelerated says which implementation the tests below exercise, and
// fails, when the assembly is built in, on an amd64 CPU that announces the SHA extensions in
// /proc/cpuinfo but was not detected.
func TestAccelerated(t *testing.T) {
	t.Logf("SHA extensions used: %v", Accelerated())
	if asmBuilt && hasSHANIFlag() && !Accelerated() {
		t.Error("/proc/cpuinfo lists sha_ni and sse4_1, but Chain does not use them")
	}
}

func TestChainMatchesCryptoSHA1(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 16, 999, 1000, 1001, 4096} {
		var k [sha1.Size]byte
		rand.Read(k[:])
		if got, want := Chain(k, n), reference(k, n); got != want {
			t.Errorf("n=%d k=%x: got %x, want %x", n, k, got, want)
		}
	}
	// Special digests: zeros, ones, and the words that stress the
	// padding word and the carries of the final additions.
	for _, k := range [][sha1.Size]byte{{}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {19: 1}, {16: 0x80}} {
		for _, n := range []int{1, 2, 50} {
			if got, want := Chain(k, n), reference(k, n); got != want {
				t.Errorf("n=%d k=%x: got %x, want %x", n, k, got, want)
			}
		}
	}
}

// TestChainKnownAnswer pins one value computed independently:
// sha1sum of the 20 zero bytes is 6768033e216468247bd031a0a2d9876d79818f8f.
func TestChainKnownAnswer(t *testing.T) {
	var zero [sha1.Size]byte
	got := Chain(zero, 1)
	if h := hex.EncodeToString(got[:]); h != "6768033e216468247bd031a0a2d9876d79818f8f" {
		t.Fatalf("SHA-1 of 20 zero bytes: got %s", h)
	}
}

func TestChainZeroAndNegative(t *testing.T) {
	k := [sha1.Size]byte{1, 2, 3}
	for _, n := range []int{0, -1, -1 << 40} {
		if got := Chain(k, n); got != k {
			t.Errorf("n=%d: got %x, want k unchanged", n, got)
		}
	}
}

func FuzzChain(f *testing.F) {
	f.Add(make([]byte, 20), uint16(1))
	f.Add([]byte("0123456789abcdefghij"), uint16(1000))
	f.Fuzz(func(t *testing.T, b []byte, n uint16) {
		var k [sha1.Size]byte
		copy(k[:], b)
		m := int(n % 2048)
		if got, want := Chain(k, m), reference(k, m); got != want {
			t.Fatalf("n=%d k=%x: got %x, want %x", m, k, got, want)
		}
	})
}

func BenchmarkChain1000(b *testing.B) {
	var k [sha1.Size]byte
	for b.Loop() {
		k = Chain(k, 1000)
	}
}

func BenchmarkReference1000(b *testing.B) {
	var k [sha1.Size]byte
	for b.Loop() {
		k = reference(k, 1000)
	}
}
