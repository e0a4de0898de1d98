// Package server is authsvc's HTTP face: the authenticate API, the reverse
// proxy that puts authentication in front of a SOAP endpoint, the gateway
// check endpoint, health and readiness, and metrics. It turns every
// rejection into a SOAP fault of the caller's SOAP version and logs the
// exact reason with a request id.
//
// The server only speaks HTTP: the chain (package authn) decides, the
// brute-force guard (package lockout) counts. The files: server.go (options
// and routes), authenticate.go (one request through guard and chain),
// read.go (reading the body as far as needed), respond.go (the one
// sign-and-headers path and the one fault renderer), health.go, proxy.go,
// gateway.go.
package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/bufpool"
	"github.com/authsvc/authsvc/internal/logsafe"
	"github.com/authsvc/authsvc/lockout"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
)

// Options configure a Server.
type Options struct {
	Chain *authn.Chain
	// Parse are the envelope parser's options (limits, actor).
	Parse wsse.Options
	// MaxBodyBytes bounds a request body (default 10 MiB).
	MaxBodyBytes int64
	// MaxSignedBytes bounds a body read whole: a message with a signed
	// Security header, or a WS-Trust request (default 4 MiB, at most
	// MaxBodyBytes).
	MaxSignedBytes int64
	// Timestamp is the policy for wsu:Timestamp in the Security header,
	// checked by the chain's pre-step (authn.Chain.WithTimestamp).
	Timestamp TimestampPolicy
	// TrustedProxies are the addresses whose X-Forwarded-Proto, -For and
	// X-Request-Id are believed. A request from one of them with
	// X-Forwarded-Proto: https counts as confidential.
	TrustedProxies []netip.Prefix
	// Proxy, when set, makes every path other than the service's own a
	// SOAP endpoint forwarded to the upstream after authentication.
	Proxy *ProxyOptions
	// Checkers are the dependencies /readyz asks, by name.
	Checkers map[string]authn.Checker
	// Replay, if set and it reports its size (Len and Cap, as the memory
	// cache does), is exported as authsvc_replay_entries and
	// authsvc_replay_capacity.
	Replay replay.Cache
	Logger *slog.Logger
	// Registry receives the metrics (default: a new registry).
	Registry *prometheus.Registry
	// Now is the clock (default time.Now).
	Now func() time.Time

	// Identity, when set, signs a JWT assertion of the Subject for the
	// upstream and the gateway, and serves /.well-known/jwks.json.
	Identity *IdentityOptions
	// Gateway, when set, serves /v1/ext-authz for Envoy ext_authz and
	// Traefik ForwardAuth.
	Gateway *GatewayOptions
	// Audit, when set, receives one JSON line per authentication decision.
	Audit io.Writer
	// Lockout, when set, counts failures and locks principals and client
	// addresses (see package lockout).
	Lockout *lockout.Options
	// STS, when set, serves WS-SecureConversation: POST /v1/sts, and RSTs
	// sent to a proxied path, are answered by it once the chain accepted
	// them; they are never forwarded upstream. Without it an RST is
	// refused (wst:InvalidRequest).
	STS STS
	// AdminOnlyMetrics leaves /metrics off the service's handler: an admin
	// listener (AdminHandler) serves it.
	AdminOnlyMetrics bool
}

// TimestampPolicy says how wsu:Timestamp is checked.
type TimestampPolicy = authn.TimestampPolicy

// ProxyOptions configure the reverse proxy.
type ProxyOptions struct {
	Upstream *url.URL
	// HeaderPrefix starts the names of the identity headers (default
	// "X-Authenticated-"). Incoming headers with this prefix are removed.
	HeaderPrefix string
	// ScrubPassword removes the PasswordText value from the forwarded
	// message.
	ScrubPassword bool
	// StrictEnvelope checks, while streaming it to the upstream, that the
	// rest of the message after the Body start tag is well-formed and holds
	// no second Header, Body or Envelope (wsse.BodyChecker). A message that
	// fails is cut off before its end and the client gets a fault.
	StrictEnvelope bool
	// SOAP11FaultStatus is the HTTP status of a SOAP 1.1 fault (default 500,
	// as WS-I Basic Profile R1126 requires).
	SOAP11FaultStatus int
	// Transport reaches the upstream (default http.DefaultTransport clone).
	Transport http.RoundTripper
}

// Server is the HTTP service.
type Server struct {
	o       Options
	log     *slog.Logger
	m       *metrics
	series  map[string]*endpointSeries // by endpoint; read-only after New
	handler http.Handler
	ready   sync.Map // dependency name -> bool, last readiness result
	proxy   *httputil.ReverseProxy
	bufs    sync.Pool
	id      *identity
	audit   *auditLog
	guard   *lockout.Guard
	// proxyNames and gatewayNames: the identity headers' names.
	proxyNames, gatewayNames *identityNames
	// moduleSeries: by chain entry name; read-only after New.
	moduleSeries map[string]*moduleSeries
	// draining is set by Drain: /readyz answers 503 from then on.
	draining atomic.Bool
}

// New builds a Server.
func New(o Options) (*Server, error) {
	if o.Chain == nil {
		return nil, errors.New("server: no chain")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 10 << 20
	}
	if o.MaxSignedBytes <= 0 {
		o.MaxSignedBytes = 4 << 20
	}
	o.MaxSignedBytes = min(o.MaxSignedBytes, o.MaxBodyBytes)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, log: o.Logger, m: newMetrics(o.Registry)}
	s.replayGauges(o.Replay)
	if o.Identity != nil {
		id, err := newIdentity(*o.Identity, o.Now())
		if err != nil {
			return nil, err
		}
		s.id = id
	}
	if o.Audit != nil {
		s.audit = &auditLog{w: o.Audit}
	}
	if o.Lockout != nil {
		g, err := s.newGuard(*o.Lockout)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.guard = g
	}
	if g := o.Gateway; g != nil {
		if g.HeaderPrefix == "" {
			g.HeaderPrefix = "X-Authenticated-"
		}
		if g.SOAP11FaultStatus == 0 {
			g.SOAP11FaultStatus = http.StatusInternalServerError
		}
		s.gatewayNames = newIdentityNames(g.HeaderPrefix)
	}
	s.o.Chain = o.Chain.WithTimestamp(o.Timestamp).WithObserver(func(entry string, out authn.Outcome, _ error, d time.Duration) {
		s.observeModule(entry, out, d)
	})
	s.bufs.New = func() any { b := make([]byte, 0, 16<<10); return &b }
	if o.Proxy != nil {
		if err := s.newProxy(o.Proxy); err != nil {
			return nil, err
		}
	}
	s.handler = s.routes()
	s.initSeries()
	return s, nil
}

// replayGauges exports the size of a replay cache that reports it (Len and
// Cap, as the memory cache does).
func (s *Server) replayGauges(c replay.Cache) {
	sz, ok := c.(interface {
		Len() int
		Cap() int
	})
	if !ok {
		return
	}
	s.o.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "authsvc_replay_entries",
			Help: "Entries held by the in-memory replay cache (expired ones not yet swept included)."},
			func() float64 { return float64(sz.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "authsvc_replay_capacity",
			Help: "The in-memory replay cache's max_entries; at capacity, credentials carrying a nonce are refused."},
			func() float64 { return float64(sz.Cap()) }))
}

// newProxy checks and defaults the proxy options and builds the reverse
// proxy.
func (s *Server) newProxy(p *ProxyOptions) error {
	if p.Upstream == nil || p.Upstream.Scheme == "" || p.Upstream.Host == "" {
		return errors.New("server: proxy upstream must be an absolute URL")
	}
	if p.HeaderPrefix == "" {
		p.HeaderPrefix = "X-Authenticated-"
	}
	s.proxyNames = newIdentityNames(p.HeaderPrefix)
	if p.SOAP11FaultStatus == 0 {
		p.SOAP11FaultStatus = http.StatusInternalServerError
	}
	if p.Transport == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256 // the default 2 churns connections under concurrent load
		p.Transport = tr
	}
	// FlushInterval 0: a response of known length is copied without
	// flushing per write (FlushInterval -1 started a flush timer and
	// flushed every write, 15-25 µs a request). httputil still flushes
	// every write of a stream: a text/event-stream response, or one
	// without a Content-Length (chunked from the upstream), so a streaming
	// upstream's events are not held back.
	s.proxy = &httputil.ReverseProxy{
		Rewrite:        s.rewrite,
		Transport:      newTimedTransport(p.Transport, s.m),
		ErrorHandler:   s.upstreamError,
		ModifyResponse: s.tagResponse,
		// Without a pool every response copy allocates a 32 KiB buffer.
		BufferPool: proxyBuffers,
	}
	return nil
}

// proxyBuffers lends the reverse proxy its copy buffers.
var proxyBuffers = &bufpool.Pool{}

// routes is the service's router.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer)
	r.Get("/healthz", healthz)
	r.Get("/readyz", s.readyz)
	if !s.o.AdminOnlyMetrics {
		r.Method(http.MethodGet, "/metrics", s.metricsHandler())
	}
	r.Post("/v1/authenticate", s.authenticateAPI)
	r.Get("/v1/authenticate", s.authenticateAPI) // HTTP Negotiate without a SOAP body
	if s.o.STS != nil {
		r.Post("/v1/sts", s.stsHandler)
	}
	if s.id != nil {
		r.Get("/.well-known/jwks.json", s.jwks)
	}
	if s.o.Gateway != nil {
		// Envoy appends the original path to the check request's path.
		r.HandleFunc("/v1/ext-authz", s.gatewayHandler)
		r.HandleFunc("/v1/ext-authz/*", s.gatewayHandler)
	}
	if s.proxy != nil {
		r.NotFound(s.proxyHandler)
		r.MethodNotAllowed(s.proxyHandler)
	}
	return r
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// recoverer answers a request whose handler panicked with a Server/Receiver
// fault, and logs the panic with its stack.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				id := newRequestID()
				s.log.Error("panic serving request", "request_id", id, "path", logsafe.Clip(r.URL.Path, logsafe.MaxText), "panic", fmt.Sprint(v),
					"stack", string(debug.Stack()))
				writeServerFault(w, versionFromContentType(r.Header.Get("Content-Type")), id, http.StatusInternalServerError, "Internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
