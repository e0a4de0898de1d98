package wsse

import "testing"

// TestNameClass: the lookup table classifies every byte as the XML name
// rules this tokenizer applies say.
func TestNameClass(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		start := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b == ':' || b >= 0x80
		char := start || b >= '0' && b <= '9' || b == '-' || b == '.'
		if isNameStart(b) != start || isNameChar(b) != char {
			t.Errorf("byte %#02x: start %v char %v, want %v %v", b, isNameStart(b), isNameChar(b), start, char)
		}
	}
}
