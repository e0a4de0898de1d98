package redis

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sct/scttest"
)

// TestUnmarshalHostile: the plaintext decoder (reached only after GCM has
// authenticated the record, so a last line of defence) returns an error,
// never a context or a panic, for every truncation, every extension and
// random bytes; and counts that claim more elements than bytes remain
// allocate nothing large.
func TestUnmarshalHostile(t *testing.T) {
	c := scttest.New(scttest.RandIssuer(), time.Hour)
	c.Subject.Attributes["second"] = []string{"x", "y"}
	b := marshal(c)
	got, err := unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	scttest.Equal(t, got, c)
	for n := 0; n < len(b); n++ {
		if c, err := unmarshal(b[:n:n]); err == nil || c != nil {
			t.Fatalf("unmarshal of %d of %d bytes = %v, %v", n, len(b), c, err)
		}
	}
	if c, err := unmarshal(append(b[:len(b):len(b)], 0)); err == nil || c != nil {
		t.Fatalf("unmarshal with a trailing byte = %v, %v", c, err)
	}
	// A count of 2^62 groups after an otherwise valid prefix.
	huge := marshal(&sct.Context{})
	huge = huge[:len(huge)-2]
	huge = append(huge, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f)
	if c, err := unmarshal(huge); err == nil || c != nil {
		t.Fatalf("unmarshal of a huge count = %v, %v", c, err)
	}
	r := make([]byte, 512)
	for i := 0; i < 20000; i++ {
		rand.Read(r)
		n := int(r[0]) * 2
		if c, err := unmarshal(r[:n]); err == nil && c == nil {
			t.Fatalf("unmarshal of random bytes: nil context and no error")
		}
	}
}

// TestOpenHostile: the whole decoder on random and mangled envelopes.
func TestOpenHostile(t *testing.T) {
	ring, err := newKeyring(map[string][]byte{"k": bytes.Repeat([]byte{7}, 32)}, "k")
	if err != nil {
		t.Fatal(err)
	}
	c := scttest.New("iss", time.Hour)
	v, err := ring.seal("rk", c)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ring.open("rk", v, "iss", c.Identifier); err != nil {
		t.Fatal(err)
	} else {
		scttest.Equal(t, got, c)
	}
	for _, tc := range []struct {
		rkey, iss, id string
	}{{"rk2", "iss", c.Identifier}, {"rk", "iss2", c.Identifier}, {"rk", "iss", c.Identifier + "x"}} {
		if got, err := ring.open(tc.rkey, v, tc.iss, tc.id); got != nil || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open(%q, %q, %q) = %v, %v", tc.rkey, tc.iss, tc.id, got, err)
		}
	}
	r := make([]byte, 600)
	for i := 0; i < 20000; i++ {
		rand.Read(r)
		m := r[:int(r[0])*2+int(r[1]&1)]
		if i%2 == 0 && len(m) > 40 {
			copy(m, v[:37]) // a valid header, random rest
		}
		if got, err := ring.open("rk", m, "iss", c.Identifier); got != nil || err == nil {
			t.Fatalf("open of random bytes = %v, %v", got, err)
		}
	}
	// A record too large to read back is refused when written.
	big := scttest.New("iss", time.Hour)
	big.Subject.Groups = []string{strings.Repeat("\x00", maxValueLen)}
	if _, err := ring.seal("rk", big); !errors.Is(err, sct.ErrInvalid) {
		t.Fatalf("seal of a huge record = %v", err)
	}
}
