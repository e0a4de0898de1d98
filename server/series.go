package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
)

// The outcome label's one vocabulary, shared by authsvc_requests_total,
// authsvc_authentications_total, authsvc_module_logins_total and the audit
// stream's outcome field (each uses the values that apply to it):
//
//	accepted   the credential (the request, the chain entry) was accepted
//	rejected   it was refused: a client's mistake or an attacker
//	locked     refused because brute-force protection locked the principal or address
//	throttled  refused because the principal or address used up its replay-cache quota
//	error      a technical failure (a dependency down): fail closed, 503
//	ignored    a chain entry found no credential of its kind (module logins only)
const (
	outcomeAccepted  = "accepted"
	outcomeRejected  = "rejected"
	outcomeLocked    = "locked"
	outcomeThrottled = "throttled"
	outcomeError     = "error"
	outcomeIgnored   = "ignored"
)

// moduleOutcome is a chain entry's login outcome in the shared vocabulary.
func moduleOutcome(o authn.Outcome) string {
	switch o {
	case authn.Succeeded:
		return outcomeAccepted
	case authn.Rejected:
		return outcomeRejected
	case authn.Errored:
		return outcomeError
	}
	return outcomeIgnored
}

// faultCodes are the WS-Security fault codes authsvc_faults_total counts.
var faultCodes = []wsse.FaultCode{wsse.UnsupportedSecurityToken, wsse.UnsupportedAlgorithm, wsse.InvalidSecurity,
	wsse.InvalidSecurityToken, wsse.FailedAuthentication, wsse.FailedCheck, wsse.SecurityTokenUnavailable, wsse.MessageExpired}

// claims are the credentials a request can claim (authn.Claimed), as the
// method and token_type labels of authsvc_authentications_total.
var claims = [][2]string{
	{authn.MethodUsernameToken, authn.TokenPasswordText}, {authn.MethodUsernameToken, authn.TokenPasswordDigest},
	{authn.MethodUsernameToken, ""}, {authn.MethodBinarySecurityToken, ""}, {authn.MethodNegotiate, ""},
	{authn.MethodOther, ""}, {authn.MethodNone, ""},
}

// endpointSeries are an endpoint's series that every request updates,
// looked up once (initSeries) rather than by label values per request
// (hashing the labels and a locked map lookup each time).
type endpointSeries struct {
	inflight prometheus.Gauge
	duration prometheus.Observer
	accepted prometheus.Counter
	// decided holds the accepted decisions by (method, token_type) known
	// from the configuration; others (an accepted Kerberos token's
	// token_type, say) are looked up by label values on their first
	// request and kept in seen, up to maxSeenSeries of them.
	decided map[[2]string]prometheus.Counter
	seen    sync.Map // [2]string -> prometheus.Counter
	nseen   atomic.Int32
}

// maxSeenSeries bounds the accepted-decision series an endpoint keeps
// beyond those known from the configuration (the label values come from
// modules, custom ones included).
const maxSeenSeries = 64

// moduleSeries are one chain entry's series, looked up once at start.
type moduleSeries struct {
	logins   [authn.Ignored + 1]prometheus.Counter // by outcome
	duration prometheus.Observer
}

// observeModule counts a chain entry's login and observes its duration.
func (s *Server) observeModule(entry string, o authn.Outcome, d time.Duration) {
	if ms := s.moduleSeries[entry]; ms != nil && o >= 0 && int(o) < len(ms.logins) {
		ms.logins[o].Inc()
		ms.duration.Observe(d.Seconds())
		return
	}
	s.m.modules.WithLabelValues(entry, moduleOutcome(o)).Inc()
	s.m.moduleDuration.WithLabelValues(entry).Observe(d.Seconds())
}

// countAccepted counts an accepted request of method and token type.
func (s *Server) countAccepted(endpoint, method, tokenType string) {
	es := s.series[endpoint]
	if es == nil {
		s.m.requests.WithLabelValues(endpoint, outcomeAccepted).Inc()
		s.m.decisions.WithLabelValues(endpoint, method, tokenType, outcomeAccepted).Inc()
		return
	}
	es.accepted.Inc()
	key := [2]string{method, tokenType}
	if c := es.decided[key]; c != nil {
		c.Inc()
		return
	}
	if c, ok := es.seen.Load(key); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := s.m.decisions.WithLabelValues(endpoint, method, tokenType, outcomeAccepted)
	// Load first: once the bound is reached the counter stops moving (an
	// Add on every later lookup would wrap it around, and storing resume).
	if es.nseen.Load() < maxSeenSeries && es.nseen.Add(1) <= maxSeenSeries {
		es.seen.Store(key, c)
	}
	c.Inc()
}

// endpoints are the endpoint label's values this server serves.
func (s *Server) endpoints() []string {
	eps := []string{"api"}
	if s.o.Proxy != nil {
		eps = append(eps, "proxy")
	}
	if s.o.Gateway != nil {
		eps = append(eps, "gateway")
	}
	return eps
}

// initSeries creates, at zero, every labelled series whose label values
// are known from the configuration, so that dashboards and alerts (rate(),
// absent()) see them from the start rather than from the first event.
// Series whose labels depend on traffic (an accepted Kerberos token's
// token_type, say) appear with their first request.
func (s *Server) initSeries() {
	m := s.m
	s.series = make(map[string]*endpointSeries)
	for _, ep := range s.endpoints() {
		es := &endpointSeries{
			inflight: m.inflightRequests.WithLabelValues(ep),
			duration: m.requestDuration.WithLabelValues(ep),
			accepted: m.requests.WithLabelValues(ep, outcomeAccepted),
			decided:  make(map[[2]string]prometheus.Counter),
		}
		s.series[ep] = es
		for _, out := range []string{outcomeAccepted, outcomeRejected, outcomeLocked, outcomeThrottled, outcomeError} {
			m.requests.WithLabelValues(ep, out)
			for _, c := range claims {
				if out != outcomeAccepted || c[0] == authn.MethodUsernameToken && c[1] != "" {
					d := m.decisions.WithLabelValues(ep, c[0], c[1], out)
					if out == outcomeAccepted {
						es.decided[c] = d
					}
				}
			}
		}
	}
	for _, c := range faultCodes {
		m.faults.WithLabelValues(string(c))
	}
	s.moduleSeries = make(map[string]*moduleSeries)
	for _, e := range s.o.Chain.Entries() {
		ms := &moduleSeries{duration: m.moduleDuration.WithLabelValues(e.Name)}
		for _, o := range []authn.Outcome{authn.Succeeded, authn.Rejected, authn.Errored, authn.Ignored} {
			ms.logins[o] = m.modules.WithLabelValues(e.Name, moduleOutcome(o))
		}
		s.moduleSeries[e.Name] = ms
		m.depErrorsTotal.WithLabelValues("module/" + e.Name)
	}
	for _, kind := range []string{"principal", "address"} {
		m.replayQuotaRefusals.WithLabelValues(kind)
		m.lockouts.WithLabelValues(kind)
		m.lockedRejections.WithLabelValues(kind)
	}
	for name := range s.o.Checkers {
		m.depErrors.WithLabelValues(name)
		m.depDuration.WithLabelValues(name)
	}
	if s.o.Proxy != nil {
		m.depErrorsTotal.WithLabelValues("upstream")
		m.depDuration.WithLabelValues("upstream")
	}
	if s.guard != nil {
		m.depErrorsTotal.WithLabelValues("lockout_store")
		m.depDuration.WithLabelValues("lockout_store")
	}
}
