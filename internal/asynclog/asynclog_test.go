package asynclog

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
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

// A Warn record (a refusal) is in the output when Handle returns, after
// the routine lines logged before it, in order.
func TestWarnWrittenAtOnce(t *testing.T) {
	out := &testenv.LogBuffer{}
	log := slog.New(New(out, jsonH))
	log.Info("authenticated", "principal", "alice")
	log.Warn("authentication refused", "reason", "nonce replayed")
	got := out.String()
	i, j := strings.Index(got, `"principal":"alice"`), strings.Index(got, `"reason":"nonce replayed"`)
	if j < 0 || i < 0 || i > j {
		t.Fatalf("Warn record not written synchronously after the pending line: %q", got)
	}
}

// blockedWriter blocks every write until released, so the buffer fills.
type blockedWriter struct {
	release chan struct{}
	out     *testenv.LogBuffer
	entered chan struct{} // when not nil, closed as the first Write starts
	once    sync.Once
}

func (b *blockedWriter) Write(p []byte) (int, error) {
	if b.entered != nil {
		b.once.Do(func() { close(b.entered) })
	}
	<-b.release
	return b.out.Write(p)
}

// With the output stalled, routine lines wait up to MaxPending bytes; past
// that they are dropped, counted, and the count is logged at Warn once the
// output moves again. A Warn record is never dropped.
func TestFullBufferDropsRoutineRecordsAndSaysSo(t *testing.T) {
	out := &testenv.LogBuffer{}
	bw := &blockedWriter{release: make(chan struct{}), out: out, entered: make(chan struct{})}
	h := New(bw, jsonH)
	log := slog.New(h)
	// A first batch blocks the writer in Write; then the pending buffer
	// fills and the rest are dropped.
	log.Info("big", "pad", strings.Repeat("x", BatchBytes))
	<-bw.entered // every line from here on waits in the pending buffer
	pad := strings.Repeat("y", 1000)
	n := 2 * MaxPending / len(pad)
	for range n {
		log.Info("routine", "pad", pad)
	}
	if h.Dropped() == 0 {
		t.Fatal("no record dropped with the writer blocked and the buffer full")
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		close(bw.release)
	}()
	log.Warn("refused") // blocks until the output moves, then is written
	waitFor(t, out, `"msg":"log records dropped: the log buffer was full"`)
	got := out.String()
	if !strings.Contains(got, `"level":"WARN","msg":"log records dropped`) {
		t.Fatalf("the drop notice is not at Warn:\n%.300s", got[len(got)-300:])
	}
	if !strings.Contains(got, `"msg":"refused"`) {
		t.Fatal("the Warn record was lost")
	}
	kept := strings.Count(got, `"msg":"routine"`)
	if uint64(kept)+h.Dropped() != uint64(n) || kept*len(pad) > MaxPending {
		t.Fatalf("%d routine records written and %d dropped of %d, pending bound %d bytes", kept, h.Dropped(), n, MaxPending)
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
	// The writer blocks on the first batch's write: every later record
	// is still pending when Close is called.
	log.Info("big", "pad", strings.Repeat("x", BatchBytes))
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
		t.Fatalf("after Close the output holds %d of %d pending records (dropped %d)", c, n, h.Dropped())
	}
	if !strings.Contains(got, fmt.Sprintf(`"i":%d}`, n-1)) {
		t.Fatalf("the last pending record is missing:\n%.300s", got[len(got)-300:])
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
		// A pause between records, as between a server's requests: a
		// writer that wrote whenever it found nothing more to write would
		// make a write per record. (Not time.Sleep: on a busy machine it
		// sleeps a millisecond or more.)
		for start := time.Now(); time.Since(start) < 20*time.Microsecond; {
			runtime.Gosched()
		}
	}
	waitFor(t, out, fmt.Sprintf(`"i":%d}`, n-1))
	// A batch is written Delay after its first line: the loop (about
	// 6 ms) makes a few writes.
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
