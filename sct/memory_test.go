package sct_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sct/scttest"
)

func TestMemoryConformance(t *testing.T) {
	scttest.Run(t, func(t *testing.T) sct.Store { return sct.NewMemory(1000) })
}

// TestMemoryBound: at the bound Issue refuses with ErrFull and evicts
// nothing; tombstones hold their slot; renewals and cancellations need no
// new slot.
func TestMemoryBound(t *testing.T) {
	const max = 8
	s := sct.NewMemory(max)
	defer s.Close()
	iss := scttest.RandIssuer()
	var held []*sct.Context
	for i := 0; i < max; i++ {
		c := scttest.New(iss, time.Hour)
		scttest.MustIssue(t, s, c.Clone(), nil)
		held = append(held, c)
	}
	scttest.MustIssue(t, s, scttest.New(iss, time.Hour), sct.ErrFull)
	if s.Len() != max || s.Cap() != max {
		t.Fatalf("Len, Cap = %d, %d; want %d, %d", s.Len(), s.Cap(), max, max)
	}
	// Nothing was evicted.
	for _, c := range held {
		scttest.Equal(t, scttest.MustGet(t, s, c.Issuer, c.Identifier), c)
	}
	// A renewal replaces in place and a cancellation leaves a tombstone:
	// both work at the bound, and the tombstone still counts.
	next := scttest.Renewal(held[0], time.Hour)
	scttest.MustRenew(t, s, held[0].Instance, next.Clone(), nil)
	scttest.MustCancel(t, s, iss, held[1].Identifier, nil)
	scttest.MustIssue(t, s, scttest.New(iss, time.Hour), sct.ErrFull)
	// A duplicate is still ErrExists, not ErrFull.
	dup := scttest.New(iss, time.Hour)
	dup.Identifier = held[2].Identifier
	scttest.MustIssue(t, s, dup, sct.ErrExists)
	scttest.Equal(t, scttest.MustGet(t, s, iss, held[0].Identifier), next)
	scttest.MustGetErr(t, s, iss, held[1].Identifier, sct.ErrCancelled)

	// NewMemory(0) takes the default bound.
	d := sct.NewMemory(0)
	defer d.Close()
	if d.Cap() != sct.DefaultMaxEntries {
		t.Fatalf("NewMemory(0).Cap() = %d", d.Cap())
	}
}

// TestMemoryFullUntilExpiry: a store full of short-lived contexts and
// tombstones refuses new ones until they expire, then takes them; the
// expired records are dropped (Len falls), not kept.
func TestMemoryFullUntilExpiry(t *testing.T) {
	const max = 6
	s := sct.NewMemory(max)
	defer s.Close()
	iss := scttest.RandIssuer()
	var short []*sct.Context
	for i := 0; i < max; i++ {
		c := scttest.New(iss, 2*time.Second)
		scttest.MustIssue(t, s, c.Clone(), nil)
		short = append(short, c)
	}
	for _, c := range short[:max/2] {
		scttest.MustCancel(t, s, iss, c.Identifier, nil)
	}
	if err := s.Issue(context.Background(), scttest.New(iss, time.Hour)); err != nil && !errors.Is(err, sct.ErrFull) {
		t.Fatalf("Issue into a full store = %v", err)
	} else if err == nil && time.Now().Before(short[0].Expires) {
		t.Fatal("Issue into a full store of live records succeeded")
	}
	for _, c := range short {
		scttest.WaitGone(t, s, c)
	}
	// All expired: every slot is free again.
	for i := 0; i < max; i++ {
		scttest.MustIssue(t, s, scttest.New(iss, time.Hour), nil)
	}
	if s.Len() != max {
		t.Fatalf("Len = %d after the expired records made room, want %d", s.Len(), max)
	}
	scttest.MustIssue(t, s, scttest.New(iss, time.Hour), sct.ErrFull)
}

// TestMemoryClosed: after Close the methods fail with ErrUnavailable and
// return no context.
func TestMemoryClosed(t *testing.T) {
	s := sct.NewMemory(10)
	c := scttest.New(scttest.RandIssuer(), time.Hour)
	scttest.MustIssue(t, s, c.Clone(), nil)
	s.Close()
	ctx := context.Background()
	if got, err := s.Get(ctx, c.Issuer, c.Identifier); got != nil || !errors.Is(err, health.ErrUnavailable) {
		t.Fatalf("Get after Close = %v, %v", got, err)
	}
	for name, err := range map[string]error{
		"Issue":  s.Issue(ctx, scttest.New(c.Issuer, time.Hour)),
		"Renew":  s.Renew(ctx, c.Instance, scttest.Renewal(c, time.Hour)),
		"Cancel": s.Cancel(ctx, c.Issuer, c.Identifier),
	} {
		if !errors.Is(err, health.ErrUnavailable) {
			t.Errorf("%s after Close = %v, want ErrUnavailable", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
