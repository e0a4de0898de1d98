// Package server is authsvc's HTTP face: the authenticate API, the reverse
// proxy that puts authentication in front of a SOAP endpoint, health and
// readiness, and metrics. It turns every rejection into a SOAP fault of the
// caller's SOAP version and logs the exact reason with a request id.
package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authsvc/authsvc/authn"
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
	// Timestamp is the policy for wsu:Timestamp in the Security header.
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
}

// TimestampPolicy says how wsu:Timestamp is checked.
type TimestampPolicy struct {
	// Required rejects messages without a Timestamp.
	Required bool
	// MaxAge is how old Created may be (0: only Expires limits it).
	MaxAge time.Duration
	// FutureSkew is how far ahead Created may be.
	FutureSkew time.Duration
}

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
	handler http.Handler
	ready   sync.Map // dependency name -> bool, last readiness result
	proxy   *httputil.ReverseProxy
	bufs    sync.Pool
	id      *identity
	audit   *auditLog
	guard   *lockout.Guard
}

// New builds a Server.
func New(o Options) (*Server, error) {
	if o.Chain == nil {
		return nil, errors.New("server: no chain")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 10 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timestamp.FutureSkew == 0 {
		o.Timestamp.FutureSkew = 60 * time.Second
	}
	s := &Server{o: o, log: o.Logger, m: newMetrics(o.Registry)}
	if sz, ok := o.Replay.(interface {
		Len() int
		Cap() int
	}); ok {
		o.Registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "authsvc_replay_entries",
				Help: "Entries held by the in-memory replay cache (expired ones not yet swept included)."},
				func() float64 { return float64(sz.Len()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "authsvc_replay_capacity",
				Help: "The in-memory replay cache's max_entries; at capacity, credentials carrying a nonce are refused."},
				func() float64 { return float64(sz.Cap()) }))
	}
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
	}
	s.o.Chain = o.Chain.WithObserver(func(entry string, out authn.Outcome, _ error, d time.Duration) {
		s.m.modules.WithLabelValues(entry, out.String()).Inc()
		s.m.moduleDuration.WithLabelValues(entry).Observe(d.Seconds())
	})
	s.bufs.New = func() any { b := make([]byte, 0, 16<<10); return &b }
	if p := o.Proxy; p != nil {
		if p.Upstream == nil || p.Upstream.Scheme == "" || p.Upstream.Host == "" {
			return nil, errors.New("server: proxy upstream must be an absolute URL")
		}
		if p.HeaderPrefix == "" {
			p.HeaderPrefix = "X-Authenticated-"
		}
		if p.SOAP11FaultStatus == 0 {
			p.SOAP11FaultStatus = http.StatusInternalServerError
		}
		if p.Transport == nil {
			p.Transport = http.DefaultTransport.(*http.Transport).Clone()
		}
		s.proxy = &httputil.ReverseProxy{
			Rewrite:       s.rewrite,
			Transport:     timedTransport{p.Transport, s.m},
			ErrorHandler:  s.upstreamError,
			FlushInterval: -1,
		}
	}

	r := chi.NewRouter()
	r.Use(s.recoverer)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	r.Get("/readyz", s.readyz)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	r.Post("/v1/authenticate", s.authenticateAPI)
	r.Get("/v1/authenticate", s.authenticateAPI) // HTTP Negotiate without a SOAP body
	if s.id != nil {
		r.Get("/.well-known/jwks.json", s.jwks)
	}
	if o.Gateway != nil {
		// Envoy appends the original path to the check request's path.
		r.HandleFunc("/v1/ext-authz", s.gatewayHandler)
		r.HandleFunc("/v1/ext-authz/*", s.gatewayHandler)
	}
	if s.proxy != nil {
		r.NotFound(s.proxyHandler)
		r.MethodNotAllowed(s.proxyHandler)
	}
	s.handler = r
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

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
				v := versionFromContentType(r.Header.Get("Content-Type"))
				code := "soap:Server"
				if v == wsse.SOAP12 {
					code = "env:Receiver"
				}
				w.Header().Set("Content-Type", contentType(v))
				w.WriteHeader(http.StatusInternalServerError)
				w.Write(serverFault(v, code, "Internal error", id))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// outcome of authenticating one HTTP request.
type result struct {
	id       string
	version  wsse.Version
	env      *wsse.Envelope
	head     []byte // the part of the body read so far
	eof      bool   // head is the whole body
	subject  *authn.Subject
	fault    *authn.Fault
	status   int // for faults decided before the chain (too large, malformed)
	release  func()
	peerAddr netip.AddrPort
	client   netip.Addr // the client's address, through trusted proxies
	claimed  string     // the user name the token claims (unverified)
	locked   string     // principal or address when refused as locked
	start    time.Time
}

func (r *result) peer() netip.AddrPort { return r.peerAddr }

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) trusted(peer netip.AddrPort) bool {
	a := peer.Addr().Unmap()
	for _, p := range s.o.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// authenticate reads the head of the request body, parses it and runs the
// chain.
func (s *Server) authenticate(r *http.Request) *result {
	start := time.Now()
	now := s.o.Now()
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	fromProxy := s.trusted(peer)
	res := &result{id: newRequestID(), version: versionFromContentType(r.Header.Get("Content-Type")), peerAddr: peer,
		client: peer.Addr().Unmap(), start: start}
	if fromProxy {
		res.client = s.forwardedClient(r.Header.Values("X-Forwarded-For"), res.client)
	}
	if id := r.Header.Get("X-Request-Id"); fromProxy && requestIDPattern.MatchString(id) {
		res.id = id
	}
	s.m.inflight.Inc()
	defer s.m.inflight.Dec()

	fail := func(status int, f *authn.Fault) *result {
		res.fault, res.status = f, status
		return res
	}
	if r.ContentLength > s.o.MaxBodyBytes {
		return fail(http.StatusRequestEntityTooLarge, authn.Reject(wsse.InvalidSecurity,
			"message of %d bytes is larger than max_body_bytes %d", r.ContentLength, s.o.MaxBodyBytes))
	}
	bp := s.bufs.Get().(*[]byte)
	res.release = func() {
		if cap(*bp) <= 64<<10 { // do not keep large buffers alive
			*bp = (*bp)[:0]
			s.bufs.Put(bp)
		}
	}
	env, err := s.readEnvelope(r.Body, bp, res)
	if err != nil {
		var tooBig *tooLargeError
		if errors.As(err, &tooBig) {
			return fail(http.StatusRequestEntityTooLarge, authn.Reject(wsse.InvalidSecurity, "%v", err))
		}
		var we *wsse.Error
		if errors.As(err, &we) {
			if we.Version != 0 {
				// The envelope's namespace says more than Content-Type.
				res.version = we.Version
			}
			return fail(http.StatusBadRequest, authn.AsFault(err))
		}
		return fail(http.StatusBadRequest, authn.Reject(wsse.InvalidSecurity, "reading the request body: %v", err))
	}
	res.env = env
	if env != nil {
		res.version = env.Version
		res.claimed = claimedPrincipal(env)
		if sec := env.Security; sec != nil && sec.Timestamp != nil {
			if err := wsse.CheckTimestamp(sec.Timestamp, now, s.o.Timestamp.MaxAge, s.o.Timestamp.FutureSkew); err != nil {
				return fail(0, authn.AsFault(err))
			}
		} else if s.o.Timestamp.Required {
			return fail(0, authn.Reject(wsse.InvalidSecurity, "no Timestamp in the Security header and the policy requires one"))
		}
	}

	req := &authn.Request{
		Envelope:      env,
		Peer:          peer,
		Client:        res.client,
		TLS:           r.TLS,
		Secure:        r.TLS != nil || fromProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
		Authorization: r.Header.Get("Authorization"),
		Header:        r.Header.Get,
		ID:            res.id,
		Now:           now,
	}
	if env != nil && env.Security != nil && env.Security.Timestamp != nil {
		req.MarkProcessedAt(env.Security.Timestamp.Start) // checked above
	}
	ctx := r.Context()
	if s.guard == nil {
		subj, err := s.o.Chain.Authenticate(ctx, req)
		s.m.duration.Observe(time.Since(start).Seconds())
		if err != nil {
			return fail(0, replayRefusal(authn.AsFault(err)))
		}
		res.subject = subj
		return res
	}
	traced, a, which, err := s.guard.Begin(ctx, res.claimed, res.client, now)
	if err != nil {
		// Fail closed: without the counters, guessing would be unthrottled.
		return fail(0, &authn.Fault{Code: wsse.SecurityTokenUnavailable, Reason: "brute-force store unavailable",
			Temporary: true, Err: err})
	}
	lockedAs := func(which string) *result {
		res.locked = which
		s.m.lockedRejections.WithLabelValues(which).Inc()
		return fail(0, authn.Reject(wsse.FailedAuthentication, "locked: too many failed authentications for this %s", which))
	}
	if which != "" {
		// The same fault as a wrong password, after the same work: a
		// locked account must not be told apart from a bad guess, by
		// the answer or by its latency. Nothing is counted or reset.
		s.decoyLogin(ctx, req)
		s.m.duration.Observe(time.Since(start).Seconds())
		return lockedAs(which)
	}
	subj, err := s.o.Chain.Authenticate(traced, req)
	s.m.duration.Observe(time.Since(start).Seconds())
	// The directory may match the claimed name to a user locked under its
	// own name (mail for uid): refuse as locked, now that the work is done.
	if err != nil {
		f := replayRefusal(authn.AsFault(err))
		if f.Code == wsse.FailedAuthentication && !f.Temporary {
			if which := s.guard.Failed(traced, a, now); which != "" {
				return lockedAs(which)
			}
		}
		return fail(0, f)
	}
	if which := s.guard.Succeeded(traced, a, res.id, subj.Principal, now); which != "" {
		return lockedAs(which)
	}
	res.subject = subj
	return res
}

// forwardedClient finds the client in X-Forwarded-For (sent by a trusted
// proxy): the right-most address that is not itself a trusted proxy.
func (s *Server) forwardedClient(values []string, peer netip.Addr) netip.Addr {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		client = a.Unmap()
		if !s.trusted(netip.AddrPortFrom(client, 0)) {
			break
		}
	}
	return client
}

// claimedPrincipal is the user name the first UsernameToken claims, cut to
// a sane length, for counting and auditing. It is not verified.
func claimedPrincipal(env *wsse.Envelope) string {
	if env.Security == nil || len(env.Security.UsernameTokens) == 0 {
		return ""
	}
	return logsafe.Clip(env.Security.UsernameTokens[0].Username, logsafe.MaxName)
}

// claimedMethod names the credential a rejected request carried.
func claimedMethod(res *result, r *http.Request) (method, tokenType string) {
	if res.env != nil && res.env.Security != nil {
		sec := res.env.Security
		if len(sec.UsernameTokens) > 0 {
			switch sec.UsernameTokens[0].PasswordType {
			case wsse.PasswordDigest:
				return "UsernameToken", "PasswordDigest"
			case wsse.PasswordText, "":
				if sec.UsernameTokens[0].HasPassword {
					return "UsernameToken", "PasswordText"
				}
			}
			return "UsernameToken", ""
		}
		if len(sec.BinaryTokens) > 0 {
			return "BinarySecurityToken", ""
		}
	}
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, _, _ := strings.Cut(a, " ")
		if strings.EqualFold(scheme, "Negotiate") {
			return "Negotiate", ""
		}
		return "other", ""
	}
	return "none", ""
}

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("message is larger than max_body_bytes %d", e.limit)
}

// readEnvelope reads the body until the parser has seen the Body start tag,
// the body ends, or the header limit is passed. An empty body gives a nil
// envelope (HTTP Negotiate without SOAP). When the Security header is signed
// it reads the rest of the body too, up to max_body_bytes, so that the
// signature is verified over the whole message; an unsigned message costs
// the same whatever follows its Body start tag.
func (s *Server) readEnvelope(body io.Reader, bp *[]byte, res *result) (*wsse.Envelope, error) {
	var buf []byte
	maxHead := s.o.Parse.Limits.MaxHeaderBytes
	if maxHead <= 0 {
		maxHead = wsse.DefaultLimits.MaxHeaderBytes
	}
	// A client that trickles its message a byte at a time must not make us
	// rescan or reparse everything it sent so far on each read: only the new
	// bytes are searched for "Body", and after a parse that needed more, the
	// next waits until half as much again has arrived. Both stay linear in
	// the size of the head.
	scanned, sawBody, parseAt := 0, false, 0
	for {
		var n int
		var eof bool
		var err error
		if buf, n, eof, err = s.readMore(body, bp, res); err != nil {
			return nil, err
		}
		if eof && len(buf) == 0 {
			return nil, nil
		}
		if n == 0 && !eof {
			continue
		}
		if !sawBody {
			from := max(scanned-3, 0)
			sawBody = bytes.Contains(buf[from:], []byte("Body"))
			scanned = len(buf)
		}
		// Parse once enough has arrived: at the end of the body, when the
		// buffer is full (it doubles, so that happens a few times at most),
		// or when a Body start tag may be present.
		if eof || len(buf) == cap(buf) || sawBody && len(buf) >= parseAt {
			env, perr := wsse.Parse(buf, &s.o.Parse)
			if perr == nil {
				res.version = env.Version
				if !eof && env.NeedsWhole() {
					// A signature may cover the Body: verify over every byte,
					// and forward exactly those bytes in proxy mode.
					if buf, err = s.readRest(body, bp, res); err != nil {
						return nil, err
					}
					env.Raw = buf
				}
				return env, nil
			}
			if eof || len(buf) > maxHead {
				return nil, perr
			}
			parseAt = len(buf) + max(len(buf)/2, 4096)
		}
	}
}

// readRest reads what is left of the body into *bp after the head already
// there, up to max_body_bytes, and returns the whole body. The buffer grows
// with what arrives, never with what Content-Length announces: a client that
// announces 10 MiB and sends nothing must not make us hold 10 MiB.
func (s *Server) readRest(body io.Reader, bp *[]byte, res *result) ([]byte, error) {
	for {
		buf, _, eof, err := s.readMore(body, bp, res)
		if err != nil || eof {
			return buf, err
		}
	}
}

// readMore does one read into *bp after what it holds, growing it when full,
// and keeps res.head and res.eof up to date. Past max_body_bytes it fails.
func (s *Server) readMore(body io.Reader, bp *[]byte, res *result) (buf []byte, n int, eof bool, err error) {
	buf = *bp
	if len(buf) == cap(buf) {
		buf = append(buf, 0)[:len(buf)]
	}
	n, err = body.Read(buf[len(buf):cap(buf)])
	buf = buf[:len(buf)+n]
	*bp = buf
	res.head = buf
	if int64(len(buf)) > s.o.MaxBodyBytes {
		return buf, n, false, &tooLargeError{s.o.MaxBodyBytes}
	}
	eof = errors.Is(err, io.EOF)
	if err != nil && !eof {
		return buf, n, false, err
	}
	res.eof = eof
	return buf, n, eof, nil
}

func (s *Server) logDecision(r *http.Request, res *result, endpoint string) {
	if res.fault == nil {
		s.m.requests.WithLabelValues(endpoint, "accepted").Inc()
		s.m.decisions.WithLabelValues(endpoint, res.subject.Method, res.subject.TokenType, "accepted").Inc()
		s.log.Info("authenticated", "request_id", res.id, "endpoint", endpoint, "peer", r.RemoteAddr,
			"principal", res.subject.Name(), "method", res.subject.Method, "token_type", res.subject.TokenType,
			"modules", res.subject.Modules)
		s.writeAudit(r, res, endpoint, "accepted")
		return
	}
	f := res.fault
	outcome := "rejected"
	level := slog.LevelWarn
	var qe *replay.QuotaError
	if errors.As(f, &qe) {
		// Not a dependency failure: one owner used up its share.
		outcome = "throttled"
		s.m.replayQuotaRefusals.WithLabelValues(qe.Kind).Inc()
	} else if f.Temporary {
		outcome = "error"
		level = slog.LevelError
		if f.Module != "" {
			s.m.depErrorsTotal.WithLabelValues("module/" + f.Module).Inc()
		}
	}
	s.m.requests.WithLabelValues(endpoint, outcome).Inc()
	s.m.faults.WithLabelValues(string(f.Code)).Inc()
	if res.locked != "" {
		outcome = "locked"
	}
	method, tokenType := claimedMethod(res, r)
	s.m.decisions.WithLabelValues(endpoint, method, tokenType, outcome).Inc()
	if isReplay(f) {
		s.m.replayHits.Inc()
	}
	if errors.Is(f, authn.ErrUnprocessed) {
		s.m.unprocessed.Inc()
	}
	s.writeAudit(r, res, endpoint, outcome)
	// Reasons and errors may quote what the client sent: bounded.
	attrs := []any{"request_id", res.id, "endpoint", endpoint, "peer", r.RemoteAddr, "fault", string(f.Code),
		"reason", logsafe.Clip(f.Reason, logsafe.MaxText)}
	if res.claimed != "" {
		attrs = append(attrs, "claimed_principal", res.claimed)
	}
	if res.locked != "" {
		attrs = append(attrs, "locked", res.locked)
	}
	if f.Module != "" {
		attrs = append(attrs, "module", f.Module)
	}
	if qe != nil {
		attrs = append(attrs, "outcome", outcome, "retry_after", f.RetryAfter.Round(time.Second).String())
	}
	if f.Err != nil {
		attrs = append(attrs, "error", logsafe.Clip(f.Err.Error(), logsafe.MaxText))
	}
	s.log.Log(r.Context(), level, "authentication refused", attrs...)
}

// apiStatus is the HTTP status of a fault from /v1/authenticate.
func apiStatus(res *result) int {
	switch {
	case res.status != 0:
		return res.status
	case res.fault.Temporary:
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// judge authenticates r for an endpoint and logs the decision. On a
// rejection it answers with the fault (status chosen by status) and returns
// nil; on success it returns the result and a function to call when the
// handler is done with it.
func (s *Server) judge(w http.ResponseWriter, r *http.Request, endpoint string, status func(*result) int) (*result, func()) {
	untrack := s.track(endpoint)
	res := s.authenticate(r)
	done := func() {
		if res.release != nil {
			res.release()
		}
		untrack()
	}
	s.logDecision(r, res, endpoint)
	if res.fault != nil {
		writeFault(w, res.version, res.fault, res.id, status(res))
		done()
		return nil, nil
	}
	return res, done
}

func (s *Server) authenticateAPI(w http.ResponseWriter, r *http.Request) {
	res, done := s.judge(w, r, "api", apiStatus)
	if res == nil {
		return
	}
	defer done()
	h := w.Header()
	for k, v := range res.subject.ReplyHeaders {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Request-Id", res.id)
	if s.id != nil {
		tok, err := s.id.sign(res.subject, res.id, s.o.Now())
		if err != nil {
			s.assertionFailed(w, res, err)
			return
		}
		h.Set(s.id.o.Header, tok)
	}
	json.NewEncoder(w).Encode(res.subject)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	names := make([]string, 0, len(s.o.Checkers))
	for n := range s.o.Checkers {
		names = append(names, n)
	}
	sort.Strings(names)
	type check struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	out := struct {
		Ready  bool    `json:"ready"`
		Checks []check `json:"checks"`
	}{Ready: true, Checks: []check{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := s.o.Checkers[n].Check(ctx)
			s.m.depDuration.WithLabelValues(n).Observe(time.Since(start).Seconds())
			mu.Lock()
			defer mu.Unlock()
			c := check{Name: n, OK: err == nil}
			if err != nil {
				c.Error = err.Error()
				out.Ready = false
				s.m.depErrors.WithLabelValues(n).Inc()
			}
			// Log when a dependency changes state, not on every probe.
			if was, seen := s.ready.Swap(n, err == nil); !seen && err != nil || seen && was.(bool) != (err == nil) {
				if err != nil {
					s.log.Error("readiness: dependency failing", "dependency", n, "error", err.Error())
				} else {
					s.log.Info("readiness: dependency answers again", "dependency", n)
				}
			}
			out.Checks = append(out.Checks, c)
		}()
	}
	wg.Wait()
	sort.Slice(out.Checks, func(i, j int) bool { return out.Checks[i].Name < out.Checks[j].Name })
	w.Header().Set("Content-Type", "application/json")
	if !out.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(out)
}
