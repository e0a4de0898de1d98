package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NginxOptions configure StartNginx.
type NginxOptions struct {
	// Upstream is the host:port nginx proxies to (authsvc in proxy mode).
	Upstream string
	// ExtraLocation is added inside the location block.
	ExtraLocation string
}

// Nginx is Debian's nginx terminating TLS on a loopback port, in front of
// an upstream, with its own prefix, configuration and certificate in a
// temporary directory. The configuration mirrors docs/gateways.md.
type Nginx struct {
	// URL is "https://127.0.0.1:PORT".
	URL string
	// Dir holds nginx.conf, the certificate (cert.pem, key.pem) and logs.
	Dir string
	// CAFile is the PEM certificate clients must trust (self-signed).
	CAFile string
	// TLS is a client configuration trusting the certificate.
	TLS *tls.Config

	cmd  *exec.Cmd
	done chan error
}

// nginxConf is the test configuration. %[1]s is the directory, %[2]s the
// listen address, %[3]s the upstream, %[4]s the user line, %[5]s extra
// location directives.
const nginxConf = `%[4]s
worker_processes 1;
daemon off;
master_process on;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 128; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/tmp/body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
  upstream authsvc {
    server %[3]s;
    keepalive 16;
  }
  server {
    listen %[2]s ssl;
    ssl_certificate %[1]s/cert.pem;
    ssl_certificate_key %[1]s/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 10m;
    location / {
      proxy_pass http://authsvc;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      # Replace, never append: what a client says about itself is not kept.
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Request-Id $request_id;
%[5]s
    }
  }
}
`

// StartNginx starts nginx and stops it when the test ends. It fails the
// test when nginx is not installed.
func StartNginx(t testing.TB, o NginxOptions) *Nginx {
	t.Helper()
	bin := LookPath(t, "nginx")
	dir := t.TempDir()
	for _, d := range []string{"tmp", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	n := &Nginx{Dir: dir, CAFile: filepath.Join(dir, "cert.pem"), done: make(chan error, 1)}
	if err := os.WriteFile(n.CAFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	n.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}

	user := ""
	if os.Geteuid() == 0 {
		// Workers would run as nobody and could not use the private temp dir.
		user = "user root;"
	}
	addr := Addr(FreePort(t))
	n.URL = "https://" + addr
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, addr, o.Upstream, user, o.ExtraLocation)), 0o600); err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	n.cmd.Stdout = os.Stderr
	n.cmd.Stderr = os.Stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("testenv: nginx: %v", err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(func() { n.stop(t) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, n.TLS)
		if err == nil {
			c.Close()
			return n
		}
		select {
		case err := <-n.done:
			t.Fatalf("testenv: nginx exited at start: %v\n%s", err, n.ErrorLog())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: nginx did not accept TLS connections on %s: %v\n%s", addr, err, n.ErrorLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ErrorLog returns nginx's error log.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
	return string(b)
}

func (n *Nginx) stop(t testing.TB) {
	n.cmd.Process.Signal(syscall.SIGQUIT) // graceful shutdown
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
		t.Errorf("testenv: nginx did not stop within 10 s of SIGQUIT")
	}
	if t.Failed() {
		t.Logf("nginx error log:\n%s", strings.TrimSpace(n.ErrorLog()))
	}
}

// selfSigned makes a P-256 certificate for 127.0.0.1 and localhost.
func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "authsvc test nginx"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}
