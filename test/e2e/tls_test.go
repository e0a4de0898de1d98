package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "authsvc test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSListenerAllowsPasswordText: with TLS on the listener, PasswordText
// from python3-zeep is accepted without text_over_plain_http; the same
// message over plain HTTP to a plain listener is refused.
func TestTLSListenerAllowsPasswordText(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	cfg := strings.Replace(baseConfig, "text_over_plain_http: true", "text_over_plain_http: false", 1) +
		"tls: {cert_file: " + certFile + ", key_file: " + keyFile + "}\n"
	svc := startTLSService(t, cfg, pool)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	msg := zeep(t, "--user", "alice", "--password", "wonderland")
	resp, err := client.Post(svc.URL+"/v1/authenticate", soapContentType("11"), strings.NewReader(string(msg)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PasswordText over TLS: %d", resp.StatusCode)
	}
	// Plain HTTP to the TLS port is not answered as if it were TLS.
	if resp, err := http.Post("http://"+strings.TrimPrefix(svc.URL, "https://")+"/v1/authenticate", soapContentType("11"), strings.NewReader(string(msg))); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP accepted on the TLS listener")
		}
	}
}

// startTLSService starts the binary with a TLS config; StartService checks
// health over plain HTTP, so this one waits over TLS instead.
func startTLSService(t *testing.T, cfg string, pool *x509.CertPool) *Service {
	t.Helper()
	svc := startServiceNoWait(t, cfg, map[string]string{"users.yaml": usersFile(t)})
	svc.URL = strings.Replace(svc.URL, "http://", "https://", 1)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(svc.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return svc
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("TLS service not healthy: %v\n%s", err, svc.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
