package server

import "testing"

func TestLockoutNameFolding(t *testing.T) {
	for _, n := range []string{"alice", "Alice", " alice", "ALICE  ", "\talice\n"} {
		if got := lockoutName(n); got != "alice" {
			t.Errorf("lockoutName(%q) = %q", n, got)
		}
	}
	if lockoutName("a  b") != "a b" || lockoutName("alice") == lockoutName("alic") {
		t.Error("folding changed distinct names")
	}
}
