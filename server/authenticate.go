package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/asynclog"
	"github.com/authsvc/authsvc/internal/logsafe"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// outcome of authenticating one HTTP request.
type result struct {
	id       string
	version  wsse.Version
	env      *wsse.Envelope
	head     []byte // the part of the body read so far
	eof      bool   // head is the whole body
	drained  bool   // what followed head was read and dropped (discardRest)
	subject  *authn.Subject
	fault    *authn.Fault
	status   int // for faults decided before the chain (too large, malformed)
	release  func()
	peerAddr netip.AddrPort
	client   netip.Addr // the client's address, through trusted proxies
	claimed  string     // the user name the token claims (unverified)
	locked   string     // principal or address when refused as locked
	start    time.Time
	// A WS-Trust RST (rst != NotRST, of version trust) is answered by the
	// STS with reply; preFault is a refusal found while reading (a
	// malformed action).
	rst      wstrust.Kind
	trust    *wstrust.Version
	preFault *authn.Fault
	reply    []byte
}

func (r *result) peer() netip.AddrPort { return r.peerAddr }

// fail records a refusal; status 0 lets the endpoint choose.
func (r *result) fail(status int, f *authn.Fault) *result {
	r.fault, r.status = f, status
	return r
}

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

// authenticate reads the head of the request body (all of it for an RST),
// parses it and runs the chain, behind the brute-force guard when there is
// one. An RST the chain accepted is then answered by the STS (res.reply).
func (s *Server) authenticate(r *http.Request, endpoint string) *result {
	res := s.newResult(r)
	now := s.o.Now() // the instant the chain judges the request at
	s.m.inflight.Inc()
	defer s.m.inflight.Dec()
	if f, status := s.readBody(r, res); f != nil {
		return res.fail(status, f)
	}
	if f := s.rstPolicy(res, endpoint); f != nil {
		return res.fail(0, f)
	}
	req := s.request(r, res, now)
	s.authenticateRequest(r, res, req)
	if res.fault == nil && res.rst != wstrust.NotRST {
		s.respondRST(r.Context(), res, req)
	}
	return res
}

// authenticateRequest runs the pre-steps and the chain on req.
func (s *Server) authenticateRequest(r *http.Request, res *result, req *authn.Request) *result {
	// The chain's pre-steps (the Timestamp) refuse a stale message before
	// the brute-force store is asked anything.
	if err := s.o.Chain.Precheck(req); err != nil {
		return res.fail(0, authn.AsFault(err))
	}
	if s.guard == nil {
		subj, err := s.o.Chain.Authenticate(r.Context(), req)
		s.m.duration.Observe(time.Since(res.start).Seconds())
		if err != nil {
			return res.fail(0, replayRefusal(authn.AsFault(err)))
		}
		res.subject = subj
		return res
	}
	return s.guarded(r.Context(), res, req)
}

// newResult starts the result of a request: its id (a trusted proxy's
// X-Request-Id, else a new one), the SOAP version its Content-Type says,
// and the client's address through trusted proxies.
func (s *Server) newResult(r *http.Request) *result {
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	res := &result{id: newRequestID(), version: versionFromContentType(r.Header.Get("Content-Type")), peerAddr: peer,
		client: peer.Addr().Unmap(), start: time.Now()}
	if s.trusted(peer) {
		res.client = s.forwardedClient(r.Header.Values("X-Forwarded-For"), res.client)
		if id := r.Header.Get("X-Request-Id"); requestIDPattern.MatchString(id) {
			res.id = id
		}
	}
	return res
}

// request is what the chain sees of r, at now.
func (s *Server) request(r *http.Request, res *result, now time.Time) *authn.Request {
	fromProxy := s.trusted(res.peerAddr)
	return &authn.Request{
		Envelope:      res.env,
		Peer:          res.peerAddr,
		Client:        res.client,
		TLS:           r.TLS,
		Secure:        r.TLS != nil || fromProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
		Authorization: r.Header.Get("Authorization"),
		Header:        r.Header.Get,
		ID:            res.id,
		Now:           now,
	}
}

// guarded runs the chain behind the brute-force guard: a locked principal
// or address is refused with the fault of a wrong password, after the same
// work (decoyLogin); a failed authentication is counted; a success resets
// the principal's failures, unless the name it resolved to is locked.
func (s *Server) guarded(ctx context.Context, res *result, req *authn.Request) *result {
	traced, a, which, err := s.guard.Begin(ctx, res.claimed, res.client, req.Now)
	if err != nil {
		// Fail closed: without the counters, guessing would be unthrottled.
		return res.fail(0, &authn.Fault{Code: wsse.SecurityTokenUnavailable, Reason: "brute-force store unavailable",
			Temporary: true, Err: err})
	}
	if which != "" {
		// The same fault as a wrong password, after the same work: a
		// locked account must not be told apart from a bad guess, by the
		// answer or by its latency. Nothing is counted or reset.
		s.decoyLogin(ctx, req)
		s.m.duration.Observe(time.Since(res.start).Seconds())
		return s.lockedOut(res, which)
	}
	subj, err := s.o.Chain.Authenticate(traced, req)
	s.m.duration.Observe(time.Since(res.start).Seconds())
	// The directory may match the claimed name to a user locked under its
	// own name (mail for uid): refuse as locked, now that the work is done.
	if err != nil {
		f := replayRefusal(authn.AsFault(err))
		if f.Code == wsse.FailedAuthentication && !f.Temporary {
			if which := s.guard.Failed(traced, &a, req.Now); which != "" {
				return s.lockedOut(res, which)
			}
		}
		return res.fail(0, f)
	}
	if which := s.guard.Succeeded(traced, &a, res.id, subj.Principal, req.Now); which != "" {
		return s.lockedOut(res, which)
	}
	res.subject = subj
	return res
}

// lockedOut refuses a request because its principal or address (which) is
// locked.
func (s *Server) lockedOut(res *result, which string) *result {
	res.locked = which
	s.m.lockedRejections.WithLabelValues(which).Inc()
	return res.fail(0, authn.Reject(wsse.FailedAuthentication, "locked: too many failed authentications for this %s", which))
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
	c := authn.Claimed(res.env, r.Header.Get("Authorization"))
	return c.Method, c.TokenType
}

func (s *Server) logDecision(r *http.Request, res *result, endpoint string) {
	if res.fault == nil {
		s.countAccepted(endpoint, res.subject.Method, res.subject.TokenType)
		if !s.logAccepted(r, res, endpoint) && s.log.Enabled(r.Context(), slog.LevelInfo) {
			// The line with a value the fast path leaves to slog.
			// Typed attributes: no boxing of each value into an any.
			attrs := make([]slog.Attr, 0, 9)
			attrs = append(attrs, slog.String("request_id", res.id), slog.String("endpoint", endpoint),
				slog.String("peer", r.RemoteAddr), slog.String("principal", res.subject.Name()),
				slog.String("method", res.subject.Method), slog.String("token_type", res.subject.TokenType),
				slog.Any("modules", res.subject.Modules))
			if res.rst != wstrust.NotRST {
				attrs = append(attrs, slog.String("rst", res.rst.String()), slog.String("trust_version", res.trust.String()))
			}
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "authenticated", attrs...)
		}
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
	if res.locked != "" {
		outcome = outcomeLocked
	}
	s.m.requests.WithLabelValues(endpoint, outcome).Inc()
	s.m.faults.WithLabelValues(string(f.Code)).Inc()
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
	if res.rst != wstrust.NotRST {
		attrs = append(attrs, "rst", res.rst.String())
		if f.Namespace != "" {
			attrs = append(attrs, "fault_namespace", f.Namespace)
		}
	}
	s.log.Log(r.Context(), level, "authentication refused", attrs...)
}

// logAccepted writes the "authenticated" line through the asynchronous
// log's fast path (internal/asynclog.Begin) and reports whether it did; it
// did not when the logger is not one it writes for, info is disabled, or a
// value needs quoting, and the caller then logs the same attributes through
// slog.
func (s *Server) logAccepted(r *http.Request, res *result, endpoint string) bool {
	ln := asynclog.Begin(s.log, slog.LevelInfo, "authenticated")
	if ln == nil {
		return false // not the asynchronous log, or info disabled: no values worked out
	}
	ln = ln.Str("request_id", res.id).Str("endpoint", endpoint).Str("peer", r.RemoteAddr).
		Str("principal", res.subject.Name()).Str("method", res.subject.Method).
		Str("token_type", res.subject.TokenType).Strs("modules", res.subject.Modules)
	if res.rst != wstrust.NotRST {
		ln = ln.Str("rst", res.rst.String()).Str("trust_version", res.trust.String())
	}
	return ln.End()
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
	res := s.authenticate(r, endpoint)
	done := func() {
		if res.release != nil {
			res.release()
		}
		untrack()
	}
	s.finishBody(r, res, endpoint)
	s.logDecision(r, res, endpoint)
	if res.fault != nil {
		writeFault(w, res.version, res.fault, res.id, status(res))
		done()
		return nil, nil
	}
	return res, done
}

// finishBody drops what is left of the body once the chain has decided on
// its head (discardRest), so that the connection serves the client's next
// request: always after a refusal, and after an acceptance except in proxy
// mode, where the rest is streamed upstream. An accepted message whose body
// turns out to be past max_body_bytes (chunked: no Content-Length announced
// it) is refused with 413, as in proxy mode; its nonce stays spent.
func (s *Server) finishBody(r *http.Request, res *result, endpoint string) {
	if res.status == http.StatusRequestEntityTooLarge || res.fault == nil && endpoint == "proxy" {
		return
	}
	err := s.discardRest(r.Body, res)
	if err == nil || res.fault != nil {
		return
	}
	res.subject = nil
	var tooBig *tooLargeError
	if errors.As(err, &tooBig) {
		res.fail(http.StatusRequestEntityTooLarge, authn.Reject(wsse.InvalidSecurity, "%v", err))
		return
	}
	res.fail(http.StatusBadRequest, authn.Reject(wsse.InvalidSecurity, "reading the request body: %v", err))
}

func (s *Server) authenticateAPI(w http.ResponseWriter, r *http.Request) {
	res, done := s.judge(w, r, "api", apiStatus)
	if res == nil {
		return
	}
	defer done()
	if res.rst != wstrust.NotRST {
		// The STS answers an RST, never the Subject.
		writeRSTR(w, res)
		return
	}
	if _, ok := s.accept(w, res, true); !ok {
		return
	}
	w.Header()["Content-Type"] = contentTypeJSON
	// What json.NewEncoder(w).Encode wrote, without its reflection.
	w.Write(append(res.subject.AppendJSON(make([]byte, 0, 512)), '\n'))
}
