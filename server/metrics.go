package server

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests       *prometheus.CounterVec
	faults         *prometheus.CounterVec
	modules        *prometheus.CounterVec
	duration       prometheus.Histogram
	inflight       prometheus.Gauge
	upstreamErrors prometheus.Counter
	depErrors      *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_requests_total",
			Help: "Authentication decisions by endpoint (api, proxy) and outcome (accepted, rejected, error).",
		}, []string{"endpoint", "outcome"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_faults_total",
			Help: "Faults sent to clients, by WS-Security fault code.",
		}, []string{"code"}),
		modules: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_module_logins_total",
			Help: "Login attempts by chain entry and outcome (success, rejected, error, ignored).",
		}, []string{"module", "outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "authsvc_authentication_duration_seconds",
			Help:    "Time to read the Security header and run the chain.",
			Buckets: []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1},
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "authsvc_in_flight_authentications",
			Help: "Authentications in progress.",
		}),
		upstreamErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authsvc_upstream_errors_total",
			Help: "Proxied requests the upstream could not answer.",
		}),
		depErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_dependency_check_failures_total",
			Help: "Readiness checks that failed, by dependency.",
		}, []string{"dependency"}),
	}
	reg.MustRegister(m.requests, m.faults, m.modules, m.duration, m.inflight, m.upstreamErrors, m.depErrors)
	return m
}
