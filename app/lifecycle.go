package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/server"
)

// service is a running authsvc: its listeners, and what SIGHUP reloads.
type service struct {
	cfg    *config.Config // as started: what a reload compares with
	rt     *config.Runtime
	srv    *server.Server
	logger *slog.Logger

	hs, admin   *http.Server
	ln, adminLn net.Listener
	// tls is the listener's TLS configuration, swapped by SIGHUP; every
	// handshake takes the current one.
	tls   atomic.Pointer[tls.Config]
	audit io.Writer // the audit output in use, nil without audit
	// sigs receives SIGINT, SIGTERM and SIGHUP from before the service is
	// built (notifySignals), so that none arriving during the start is
	// lost or, for SIGHUP, ends the process.
	sigs <-chan os.Signal
}

// notifySignals starts catching SIGINT, SIGTERM and SIGHUP; stop ends it.
func notifySignals() (sigs <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}

// listen opens the service's listener (addr, else cfg.Listen) with its
// TLS, and the admin listener when configured.
func (s *service) listen(addr string) error {
	if addr == "" {
		addr = s.cfg.Listen
	}
	s.hs = httpServer(s.srv.Handler(), s.logger)
	var outer *tls.Config
	if t := s.cfg.TLS; t != nil {
		tc, err := tlsConfig(t, s.cfg.Path)
		if err != nil {
			return err
		}
		s.tls.Store(tc)
		outer = tc.Clone()
		outer.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.tls.Load(), nil }
		s.hs.TLSConfig = outer
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if outer != nil {
		ln = tls.NewListener(ln, outer)
	}
	s.ln = ln
	adminAddr := ""
	if a := s.cfg.Admin; a != nil {
		aln, err := net.Listen("tcp", a.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("admin.listen: %w", err)
		}
		s.adminLn, adminAddr = aln, aln.Addr().String()
		s.admin = httpServer(s.srv.AdminHandler(), s.logger)
	}
	s.logger.Info("authsvc listening", "addr", ln.Addr().String(), "tls", outer != nil, "admin", adminAddr,
		"modules", len(s.cfg.Modules), "proxy", s.cfg.Proxy != nil)
	return nil
}

// run serves until ctx is done or SIGINT or SIGTERM arrives, then shuts
// down; SIGHUP reloads.
func (s *service) run(ctx context.Context) error {
	sigs := s.sigs
	defer s.closeAudit()
	errc := make(chan error, 2)
	servers := 1
	go func() { errc <- s.hs.Serve(s.ln) }()
	if s.admin != nil {
		servers++
		go func() { errc <- s.admin.Serve(s.adminLn) }()
	}
	for {
		select {
		case err := <-errc:
			// A listener failed: stop the other one too.
			s.hs.Close()
			if s.admin != nil {
				s.admin.Close()
			}
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				s.reload()
				continue
			}
			s.logger.Info("shutting down", "signal", sig.String(), "shutdown_delay", s.cfg.ShutdownDelay.String(),
				"shutdown_timeout", s.cfg.ShutdownTimeout.String())
		case <-ctx.Done():
			s.logger.Info("shutting down", "reason", ctx.Err().Error())
		}
		return s.shutdown(sigs, errc, servers)
	}
}

// shutdown makes /readyz answer 503 for shutdown_delay while everything
// else is served as before, but without keep-alive (load balancers and
// Kubernetes take the instance out of rotation), then closes the listeners and waits up to
// shutdown_timeout for the requests in flight. A second SIGINT or SIGTERM
// cuts the delay short.
func (s *service) shutdown(sigs <-chan os.Signal, errc <-chan error, servers int) error {
	s.srv.Drain()
	if d := s.cfg.ShutdownDelay; d > 0 {
		// Connection: close on every answer from now on, so that clients
		// and proxies holding keep-alive connections reconnect, through
		// their load balancer, to an instance that stays.
		s.hs.SetKeepAlivesEnabled(false)
		s.logger.Info("draining: /readyz answers 503 until the listener closes", "shutdown_delay", d.String())
		t := time.NewTimer(d)
	wait:
		for {
			select {
			case <-t.C:
				break wait
			case sig := <-sigs:
				if sig != syscall.SIGHUP {
					t.Stop()
					s.logger.Info("second signal: closing the listener now", "signal", sig.String())
					break wait
				}
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.hs.Shutdown(sctx)
	if s.admin != nil {
		// Last: metrics and readiness stay visible while requests drain.
		err = errors.Join(err, s.admin.Shutdown(sctx))
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	s.logger.Info("stopped")
	return nil
}

// reload applies SIGHUP: it reads the configuration file again and says,
// at Warn and by key, which changes need a restart (config.Changes); it
// re-reads registry files and keytabs, the TLS certificate and key, the
// identity signing keys, and reopens the audit file (so that logrotate can
// rename it without copytruncate). A part that fails to reload keeps what
// it had. A file with errors changes nothing but is reported; the files of
// the running configuration are re-read all the same.
func (s *service) reload() {
	s.logger.Info("SIGHUP: reloading")
	live := s.cfg
	if next, err := s.cfg.Reread(); err != nil {
		s.logger.Error("configuration file not reloaded: it has errors; re-reading the files the running configuration names", "error", err.Error())
	} else {
		changes, err := s.cfg.Changes(next)
		if err != nil {
			s.logger.Error("configuration file not compared", "error", err.Error())
		}
		for _, c := range changes {
			s.logger.Warn("configuration change not applied: restart to apply it", "key", c.Key, "line", c.Line)
		}
		live = next
	}
	s.reloadFiles()
	if live.TLS != nil && s.cfg.TLS != nil {
		s.reloadTLS(live)
	}
	if live.Identity != nil && s.cfg.Identity != nil {
		s.reloadIdentity(live)
	}
	if live.Audit != nil && s.audit != nil {
		s.reopenAudit(live)
	}
}

// reloadFiles re-reads the registries and chain entries that can (users
// files, keytabs); one that fails keeps its old content.
func (s *service) reloadFiles() {
	names := make([]string, 0, len(s.rt.Registries))
	for n := range s.rt.Registries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		r := s.rt.Registries[name].Reloader
		if r == nil {
			continue
		}
		if err := r.Reload(); err != nil {
			s.logger.Error("reload failed; keeping the old content", "registry", name, "error", err.Error())
		} else {
			s.logger.Info("registry reloaded", "registry", name)
		}
	}
	names = names[:0]
	for n := range s.rt.Reloaders {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.rt.Reloaders[name].Reload(); err != nil {
			s.logger.Error("reload failed; keeping the old content", "component", name, "error", err.Error())
		} else {
			s.logger.Info("reloaded", "component", name)
		}
	}
}

func (s *service) reloadTLS(live *config.Config) {
	tc, err := tlsConfig(live.TLS, live.Path)
	if err != nil {
		s.logger.Error("TLS certificate not reloaded; keeping the one in use", "error", err.Error())
		return
	}
	s.tls.Store(tc)
	s.logger.Info("TLS certificate reloaded", "cert_file", live.TLS.CertFile)
}

func (s *service) reloadIdentity(live *config.Config) {
	keys, err := live.Identity.LoadKeys(filepath.Dir(live.Path))
	if err == nil {
		sk := make([]server.SigningKey, len(keys))
		for i, k := range keys {
			sk[i] = server.SigningKey(k)
		}
		err = s.srv.ReloadIdentityKeys(sk)
	}
	if err != nil {
		s.logger.Error("identity keys not reloaded; keeping the keys in use", "error", err.Error())
		return
	}
	s.logger.Info("identity keys reloaded", "keys", len(keys))
}

func (s *service) reopenAudit(live *config.Config) {
	w, err := live.Audit.Open(filepath.Dir(live.Path))
	if err != nil {
		s.logger.Error("audit output not reopened; writing to the one in use", "error", err.Error())
		return
	}
	if old, ok := s.srv.SwapAudit(w).(io.Closer); ok {
		old.Close()
	}
	s.audit = w
	s.logger.Info("audit output reopened", "output", live.Audit.Output)
}

// closeAudit closes the audit output at exit.
func (s *service) closeAudit() {
	if c, ok := s.audit.(io.Closer); ok {
		c.Close()
	}
}
