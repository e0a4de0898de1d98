package config

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/authsvc/authsvc/replay"
)

// TestMemoryReplayQuotaDefaults: without a quota key, one principal and one
// address may each record a tenth of max_entries per window; -1 turns a
// kind off.
func TestMemoryReplayQuotaDefaults(t *testing.T) {
	ctx, exp := context.Background(), time.Now().Add(time.Minute)
	fill := func(c replay.Cache, o replay.Owner, n int) error {
		for i := 0; i < n; i++ {
			if err := replay.AddFor(ctx, c, o.Principal+o.Address.String()+strconv.Itoa(i), exp, o); err != nil {
				return err
			}
		}
		return nil
	}
	c, err := (&MemoryReplay{MaxEntries: 100}).Open(&Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	alice := replay.Owner{Principal: "alice", Address: netip.MustParseAddr("192.0.2.1")}
	if err := fill(c, alice, 10); err != nil {
		t.Fatal(err)
	}
	var qe *replay.QuotaError
	if err := replay.AddFor(ctx, c, "eleventh", exp, alice); !errors.As(err, &qe) || qe.Limit != 10 || qe.Window != 5*time.Minute {
		t.Fatalf("11th key = %v (%+v), want a quota of 10 per 5m", err, qe)
	}

	c2, err := (&MemoryReplay{MaxEntries: 100, Quota: replay.QuotaConfig{Principal: -1, Address: -1}}).Open(&Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := fill(c2, alice, 100); err != nil {
		t.Fatalf("quotas off: %v", err)
	}
}
