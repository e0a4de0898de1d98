package lockout

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestLockoutNameFolding(t *testing.T) {
	// Spellings the test slapd binds as alice (see Name), and more.
	for _, n := range []string{"alice", "Alice", " alice", "ALICE  ", "\talice\n",
		"ａｌｉｃｅ", "ＡＬＩＣＥ", "ａlice", "alicｅ", "𝐚lice", "𝑨LICE", "ⓐlice", "ªlice", "ALİCE", "alİce",
		"\u00a0alice", "alice\u3000", "\u2000Alice\u00a0", "al\u00adice", "ali\u200bce", "a\u200dlice", "alice\ufe0f"} {
		if got := Name(n); got != "alice" {
			t.Errorf("Name(%q) = %q", n, got)
		}
	}
	for _, pair := range [][2]string{{"straße", "STRASSE"}, {"ｊ　ｄｏｅ", "J  Doe"}, {"ΟΔΥΣΣΕΥΣ", "οδυσσευς"}} {
		if Name(pair[0]) != Name(pair[1]) {
			t.Errorf("Name(%q) = %q, Name(%q) = %q", pair[0], Name(pair[0]), pair[1], Name(pair[1]))
		}
	}
	// Names a directory keeps apart stay apart: accents, dotless i.
	for _, n := range []string{"alic", "a b", "álice", "a\u0301lice", "alıce", "al ice"} {
		if Name(n) == "alice" {
			t.Errorf("Name(%q) folded to alice", n)
		}
	}
	if Name("a  b") != "a b" {
		t.Error("inner spaces not collapsed")
	}
}

// TestLockKeysShared: both stores are handed the key KeysFor derives,
// so look-alike spellings share one counter in memory and in Redis alike.
func TestLockKeysShared(t *testing.T) {
	p := Policy{MaxFailures: 1, Window: time.Minute, Lockout: time.Minute, MaxLockout: time.Minute}
	g, err := New(Options{Principal: p, Address: p}, Hooks{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := g.KeysFor("alice", netip.MustParseAddr("192.0.2.1"))
	for _, n := range []string{"ａｌｉｃｅ", "𝐚lice", " ALİCE\u00a0"} {
		if b := g.KeysFor(n, netip.MustParseAddr("192.0.2.1")); b != a {
			t.Errorf("keys of %q = %+v, of alice %+v", n, b, a)
		}
	}
}

func TestMemoryLockoutPolicy(t *testing.T) {
	st := NewMemory(0)
	p := Policy{MaxFailures: 3, Window: time.Minute, Lockout: 10 * time.Second, MaxLockout: 25 * time.Second}
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 2; i++ {
		if locked, _ := st.Fail(ctx, "k", p, now); locked {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	if locked, _ := st.Fail(ctx, "k", p, now); !locked {
		t.Fatal("not locked after 3 failures")
	}
	if locked, _, _ := st.Status(ctx, "k", now.Add(9*time.Second)); !locked {
		t.Error("lock ended early")
	}
	now = now.Add(10 * time.Second)
	if locked, _, _ := st.Status(ctx, "k", now); locked {
		t.Error("lock did not end")
	}
	// One more failure locks again, twice as long; then the cap.
	if locked, _ := st.Fail(ctx, "k", p, now); !locked {
		t.Fatal("no back-off lock")
	}
	if locked, _, _ := st.Status(ctx, "k", now.Add(19*time.Second)); !locked {
		t.Error("second lock shorter than 20s")
	}
	now = now.Add(20 * time.Second)
	st.Fail(ctx, "k", p, now)
	if locked, _, _ := st.Status(ctx, "k", now.Add(24*time.Second)); !locked {
		t.Error("third lock shorter than the cap")
	}
	if locked, _, _ := st.Status(ctx, "k", now.Add(25*time.Second)); locked {
		t.Error("third lock longer than max_lockout")
	}
	// Failures are forgotten a window after the last one.
	now = now.Add(25*time.Second + time.Minute)
	if locked, failures, _ := st.Status(ctx, "k", now); locked || failures {
		t.Errorf("not forgotten: locked %v failures %v", locked, failures)
	}
	if st.Len() != 0 {
		t.Errorf("expired entry kept")
	}
}

func TestMemoryLockoutBounded(t *testing.T) {
	st := NewMemory(100)
	p := Policy{MaxFailures: 1, Window: time.Hour, Lockout: time.Hour, MaxLockout: time.Hour}
	now := time.Now()
	for i := 0; i < 1000; i++ {
		st.Fail(context.Background(), strings.Repeat("x", i%50)+string(rune('a'+i%26))+time.Duration(i).String(), p, now)
	}
	if st.Len() > 100 {
		t.Fatalf("%d entries, max 100", st.Len())
	}
}
