package replay

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestFoldName: the fast path returns what the full fold returns.
func TestFoldName(t *testing.T) {
	for _, s := range []string{"alice", "Alice", " alice", "alice ", "a  b", "a b", "a\tb", "ALICE@EXAMPLE.COM",
		"alice@EXAMPLE.com", "ålice", "Ålice", "x", "", "a\u00a0b", "svc/host@REALM", "a b c"} {
		want := strings.ToLower(strings.Join(strings.Fields(s), " "))
		if got := foldName(s); got != want {
			t.Errorf("foldName(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestFoldNameASCII: the one-pass ASCII fold returns what the full fold
// returns, for random strings over letters of both cases, white space of
// every kind strings.Fields knows, and other ASCII bytes.
func TestFoldNameASCII(t *testing.T) {
	const alphabet = "aZ@. \t\n\v\f\r\x01~"
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(b)
		if got, want := foldName(s), strings.ToLower(strings.Join(strings.Fields(s), " ")); got != want {
			t.Fatalf("foldName(%q) = %q, want %q", s, got, want)
		}
	}
}
