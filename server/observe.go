package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/logsafe"
	"github.com/authsvc/authsvc/replay"
)

// track counts a request in flight and observes its duration.
func (s *Server) track(endpoint string) func() {
	start := time.Now()
	var (
		g prometheus.Gauge
		d prometheus.Observer
	)
	if es := s.series[endpoint]; es != nil {
		g, d = es.inflight, es.duration
	} else {
		g, d = s.m.inflightRequests.WithLabelValues(endpoint), s.m.requestDuration.WithLabelValues(endpoint)
	}
	g.Inc()
	return func() {
		g.Dec()
		d.Observe(time.Since(start).Seconds())
	}
}

// isReplay reports a fault for a replayed nonce, signature or
// authenticator: the modules wrap replay.ErrReplay in the fault.
func isReplay(f *authn.Fault) bool {
	return errors.Is(f, replay.ErrReplay)
}

// replayRefusal gives a refusal by the replay cache for want of room its
// own reason for the log, and a quota refusal its Retry-After. The client
// gets a temporary fault either way (HTTP 503, Receiver/Server with
// wsse:SecurityTokenUnavailable): its credential was good, and it may send
// a fresh one later. Not FailedAuthentication: that would count towards
// the lockout and tell an honest client its password is wrong.
func replayRefusal(f *authn.Fault) *authn.Fault {
	var qe *replay.QuotaError
	switch {
	case errors.As(f, &qe):
		f.Reason = fmt.Sprintf("replay cache quota: %s %q recorded its %d entries for this %s window",
			qe.Kind, qe.Owner, qe.Limit, qe.Window)
		f.RetryAfter = qe.RetryAfter
	case errors.Is(f, replay.ErrFull):
		f.Reason = "replay cache full (replay.max_entries): a credential with a nonce cannot be recorded"
	}
	return f
}

// writeAudit writes the decision's audit record.
func (s *Server) writeAudit(r *http.Request, res *result, endpoint, outcome string) {
	if s.audit == nil {
		return
	}
	rec := AuditRecord{
		Time:      auditTime(s.o.Now()),
		RequestID: res.id,
		Endpoint:  endpoint,
		Peer:      r.RemoteAddr,
		Outcome:   outcome,
		URI:       logsafe.Clip(originalURI(r, endpoint), logsafe.MaxText),
	}
	if res.client.IsValid() {
		rec.Client = res.client.String()
	}
	if res.fault == nil {
		rec.Principal = res.subject.Name()
		rec.Method, rec.TokenType = res.subject.Method, res.subject.TokenType
	} else {
		rec.Principal = res.claimed
		rec.Method, rec.TokenType = claimedMethod(res, r)
		rec.Fault = string(res.fault.Code)
		rec.Reason = logsafe.Clip(res.fault.Reason, logsafe.MaxText)
		rec.Module = res.fault.Module
	}
	if err := s.audit.write(&rec); err != nil {
		s.m.auditErrors.Inc()
		if !s.audit.failed.Swap(true) {
			s.log.Error("audit log write failed", "error", err.Error())
		}
	} else if s.audit.failed.Swap(false) {
		s.log.Info("audit log writes again")
	}
}

// timedTransport observes upstream latency and errors. Its series are
// looked up once, not per request.
type timedTransport struct {
	rt       http.RoundTripper
	duration prometheus.Observer
	errors   prometheus.Counter
}

func newTimedTransport(rt http.RoundTripper, m *metrics) timedTransport {
	return timedTransport{rt, m.depDuration.WithLabelValues("upstream"), m.depErrorsTotal.WithLabelValues("upstream")}
}

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.rt.RoundTrip(r)
	t.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		t.errors.Inc()
	}
	return resp, err
}
