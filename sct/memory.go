package sct

import (
	"container/heap"
	"context"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"

	"github.com/authsvc/authsvc/health"
)

// DefaultMaxEntries is the bound of NewMemory(0).
const DefaultMaxEntries = 100_000

// Memory is an in-process Store for a single replica: a map with a hard
// bound on the records it holds.
//
// The bound counts every record until its Retention (Expires, or the end
// of its renew grace): live contexts, contexts within their grace and
// tombstones alike (a cancelled context keeps its slot until its record
// would have gone, so that Issue and Get can tell it apart). At the bound Issue
// returns ErrFull; nothing live is ever evicted to make room.
//
// Records past their Retention are dropped in that order by the operations
// themselves: a heap orders the records by Retention, and every Issue,
// Renew, Cancel and Get first pops those whose time has passed. Each record
// is popped once, so the cost is amortised O(log n) per operation; there is
// no background goroutine. Get and the other methods also check the
// Retention themselves: a record is never returned after it.
//
// Keys, groups and attributes are copied in and out. Dropped and cancelled
// records have their key bytes zeroed.
type Memory struct {
	mu     sync.Mutex
	m      map[memKey]*memEntry
	h      expHeap
	max    int
	now    func() time.Time
	closed bool
}

type memKey struct{ issuer, identifier string }

type memEntry struct {
	k   memKey
	c   *Context // nil: a tombstone
	exp int64    // unix nanoseconds: the Retention; the record is gone from then on
	idx int      // index in the heap
}

var _ Store = (*Memory)(nil)

// NewMemory returns an in-memory store holding at most maxEntries records
// (contexts and tombstones); maxEntries <= 0 means DefaultMaxEntries.
func NewMemory(maxEntries int) *Memory {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Memory{m: make(map[memKey]*memEntry), max: maxEntries, now: time.Now}
}

var errClosed = fmt.Errorf("sct: memory store is closed: %w", health.ErrUnavailable)

// Issue implements Store.
func (s *Memory) Issue(_ context.Context, c *Context) error {
	now := s.now()
	if err := c.Validate(now); err != nil {
		return err
	}
	c = c.Clone() // outside the lock
	k := memKey{c.Issuer, c.Identifier}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		wipe(c)
		return errClosed
	}
	s.sweepLocked(now.UnixNano())
	if _, ok := s.m[k]; ok {
		wipe(c)
		return ErrExists
	}
	if len(s.m) >= s.max {
		wipe(c)
		return ErrFull
	}
	e := &memEntry{k: k, c: c, exp: c.Retention().UnixNano()}
	s.m[k] = e
	heap.Push(&s.h, e)
	return nil
}

// Get implements Store.
func (s *Memory) Get(_ context.Context, issuer, identifier string) (*Context, error) {
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	s.sweepLocked(now)
	e, ok := s.m[memKey{issuer, identifier}]
	switch {
	case !ok || e.exp <= now:
		return nil, ErrNotFound
	case e.c == nil:
		return nil, ErrCancelled
	}
	return e.c.Clone(), nil
}

// Renew implements Store. The instances are compared in constant time.
func (s *Memory) Renew(_ context.Context, oldInstance string, next *Context) error {
	now := s.now()
	if err := next.Validate(now); err != nil {
		return err
	}
	if next.Instance == oldInstance {
		return fmt.Errorf("%w: a renewal must carry a new instance", ErrInvalid)
	}
	next = next.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		wipe(next)
		return errClosed
	}
	s.sweepLocked(now.UnixNano())
	e, ok := s.m[memKey{next.Issuer, next.Identifier}]
	switch {
	case !ok || e.exp <= now.UnixNano():
		wipe(next)
		return ErrNotFound
	case e.c == nil:
		wipe(next)
		return ErrCancelled
	case subtle.ConstantTimeCompare([]byte(e.c.Instance), []byte(oldInstance)) != 1:
		wipe(next)
		return ErrConflict
	}
	wipe(e.c)
	e.c = next
	e.exp = next.Retention().UnixNano()
	heap.Fix(&s.h, e.idx)
	return nil
}

// Cancel implements Store: the record becomes a tombstone, without key or
// Subject, until the context's Retention.
func (s *Memory) Cancel(_ context.Context, issuer, identifier string) error {
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.sweepLocked(now)
	e, ok := s.m[memKey{issuer, identifier}]
	switch {
	case !ok || e.exp <= now:
		return ErrNotFound
	case e.c == nil:
		return ErrCancelled
	}
	wipe(e.c)
	e.c = nil
	return nil
}

// Len returns the number of records held (contexts and tombstones, expired
// ones not yet dropped included).
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Cap returns the bound.
func (s *Memory) Cap() int { return s.max }

// Close zeroes the keys held and drops every record; later calls fail
// with an error wrapping health.ErrUnavailable. The store starts no
// goroutine, so there is nothing else to stop. A second Close does
// nothing.
func (s *Memory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for _, e := range s.m {
		wipe(e.c)
	}
	s.m, s.h = nil, nil
	return nil
}

// sweepLocked drops the records whose expiry has come, earliest first.
func (s *Memory) sweepLocked(now int64) {
	for len(s.h) > 0 && s.h[0].exp <= now {
		e := heap.Pop(&s.h).(*memEntry)
		delete(s.m, e.k)
		wipe(e.c)
	}
}

// wipe zeroes c's key: a dropped record leaves no secret behind in memory
// that the garbage collector has yet to reuse.
func wipe(c *Context) {
	if c != nil {
		clear(c.Key)
	}
}

// expHeap is a min-heap of records by expiry.
type expHeap []*memEntry

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].exp < h[j].exp }
func (h expHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *expHeap) Push(x any) {
	e := x.(*memEntry)
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *expHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
