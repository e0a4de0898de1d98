// Package tlsconf loads the PEM files that TLS configurations are made of:
// CA bundles, certificate lists and client key pairs. It is the one place
// where authsvc reads them (the listener, the http module, the LDAP
// registry, the Redis replay cache, the SAML module's IdP certificates), so
// that every section reports a missing file, a file without certificates
// or a bad key pair the same way. Callers prefix the errors with their
// configuration key.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// ErrNoCertificate is returned (wrapped, naming the file) for a file that
// holds no PEM certificate.
var ErrNoCertificate = errors.New("holds no PEM certificate")

// CertPool reads a PEM bundle of CA certificates into a pool. Blocks that
// are not certificates are skipped, as crypto/x509 does; a file with no
// certificate at all is an error.
func CertPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s %w", path, ErrNoCertificate)
	}
	return pool, nil
}

// Certificates reads every CERTIFICATE block of a PEM file (other blocks
// are skipped). A certificate that does not parse, or a file without one,
// is an error.
func Certificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s %w", path, ErrNoCertificate)
	}
	return certs, nil
}

// Files names the PEM files of one TLS configuration. Empty fields are not
// loaded: no CAFile means the system roots, no CertFile no client
// certificate.
type Files struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Client returns a client configuration (TLS 1.2 at least) that trusts
// CAFile's certificates, when set, and presents CertFile/KeyFile, when set.
// Errors are prefixed with the key whose file failed: "ca_file: " or
// "cert_file: ".
func (f Files) Client() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pool, err := CertPool(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		tc.RootCAs = pool
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
