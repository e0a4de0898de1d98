// Package asynclog is a slog.Handler that takes the writing of routine
// (Info and Debug) records off the request path: they are queued, bounded,
// and written by one goroutine through a buffer that is flushed whenever the
// queue runs empty, so a busy service makes one write per batch of lines
// rather than one per request. When the queue is full a routine record is
// dropped and counted, and the count is logged (at Warn) once the queue has
// room again. Warn and Error records (every refusal, with its reason) are
// never dropped nor queued: they are written at once, in the caller.
package asynclog

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Queue is the number of routine records that may wait to be written.
const Queue = 8192

type item struct {
	h slog.Handler
	r slog.Record
}

type shared struct {
	mu      sync.Mutex // serialises writes to the buffer and w
	buf     *bufio.Writer
	q       chan item
	dropped atomic.Uint64
	drop    slog.Handler // the root handler, for the drop notice
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
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		err := h.inner.Handle(ctx, r)
		if ferr := h.s.buf.Flush(); err == nil {
			err = ferr
		}
		return err
	}
	select {
	case h.s.q <- item{h.inner, r.Clone()}:
	default:
		h.s.dropped.Add(1)
	}
	return nil
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{s: h.s, inner: h.inner.WithAttrs(as)}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{s: h.s, inner: h.inner.WithGroup(name)}
}

// run writes queued records, flushing when the queue is empty.
func (s *shared) run() {
	var reported uint64
	for it := range s.q {
		s.mu.Lock()
		it.h.Handle(context.Background(), it.r)
		if len(s.q) == 0 {
			if d := s.dropped.Load(); d != reported {
				n := slog.NewRecord(it.r.Time, slog.LevelWarn, "log records dropped: the log queue was full", 0)
				n.AddAttrs(slog.Uint64("dropped_total", d), slog.Uint64("dropped_since_last", d-reported))
				s.drop.Handle(context.Background(), n)
				reported = d
			}
			s.buf.Flush()
		}
		s.mu.Unlock()
	}
}
