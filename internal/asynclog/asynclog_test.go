package asynclog

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

func jsonH(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) }

// waitFor polls until out holds want (routine records are written by
// another goroutine); it fails after 10 s.
func waitFor(t *testing.T, out *testenv.LogBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if strings.Contains(out.String(), want) {
			return
		}
	}
	t.Fatalf("log never held %q; it holds:\n%s", want, out.String())
}

func TestRoutineRecordsWrittenWithAttrsAndGroups(t *testing.T) {
	out := &testenv.LogBuffer{}
	log := slog.New(New(out, jsonH)).With("svc", "a").WithGroup("g")
	log.Info("authenticated", "principal", "alice")
	waitFor(t, out, `"msg":"authenticated","svc":"a","g":{"principal":"alice"}`)
	log.Debug("hidden") // below the default level
	log.Info("second")
	waitFor(t, out, `"msg":"second"`)
	if strings.Contains(out.String(), "hidden") {
		t.Fatalf("a Debug record was written at level Info:\n%s", out)
	}
}

// A Warn record (a refusal) is in the output when Handle returns, before
// any routine record still queued, and is never dropped.
func TestWarnWrittenAtOnce(t *testing.T) {
	out := &testenv.LogBuffer{}
	log := slog.New(New(out, jsonH))
	log.Warn("authentication refused", "reason", "nonce replayed")
	if !strings.Contains(out.String(), `"reason":"nonce replayed"`) {
		t.Fatalf("Warn record not written synchronously: %q", out.String())
	}
}

// blockedWriter blocks every write until released, so the queue fills.
type blockedWriter struct {
	release chan struct{}
	out     *testenv.LogBuffer
}

func (b *blockedWriter) Write(p []byte) (int, error) {
	<-b.release
	return b.out.Write(p)
}

func TestFullQueueDropsRoutineRecordsAndSaysSo(t *testing.T) {
	out := &testenv.LogBuffer{}
	bw := &blockedWriter{release: make(chan struct{}), out: out}
	h := New(bw, jsonH)
	log := slog.New(h)
	// A first record fills the 64 KiB buffer and blocks the writer in
	// Write; then the queue fills and the rest are dropped.
	log.Info("big", "pad", strings.Repeat("x", 70<<10))
	for range Queue + 100 {
		log.Info("routine")
	}
	if h.Dropped() == 0 {
		t.Fatal("no record dropped with the writer blocked and the queue full")
	}
	close(bw.release)
	waitFor(t, out, `"msg":"log records dropped: the log queue was full"`)
	if !strings.Contains(out.String(), `"level":"WARN"`) {
		t.Fatalf("the drop notice is not at Warn:\n%.300s", out.String())
	}
}

// Close writes out every routine record queued before it (the service calls
// it at shutdown, so nothing logged before exit is lost), and records
// logged after it are written at once.
func TestCloseWritesQueuedRecords(t *testing.T) {
	out := &testenv.LogBuffer{}
	bw := &blockedWriter{release: make(chan struct{}), out: out}
	h := New(bw, jsonH)
	log := slog.New(h)
	// The writer blocks on the first record's write: every later record
	// is still queued when Close is called.
	log.Info("big", "pad", strings.Repeat("x", 70<<10))
	const n = 1000
	for i := range n {
		log.Info("routine", "i", i)
	}
	go close(bw.release)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if c := strings.Count(got, `"msg":"routine"`); c != n || h.Dropped() != 0 {
		t.Fatalf("after Close the output holds %d of %d queued records (dropped %d)", c, n, h.Dropped())
	}
	if !strings.Contains(got, fmt.Sprintf(`"i":%d}`, n-1)) {
		t.Fatalf("the last queued record is missing:\n%.300s", got[len(got)-300:])
	}
	log.Info("after close")
	if !strings.Contains(out.String(), `"msg":"after close"`) {
		t.Fatal("a record logged after Close was not written at once")
	}
	if err := h.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
}

// countingWriter counts the writes it is given.
type countingWriter struct {
	out    *testenv.LogBuffer
	writes atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.out.Write(p)
}

// Routine records logged one after another, a little apart as a server's
// requests are, go out in batches, not one write per record, and a lone
// record still reaches the output without a Flush or Close.
func TestRoutineRecordsBatched(t *testing.T) {
	out := &testenv.LogBuffer{}
	cw := &countingWriter{out: out}
	log := slog.New(New(cw, jsonH))
	const n = 300
	for i := range n {
		log.Info("routine", "i", i)
		// The writer empties the queue in the pause: a writer that wrote
		// whenever the queue ran empty would make a write per record.
		// (Not time.Sleep: on a busy machine it sleeps a millisecond or
		// more, longer than Linger.)
		for start := time.Now(); time.Since(start) < 20*time.Microsecond; {
			runtime.Gosched()
		}
	}
	waitFor(t, out, fmt.Sprintf(`"i":%d}`, n-1))
	// The writer waits Linger for the next record before writing and
	// writes at least every MaxDelay: only pauses of the logging loop
	// longer than Linger, or a loop longer than MaxDelay, make more writes.
	if w := cw.writes.Load(); w > n/3 {
		t.Fatalf("%d records took %d writes", n, w)
	}
	before := cw.writes.Load()
	log.Info("lone record")
	waitFor(t, out, `"msg":"lone record"`)
	if cw.writes.Load() != before+1 {
		t.Fatalf("the lone record took %d writes", cw.writes.Load()-before)
	}
}
