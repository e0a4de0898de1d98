package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/replay/redis"
)

// TestTLS: a TLS-only Redis that requires client certificates; the server is
// verified against tls.ca_file, and a wrong CA or a missing client
// certificate gets no working cache.
func TestTLS(t *testing.T) {
	p := testenv.NewRedisPKI(t)
	r := testenv.StartRedisWith(t, testenv.RedisOptions{TLSCertFile: p.NodeCert, TLSKeyFile: p.NodeKey, TLSCAFile: p.CA})
	ctx := context.Background()

	c := open(t, redis.Config{Addrs: []string{r.Addr}, TLS: redis.TLSConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}})
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check over TLS: %v", err)
	}
	key, exp := "ut-nonce:"+randHex(16), time.Now().Add(time.Minute)
	if err := c.Add(ctx, key, exp); err != nil {
		t.Fatalf("Add over TLS: %v", err)
	}
	if err := c.Add(ctx, key, exp); !errors.Is(err, replay.ErrReplay) {
		t.Fatalf("second Add over TLS = %v, want ErrReplay", err)
	}

	for name, tc := range map[string]redis.TLSConfig{
		"server not trusted":    {CAFile: p.OtherCA, CertFile: p.ClientCert, KeyFile: p.ClientKey},
		"no client certificate": {CAFile: p.CA},
		"plaintext":             {},
	} {
		c, err := (&redis.Config{Addrs: []string{r.Addr}, TLS: tc, Timeout: testTimeout, DialTimeout: time.Second}).Open(nil)
		if err != nil {
			continue // refused at Open: fine
		}
		if err := c.Check(ctx); err == nil {
			t.Errorf("%s: Check succeeded", name)
		}
		if err := c.Add(ctx, "k:"+randHex(8), exp); err == nil || errors.Is(err, replay.ErrReplay) {
			t.Errorf("%s: Add = %v, want an error", name, err)
		}
		c.Close()
	}
}
