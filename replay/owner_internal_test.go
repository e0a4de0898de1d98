package replay

import (
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
