package extensible

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/authsvc/authsvc/authn"
)

// HTTPConfig configures an http module; it is also the configuration
// section of type http, whose YAML keys are on its fields.
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
type HTTPConfig struct {
	// URL receives the document as a POST (application/json).
	URL string `yaml:"url"`
	// Client sends the requests; its Transport carries the TLS settings.
	// Nil means a client with its own default transport. Redirects are
	// never followed.
	Client *http.Client `yaml:"-"`
	// Timeout bounds one authentication, retries included (default 5 s).
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times a request is sent again after a connection
	// error that happened before the request was written (default 0). A
	// request that may have reached the service is never sent twice.
	Retries int `yaml:"retries"`
	// MaxResponseBytes bounds an answer (default 64 KiB).
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// RequestHeaders are sent with every request (an Authorization header
	// for the service, say).
	RequestHeaders map[string]string `yaml:"request_headers"`
	Document       DocumentOptions   `yaml:",inline"`
	// Method is the Subject's Method when the answer names none
	// (default "HTTP").
	Method string       `yaml:"method"`
	Logger *slog.Logger `yaml:"-"`

	// CAFile, CertFile and KeyFile are the PEM files Open builds Client's
	// TLS settings from: the CAs that sign the service's certificate
	// (default: the system roots) and a client certificate (optional).
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// HTTP is a login module that asks an HTTP service.
type HTTP struct {
	c      HTTPConfig
	client *http.Client
	where  string // the URL without a password, for logs
}

// NewHTTP checks the configuration and returns the module.
func NewHTTP(c HTTPConfig) (*HTTP, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("extensible: http: %w", err)
	}
	u, _ := url.Parse(c.URL) // Validate parsed it
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 10
	}
	if c.Method == "" {
		c.Method = "HTTP"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	cl := &http.Client{}
	if c.Client != nil {
		*cl = *c.Client
	} else {
		cl.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &HTTP{c: c, client: cl, where: u.Redacted()}, nil
}

// Login implements authn.Module.
func (h *HTTP) Login(ctx context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, h.c.Timeout)
	defer cancel()
	doc, err := json.Marshal(NewDocument(req, h.c.Document))
	if err != nil {
		return false, h.fail(req, err)
	}
	var body []byte
	for attempt := 0; ; attempt++ {
		var sent bool
		body, sent, err = h.post(ctx, req.ID, doc)
		if err == nil || sent || attempt >= h.c.Retries || ctx.Err() != nil {
			break
		}
		h.c.Logger.Warn("http module: connection failed before the request was sent; retrying",
			"request_id", req.ID, "attempt", attempt+1, "error", err.Error())
	}
	if err != nil {
		return false, h.fail(req, err)
	}
	a, err := ParseAnswer(body, req.ID)
	if err != nil {
		return false, h.fail(req, err)
	}
	if err := a.MarkProcessed(req); err != nil {
		return false, h.fail(req, err)
	}
	return a.Apply(s, h.c.Method)
}

// post sends the document once. sent reports whether the request may have
// reached the service (its headers were written).
func (h *HTTP) post(ctx context.Context, id string, doc []byte) (body []byte, sent bool, err error) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }}
	hr, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, h.c.URL, bytes.NewReader(doc))
	if err != nil {
		return nil, false, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("X-Request-Id", id)
	for k, v := range h.c.RequestHeaders {
		hr.Header.Set(k, v)
	}
	resp, err := h.client.Do(hr)
	if err != nil {
		return nil, wrote.Load(), err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, h.c.MaxResponseBytes+1))
	if err != nil {
		return nil, true, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(body)) > h.c.MaxResponseBytes {
		return nil, true, fmt.Errorf("answer larger than %d bytes", h.c.MaxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, true, fmt.Errorf("HTTP status %d (body %q)", resp.StatusCode, tail(string(body), 256))
	}
	return body, true, nil
}

func (h *HTTP) fail(req *authn.Request, err error) error {
	h.c.Logger.Error("http module failed; failing closed", "request_id", req.ID, "url", h.where, "error", err.Error())
	return fmt.Errorf("%w: http %s: %w", authn.ErrUnavailable, h.where, err)
}

// Close releases idle connections.
func (h *HTTP) Close() error {
	h.client.CloseIdleConnections()
	return nil
}

var _ authn.Module = (*HTTP)(nil)
