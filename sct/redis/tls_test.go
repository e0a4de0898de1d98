package redis_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sct/redis"
	"github.com/authsvc/authsvc/sct/scttest"
)

// pki (as in replay/redis) writes a CA, a server certificate for 127.0.0.1 and a client
// certificate into dir and returns their file names.
type pki struct{ ca, serverCert, serverKey, clientCert, clientKey, otherCA string }

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, "PRIVATE KEY", der)
	}
	serial := int64(1)
	mkCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
		k := newKey()
		serial++
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, k, write(name+".pem", "CERTIFICATE", der)
	}
	ca, caKey, caFile := mkCA("test-ca")
	_, _, otherCA := mkCA("other-ca")
	leaf := func(name string, usage x509.ExtKeyUsage, ips []net.IP) (string, string) {
		k := newKey()
		serial++
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".pem", "CERTIFICATE", der), writeKey(name+".key", k)
	}
	p := pki{ca: caFile, otherCA: otherCA}
	p.serverCert, p.serverKey = leaf("server", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.clientCert, p.clientKey = leaf("client", x509.ExtKeyUsageClientAuth, nil)
	return p
}

// TestTLS: a TLS-only Redis that requires client certificates; the server is
// verified against tls.ca_file, and a wrong CA or a missing client
// certificate gets no working store (errors, never answers).
func TestTLS(t *testing.T) {
	p := newPKI(t, t.TempDir())
	r := testenv.StartRedisWith(t, testenv.RedisOptions{TLSCertFile: p.serverCert, TLSKeyFile: p.serverKey, TLSCAFile: p.ca})
	ctx := context.Background()

	cfg := config(r)
	cfg.TLS = redis.TLSConfig{CAFile: p.ca, CertFile: p.clientCert, KeyFile: p.clientKey}
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
		"server not trusted":    {CAFile: p.otherCA, CertFile: p.clientCert, KeyFile: p.clientKey},
		"no client certificate": {CAFile: p.ca},
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
