package wsse

import (
	"errors"
	"testing"
	"time"
)

// TestParseTimeForms pins the lexical forms ParseTime accepts: exactly
// xsd:dateTime with a time zone, YYYY-MM-DDThh:mm:ss(.s+)?(Z|(+|-)hh:mm),
// hh 00-23 (or 24:00:00, the end of the day), offsets at most ±14:00.
func TestParseTimeForms(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	accepted := []struct {
		in   string
		want time.Time
	}{
		{"2024-01-02T03:04:05Z", utc(2024, 1, 2, 3, 4, 5, 0)},
		{"2024-01-02T03:04:05.123Z", utc(2024, 1, 2, 3, 4, 5, 123e6)},
		{"2024-01-02T03:04:05.5Z", utc(2024, 1, 2, 3, 4, 5, 5e8)},
		{"2024-01-02T03:04:05.123456789Z", utc(2024, 1, 2, 3, 4, 5, 123456789)},
		// More digits than nanoseconds hold: the rest is dropped.
		{"2024-01-02T03:04:05.1234567891234Z", utc(2024, 1, 2, 3, 4, 5, 123456789)},
		{"2024-01-02T03:04:05+00:00", utc(2024, 1, 2, 3, 4, 5, 0)},
		{"2024-01-02T03:04:05-00:00", utc(2024, 1, 2, 3, 4, 5, 0)},
		{"2024-01-02T03:04:05+01:30", utc(2024, 1, 2, 1, 34, 5, 0)},
		{"2024-01-02T03:04:05+14:00", utc(2024, 1, 1, 13, 4, 5, 0)},
		{"2024-01-02T03:04:05-14:00", utc(2024, 1, 2, 17, 4, 5, 0)},
		{"2024-01-02T03:04:05.25-05:45", utc(2024, 1, 2, 8, 49, 5, 25e7)},
		{"2024-01-02T24:00:00Z", utc(2024, 1, 3, 0, 0, 0, 0)},
		{"2024-01-02T24:00:00.000Z", utc(2024, 1, 3, 0, 0, 0, 0)},
		{"2024-12-31T24:00:00Z", utc(2025, 1, 1, 0, 0, 0, 0)},
		{"2024-02-29T23:59:59Z", utc(2024, 2, 29, 23, 59, 59, 0)},
		{"0001-01-01T00:00:00Z", utc(1, 1, 1, 0, 0, 0, 0)},
	}
	for _, c := range accepted {
		got, err := ParseTime(c.in)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	refused := []string{
		"",
		"2024-01-02T03:04:05,5Z",    // comma as the decimal separator
		"2024-01-02T3:04:05Z",       // one-digit hour
		"2024-01-02T03:4:05Z",       // one-digit minute
		"2024-01-02T03:04:5Z",       // one-digit second
		"2024-1-02T03:04:05Z",       // one-digit month
		"2024-01-2T03:04:05Z",       // one-digit day
		"24-01-02T03:04:05Z",        // two-digit year
		"12024-01-02T03:04:05Z",     // five-digit year
		"-2024-01-02T03:04:05Z",     // negative year
		"0000-01-02T03:04:05Z",      // year zero (not in xsd 1.0)
		"2024-01-02T03:04:05+23:59", // offset beyond ±14:00
		"2024-01-02T03:04:05+14:01",
		"2024-01-02T03:04:05-14:30",
		"2024-01-02T03:04:05+15:00",
		"2024-01-02T03:04:05+05:60", // offset minutes out of range
		"2024-01-02T03:04:05+0100",  // offset without colon
		"2024-01-02T03:04:05+01",
		"2024-01-02T03:04:05+1:00",
		"2024-01-02T03:04:05", // no time zone (see ParseTime)
		"2024-01-02T03:04:05.123",
		"2024-01-02T03:04:05z",
		"2024-01-02t03:04:05Z",
		"2024-01-02 03:04:05Z",
		"2024-01-02T03:04:05.Z", // empty fraction
		"2024-01-02T03:04:05.1a3Z",
		"2024-01-02T03:04:05Z ", // trailing space
		" 2024-01-02T03:04:05Z",
		"2024-01-02T03:04:05ZZ",
		"2024-01-02T24:00:01Z", // 24 only as 24:00:00
		"2024-01-02T24:01:00Z",
		"2024-01-02T24:00:00.5Z",
		"2024-01-02T25:00:00Z",
		"2024-01-02T03:60:05Z",
		"2024-01-02T03:04:60Z", // leap seconds are not accepted
		"2024-02-30T03:04:05Z",
		"2023-02-29T03:04:05Z",
		"2024-13-02T03:04:05Z",
		"2024-00-02T03:04:05Z",
		"2024-01-00T03:04:05Z",
		"2024-01-32T03:04:05Z",
		"2024-01-02T03:04:05+01:00:00",
		"2024-01-02T03:04:05Z+01:00",
		"２０２４-01-02T03:04:05Z", // fullwidth digits
	}
	for _, in := range refused {
		got, err := ParseTime(in)
		var we *Error
		if !errors.As(err, &we) || we.Code != InvalidSecurity {
			t.Errorf("ParseTime(%q) = %v, %v; want an InvalidSecurity error", in, got, err)
		}
	}
}

// FuzzParseTime checks ParseTime against CheckTimestamp's promise: what it
// accepts is in the xsd:dateTime form and formats back to the same instant.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123+01:00", "2024-01-02T24:00:00Z", "2024-01-02T03:04:05,5Z", "2024-01-02T03:04:05+14:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
			t.Fatalf("accepted %q", s)
		}
		// Go's RFC 3339 parser agrees on every form both accept (it knows
		// no 24:00:00).
		if s[11:13] != "24" {
			ref, rerr := time.Parse(time.RFC3339Nano, s)
			if rerr == nil && !ref.Equal(got) {
				t.Fatalf("ParseTime(%q) = %v, time.Parse says %v", s, got, ref)
			}
		}
	})
}

func BenchmarkParseTime(b *testing.B) {
	for _, s := range []string{"2026-11-23T10:00:00.123Z", "2026-11-23T10:00:00+01:00"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := ParseTime(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
