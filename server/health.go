package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// healthz says the process is up.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "ok\n")
}

// readyz asks every dependency (Options.Checkers) at once and answers 503
// unless all answer and the service is not shutting down (Drain). On the
// service's listener it names a failing check but not its error text,
// which may describe the internal network (addresses, DNs); the log and the
// admin listener (AdminHandler) have it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) { s.readiness(w, r, false) }

// readiness answers /readyz; detail adds each failing check's error text.
func (s *Server) readiness(w http.ResponseWriter, r *http.Request, detail bool) {
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
				c.Error = "failing"
				if detail {
					c.Error = err.Error()
				}
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
	if s.draining.Load() {
		out.Ready = false
		out.Checks = append(out.Checks, check{Name: "shutdown", OK: false, Error: "shutting down"})
	}
	sort.Slice(out.Checks, func(i, j int) bool { return out.Checks[i].Name < out.Checks[j].Name })
	w.Header().Set("Content-Type", "application/json")
	if !out.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(out)
}
