package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/extensible"
)

// ExecSection configures a module that asks a program (type: exec). The
// JSON contract is in docs/extensible.md.
//
//   - name: tickets
//     type: exec
//     flag: sufficient
//     command: [/usr/local/bin/check-ticket, --realm, EXAMPLE]   # argv; no shell
//     persistent: false        # true: one long-lived process, one JSON line each way
//     timeout: 5s
//     max_concurrency: 4
//     max_output_bytes: 65536
//     env: [TICKET_DB=/var/lib/tickets]   # PATH is inherited, nothing else
//     dir: /var/lib/tickets
//     headers: [X-Api-Key]     # request headers to send
//     send_passwords: false    # UsernameToken passwords are blanked out unless true
//     method: Ticket           # Subject method when the answer names none
//
// A relative command path or dir is taken from the configuration file's
// directory.
type ExecSection struct {
	Command        []string      `yaml:"command"`
	Persistent     bool          `yaml:"persistent"`
	Timeout        time.Duration `yaml:"timeout"`
	MaxConcurrency int           `yaml:"max_concurrency"`
	MaxOutputBytes int           `yaml:"max_output_bytes"`
	Env            []string      `yaml:"env"`
	Dir            string        `yaml:"dir"`
	Headers        []string      `yaml:"headers"`
	SendPasswords  bool          `yaml:"send_passwords"`
	Method         string        `yaml:"method"`
}

// Validate implements Validator.
func (e *ExecSection) Validate() error {
	if len(e.Command) == 0 || e.Command[0] == "" {
		return errors.New("command is required: a list, the program first (it runs without a shell)")
	}
	if e.Timeout < 0 || e.MaxConcurrency < 0 || e.MaxOutputBytes < 0 {
		return errors.New("timeout, max_concurrency and max_output_bytes must not be negative")
	}
	return nil
}

// Open implements ModuleConfig.
func (e *ExecSection) Open(env *Env) (authn.Module, error) {
	argv := append([]string{}, e.Command...)
	if strings.Contains(argv[0], "/") {
		argv[0] = env.Path(argv[0])
	}
	return extensible.NewExec(extensible.ExecConfig{
		Command: argv, Persistent: e.Persistent, Timeout: e.Timeout, MaxConcurrency: e.MaxConcurrency,
		MaxOutputBytes: e.MaxOutputBytes, Env: e.Env, Dir: env.Path(e.Dir), Method: e.Method,
		Document: extensible.DocumentOptions{Module: env.Name, Headers: e.Headers, SendPasswords: e.SendPasswords},
		Logger:   env.Logger,
	})
}

// HTTPSection configures a module that asks an HTTP service (type: http).
//
//   - name: remote
//     type: http
//     flag: sufficient
//     url: https://auth.internal.example/authsvc
//     timeout: 5s
//     retries: 1               # only after connection errors before the request was sent
//     ca_file: internal-ca.pem # default: the system roots
//     cert_file: client.pem    # client certificate for the service (optional)
//     key_file: client-key.pem
//     request_headers: {Authorization: "Bearer ..."}
//     max_response_bytes: 65536
//     headers: [X-Api-Key]
//     send_passwords: false
//     method: Remote
type HTTPSection struct {
	URL              string            `yaml:"url"`
	Timeout          time.Duration     `yaml:"timeout"`
	Retries          int               `yaml:"retries"`
	CAFile           string            `yaml:"ca_file"`
	CertFile         string            `yaml:"cert_file"`
	KeyFile          string            `yaml:"key_file"`
	RequestHeaders   map[string]string `yaml:"request_headers"`
	MaxResponseBytes int64             `yaml:"max_response_bytes"`
	Headers          []string          `yaml:"headers"`
	SendPasswords    bool              `yaml:"send_passwords"`
	Method           string            `yaml:"method"`
}

// Validate implements Validator.
func (h *HTTPSection) Validate() error {
	u, err := url.Parse(h.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url: %q is not an http(s) URL", h.URL)
	}
	if (h.CertFile == "") != (h.KeyFile == "") {
		return errors.New("cert_file and key_file go together")
	}
	if h.Retries < 0 || h.Retries > 10 {
		return errors.New("retries must be between 0 and 10")
	}
	if h.Timeout < 0 || h.MaxResponseBytes < 0 {
		return errors.New("timeout and max_response_bytes must not be negative")
	}
	if u.Scheme == "http" && h.SendPasswords && u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1" {
		return errors.New("send_passwords over plain http to another host: use https")
	}
	return nil
}

// Open implements ModuleConfig.
func (h *HTTPSection) Open(env *Env) (authn.Module, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if h.CAFile != "" {
		pem, err := os.ReadFile(env.Path(h.CAFile))
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("ca_file: no PEM certificates found")
		}
		tc.RootCAs = pool
	}
	if h.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(env.Path(h.CertFile), env.Path(h.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.Proxy = nil // an authentication service is reached directly
	return extensible.NewHTTP(extensible.HTTPConfig{
		URL: h.URL, Client: &http.Client{Transport: tr}, Timeout: h.Timeout, Retries: h.Retries,
		MaxResponseBytes: h.MaxResponseBytes, RequestHeaders: h.RequestHeaders, Method: h.Method,
		Document: extensible.DocumentOptions{Module: env.Name, Headers: h.Headers, SendPasswords: h.SendPasswords},
		Logger:   env.Logger,
	})
}
