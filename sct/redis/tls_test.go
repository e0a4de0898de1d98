package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sct/redis"
	"github.com/authsvc/authsvc/sct/scttest"
)

// TestTLS: a TLS-only Redis that requires client certificates; the server is
// verified against tls.ca_file, and a wrong CA or a missing client
// certificate gets no working store (errors, never answers).
func TestTLS(t *testing.T) {
	p := testenv.NewRedisPKI(t)
	r := testenv.StartRedisWith(t, testenv.RedisOptions{TLSCertFile: p.NodeCert, TLSKeyFile: p.NodeKey, TLSCAFile: p.CA})
	ctx := context.Background()

	cfg := config(r)
	cfg.TLS = redis.TLSConfig{CAFile: p.CA, CertFile: p.ClientCert, KeyFile: p.ClientKey}
	cfg.Timeout = 2 * time.Second
	s := open(t, cfg)
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check over TLS: %v", err)
	}
	c := scttest.New(scttest.RandIssuer(), time.Hour)
	scttest.MustIssue(t, s, c.Clone(), nil)
	scttest.Equal(t, scttest.MustGet(t, s, c.Issuer, c.Identifier), c)
	scttest.MustCancel(t, s, c.Issuer, c.Identifier, nil)
	scttest.MustGetErr(t, s, c.Issuer, c.Identifier, sct.ErrCancelled)

	for name, tc := range map[string]redis.TLSConfig{
		"server not trusted":    {CAFile: p.OtherCA, CertFile: p.ClientCert, KeyFile: p.ClientKey},
		"no client certificate": {CAFile: p.CA},
		"plaintext":             {},
	} {
		cfg := config(r)
		cfg.TLS, cfg.DialTimeout = tc, time.Second
		s, err := cfg.Open(nil)
		if err != nil {
			continue // refused at Open: fine
		}
		if err := s.Check(ctx); err == nil {
			t.Errorf("%s: Check succeeded", name)
		}
		if got, err := s.Get(ctx, c.Issuer, c.Identifier); got != nil || !errors.Is(err, health.ErrUnavailable) {
			t.Errorf("%s: Get = %v, %v; want ErrUnavailable", name, got, err)
		}
		s.Close()
	}
}
