// Package scttest is the conformance suite that every sct.Store must pass.
//
// Run it from the implementation's tests:
//
//	func TestConformance(t *testing.T) {
//		scttest.Run(t, func(t *testing.T) sct.Store { return sct.NewMemory(1000) })
//	}
//
// open is called once per subtest. The suite makes up a fresh issuer and
// fresh identifiers in every subtest, so stores opened on one shared backend
// (one Redis, one key prefix) do not disturb each other; Run closes each
// store when its subtest ends. Stores that can be opened several times on
// one backend (replicas) also run RunReplicas.
//
// The suite uses real time: short-lived contexts live for two seconds
// and the expiry tests wait for them to go, polling. It asserts outcomes,
// never durations.
//
// The contract it checks is sct.Store's doc comment, sentence by sentence
// (the renew grace included: RenewGrace);
// in addition:
//   - after Close, no method panics or returns a context (a closed store
//     may fail or keep working), and a second Close does not panic;
//   - an expired context no longer blocks its Identifier: Issue of it
//     succeeds again.
package scttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/sct"
)

// shortLife is the life of the contexts the expiry tests wait out.
const shortLife = 2 * time.Second

// Run runs the conformance suite.
func Run(t *testing.T, newStore func(t *testing.T) sct.Store) {
	open := func(t *testing.T) sct.Store {
		t.Helper()
		s := newStore(t)
		if s == nil {
			t.Fatal("scttest: newStore returned nil")
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ctx := context.Background()

	t.Run("IssueGetRoundTrip", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := New(RandIssuer(), time.Hour)
		c.Subject = sct.Subject{
			Principal: "alice@EXAMPLE.ORG", Realm: "EXAMPLE.ORG", Method: "kerberos",
			Groups: []string{"admins", "ops", "ünïcode group", ""},
			Attributes: map[string][]string{
				"mail":        {"alice@example.org"},
				"displayName": {"Alice \"A\" Liddell"},
				"multi":       {"a", "b", "a"},
				"empty":       {""},
			},
		}
		// Every byte value, so that no encoding loses one.
		c.Key = make([]byte, sct.MaxKeyLen)
		for i := range c.Key {
			c.Key[i] = byte(i * 4)
		}
		c.Key[0], c.Key[1] = 0, 0xff
		want := c.Clone()
		MustIssue(t, s, c, nil)
		got := MustGet(t, s, c.Issuer, c.Identifier)
		Equal(t, got, want)

		// Minimal fields: no realm, groups or attributes; a 16-byte key.
		m := New(c.Issuer, time.Hour)
		m.Key = m.Key[:sct.MinKeyLen]
		m.Subject = sct.Subject{Principal: "bob", Method: "password"}
		m.Created = time.Time{}
		MustIssue(t, s, m, nil)
		Equal(t, MustGet(t, s, m.Issuer, m.Identifier), m)

		// Strings are bytes: nothing may be normalised or replaced (a
		// Kerberos name need not be UTF-8).
		b := New(c.Issuer+"\xff", time.Hour)
		b.Identifier += "\xff\x00\u2028<&>"
		b.Instance += "\xc3("
		b.Subject = sct.Subject{Principal: "\xe9ric\x00@R\xc9ALM", Realm: "R\xc9ALM", Method: "k\xff",
			Groups: []string{"\xff", "\"quoted\""}, Attributes: map[string][]string{"\xfe": {"\xfd", "\ufffd"}}}
		MustIssue(t, s, b.Clone(), nil)
		Equal(t, MustGet(t, s, b.Issuer, b.Identifier), b)
	})

	t.Run("StoreCopies", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := New(RandIssuer(), time.Hour)
		want := c.Clone()
		MustIssue(t, s, c, nil)
		// The caller's Context changes after Issue: the store must not see it.
		c.Key[0] ^= 0xff
		c.Subject.Groups[0] = "root"
		c.Subject.Attributes["mail"][0] = "mallory@example.org"
		c.Instance = "changed"
		got := MustGet(t, s, want.Issuer, want.Identifier)
		Equal(t, got, want)
		// Nor must it see changes to what Get returned.
		got.Key[0] ^= 0xff
		got.Subject.Groups[0] = "root"
		got.Subject.Attributes["mail"][0] = "mallory@example.org"
		Equal(t, MustGet(t, s, want.Issuer, want.Identifier), want)

		next := Renewal(want, time.Hour)
		nextWant := next.Clone()
		MustRenew(t, s, want.Instance, next, nil)
		next.Key[0] ^= 0xff
		next.Subject.Groups[0] = "root"
		Equal(t, MustGet(t, s, want.Issuer, want.Identifier), nextWant)
	})

	t.Run("DistinctIdentifiers", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		iss := RandIssuer()
		base := New(iss, time.Hour)
		var all []*sct.Context
		for _, suffix := range []string{"", "a", "b", "A", " ", "\x00", "ñ", "\xff", "\xfe", "\xc3"} {
			c := New(iss, time.Hour)
			c.Identifier = base.Identifier + suffix
			all = append(all, c)
			MustIssue(t, s, c.Clone(), nil)
		}
		for _, c := range all {
			Equal(t, MustGet(t, s, iss, c.Identifier), c)
		}
	})

	t.Run("NeverIssued", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := New(RandIssuer(), time.Hour)
		MustGetErr(t, s, c.Issuer, c.Identifier, sct.ErrNotFound)
		MustRenew(t, s, c.Instance, Renewal(c, time.Hour), sct.ErrNotFound)
		MustCancel(t, s, c.Issuer, c.Identifier, sct.ErrNotFound)
		// None of those recorded anything.
		MustIssue(t, s, c.Clone(), nil)
		Equal(t, MustGet(t, s, c.Issuer, c.Identifier), c)
	})

	t.Run("ExistsLive", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := New(RandIssuer(), time.Hour)
		MustIssue(t, s, c.Clone(), nil)
		other := New(c.Issuer, 2*time.Hour)
		other.Identifier = c.Identifier
		MustIssue(t, s, other, sct.ErrExists)
		// The first context is untouched.
		Equal(t, MustGet(t, s, c.Issuer, c.Identifier), c)
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := New(RandIssuer(), time.Hour)
		MustIssue(t, s, c.Clone(), nil)
		MustCancel(t, s, c.Issuer, c.Identifier, nil)
		MustGetErr(t, s, c.Issuer, c.Identifier, sct.ErrCancelled)
		MustCancel(t, s, c.Issuer, c.Identifier, sct.ErrCancelled)
		again := New(c.Issuer, time.Hour)
		again.Identifier = c.Identifier
		MustIssue(t, s, again, sct.ErrExists)
		MustRenew(t, s, c.Instance, Renewal(c, time.Hour), sct.ErrCancelled)
		// Still cancelled after all that.
		MustGetErr(t, s, c.Issuer, c.Identifier, sct.ErrCancelled)
	})

	t.Run("CancelAfterRenew", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := New(RandIssuer(), time.Hour)
		MustIssue(t, s, c.Clone(), nil)
		next := Renewal(c, time.Hour)
		MustRenew(t, s, c.Instance, next.Clone(), nil)
		MustCancel(t, s, c.Issuer, c.Identifier, nil)
		MustGetErr(t, s, c.Issuer, c.Identifier, sct.ErrCancelled)
		MustRenew(t, s, next.Instance, Renewal(next, time.Hour), sct.ErrCancelled)
		MustRenew(t, s, c.Instance, Renewal(next, time.Hour), sct.ErrCancelled)
	})

	t.Run("Renew", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := New(RandIssuer(), time.Hour)
		MustIssue(t, s, c.Clone(), nil)
		next := Renewal(c, 2*time.Hour)
		next.Subject.Groups = append(next.Subject.Groups, "added-on-renewal")
		MustRenew(t, s, c.Instance, next.Clone(), nil)
		got := MustGet(t, s, c.Issuer, c.Identifier)
		Equal(t, got, next)
		if bytes.Equal(got.Key, c.Key) {
			t.Fatal("renewed context still has the old key")
		}
		// The old instance is refused, whatever the renewal carries, and
		// changes nothing.
		MustRenew(t, s, c.Instance, Renewal(c, time.Hour), sct.ErrConflict)
		MustRenew(t, s, "never-an-instance", Renewal(c, time.Hour), sct.ErrConflict)
		Equal(t, MustGet(t, s, c.Issuer, c.Identifier), next)
		// The new instance renews again.
		third := Renewal(next, time.Hour)
		MustRenew(t, s, next.Instance, third.Clone(), nil)
		Equal(t, MustGet(t, s, c.Issuer, c.Identifier), third)
		MustRenew(t, s, next.Instance, Renewal(next, time.Hour), sct.ErrConflict)
	})

	t.Run("RenewConcurrent", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for round := 0; round < 3; round++ {
			c := New(RandIssuer(), time.Hour)
			MustIssue(t, s, c.Clone(), nil)
			winner := RaceRenew(t, []sct.Store{s}, 32, c)
			// The winner's renewal is what the store holds; the others
			// changed nothing.
			Equal(t, MustGet(t, s, c.Issuer, c.Identifier), winner)
		}
	})

	t.Run("IssueConcurrent", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for round := 0; round < 3; round++ {
			winner := RaceIssue(t, []sct.Store{s}, 32, RandIssuer())
			Equal(t, MustGet(t, s, winner.Issuer, winner.Identifier), winner)
		}
	})

	t.Run("IssuersIsolated", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := New(RandIssuer(), time.Hour)
		b := New(RandIssuer(), time.Hour)
		b.Identifier = a.Identifier
		b.Instance = a.Instance
		// An issuer that is a prefix of another, with the separator in it.
		p := New(a.Issuer+":", time.Hour)
		p.Identifier = a.Identifier
		for _, c := range []*sct.Context{a, b, p} {
			MustIssue(t, s, c.Clone(), nil)
		}
		Equal(t, MustGet(t, s, a.Issuer, a.Identifier), a)
		Equal(t, MustGet(t, s, b.Issuer, b.Identifier), b)
		Equal(t, MustGet(t, s, p.Issuer, p.Identifier), p)
		MustGetErr(t, s, RandIssuer(), a.Identifier, sct.ErrNotFound)
		MustGetErr(t, s, a.Issuer[:len(a.Issuer)-1], a.Identifier, sct.ErrNotFound)
		// Renewing or cancelling under one issuer leaves the other alone.
		nextA := Renewal(a, time.Hour)
		MustRenew(t, s, a.Instance, nextA.Clone(), nil)
		Equal(t, MustGet(t, s, b.Issuer, b.Identifier), b)
		MustCancel(t, s, b.Issuer, b.Identifier, nil)
		Equal(t, MustGet(t, s, a.Issuer, a.Identifier), nextA)
		Equal(t, MustGet(t, s, p.Issuer, p.Identifier), p)
		MustCancel(t, s, RandIssuer(), a.Identifier, sct.ErrNotFound)
		// An issuer that never issued it cannot renew it.
		wrong := Renewal(nextA, time.Hour)
		wrong.Issuer = RandIssuer()
		MustRenew(t, s, nextA.Instance, wrong, sct.ErrNotFound)
		Equal(t, MustGet(t, s, a.Issuer, a.Identifier), nextA)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		iss := RandIssuer()
		for name, mutate := range map[string]func(c *sct.Context){
			"no issuer":           func(c *sct.Context) { c.Issuer = "" },
			"no identifier":       func(c *sct.Context) { c.Identifier = "" },
			"no instance":         func(c *sct.Context) { c.Instance = "" },
			"short key":           func(c *sct.Context) { c.Key = c.Key[:sct.MinKeyLen-1] },
			"long key":            func(c *sct.Context) { c.Key = make([]byte, sct.MaxKeyLen+1) },
			"expired":             func(c *sct.Context) { c.Expires = time.Now().Add(-time.Second) },
			"zero expiry":         func(c *sct.Context) { c.Expires = time.Time{} },
			"created late":        func(c *sct.Context) { c.Created = c.Expires.Add(time.Second) },
			"no principal":        func(c *sct.Context) { c.Subject.Principal = "" },
			"huge subject":        func(c *sct.Context) { c.Subject.Groups = make([]string, sct.MaxSubjectBytes/16+1) },
			"long identifier":     func(c *sct.Context) { c.Identifier += string(make([]byte, sct.MaxIdentifierLen)) },
			"grace before expiry": func(c *sct.Context) { c.RenewUntil = c.Expires.Add(-time.Second) },
			"grace too long":      func(c *sct.Context) { c.RenewUntil = c.Expires.Add(sct.MaxRenewGrace + time.Second) },
		} {
			c := New(iss, time.Hour)
			good := c.Clone()
			mutate(c)
			if err := s.Issue(ctx, c); !errors.Is(err, sct.ErrInvalid) {
				t.Errorf("Issue with %s = %v, want ErrInvalid", name, err)
			}
			if c.Identifier == good.Identifier && c.Issuer == good.Issuer {
				// Refused means recorded nowhere.
				MustGetErr(t, s, good.Issuer, good.Identifier, sct.ErrNotFound)
			}
			MustIssue(t, s, good.Clone(), nil)
			next := Renewal(good, time.Hour)
			mutate(next)
			if next.Identifier == good.Identifier && next.Issuer == good.Issuer {
				if err := s.Renew(ctx, good.Instance, next); !errors.Is(err, sct.ErrInvalid) {
					t.Errorf("Renew with %s = %v, want ErrInvalid", name, err)
				}
				Equal(t, MustGet(t, s, good.Issuer, good.Identifier), good)
			}
		}
		if err := s.Issue(ctx, nil); !errors.Is(err, sct.ErrInvalid) {
			t.Errorf("Issue(nil) = %v, want ErrInvalid", err)
		}
		// A renewal that keeps the instance would let a second renewal of
		// that instance succeed too.
		c := New(iss, time.Hour)
		MustIssue(t, s, c.Clone(), nil)
		same := Renewal(c, time.Hour)
		same.Instance = c.Instance
		MustRenew(t, s, c.Instance, same, sct.ErrInvalid)
		Equal(t, MustGet(t, s, c.Issuer, c.Identifier), c)
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		iss := RandIssuer()
		live := New(iss, shortLife)        // expires untouched
		cancelled := New(iss, shortLife)   // its tombstone expires
		renewedAway := New(iss, time.Hour) // renewed to a short life
		extended := New(iss, shortLife)    // renewed to live an hour
		for _, c := range []*sct.Context{live, cancelled, renewedAway, extended} {
			MustIssue(t, s, c.Clone(), nil)
		}
		MustCancel(t, s, iss, cancelled.Identifier, nil)
		next := Renewal(extended, time.Hour)
		MustRenew(t, s, extended.Instance, next.Clone(), nil)
		// A renewal that shortens the life: its Expires, not the old one, counts.
		short := Renewal(renewedAway, shortLife)
		MustRenew(t, s, renewedAway.Instance, short.Clone(), nil)

		WaitGone(t, s, live)
		WaitGone(t, s, cancelled)
		WaitGone(t, s, short)
		Equal(t, MustGet(t, s, iss, extended.Identifier), next)

		// Expired means not found for every method, and the Identifier is
		// free again (the tombstone went with the expiry).
		for _, c := range []*sct.Context{live, cancelled, short} {
			MustRenew(t, s, c.Instance, Renewal(c, time.Hour), sct.ErrNotFound)
			MustCancel(t, s, iss, c.Identifier, sct.ErrNotFound)
			again := New(iss, time.Hour)
			again.Identifier = c.Identifier
			MustIssue(t, s, again.Clone(), nil)
			Equal(t, MustGet(t, s, iss, c.Identifier), again)
		}
	})

	t.Run("RenewGrace", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		iss := RandIssuer()
		// Three contexts that expire now and have a grace of an hour: one
		// is read, one renewed, one cancelled within the grace.
		var cs []*sct.Context
		for i := 0; i < 3; i++ {
			c := New(iss, shortLife)
			c.RenewUntil = c.Expires.Add(time.Hour)
			MustIssue(t, s, c.Clone(), nil)
			cs = append(cs, c)
		}
		// And one whose grace ends soon after its expiry.
		brief := New(iss, shortLife)
		brief.RenewUntil = brief.Expires.Add(shortLife)
		MustIssue(t, s, brief.Clone(), nil)
		time.Sleep(time.Until(cs[2].Expires.Add(10 * time.Millisecond)))

		// Expired, within its grace: Get returns it with Expires passed.
		got := MustGet(t, s, iss, cs[0].Identifier)
		Equal(t, got, cs[0])
		if !got.Expired(time.Now()) {
			t.Fatalf("context within its grace not expired: Expires %v", got.Expires)
		}
		// Renewed within its grace: live again, with the renewal's times.
		next := Renewal(cs[1], time.Hour)
		next.RenewUntil = next.Expires.Add(time.Hour)
		MustRenew(t, s, cs[1].Instance, next.Clone(), nil)
		Equal(t, MustGet(t, s, iss, cs[1].Identifier), next)
		// Cancelled within its grace: a tombstone until the grace ends.
		MustCancel(t, s, iss, cs[2].Identifier, nil)
		MustGetErr(t, s, iss, cs[2].Identifier, sct.ErrCancelled)
		again := New(iss, time.Hour)
		again.Identifier = cs[2].Identifier
		MustIssue(t, s, again, sct.ErrExists)

		// Past the grace: gone for every method.
		WaitGone(t, s, brief)
		MustRenew(t, s, brief.Instance, Renewal(brief, time.Hour), sct.ErrNotFound)
		MustCancel(t, s, iss, brief.Identifier, sct.ErrNotFound)
	})

	t.Run("AfterClose", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := New(RandIssuer(), time.Hour)
		MustIssue(t, s, c.Clone(), nil)
		if err := s.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		// A closed store may fail or keep working; it must not panic, and a
		// failure is an error, not a context.
		got, err := s.Get(ctx, c.Issuer, c.Identifier)
		if err == nil {
			Equal(t, got, c)
		} else if got != nil {
			t.Fatalf("Get after Close = %v with a context", err)
		}
		t.Logf("Get after Close: %v", err)
		_ = s.Issue(ctx, New(c.Issuer, time.Hour))
		_ = s.Renew(ctx, c.Instance, Renewal(c, time.Hour))
		_ = s.Cancel(ctx, c.Issuer, c.Identifier)
		s.Close() // a second Close, here and in Cleanup, must not panic
	})
}

// RunReplicas checks that stores opened on one backend are one store: what
// one replica issues, renews or cancels, the others see at once. replicas
// returns at least two stores on one backend (separate clients); the suite
// closes them.
func RunReplicas(t *testing.T, replicas func(t *testing.T) []sct.Store) {
	open := func(t *testing.T) []sct.Store {
		t.Helper()
		rs := replicas(t)
		if len(rs) < 2 {
			t.Fatalf("scttest: replicas returned %d stores, want at least 2", len(rs))
		}
		for _, s := range rs {
			t.Cleanup(func() { s.Close() })
		}
		return rs
	}

	t.Run("IssueUseCancel", func(t *testing.T) {
		t.Parallel()
		rs := open(t)
		a, b, c := rs[0], rs[1], rs[len(rs)-1]
		ctx := New(RandIssuer(), time.Hour)
		MustIssue(t, a, ctx.Clone(), nil)
		for _, s := range rs {
			Equal(t, MustGet(t, s, ctx.Issuer, ctx.Identifier), ctx)
			MustIssue(t, s, New(ctx.Issuer, time.Hour), nil)
			dup := New(ctx.Issuer, time.Hour)
			dup.Identifier = ctx.Identifier
			MustIssue(t, s, dup, sct.ErrExists)
		}
		// Renewed on B: every replica sees the new instance and key, and
		// A's renewal of the old instance loses.
		next := Renewal(ctx, time.Hour)
		MustRenew(t, b, ctx.Instance, next.Clone(), nil)
		for _, s := range rs {
			Equal(t, MustGet(t, s, ctx.Issuer, ctx.Identifier), next)
		}
		MustRenew(t, a, ctx.Instance, Renewal(ctx, time.Hour), sct.ErrConflict)
		// Cancelled on C: A and B refuse it.
		MustCancel(t, c, ctx.Issuer, ctx.Identifier, nil)
		for _, s := range rs {
			MustGetErr(t, s, ctx.Issuer, ctx.Identifier, sct.ErrCancelled)
			MustCancel(t, s, ctx.Issuer, ctx.Identifier, sct.ErrCancelled)
			MustRenew(t, s, next.Instance, Renewal(next, time.Hour), sct.ErrCancelled)
			again := New(ctx.Issuer, time.Hour)
			again.Identifier = ctx.Identifier
			MustIssue(t, s, again, sct.ErrExists)
		}
	})

	t.Run("RenewRace", func(t *testing.T) {
		t.Parallel()
		rs := open(t)
		for round := 0; round < 3; round++ {
			c := New(RandIssuer(), time.Hour)
			MustIssue(t, rs[0], c.Clone(), nil)
			winner := RaceRenew(t, rs, 8, c)
			for _, s := range rs {
				Equal(t, MustGet(t, s, c.Issuer, c.Identifier), winner)
			}
		}
	})

	t.Run("IssueRace", func(t *testing.T) {
		t.Parallel()
		rs := open(t)
		for round := 0; round < 3; round++ {
			winner := RaceIssue(t, rs, 8, RandIssuer())
			for _, s := range rs {
				Equal(t, MustGet(t, s, winner.Issuer, winner.Identifier), winner)
			}
		}
	})
}

// RaceRenew starts per goroutines on each store, all renewing c's current
// instance at the same moment with renewals of their own, checks that
// exactly one succeeded and every other got ErrConflict, and returns the
// winning renewal.
func RaceRenew(t testing.TB, stores []sct.Store, per int, c *sct.Context) *sct.Context {
	t.Helper()
	var nexts []*sct.Context
	for range stores {
		for i := 0; i < per; i++ {
			nexts = append(nexts, Renewal(c, time.Hour))
		}
	}
	errs := race(stores, per, func(s sct.Store, i int) error {
		return s.Renew(context.Background(), c.Instance, nexts[i].Clone())
	})
	return winner(t, "Renew", errs, sct.ErrConflict, nexts)
}

// RaceIssue starts per goroutines on each store, all issuing one new
// Identifier under issuer at the same moment with contexts of their own,
// checks that exactly one succeeded and every other got ErrExists, and
// returns the winning context.
func RaceIssue(t testing.TB, stores []sct.Store, per int, issuer string) *sct.Context {
	t.Helper()
	id := New(issuer, time.Hour).Identifier
	var cs []*sct.Context
	for range stores {
		for i := 0; i < per; i++ {
			c := New(issuer, time.Hour)
			c.Identifier = id
			cs = append(cs, c)
		}
	}
	errs := race(stores, per, func(s sct.Store, i int) error {
		return s.Issue(context.Background(), cs[i].Clone())
	})
	return winner(t, "Issue", errs, sct.ErrExists, cs)
}

func race(stores []sct.Store, per int, op func(s sct.Store, i int) error) []error {
	errs := make([]error, len(stores)*per)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for j, s := range stores {
		for i := 0; i < per; i++ {
			wg.Add(1)
			go func(n int) {
				defer wg.Done()
				<-start
				errs[n] = op(s, n)
			}(j*per + i)
		}
	}
	close(start)
	wg.Wait()
	return errs
}

func winner(t testing.TB, op string, errs []error, lose error, cs []*sct.Context) *sct.Context {
	t.Helper()
	var won []int
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, i)
		case errors.Is(err, lose):
		default:
			t.Errorf("concurrent %s: %v", op, err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d of %d concurrent %ss succeeded, want exactly 1", len(won), len(errs), op)
	}
	return cs[won[0]]
}

// New returns a valid context under issuer, living for life, with a fresh
// Identifier, Instance and 32-byte key and a Subject with groups and
// attributes.
func New(issuer string, life time.Duration) *sct.Context {
	now := time.Now()
	return &sct.Context{
		Identifier: "urn:uuid:" + randHex(16),
		Instance:   "urn:uuid:" + randHex(16),
		Issuer:     issuer,
		Key:        randBytes(32),
		Created:    now,
		Expires:    now.Add(life),
		Subject: sct.Subject{
			Principal:  "user-" + randHex(4),
			Method:     "password",
			Groups:     []string{"users", "g-" + randHex(2)},
			Attributes: map[string][]string{"mail": {"u@example.org"}},
		},
	}
}

// Renewal returns a renewal of c: same Issuer, Identifier and Subject, a new
// Instance and key, created now and living for life, with c's renew grace
// (if any) after its new Expires.
func Renewal(c *sct.Context, life time.Duration) *sct.Context {
	n := c.Clone()
	n.Instance = "urn:uuid:" + randHex(16)
	n.Key = randBytes(32)
	n.Created = time.Now()
	n.Expires = n.Created.Add(life)
	if !c.RenewUntil.IsZero() {
		n.RenewUntil = n.Expires.Add(c.RenewUntil.Sub(c.Expires))
	}
	return n
}

// RandIssuer returns a fresh issuer name.
func RandIssuer() string { return "https://sts-" + randHex(6) + ".example.org/" }

// WaitGone waits, polling, until the store says ErrNotFound for c (at most
// 5 s after its Retention; a store may drop a record a little late). Until
// then Get may return c or, for a cancelled one, ErrCancelled; never a
// context once its Retention has passed.
func WaitGone(t testing.TB, s sct.Store, c *sct.Context) {
	t.Helper()
	time.Sleep(time.Until(c.Retention()))
	deadline := c.Retention().Add(5 * time.Second)
	for {
		got, err := s.Get(context.Background(), c.Issuer, c.Identifier)
		switch {
		case errors.Is(err, sct.ErrNotFound):
			return
		case err == nil:
			if time.Now().After(c.Retention()) {
				t.Fatalf("Get after the record's retention returned it (expires %v, renew until %v)", got.Expires, got.RenewUntil)
			}
		case errors.Is(err, sct.ErrCancelled):
		default:
			t.Fatalf("Get of an expiring context = %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("context still there 5 s after its expiry (last Get: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MustIssue issues c and checks the error against want (nil: success).
func MustIssue(t testing.TB, s sct.Store, c *sct.Context, want error) {
	t.Helper()
	check(t, "Issue("+c.Identifier+")", s.Issue(context.Background(), c), want)
}

// MustRenew renews and checks the error against want.
func MustRenew(t testing.TB, s sct.Store, old string, next *sct.Context, want error) {
	t.Helper()
	check(t, "Renew("+next.Identifier+", "+old+")", s.Renew(context.Background(), old, next), want)
}

// MustCancel cancels and checks the error against want.
func MustCancel(t testing.TB, s sct.Store, issuer, id string, want error) {
	t.Helper()
	check(t, "Cancel("+issuer+", "+id+")", s.Cancel(context.Background(), issuer, id), want)
}

// MustGet returns the context issuer/id, failing t on an error.
func MustGet(t testing.TB, s sct.Store, issuer, id string) *sct.Context {
	t.Helper()
	c, err := s.Get(context.Background(), issuer, id)
	if err != nil || c == nil {
		t.Fatalf("Get(%s, %s) = %v, %v; want a context", issuer, id, c, err)
	}
	return c
}

// MustGetErr checks that Get fails with want and returns no context.
func MustGetErr(t testing.TB, s sct.Store, issuer, id string, want error) {
	t.Helper()
	c, err := s.Get(context.Background(), issuer, id)
	if !errors.Is(err, want) || c != nil {
		t.Fatalf("Get(%s, %s) = %v, %v; want no context and %v", issuer, strconv.Quote(id), c, err, want)
	}
}

func check(t testing.TB, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s = %v, want %v", what, err, want)
	}
}

// Equal fails t unless got holds every field of want: times are compared
// with Equal, and a nil and an empty Groups or Attributes are the same.
func Equal(t testing.TB, got, want *sct.Context) {
	t.Helper()
	if d := Diff(got, want); d != "" {
		t.Fatalf("context differs: %s", d)
	}
}

// Diff describes how got differs from want ("" when it does not).
func Diff(got, want *sct.Context) string {
	switch {
	case got == nil || want == nil:
		return fmt.Sprintf("got %v, want %v", got, want)
	case got.Identifier != want.Identifier:
		return fmt.Sprintf("Identifier %q, want %q", got.Identifier, want.Identifier)
	case got.Instance != want.Instance:
		return fmt.Sprintf("Instance %q, want %q", got.Instance, want.Instance)
	case got.Issuer != want.Issuer:
		return fmt.Sprintf("Issuer %q, want %q", got.Issuer, want.Issuer)
	case !bytes.Equal(got.Key, want.Key):
		return fmt.Sprintf("Key %x, want %x", got.Key, want.Key)
	case !got.Created.Equal(want.Created):
		return fmt.Sprintf("Created %v, want %v", got.Created, want.Created)
	case !got.Expires.Equal(want.Expires):
		return fmt.Sprintf("Expires %v, want %v", got.Expires, want.Expires)
	case !got.RenewUntil.Equal(want.RenewUntil):
		return fmt.Sprintf("RenewUntil %v, want %v", got.RenewUntil, want.RenewUntil)
	}
	g, w := got.Subject, want.Subject
	switch {
	case g.Principal != w.Principal || g.Realm != w.Realm || g.Method != w.Method:
		return fmt.Sprintf("Subject %+v, want %+v", g, w)
	case !slices.Equal(g.Groups, w.Groups):
		return fmt.Sprintf("Groups %q, want %q", g.Groups, w.Groups)
	case len(g.Attributes) != len(w.Attributes):
		return fmt.Sprintf("Attributes %q, want %q", g.Attributes, w.Attributes)
	}
	for k, vs := range w.Attributes {
		if gv, ok := g.Attributes[k]; !ok || !slices.Equal(gv, vs) {
			return fmt.Sprintf("Attributes %q, want %q", g.Attributes, w.Attributes)
		}
	}
	return ""
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randHex(n int) string { return hex.EncodeToString(randBytes(n)) }
