// Package app runs authsvc: it loads a configuration, builds the chain and
// serves HTTP until told to stop. cmd/authsvc is a thin main over it, and a
// custom binary with its own module types calls Main with an extended
// config.Types table (see authn/extensible).
package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"github.com/authsvc/authsvc/internal/asynclog"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/lockout"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/server"
	"github.com/authsvc/authsvc/sts"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// NewLogger builds the service logger from the log section. Routine
// (Info, Debug) records are written asynchronously, batched, through a
// bounded buffer (internal/asynclog): a full buffer drops them, counted and
// reported; Warn and Error records (every refusal and its reason) are
// written at once and never dropped.
func NewLogger(c config.Log) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(asynclog.NewText(os.Stderr, opts))
	}
	return slog.New(asynclog.NewJSON(os.Stderr, opts))
}

// closeLogger writes out the routine records an asynchronous logger
// (NewLogger's) still holds, so that the last lines before exit are not
// lost; later records are written at once.
func closeLogger(l *slog.Logger) {
	if c, ok := l.Handler().(io.Closer); ok {
		c.Close()
	}
}

// Reloader is implemented by registries that can re-read their source
// (the file registry); SIGHUP reloads them (registry.Set.Reloader).
type Reloader = registry.Reloader

// Serve runs the service described by cfg until ctx is done or SIGINT or
// SIGTERM arrives, then shuts down gracefully (app/lifecycle.go): /readyz
// answers 503 for shutdown_delay, then the listeners close and requests in
// flight finish within shutdown_timeout. SIGHUP reloads what can be
// reloaded. listen, when not empty, overrides the configured address.
// ready, when not nil, is called with the bound address once the listener
// is open.
func Serve(ctx context.Context, cfg *config.Config, listen string, logger *slog.Logger, ready func(addr net.Addr)) error {
	defer closeLogger(logger)
	sigs, stop := notifySignals()
	defer stop()
	rt, err := cfg.Build(logger)
	if err != nil {
		return err
	}
	defer rt.Close()
	opts, err := serverOptions(cfg, rt, logger)
	if err != nil {
		return err
	}
	lo, closeLockout, err := lockoutOptions(cfg, logger)
	if err != nil {
		return err
	}
	defer closeLockout()
	opts.Lockout = lo
	opts.AdminOnlyMetrics = cfg.Admin != nil
	srv, err := server.New(opts)
	if err != nil {
		return err
	}
	svc := &service{cfg: cfg, rt: rt, srv: srv, logger: logger, audit: opts.Audit, sigs: sigs}
	if err := svc.listen(listen); err != nil {
		return err
	}
	if ready != nil {
		ready(svc.ln.Addr())
	}
	return svc.run(ctx)
}

// serverOptions translates the configuration and what it built into the
// server's options.
func serverOptions(cfg *config.Config, rt *config.Runtime, logger *slog.Logger) (server.Options, error) {
	opts := server.Options{
		Chain: rt.Chain,
		Parse: wsse.Options{Actor: cfg.Security.Actor, Limits: wsse.Limits{
			MaxHeaderBytes: cfg.Limits.MaxHeaderBytes, MaxDepth: cfg.Limits.MaxDepth,
			MaxElements: cfg.Limits.MaxElements, MaxAttributes: cfg.Limits.MaxAttributes,
		}},
		MaxBodyBytes:   cfg.Limits.MaxBodyBytes,
		MaxSignedBytes: cfg.Limits.MaxSignedBytes,
		Timestamp: server.TimestampPolicy{Required: cfg.Security.Timestamp.Required,
			MaxAge: cfg.Security.Timestamp.MaxAge, FutureSkew: cfg.Security.Timestamp.FutureSkew},
		TrustedProxies: cfg.TrustedProxyPrefixes(),
		Checkers:       rt.Checkers,
		Replay:         rt.Replay,
		Logger:         logger,
	}
	if p := cfg.Proxy; p != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256 // the default 2 churns connections under concurrent load
		if p.Timeout > 0 {
			tr.ResponseHeaderTimeout = p.Timeout
		}
		opts.Proxy = &server.ProxyOptions{Upstream: p.URL(), HeaderPrefix: p.HeaderPrefix,
			ScrubPassword: p.ScrubPassword, StrictEnvelope: p.StrictEnvelope, SOAP11FaultStatus: p.SOAP11FaultStatus,
			Transport: tr}
	}
	if err := productionOptions(cfg, rt, &opts); err != nil {
		return opts, err
	}
	opts.Registry = newRegistry()
	if sc := cfg.SecureConversation; sc != nil {
		// The STS's metrics go where the server's do.
		svc, err := sts.New(sc.Config, rt.Contexts, opts.Registry, logger.With("component", "sts"))
		if err != nil {
			return opts, err
		}
		opts.STS = stsService{svc}
	}
	return opts, nil
}

// stsService is the server's view of the STS: *sts.Service with the
// package's Classify.
type stsService struct{ *sts.Service }

func (stsService) Classify(env *wsse.Envelope, contentType, soapAction string) (wstrust.Kind, *wstrust.Version, error) {
	return sts.Classify(env, contentType, soapAction)
}

// httpServer is the HTTP server around h (without TLS: see
// service.listen).
func httpServer(h http.Handler, logger *slog.Logger) *http.Server {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return hs
}

func resolve(cfgPath, p string) string {
	if p == "" || strings.HasPrefix(p, "/") || cfgPath == "" {
		return p
	}
	dir := cfgPath[:strings.LastIndex(cfgPath, "/")+1]
	return dir + p
}

// tlsConfig is the listener's TLS configuration from t, whose relative
// file names are relative to the directory of the configuration file
// cfgPath (config.TLS.Load, which check-config runs too).
func tlsConfig(t *config.TLS, cfgPath string) (*tls.Config, error) {
	cert, pool, err := t.Load(filepath.Dir(cfgPath))
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if pool != nil {
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// productionOptions passes the identity, gateway and audit sections
// (config/production.go) to the server.
func productionOptions(cfg *config.Config, rt *config.Runtime, o *server.Options) error {
	base := filepath.Dir(cfg.Path)
	if id := cfg.Identity; id != nil {
		keys, err := id.LoadKeys(base)
		if err != nil {
			return err
		}
		o.Identity = &server.IdentityOptions{Issuer: id.Issuer, Audience: id.Audience, TTL: id.TTL, Header: id.Header}
		for _, k := range keys {
			o.Identity.Keys = append(o.Identity.Keys, server.SigningKey(k))
		}
	}
	if g := cfg.Gateway; g != nil && g.Enabled {
		o.Gateway = &server.GatewayOptions{HeaderPrefix: g.HeaderPrefix}
		if cfg.Proxy != nil {
			o.Gateway.SOAP11FaultStatus = cfg.Proxy.SOAP11FaultStatus
		}
	}
	if a := cfg.Audit; a != nil {
		w, err := a.Open(base)
		if err != nil {
			return err
		}
		o.Audit = w // closed by Serve; SIGHUP reopens it
	}
	return nil
}

// lockoutOptions builds the brute_force section's store. A redis store gets
// a client of its own, configured from the replay section's Redis settings
// (config.LockoutRedis); the returned function closes it.
func lockoutOptions(cfg *config.Config, logger *slog.Logger) (*lockout.Options, func(), error) {
	b := cfg.BruteForce
	if b == nil {
		return nil, func() {}, nil
	}
	var client goredis.UniversalClient
	var ack *redisconn.Acker
	if rc, ok := cfg.LockoutRedis(); ok {
		c, err := rc.NewClient()
		if err != nil {
			return nil, nil, fmt.Errorf("brute_force.store: %w", err)
		}
		client, ack = c, rc.Acker(c)
		logger.Info("brute-force store: redis", "addrs", rc.Addrs, "key_prefix", b.KeyPrefix, "replicas_ack", ack != nil)
	}
	o, err := b.Open(client, ack)
	if err != nil {
		if client != nil {
			client.Close()
		}
		return nil, nil, err
	}
	return &o, func() {
		if client != nil {
			client.Close()
		}
	}, nil
}
