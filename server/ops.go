package server

import (
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Drain makes /readyz answer 503, naming the check "shutdown", from now on;
// every other request is served as before. On SIGTERM the service calls it
// shutdown_delay before it closes its listener, so that load balancers and
// Kubernetes stop sending new requests first.
func (s *Server) Drain() { s.draining.Store(true) }

// AdminHandler serves the admin listener (admin.listen): /healthz, /readyz
// with the error text of each failing check (the public /readyz names a
// failing check but not its error, which may describe the internal
// network), and /metrics.
func (s *Server) AdminHandler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer)
	r.Get("/healthz", healthz)
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) { s.readiness(w, r, true) })
	r.Method(http.MethodGet, "/metrics", s.metricsHandler())
	return r
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.o.Registry, promhttp.HandlerOpts{})
}

// SwapAudit makes the audit stream write to w from the next record on and
// returns the writer it replaces, which the caller closes (SIGHUP reopens
// the audit file, so that logrotate can rename it). A record being written
// finishes on the old writer. Without an audit section it does nothing and
// returns nil.
func (s *Server) SwapAudit(w io.Writer) io.Writer {
	if s.audit == nil {
		return nil
	}
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	old := s.audit.w
	s.audit.w = w
	return old
}

// tagResponse puts the request id on the upstream's answer, replacing any
// the upstream set: the client can quote it whether authsvc or the upstream
// answered.
func (s *Server) tagResponse(resp *http.Response) error {
	if st, ok := resp.Request.Context().Value(ctxKey{}).(*proxyState); ok {
		resp.Header.Set("X-Request-Id", st.res.id)
	}
	return nil
}
