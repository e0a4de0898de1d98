package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type issued struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

// issue makes a certificate for cn, signed by parent (self-signed when nil).
func issue(t *testing.T, cn string, parent *issued, ca bool) *issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: ca, BasicConstraintsValid: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &issued{cert: cert, key: key, der: der}
}

func write(t *testing.T, name string, blocks ...*pem.Block) string {
	t.Helper()
	var b []byte
	for _, blk := range blocks {
		b = append(b, pem.EncodeToMemory(blk)...)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func certBlock(c *issued) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: c.der} }

func keyBlock(t *testing.T, c *issued) *pem.Block {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
}

// A client trusts the CA file it is given and no other: a server whose
// certificate another CA signed fails with an unknown authority.
func TestClientTrustsTheCAFile(t *testing.T) {
	ca, other := issue(t, "ca", nil, true), issue(t, "other-ca", nil, true)
	leaf := issue(t, "127.0.0.1", ca, false)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.der}, PrivateKey: leaf.key}}}
	srv.StartTLS()
	defer srv.Close()

	get := func(caFile string) error {
		tc, err := Files{CAFile: caFile}.Client()
		if err != nil {
			t.Fatal(err)
		}
		if tc.MinVersion != tls.VersionTLS12 {
			t.Errorf("MinVersion %x", tc.MinVersion)
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(write(t, "ca.pem", certBlock(ca))); err != nil {
		t.Errorf("the right CA: %v", err)
	}
	var unknown x509.UnknownAuthorityError
	if err := get(write(t, "other.pem", certBlock(other))); !errors.As(err, &unknown) {
		t.Errorf("an unknown CA: %v, want x509.UnknownAuthorityError", err)
	}
}

func TestBadFiles(t *testing.T) {
	ca := issue(t, "ca", nil, true)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	notPEM := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)
	keyOnly := write(t, "key.pem", keyBlock(t, ca))
	corrupt := write(t, "corrupt.pem", &pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")})

	if _, err := CertPool(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CertPool(missing): %v", err)
	}
	for _, p := range []string{notPEM, keyOnly} {
		if _, err := CertPool(p); !errors.Is(err, ErrNoCertificate) || !strings.Contains(err.Error(), p) {
			t.Errorf("CertPool(%s): %v", filepath.Base(p), err)
		}
		if _, err := Certificates(p); !errors.Is(err, ErrNoCertificate) {
			t.Errorf("Certificates(%s): %v", filepath.Base(p), err)
		}
	}
	if _, err := Certificates(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Certificates(missing): %v", err)
	}
	if _, err := Certificates(corrupt); err == nil || !strings.Contains(err.Error(), corrupt) {
		t.Errorf("Certificates(corrupt): %v", err)
	}
	if _, err := (Files{CAFile: notPEM}).Client(); err == nil || !strings.HasPrefix(err.Error(), "ca_file: ") {
		t.Errorf("Client with a junk CA file: %v", err)
	}
	other := issue(t, "other", nil, false)
	mismatched := write(t, "cert.pem", certBlock(ca))
	if _, err := (Files{CertFile: mismatched, KeyFile: write(t, "k.pem", keyBlock(t, other))}).Client(); err == nil || !strings.HasPrefix(err.Error(), "cert_file: ") {
		t.Errorf("Client with a key that does not match: %v", err)
	}
}

func TestCertificatesSkipsOtherBlocks(t *testing.T) {
	a, b := issue(t, "a", nil, true), issue(t, "b", nil, true)
	p := write(t, "bundle.pem", certBlock(a), keyBlock(t, a), certBlock(b))
	certs, err := Certificates(p)
	if err != nil || len(certs) != 2 || certs[1].Subject.CommonName != "b" {
		t.Fatalf("Certificates: %v %v", certs, err)
	}
	tc, err := Files{CAFile: p, CertFile: write(t, "c.pem", certBlock(a)), KeyFile: write(t, "k.pem", keyBlock(t, a))}.Client()
	if err != nil || tc.RootCAs == nil || len(tc.Certificates) != 1 {
		t.Fatalf("Client: %+v %v", tc, err)
	}
}
