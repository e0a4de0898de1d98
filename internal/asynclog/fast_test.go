package asynclog

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

// The fast path writes what slog's own handler writes for the same record,
// byte for byte, in both formats, for random values (plain ones, which it
// takes, and others, which it leaves to slog), random times and two zones;
// and it is taken whenever every value is plain.
func TestFastMatchesSlog(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	zones := []*time.Location{time.UTC, time.FixedZone("X", 3600+1800)}
	defer func() { clock = time.Now }()
	for _, json := range []bool{false, true} {
		out := &testenv.LogBuffer{}
		var h *Handler
		if json {
			h = NewJSON(out, nil)
		} else {
			h = NewText(out, nil)
		}
		log := slog.New(h)
		fast := 0
		for i := range 3000 {
			at := time.Unix(1.7e9+rng.Int64N(1e8), rng.Int64N(1e9)).In(zones[i%2])
			if i%7 == 0 {
				at = at.Truncate(time.Millisecond) // trailing zeros
			}
			clock = func() time.Time { return at }
			vals := []string{randValue(rng), randValue(rng), randValue(rng)}
			var list []string
			if n := rng.IntN(5); n > 0 {
				list = make([]string, n-1)
				for j := range list {
					list[j] = randValue(rng)
				}
			}
			before := len(out.String())
			ok := Begin(log, slog.LevelInfo, "authenticated").Str("request_id", vals[0]).Str("peer", vals[1]).
				Strs("modules", list).Str("token_type", vals[2]).End()
			h.Flush()
			allPlain := list != nil
			for _, v := range append(append([]string(nil), vals...), list...) {
				allPlain = allPlain && (plain(v) || v == "" && !contains(list, v))
			}
			if ok != allPlain {
				t.Fatalf("json %v: End %v for %q %q", json, ok, vals, list)
			}
			if !ok {
				continue
			}
			fast++
			got := out.String()[before:]
			var want bytes.Buffer
			var ref slog.Handler = slog.NewTextHandler(&want, nil)
			if json {
				ref = slog.NewJSONHandler(&want, nil)
			}
			r := slog.NewRecord(at, slog.LevelInfo, "authenticated", 0)
			r.AddAttrs(slog.String("request_id", vals[0]), slog.String("peer", vals[1]), slog.Any("modules", list),
				slog.String("token_type", vals[2]))
			ref.Handle(context.Background(), r)
			if got != want.String() {
				t.Fatalf("json %v:\n fast %q\n slog %q", json, got, want.String())
			}
		}
		if fast < 300 {
			t.Fatalf("json %v: the fast path was taken %d times of 3000", json, fast)
		}
	}
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// randValue is mostly plain, sometimes empty, sometimes with a byte slog
// quotes or escapes (space, '=', quotes, '<', a control character,
// non-ASCII).
func randValue(rng *rand.Rand) string {
	const plainChars = "abcXYZ019._:@/+-[]~"
	const other = " =\"\\<>&\t\x01é,#%'"
	if rng.IntN(10) == 0 {
		return ""
	}
	var b strings.Builder
	for range 1 + rng.IntN(12) {
		if rng.IntN(40) == 0 {
			b.WriteByte(other[rng.IntN(len(other))])
		} else {
			b.WriteByte(plainChars[rng.IntN(len(plainChars))])
		}
	}
	return b.String()
}

// Begin leaves a record to slog when the handler is not one it can write
// for: attributes or groups added, ReplaceAttr or AddSource set, the level
// disabled, a Warn record, or a handler made by New.
func TestFastNotTaken(t *testing.T) {
	out := &testenv.LogBuffer{}
	base := NewText(out, nil)
	for name, l := range map[string]*slog.Logger{
		"with":         slog.New(base).With("component", "sts"),
		"group":        slog.New(base).WithGroup("g"),
		"replace":      slog.New(NewText(out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { return a }})),
		"source":       slog.New(NewJSON(out, &slog.HandlerOptions{AddSource: true})),
		"level":        slog.New(NewText(out, &slog.HandlerOptions{Level: slog.LevelWarn})),
		"custom":       slog.New(New(out, jsonH)),
		"not asynclog": slog.New(slog.NewTextHandler(out, nil)),
	} {
		if Begin(l, slog.LevelInfo, "authenticated") != nil {
			t.Errorf("%s: fast path taken", name)
		}
	}
	if Begin(slog.New(base), slog.LevelWarn, "refused") != nil {
		t.Error("fast path taken for a Warn record")
	}
	var ln *Line
	if ln.Str("a", "b").Strs("c", []string{"d"}).End() {
		t.Error("a nil Line wrote")
	}
}
