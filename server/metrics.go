package server

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests            *prometheus.CounterVec
	decisions           *prometheus.CounterVec
	faults              *prometheus.CounterVec
	modules             *prometheus.CounterVec
	moduleDuration      *prometheus.HistogramVec
	duration            prometheus.Histogram
	requestDuration     *prometheus.HistogramVec
	inflight            prometheus.Gauge
	inflightRequests    *prometheus.GaugeVec
	upstreamErrors      prometheus.Counter
	depErrors           *prometheus.CounterVec
	depErrorsTotal      *prometheus.CounterVec
	depDuration         *prometheus.HistogramVec
	replayHits          prometheus.Counter
	unprocessed         prometheus.Counter
	replayQuotaRefusals *prometheus.CounterVec
	lockouts            *prometheus.CounterVec
	lockedRejections    *prometheus.CounterVec
	auditErrors         prometheus.Counter
	assertionErrors     prometheus.Counter
	trailersDropped     prometheus.Counter
	strictRefusals      prometheus.Counter
}

var latencyBuckets = []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_requests_total",
			Help: "Authentication decisions by endpoint (api, proxy, gateway) and outcome (accepted, rejected, locked, throttled, error).",
		}, []string{"endpoint", "outcome"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_authentications_total",
			Help: "Authentication decisions by endpoint, method (UsernameToken, Kerberos, ...; as claimed when rejected), token type and outcome (accepted, rejected, locked, throttled, error).",
		}, []string{"endpoint", "method", "token_type", "outcome"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_faults_total",
			Help: "Faults sent to clients, by WS-Security fault code.",
		}, []string{"code"}),
		modules: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_module_logins_total",
			Help: "Login attempts by chain entry and outcome (accepted, rejected, error, ignored: no credential of its kind).",
		}, []string{"module", "outcome"}),
		moduleDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authsvc_module_duration_seconds",
			Help:    "Time each chain entry's login took, by entry.",
			Buckets: []float64{.000005, .00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1},
		}, []string{"module"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "authsvc_authentication_duration_seconds",
			Help:    "Time to read the Security header and run the chain.",
			Buckets: []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1},
		}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authsvc_request_duration_seconds",
			Help:    "Time to answer a request by endpoint (proxy: including the upstream).",
			Buckets: latencyBuckets,
		}, []string{"endpoint"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "authsvc_in_flight_authentications",
			Help: "Authentications in progress.",
		}),
		inflightRequests: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "authsvc_in_flight_requests",
			Help: "Requests being served, by endpoint (proxy: including the upstream).",
		}, []string{"endpoint"}),
		upstreamErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authsvc_upstream_errors_total",
			Help: "Proxied requests the upstream could not answer.",
		}),
		depErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_dependency_check_failures_total",
			Help: "Readiness checks that failed, by dependency.",
		}, []string{"dependency"}),
		depErrorsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_dependency_errors_total",
			Help: "Failed calls to dependencies on the request path: upstream, lockout_store, and module/NAME for technical failures of a chain entry (LDAP, Redis replay cache, ...).",
		}, []string{"dependency"}),
		depDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authsvc_dependency_duration_seconds",
			Help:    "Latency of dependency calls: upstream (to response headers), lockout_store, and readiness checks by name.",
			Buckets: latencyBuckets,
		}, []string{"dependency"}),
		replayHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authsvc_replay_hits_total",
			Help: "Requests refused because their nonce or authenticator was seen before.",
		}),
		unprocessed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authsvc_unprocessed_security_elements_total",
			Help: "Requests refused after the chain succeeded because their Security header held an element no module processed (security.pass_through).",
		}),
		replayQuotaRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_replay_quota_refusals_total",
			Help: "Credentials refused because their principal or client address had recorded its share of the replay cache, by kind.",
		}, []string{"kind"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_lockouts_total",
			Help: "Locks set by brute-force protection, by kind (principal, address).",
		}, []string{"kind"}),
		lockedRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_locked_rejections_total",
			Help: "Requests refused because their principal or address was locked.",
		}, []string{"kind"}),
		auditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authsvc_audit_write_errors_total",
			Help: "Audit records that could not be written.",
		}),
		assertionErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authsvc_assertion_errors_total",
			Help: "Identity assertions that could not be signed (the request was refused).",
		}),
		trailersDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authsvc_proxy_trailers_dropped_total",
			Help: "Proxied requests whose client announced HTTP trailers; they are never forwarded.",
		}),
		strictRefusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authsvc_proxy_strict_envelope_refusals_total",
			Help: "Proxied messages refused by proxy.strict_envelope while being forwarded.",
		}),
	}
	reg.MustRegister(m.requests, m.decisions, m.faults, m.modules, m.moduleDuration, m.duration, m.requestDuration, m.inflight,
		m.inflightRequests, m.upstreamErrors, m.depErrors, m.depErrorsTotal, m.depDuration, m.replayHits, m.unprocessed,
		m.replayQuotaRefusals, m.lockouts, m.lockedRejections, m.auditErrors, m.assertionErrors, m.trailersDropped, m.strictRefusals)
	return m
}
