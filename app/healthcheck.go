package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/authsvc/authsvc/config"
)

// healthcheckFlags is `authsvc healthcheck`: GET /readyz of a running
// instance, exit 0 on 200 and 1 otherwise, for Docker's HEALTHCHECK and
// images without curl. With -config, the URL is derived from listen and
// tls (readyzURL); -url names it directly.
func healthcheckFlags(fs *flag.FlagSet, types *config.Types) func([]string) error {
	path := configFlag(fs)
	rawURL := fs.String("url", "", "URL of /readyz, e.g. http://127.0.0.1:8080/readyz (instead of -config)")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	return func([]string) error {
		if *rawURL != "" && *path != "" && *path != os.Getenv(ConfigEnv) {
			return usageError{"give -config or -url, not both"}
		}
		var target string
		client := &http.Client{Timeout: *timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		switch {
		case *rawURL != "":
			u, err := url.Parse(*rawURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageError{fmt.Sprintf("-url %q is not an http(s) URL", *rawURL)}
			}
			target = u.String()
		case *path != "":
			cfg, err := config.Load(*path, types)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			var tc *tls.Config
			target, tc, err = readyzURL(cfg)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			client.Transport = &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
		default:
			return usageError{"-config FILE (or $" + ConfigEnv + ") or -url URL is required"}
		}
		return probe(client, target, *timeout)
	}
}

// probe asks target once and returns nil on 200.
func probe(client *http.Client, target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: not ready: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		line, _, _ := strings.Cut(string(bytes.TrimSpace(body)), "\n")
		return fmt.Errorf("healthcheck: not ready: %s answered %s: %s", target, resp.Status, line)
	}
	fmt.Printf("ready: %s\n", target)
	return nil
}

// readyzURL is the /readyz URL of the instance that runs cfg: the listen
// address, with a wildcard host replaced by loopback, over https when tls
// is configured. The TLS check accepts only the certificate of tls.cert_file
// (the instance is asked on loopback, under no name its certificate holds).
func readyzURL(cfg *config.Config) (string, *tls.Config, error) {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "", nil, fmt.Errorf("listen: %q: %w", cfg.Listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/readyz"}
	if cfg.TLS == nil {
		return u.String(), nil, nil
	}
	u.Scheme = "https"
	cert, err := tls.LoadX509KeyPair(resolve(cfg.Path, cfg.TLS.CertFile), resolve(cfg.Path, cfg.TLS.KeyFile))
	if err != nil {
		return "", nil, fmt.Errorf("tls: %w", err)
	}
	want := cert.Certificate[0]
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is not verified against roots: the check below pins
		// the presented certificate to the configured one instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return errors.New("the server's certificate is not tls.cert_file's")
			}
			return nil
		},
	}
	return u.String(), tc, nil
}
