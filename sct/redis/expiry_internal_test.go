package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sct/scttest"
)

// TestRecordEndsAtRetentionDespiteLatency: a record's key expires at its
// Retention whatever the delay between reading our clock and Redis
// receiving the write. The store's clock is set back by lag, as if each
// command reached Redis lag after the store read the time (a loaded
// machine, a slow link). With a TTL counted from the store's now, the key
// outlived the Retention by lag, and a Renew sent once Get said
// ErrNotFound renewed a context past its renew grace.
func TestRecordEndsAtRetentionDespiteLatency(t *testing.T) {
	r := testenv.StartRedis(t)
	k := make([]byte, 32)
	rand.Read(k)
	cfg := Config{
		Addrs:     []string{r.Addr},
		KeyPrefix: "test:sct:lag:",
		Timeout:   5 * time.Second,
		Keys:      []KeyConfig{{ID: "k1", Hex: hex.EncodeToString(k)}},
		WriteKey:  "k1",
	}
	s, err := cfg.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const lag = 2 * time.Second
	s.now = func() time.Time { return time.Now().Add(-lag) }

	ctx := context.Background()
	c := scttest.New(scttest.RandIssuer(), 300*time.Millisecond)
	if err := s.Issue(ctx, c.Clone()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(c.Retention()) + 50*time.Millisecond)
	err = s.Renew(ctx, c.Instance, scttest.Renewal(c, time.Hour))
	if !errors.Is(err, sct.ErrNotFound) {
		t.Fatalf("Renew after the Retention = %v, want %v", err, sct.ErrNotFound)
	}
	if err := s.Cancel(ctx, c.Issuer, c.Identifier); !errors.Is(err, sct.ErrNotFound) {
		t.Fatalf("Cancel after the Retention = %v, want %v", err, sct.ErrNotFound)
	}
}
