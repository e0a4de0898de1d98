package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/authsvc/authsvc/internal/buildinfo"
)

// newRegistry is the service's metrics registry, with the process-wide
// collectors: Go runtime (go_*), process (process_*: CPU, memory, open
// files) and authsvc_build_info{version,commit,date,goversion} 1.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	bi := buildinfo.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "authsvc_build_info",
		Help: "Always 1; the labels say which build of authsvc runs (version, commit, date stamped at build time).",
		ConstLabels: prometheus.Labels{"version": bi.Version, "commit": bi.Commit, "date": bi.Date,
			"goversion": bi.GoVersion},
	})
	build.Set(1)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), build)
	return reg
}
