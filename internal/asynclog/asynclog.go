// Package asynclog is a slog.Handler that takes the writing of routine
// (Info and Debug) records off the request path: they are queued, bounded,
// and written by one goroutine through a buffer that is written out once the
// queue has stayed empty for Linger or its oldest line is MaxDelay old, so a
// busy service makes one write per batch of lines rather than one per
// request. When the queue is full a routine record is
// dropped and counted, and the count is logged (at Warn) once the queue has
// room again. Warn and Error records (every refusal, with its reason) are
// never dropped nor queued: they are written at once, in the caller.
//
// Close (at shutdown) writes every record still queued and makes later
// records synchronous, so that nothing logged before exit is lost.
package asynclog

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Queue is the number of routine records that may wait to be written.
const Queue = 8192

type item struct {
	h slog.Handler
	r slog.Record
	// done, when not nil, marks a flush barrier: run flushes everything
	// queued before it and closes done.
	done chan struct{}
}

type shared struct {
	mu      sync.Mutex // serialises writes to the buffer and w
	buf     *bufio.Writer
	q       chan item
	dropped atomic.Uint64
	drop    slog.Handler // the root handler, for the drop notice
	// closing guards closed: Handle holds it for reading while it queues,
	// Close for writing while it sets closed, so that no record is queued
	// behind Close's flush barrier.
	closing sync.RWMutex
	closed  bool
}

// Handler is the asynchronous handler; make it with New.
type Handler struct {
	s     *shared
	inner slog.Handler // writes to s's buffer (locked by s.mu)
}

// New returns a handler writing through mk(w) (e.g. a JSON handler with its
// options) and starts its writer goroutine, which lives as long as the
// process.
func New(w io.Writer, mk func(io.Writer) slog.Handler) *Handler {
	s := &shared{buf: bufio.NewWriterSize(w, 64<<10), q: make(chan item, Queue)}
	inner := mk(s.buf)
	s.drop = inner
	go s.run()
	return &Handler{s: s, inner: inner}
}

// Dropped is the number of routine records dropped because the queue was
// full.
func (h *Handler) Dropped() uint64 { return h.s.dropped.Load() }

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return h.writeNow(ctx, r)
	}
	h.s.closing.RLock()
	defer h.s.closing.RUnlock()
	if h.s.closed {
		return h.writeNow(ctx, r)
	}
	select {
	case h.s.q <- item{h: h.inner, r: r.Clone()}:
	default:
		h.s.dropped.Add(1)
	}
	return nil
}

// writeNow writes r in the caller, after whatever the buffer holds.
func (h *Handler) writeNow(ctx context.Context, r slog.Record) error {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	err := h.inner.Handle(ctx, r)
	if ferr := h.s.buf.Flush(); err == nil {
		err = ferr
	}
	return err
}

// Flush returns once every record queued before the call is written out.
func (h *Handler) Flush() {
	done := make(chan struct{})
	h.s.q <- item{done: done}
	<-done
}

// Close writes every routine record still queued and makes the handler
// write later records at once, in the caller (as it does Warn and Error
// records): after Close nothing is queued, so nothing can be lost at exit.
// The service calls it when it stops. Close may be called more than once;
// the handler stays usable.
func (h *Handler) Close() error {
	h.s.closing.Lock()
	h.s.closed = true
	h.s.closing.Unlock()
	h.Flush()
	return nil
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{s: h.s, inner: h.inner.WithAttrs(as)}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{s: h.s, inner: h.inner.WithGroup(name)}
}

// Linger and MaxDelay decide when the writer goroutine writes its buffer
// out. Once the queue runs empty it waits up to Linger for another record
// before writing, so that under steady load (a record every few tens of
// microseconds, each emptying the queue) lines go out in batches of up to
// the buffer's 64 KiB instead of one write system call per line, which cost
// about a tenth of the service's CPU at 24k requests/s. No line waits in the
// buffer longer than MaxDelay (plus the time to format the records queued
// behind it). Warn and Error records, and Flush and Close, write at once.
const (
	Linger   = time.Millisecond
	MaxDelay = 20 * time.Millisecond
)

// run writes queued records. It writes the buffer out when the queue has
// stayed empty for Linger, or when the oldest line not yet written is
// MaxDelay old.
func (s *shared) run() {
	var (
		reported uint64
		pending  bool      // the buffer may hold lines not yet written
		since    time.Time // when the oldest of them was queued for writing
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		s.mu.Lock()
		s.buf.Flush()
		s.mu.Unlock()
		pending = false
	}
	for {
		var it item
		var ok bool
		select {
		case it, ok = <-s.q:
		default:
			if !pending {
				it, ok = <-s.q
				break
			}
			wait := Linger
			if left := MaxDelay - time.Since(since); left < wait {
				wait = left
			}
			if wait <= 0 {
				flush()
				continue
			}
			timer.Reset(wait)
			select {
			case it, ok = <-s.q:
				timer.Stop()
			case <-timer.C:
				flush()
				continue
			}
		}
		if !ok {
			return
		}
		if it.done != nil {
			flush()
			close(it.done)
			continue
		}
		s.mu.Lock()
		it.h.Handle(context.Background(), it.r)
		if len(s.q) == 0 {
			if d := s.dropped.Load(); d != reported {
				n := slog.NewRecord(it.r.Time, slog.LevelWarn, "log records dropped: the log queue was full", 0)
				n.AddAttrs(slog.Uint64("dropped_total", d), slog.Uint64("dropped_since_last", d-reported))
				s.drop.Handle(context.Background(), n)
				reported = d
			}
		}
		s.mu.Unlock()
		if !pending {
			pending, since = true, time.Now()
		} else if time.Since(since) >= MaxDelay {
			flush()
		}
	}
}
