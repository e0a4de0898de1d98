package extensible

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// HTTPConfig configures an http module.
type HTTPConfig struct {
	// URL receives the document as a POST (application/json).
	URL string
	// Client sends the requests; its Transport carries the TLS settings.
	// Nil means a client with its own default transport. Redirects are
	// never followed.
	Client *http.Client
	// Timeout bounds one authentication, retries included (default 5 s).
	Timeout time.Duration
	// Retries is how many times a request is sent again after a connection
	// error that happened before the request was written (default 0). A
	// request that may have reached the service is never sent twice.
	Retries int
	// MaxResponseBytes bounds an answer (default 64 KiB).
	MaxResponseBytes int64
	// RequestHeaders are sent with every request (an Authorization header
	// for the service, say).
	RequestHeaders map[string]string
	Document       DocumentOptions
	// Method is the Subject's Method when the answer names none
	// (default "HTTP").
	Method string
	Logger *slog.Logger
}

// HTTP is a login module that asks an HTTP service.
type HTTP struct {
	c      HTTPConfig
	client *http.Client
	where  string // the URL without a password, for logs
}

// NewHTTP checks the configuration and returns the module.
func NewHTTP(c HTTPConfig) (*HTTP, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("extensible: http: url %q is not an http(s) URL", c.URL)
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Retries < 0 || c.Retries > 10 {
		return nil, errors.New("extensible: http: retries must be between 0 and 10")
	}
	if c.MaxResponseBytes <= 0 {
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
