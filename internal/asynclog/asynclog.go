// Package asynclog is a slog.Handler that takes the writing of routine
// (Info and Debug) records off the request path. A routine record is
// formatted in the caller and appended to a pending buffer; the buffer is
// written out by one goroutine Delay after its first line, or at once when
// it reaches BatchBytes, so a busy service makes one write per batch of
// lines, and logging a line costs no hand-off to another goroutine (no
// channel, no wake-up, no timer per record). The pending buffer is bounded
// (MaxPending): when the output cannot keep up, a routine record is dropped
// and counted, and the count is logged (at Warn) with the next batch. Warn
// and Error records (every refusal, with its reason) are never dropped nor
// delayed: they are written in the caller, after the lines pending before
// them.
//
// Close (at shutdown) writes every pending line and makes later records
// synchronous, so that nothing logged before exit is lost.
//
// A handler made by NewText or NewJSON also has a fast path for the line a
// service logs on every request (Begin): the line is written byte for byte
// as slog's handler would write it, without slog's per-record machinery.
package asynclog

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// MaxPending bounds the bytes of routine lines waiting to be written
	// (a few thousand lines: seconds of a stalled output at full load).
	MaxPending = 4 << 20
	// BatchBytes of pending lines are written without waiting for Delay.
	BatchBytes = 64 << 10
	// Delay is how long the first pending line waits for others to join
	// it in one write.
	Delay = 5 * time.Millisecond
	// keepBytes bounds a buffer kept for the next batch: a batch grows past
	// BatchBytes while the writer waits for a CPU.
	keepBytes = 1 << 20
)

type shared struct {
	w   io.Writer
	wmu sync.Mutex // serialises writes to w; guards reported

	mu      sync.Mutex // guards the fields below
	pending []byte     // routine lines not yet written
	spare   []byte     // the other buffer, empty, while no write is under way
	armed   bool       // the timer (or a kick) will write pending out
	closed  bool       // routine records are written at once
	timer   *time.Timer

	kick     chan struct{} // wakes the writer goroutine; capacity 1
	dropped  atomic.Uint64
	reported uint64       // dropped as of the last notice (under wmu)
	notice   slog.Handler // the root routine handler, for the drop notice
}

// Handler is the asynchronous handler; make it with New, NewText or
// NewJSON.
type Handler struct {
	s     *shared
	async slog.Handler // formats into the pending buffer
	sync  slog.Handler // formats and writes at once
	// fast is the format of the root handler of NewText or NewJSON (with
	// neither ReplaceAttr nor AddSource), for Begin; a handler with
	// attributes or groups added has none.
	fast format
}

// New returns a handler writing through handlers made by mk (e.g. a JSON
// handler with its options) and starts its writer goroutine, which lives as
// long as the process. mk is called twice: for routine records and for
// records written at once.
func New(w io.Writer, mk func(io.Writer) slog.Handler) *Handler {
	s := &shared{w: w, kick: make(chan struct{}, 1)}
	s.timer = time.AfterFunc(time.Hour, s.wake)
	s.timer.Stop()
	async := mk(pendingSink{s})
	s.notice = async
	go s.run()
	return &Handler{s: s, async: async, sync: mk(nowSink{s})}
}

// NewText is New with slog's text handler and opts (which may be nil).
func NewText(w io.Writer, opts *slog.HandlerOptions) *Handler {
	h := New(w, func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, opts) })
	h.fast = fastFormat(formatText, opts)
	return h
}

// NewJSON is New with slog's JSON handler and opts (which may be nil).
func NewJSON(w io.Writer, opts *slog.HandlerOptions) *Handler {
	h := New(w, func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, opts) })
	h.fast = fastFormat(formatJSON, opts)
	return h
}

// Dropped is the number of routine records dropped because the pending
// buffer was full.
func (h *Handler) Dropped() uint64 { return h.s.dropped.Load() }

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.async.Enabled(ctx, l) }

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return h.sync.Handle(ctx, r)
	}
	// After Close the pending sink writes at once itself.
	return h.async.Handle(ctx, r)
}

// Flush returns once every line pending before the call is written out.
func (h *Handler) Flush() { h.s.writeOut() }

// Close writes every pending routine line and makes the handler write
// later records at once, in the caller (as it does Warn and Error records):
// after Close nothing waits, so nothing can be lost at exit. The service
// calls it when it stops. Close may be called more than once; the handler
// stays usable.
func (h *Handler) Close() error {
	h.s.mu.Lock()
	h.s.closed = true
	h.s.mu.Unlock()
	h.s.writeOut()
	return nil
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{s: h.s, async: h.async.WithAttrs(as), sync: h.sync.WithAttrs(as)}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{s: h.s, async: h.async.WithGroup(name), sync: h.sync.WithGroup(name)}
}

// pendingSink receives the routine handler's formatted lines (slog's
// handlers write each record with one Write).
type pendingSink struct{ s *shared }

func (p pendingSink) Write(line []byte) (int, error) {
	s := p.s
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return s.writeNow(line)
	case len(s.pending)+len(line) > MaxPending:
		s.mu.Unlock()
		s.dropped.Add(1)
		return len(line), nil
	}
	s.pending = append(s.pending, line...)
	if len(s.pending) >= BatchBytes {
		s.mu.Unlock()
		s.wake()
		return len(line), nil
	}
	if !s.armed {
		s.armed = true
		s.timer.Reset(Delay)
	}
	s.mu.Unlock()
	return len(line), nil
}

// nowSink writes the lines of Warn and Error records at once.
type nowSink struct{ s *shared }

func (n nowSink) Write(line []byte) (int, error) { return n.s.writeNow(line) }

// wake asks the writer goroutine to write the pending lines out.
func (s *shared) wake() {
	select {
	case s.kick <- struct{}{}:
	default: // a wake-up is already due; it will take these lines too
	}
}

func (s *shared) run() {
	for range s.kick {
		s.writeOut()
	}
}

// take hands the pending lines to a writer (holding wmu) and puts the
// spare buffer in their place.
func (s *shared) take() []byte {
	s.mu.Lock()
	b := s.pending
	s.pending, s.spare = s.spare[:0], nil
	s.armed = false
	s.mu.Unlock()
	return b
}

// giveBack returns the written buffer as the spare (the writer holds wmu).
func (s *shared) giveBack(b []byte) {
	if cap(b) > keepBytes {
		b = nil // a burst's buffer is not kept for good
	}
	s.mu.Lock()
	s.spare = b[:0]
	s.mu.Unlock()
}

// writeNow writes line in the caller, after the lines pending before it.
func (s *shared) writeNow(line []byte) (int, error) {
	s.wmu.Lock()
	b := append(s.take(), line...)
	_, err := s.w.Write(b)
	s.giveBack(b)
	s.wmu.Unlock()
	return len(line), err
}

// writeOut writes the pending lines, then reports records dropped since
// the last report (the notice joins the next batch).
func (s *shared) writeOut() {
	s.wmu.Lock()
	b := s.take()
	if len(b) > 0 {
		s.w.Write(b)
	}
	s.giveBack(b)
	d, since := s.dropped.Load(), uint64(0)
	if d != s.reported {
		since, s.reported = d-s.reported, d
	}
	s.wmu.Unlock()
	if since > 0 {
		n := slog.NewRecord(time.Now(), slog.LevelWarn, "log records dropped: the log buffer was full", 0)
		n.AddAttrs(slog.Uint64("dropped_total", d), slog.Uint64("dropped_since_last", since))
		s.notice.Handle(context.Background(), n)
	}
}
