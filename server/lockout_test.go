package server

import (
	"net/netip"
	"testing"
	"time"
)

func TestLockoutNameFolding(t *testing.T) {
	// Spellings the test slapd binds as alice (see lockoutName), and more.
	for _, n := range []string{"alice", "Alice", " alice", "ALICE  ", "\talice\n",
		"ａｌｉｃｅ", "ＡＬＩＣＥ", "ａlice", "alicｅ", "𝐚lice", "𝑨LICE", "ⓐlice", "ªlice", "ALİCE", "alİce",
		"\u00a0alice", "alice\u3000", "\u2000Alice\u00a0", "al\u00adice", "ali\u200bce", "a\u200dlice", "alice\ufe0f"} {
		if got := lockoutName(n); got != "alice" {
			t.Errorf("lockoutName(%q) = %q", n, got)
		}
	}
	for _, pair := range [][2]string{{"straße", "STRASSE"}, {"ｊ　ｄｏｅ", "J  Doe"}, {"ΟΔΥΣΣΕΥΣ", "οδυσσευς"}} {
		if lockoutName(pair[0]) != lockoutName(pair[1]) {
			t.Errorf("lockoutName(%q) = %q, lockoutName(%q) = %q", pair[0], lockoutName(pair[0]), pair[1], lockoutName(pair[1]))
		}
	}
	// Names a directory keeps apart stay apart: accents, dotless i.
	for _, n := range []string{"alic", "a b", "álice", "a\u0301lice", "alıce", "al ice"} {
		if lockoutName(n) == "alice" {
			t.Errorf("lockoutName(%q) folded to alice", n)
		}
	}
	if lockoutName("a  b") != "a b" {
		t.Error("inner spaces not collapsed")
	}
}

// TestLockKeysShared: both stores are handed the key lockKeysFor derives,
// so look-alike spellings share one counter in memory and in Redis alike.
func TestLockKeysShared(t *testing.T) {
	p := LockPolicy{MaxFailures: 1, Window: time.Minute, Lockout: time.Minute, MaxLockout: time.Minute}
	s := &Server{o: Options{Lockout: &LockoutOptions{Principal: p, Address: p}}}
	a := s.lockKeysFor("alice", netip.MustParseAddr("192.0.2.1"))
	for _, n := range []string{"ａｌｉｃｅ", "𝐚lice", " ALİCE\u00a0"} {
		if b := s.lockKeysFor(n, netip.MustParseAddr("192.0.2.1")); b != a {
			t.Errorf("keys of %q = %+v, of alice %+v", n, b, a)
		}
	}
}
