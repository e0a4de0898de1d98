package logsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"alice", 5, "alice"},
		{"alice", 10, "alice"},
		{"alice", 3, "ali…[2 more bytes]"},
		{"", 0, ""},
		{"ab", 0, "…[2 more bytes]"},
		// "é" is two bytes: never cut inside it.
		{"aé", 2, "a…[2 more bytes]"},
		{"𝐚lice", 3, "…[8 more bytes]"},
	} {
		if got := Clip(tc.in, tc.max); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
	long := strings.Repeat("ü", 200000)
	got := Clip(long, MaxName)
	if len(got) > MaxName+32 || !utf8.ValidString(got) {
		t.Errorf("Clip of %d bytes: %d bytes, valid UTF-8 %v", len(long), len(got), utf8.ValidString(got))
	}
}
