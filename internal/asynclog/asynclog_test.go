package asynclog

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func jsonH(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) }

// waitFor polls until out holds want (routine records are written by
// another goroutine); it fails after 10 s.
func waitFor(t *testing.T, out *lockedBuf, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if strings.Contains(out.String(), want) {
			return
		}
	}
	t.Fatalf("log never held %q; it holds:\n%s", want, out.String())
}

func TestRoutineRecordsWrittenWithAttrsAndGroups(t *testing.T) {
	out := &lockedBuf{}
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
	out := &lockedBuf{}
	log := slog.New(New(out, jsonH))
	log.Warn("authentication refused", "reason", "nonce replayed")
	if !strings.Contains(out.String(), `"reason":"nonce replayed"`) {
		t.Fatalf("Warn record not written synchronously: %q", out.String())
	}
}

// blockedWriter blocks every write until released, so the queue fills.
type blockedWriter struct {
	release chan struct{}
	out     *lockedBuf
}

func (b *blockedWriter) Write(p []byte) (int, error) {
	<-b.release
	return b.out.Write(p)
}

func TestFullQueueDropsRoutineRecordsAndSaysSo(t *testing.T) {
	out := &lockedBuf{}
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
