// Package sts is authsvc's Security Token Service for WS-SecureConversation:
// it issues, renews and cancels SecurityContextTokens (SCTs) and answers
// with the RequestSecurityTokenResponse (RSTR) envelope.
//
// The STS is a step after authentication, so that lockout, audit, metrics
// and the chain serve an RST like any other message:
//
//  1. The server asks Classify whether a request is an RST (by its
//     WS-Addressing Action, the SOAP 1.2 action parameter or SOAPAction).
//  2. It runs the chain as usual. An Issue RST carries a primary credential
//     (UsernameToken, Kerberos BinarySecurityToken, ...); a Renew or Cancel
//     RST is signed with the context itself, which the chain accepts through
//     the authn/secureconv module.
//  3. On success it calls Respond with the Subject instead of answering
//     with the Subject, and sends the envelope Respond returns (or the
//     fault).
//
// Issue binds a new context to the Subject: a fresh Identifier
// (urn:uuid:...), a key made by the RST's entropy rules (client and server
// entropy: P_SHA1, ComputedKey; server entropy only: the server's secret in
// RequestedProofToken; client entropy only: the client's entropy), a
// lifetime (the RST's requested Lifetime within max_lifetime, else
// lifetime), and a renew grace after it. Issuing from a Subject that a
// security context itself authenticated is refused with wst:InvalidRequest:
// a context would otherwise extend itself forever without the bootstrap
// credential ever being checked again; the client renews it instead.
//
// Renew and Cancel need proof of possession: the RST must have been
// authenticated by authn/secureconv with the very context its RenewTarget or
// CancelTarget names (wst:InvalidRequest when no context signed it,
// wsc:BadContextToken when another one did). Renew gives a new key by the
// same entropy rules, the same Identifier, a new Instance, a new lifetime,
// with the store's compare-and-swap (a lost race is wsc:UnableToRenew). A
// context past its Expires but within its renew grace may be renewed.
// Cancel answers RequestedTokenCancelled. Amend is refused
// (wst:InvalidRequest).
//
// Issue and Renew send a key: over a channel that is not confidential
// (Request.Secure false) they are refused unless Config.AllowInsecure is
// set (quickstart demo).
//
// Respond's errors are *wstrust.Fault for the client's mistakes (the
// renderer writes {Namespace}Local with FaultString, see wstrust.Fault), a
// *wstrust.Fault wst:RequestFailed wrapping sct.ErrFull when the store is
// full, and errors wrapping health.ErrUnavailable when the store cannot
// answer (503, fail closed). Keys never reach a log line.
package sts

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/secureconv"
	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// Defaults of Config.
const (
	DefaultLifetime    = 15 * time.Minute
	DefaultMaxLifetime = 8 * time.Hour
	DefaultKeySize     = 256 // bits
	DefaultRenewGrace  = 5 * time.Minute
	// MaxRenewGrace is sct.MaxRenewGrace.
	MaxRenewGrace = sct.MaxRenewGrace
)

// Config configures the STS.
//
//	secure_conversation:
//	  issuer: "https://authsvc.example.org/sts"
//	  lifetime: 15m
//	  max_lifetime: 8h
//	  key_size: 256
//	  renew_grace: 5m
//	  allow_insecure: false
type Config struct {
	// Issuer names this deployment in the store: every replica sharing
	// a store uses the same issuer, and a context of another issuer is
	// unknown here. Required.
	Issuer string `yaml:"issuer"`
	// Lifetime is the life of a context whose RST asks for none (default
	// 15m); MaxLifetime bounds what an RST may ask for (default 8h).
	Lifetime    time.Duration `yaml:"lifetime"`
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// KeySize is the size in bits of the keys issued when the RST names
	// none (default 256; 128..512, a multiple of 8).
	KeySize int `yaml:"key_size"`
	// RenewGrace is how long after its expiry a context can still be
	// renewed (answered wsc:RenewNeeded rather than wsc:BadContextToken);
	// default 5m, at most 7 days.
	RenewGrace time.Duration `yaml:"renew_grace"`
	// AllowInsecure lets Issue and Renew answer over a channel that is
	// not confidential, which sends the key in clear. For the quickstart
	// demo only.
	AllowInsecure bool `yaml:"allow_insecure"`
}

// Validate checks the configuration and fills in defaults. Errors name the
// yaml key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("secure_conversation: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.Issuer == "":
		bad("issuer", "is required: it names this deployment's contexts in the store (give every replica the same)")
	case len(c.Issuer) > sct.MaxIssuerLen:
		bad("issuer", "longer than %d bytes", sct.MaxIssuerLen)
	}
	if c.Lifetime == 0 {
		c.Lifetime = DefaultLifetime
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = max(DefaultMaxLifetime, c.Lifetime)
	}
	if c.KeySize == 0 {
		c.KeySize = DefaultKeySize
	}
	if c.RenewGrace == 0 {
		c.RenewGrace = DefaultRenewGrace
	}
	if c.Lifetime < time.Minute {
		bad("lifetime", "%s is shorter than a minute", c.Lifetime)
	}
	if c.MaxLifetime < c.Lifetime {
		bad("max_lifetime", "%s is shorter than lifetime %s", c.MaxLifetime, c.Lifetime)
	}
	if c.KeySize < wstrust.MinKeySize || c.KeySize > wstrust.MaxKeySize || c.KeySize%8 != 0 {
		bad("key_size", "%d bits: want %d to %d, a multiple of 8", c.KeySize, wstrust.MinKeySize, wstrust.MaxKeySize)
	}
	if c.RenewGrace < 0 || c.RenewGrace > MaxRenewGrace {
		bad("renew_grace", "%s: want 0 to %s", c.RenewGrace, MaxRenewGrace)
	}
	return errors.Join(errs...)
}

// Service is the STS. It is safe for concurrent use.
type Service struct {
	cfg     Config
	store   sct.Store
	logger  *slog.Logger
	metrics *metrics
}

// New validates cfg and returns a Service over store. reg, when not nil,
// receives the metrics; logger nil discards the log.
func New(cfg Config, store sct.Store, reg prometheus.Registerer, logger *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("secure_conversation: a security-context store is required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := newMetrics()
	if reg != nil {
		if err := m.register(reg); err != nil {
			return nil, err
		}
	}
	return &Service{cfg: cfg, store: store, logger: logger, metrics: m}, nil
}

// Config returns the validated configuration (defaults filled in).
func (s *Service) Config() Config { return s.cfg }

// Classify says whether a request is an RST and of which kind and version.
// env is the parsed envelope; contentType and soapAction are the HTTP
// headers ("" when absent). An application message gets (wstrust.NotRST,
// nil, nil). Contradicting actions or malformed WS-Addressing headers are a
// *wstrust.Fault (wst:InvalidRequest). Amend is classified as such; Respond
// refuses it.
func Classify(env *wsse.Envelope, contentType, soapAction string) (wstrust.Kind, *wstrust.Version, error) {
	action, err := wstrust.Action(env, contentType, soapAction)
	if err != nil {
		return wstrust.NotRST, nil, err
	}
	v, k := wstrust.Classify(action)
	return k, v, nil
}

// Respond serves an RST whose request the chain authenticated as s, and
// returns the whole response envelope (SOAP version of the request, RSTR of
// its WS-Trust version, wsa:Action, wsa:RelatesTo and the RST's Context
// echoed). kind is what Classify said. See the package doc for the errors.
func (s *Service) Respond(ctx context.Context, req *authn.Request, subj *authn.Subject, kind wstrust.Kind) ([]byte, error) {
	reply, err := s.respond(ctx, req, subj, kind)
	if err != nil {
		s.refused(req, subj, kind, err)
	}
	return reply, err
}

// refusal is an error with the reason label of the refused metric.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

func refuse(reason string, err error) error { return &refusal{reason: reason, err: err} }

func (s *Service) respond(ctx context.Context, req *authn.Request, subj *authn.Subject, kind wstrust.Kind) ([]byte, error) {
	if req == nil || req.Envelope == nil || subj == nil {
		return nil, errors.New("sts: Respond needs the request's envelope and the Subject")
	}
	env := req.Envelope
	action, err := wstrust.Action(env, header(req, "Content-Type"), header(req, "Soapaction"))
	if err != nil {
		return nil, refuse("invalid_request", err)
	}
	v, k := wstrust.Classify(action)
	if k == wstrust.NotRST || (kind != 0 && k != kind) {
		return nil, refuse("invalid_request", wstrust.NewFault(v, wstrust.InvalidRequest, fmt.Sprintf("action %q is not a %s request", action, kind)))
	}
	if k == wstrust.Amend {
		return nil, refuse("amend", wstrust.NewFault(v, wstrust.InvalidRequest, "Amend of a security context is not supported"))
	}
	rst, err := wstrust.ParseRSTEnvelope(env, v, nil)
	if err != nil {
		return nil, refuse("invalid_request", err)
	}
	if rst.Kind != k {
		return nil, refuse("invalid_request", wstrust.NewFault(v, wstrust.InvalidRequest, fmt.Sprintf("RequestType %s under an action of %s", rst.Kind, k)))
	}
	addr, err := wstrust.ParseAddressing(env)
	if err != nil {
		return nil, refuse("invalid_request", err)
	}
	resp := &wstrust.Response{
		SOAP: env.Version, Version: v, Kind: k, Action: wstrust.ReplyAction(action),
		AddressingNS: addr.Namespace, RelatesTo: addr.MessageID, Now: req.Now, Context: rst.Context,
	}
	if id, err := wstrust.NewUUID(); err == nil {
		resp.MessageID = "urn:uuid:" + id
	}
	if (k == wstrust.Issue || k == wstrust.Renew) && !req.Secure && !s.cfg.AllowInsecure {
		return nil, refuse("insecure_channel", wstrust.NewFault(v, wstrust.InvalidRequest,
			k.String()+" sends a key: refused over a channel that is not confidential (use TLS; allow_insecure is for demos)"))
	}
	used := secureconv.UsedBy(req)
	switch k {
	case wstrust.Issue:
		if used != nil || subj.Method == secureconv.Method {
			return nil, refuse("bootstrap_is_context", wstrust.NewFault(v, wstrust.InvalidRequest,
				"an Issue RST authenticated by a security context: a context cannot bootstrap another (renew it instead)"))
		}
		return s.issue(ctx, req, subj, rst, resp)
	case wstrust.Renew, wstrust.Cancel:
		if used == nil {
			return nil, refuse("no_proof_of_possession", wstrust.NewFault(v, wstrust.InvalidRequest,
				k.String()+" RST not signed with a security context: it must be signed with the context it names"))
		}
		target, err := s.target(env, rst)
		if err != nil {
			return nil, refuse("target_mismatch", err)
		}
		if target != used.Context.Identifier {
			return nil, refuse("target_mismatch", wstrust.NewFault(v, wstrust.BadContextToken,
				fmt.Sprintf("%s target %s, but the request is signed with context %s", k, target, used.Context.Identifier)))
		}
		if k == wstrust.Renew {
			return s.renew(ctx, req, used, rst, resp)
		}
		return s.cancel(ctx, req, used, resp)
	}
	return nil, refuse("invalid_request", wstrust.NewFault(v, wstrust.InvalidRequest, "unsupported request "+k.String()))
}

// target returns the Identifier a RenewTarget or CancelTarget names.
func (s *Service) target(env *wsse.Envelope, rst *wstrust.RST) (string, error) {
	t := rst.Target
	if t == nil {
		return "", wstrust.NewFault(rst.Version, wstrust.InvalidRequest, rst.Kind.String()+" without a target")
	}
	if id := t.Identifier(); id != "" {
		return id, nil
	}
	if t.Ref != nil && t.Ref.ID != "" {
		sct, err := wstrust.FindSCT(env, t.Ref.ID, nil)
		if err != nil {
			return "", err
		}
		return sct.Identifier, nil
	}
	return "", wstrust.NewFault(rst.Version, wstrust.BadContextToken, rst.Kind.String()+" target names no context")
}

// proof makes the key of a context for rst by the entropy rules.
func (s *Service) proof(rst *wstrust.RST) (*wstrust.Proof, error) {
	if rst.KeySize == 0 && (rst.Entropy == nil || rst.ComputedKeyAlgorithm != "") {
		rst.KeySize = s.cfg.KeySize
	}
	var server []byte
	if rst.Entropy == nil || rst.ComputedKeyAlgorithm != "" {
		var err error
		if server, err = wstrust.NewEntropy(rst.KeyBytes()); err != nil {
			return nil, fmt.Errorf("sts: %w", err)
		}
	}
	return wstrust.ComputeKey(rst, server)
}

// lifetime returns the life of a context issued or renewed at now.
func (s *Service) lifetime(rst *wstrust.RST, now time.Time) (time.Duration, error) {
	if rst.Expires.IsZero() {
		return s.cfg.Lifetime, nil
	}
	life := rst.Expires.Sub(now)
	if life <= 0 {
		return 0, wstrust.NewFault(rst.Version, wstrust.InvalidRequest,
			fmt.Sprintf("requested Lifetime ends at %s, not after now", rst.Expires.UTC().Format(time.RFC3339)))
	}
	return min(life, s.cfg.MaxLifetime), nil
}

func toSCTSubject(subj *authn.Subject) sct.Subject {
	return sct.Subject{
		Principal: subj.Principal, Realm: subj.Realm, Method: subj.Method,
		Groups: subj.Groups, Attributes: subj.Attributes,
	}.Clone()
}

func (s *Service) issue(ctx context.Context, req *authn.Request, subj *authn.Subject, rst *wstrust.RST, resp *wstrust.Response) ([]byte, error) {
	v := rst.Version
	life, err := s.lifetime(rst, req.Now)
	if err != nil {
		return nil, refuse("invalid_request", err)
	}
	p, err := s.proof(rst)
	if err != nil {
		return nil, refuse("invalid_request", err)
	}
	uuid, err := wstrust.NewUUID()
	if err != nil {
		return nil, fmt.Errorf("sts: %w", err)
	}
	inst, err := wstrust.NewUUID()
	if err != nil {
		return nil, fmt.Errorf("sts: %w", err)
	}
	c := &sct.Context{
		Identifier: "urn:uuid:" + uuid, Instance: "urn:uuid:" + inst, Issuer: s.cfg.Issuer,
		Key: p.Key, Created: req.Now, Expires: req.Now.Add(life), Subject: toSCTSubject(subj),
	}
	c.RenewUntil = c.Expires.Add(s.cfg.RenewGrace)
	if err := s.store.Issue(ctx, c); err != nil {
		return nil, s.storeError(v, "issue", err)
	}
	resp.Token = &wstrust.SCT{Version: v, ID: tokenID(c.Identifier), Identifier: c.Identifier}
	resp.Proof, resp.Created, resp.Expires = p, c.Created, c.Expires
	out, err := wstrust.BuildResponse(resp)
	if err != nil {
		return nil, fmt.Errorf("sts: %w", err)
	}
	s.metrics.issued.WithLabelValues(v.Name).Inc()
	s.logger.Info("sts: security context issued", "request_id", req.ID, "principal", subj.Name(),
		"bootstrap_method", subj.Method, "context", c.Identifier, "version", v.Name, "proof", p.Kind.String(),
		"key_bits", len(p.Key)*8, "expires", c.Expires.UTC().Format(time.RFC3339))
	return out, nil
}

func (s *Service) renew(ctx context.Context, req *authn.Request, used *secureconv.Used, rst *wstrust.RST, resp *wstrust.Response) ([]byte, error) {
	v := rst.Version
	old := used.Context
	life, err := s.lifetime(rst, req.Now)
	if err != nil {
		return nil, refuse("invalid_request", err)
	}
	p, err := s.proof(rst)
	if err != nil {
		return nil, refuse("invalid_request", err)
	}
	inst, err := wstrust.NewUUID()
	if err != nil {
		return nil, fmt.Errorf("sts: %w", err)
	}
	next := old.Clone()
	next.Instance = "urn:uuid:" + inst
	next.Key = p.Key
	next.Created, next.Expires = req.Now, req.Now.Add(life)
	next.RenewUntil = next.Expires.Add(s.cfg.RenewGrace)
	if err := s.store.Renew(ctx, old.Instance, next); err != nil {
		return nil, s.storeError(v, "renew", err)
	}
	resp.Token = &wstrust.SCT{Version: v, ID: tokenID(next.Identifier), Identifier: next.Identifier, Instance: next.Instance}
	resp.Proof, resp.Created, resp.Expires = p, next.Created, next.Expires
	out, err := wstrust.BuildResponse(resp)
	if err != nil {
		return nil, fmt.Errorf("sts: %w", err)
	}
	s.metrics.renewed.WithLabelValues(v.Name).Inc()
	s.logger.Info("sts: security context renewed", "request_id", req.ID, "principal", old.Subject.Principal,
		"context", next.Identifier, "expired_before", used.Expired, "version", v.Name, "proof", p.Kind.String(),
		"key_bits", len(p.Key)*8, "expires", next.Expires.UTC().Format(time.RFC3339))
	return out, nil
}

func (s *Service) cancel(ctx context.Context, req *authn.Request, used *secureconv.Used, resp *wstrust.Response) ([]byte, error) {
	v := resp.Version
	c := used.Context
	if err := s.store.Cancel(ctx, c.Issuer, c.Identifier); err != nil {
		return nil, s.storeError(v, "cancel", err)
	}
	out, err := wstrust.BuildResponse(resp)
	if err != nil {
		return nil, fmt.Errorf("sts: %w", err)
	}
	s.metrics.cancelled.WithLabelValues(v.Name).Inc()
	s.logger.Info("sts: security context cancelled", "request_id", req.ID, "principal", c.Subject.Principal,
		"context", c.Identifier, "version", v.Name)
	return out, nil
}

// storeError maps a store error of op.
func (s *Service) storeError(v *wstrust.Version, op string, err error) error {
	switch {
	case errors.Is(err, sct.ErrFull):
		f := wstrust.NewFault(v, wstrust.RequestFailed, "the security-context store is full")
		f.Err = err
		return refuse("store_full", f)
	case errors.Is(err, sct.ErrConflict):
		f := wstrust.NewFault(v, wstrust.UnableToRenew, "the context was renewed concurrently by another request")
		f.Err = err
		return refuse("renew_conflict", f)
	case errors.Is(err, sct.ErrCancelled), errors.Is(err, sct.ErrNotFound):
		f := wstrust.NewFault(v, wstrust.BadContextToken, "the context was cancelled or is gone ("+op+")")
		f.Err = err
		return refuse("context_gone", f)
	case errors.Is(err, sct.ErrExists):
		// A random 122-bit Identifier that exists: a broken random source.
		return refuse("store_error", fmt.Errorf("sts: %s: %w", op, err))
	case errors.Is(err, health.ErrUnavailable):
		return refuse("store_unavailable", fmt.Errorf("sts: %s: %w", op, err))
	}
	return refuse("store_unavailable", fmt.Errorf("sts: %s: %w: %w", op, health.ErrUnavailable, err))
}

// refused counts and logs a refusal.
func (s *Service) refused(req *authn.Request, subj *authn.Subject, kind wstrust.Kind, err error) {
	reason := "error"
	var r *refusal
	if errors.As(err, &r) {
		reason = r.reason
	}
	s.metrics.refused.WithLabelValues(kind.String(), reason).Inc()
	level := slog.LevelWarn
	if errors.Is(err, health.ErrUnavailable) {
		level = slog.LevelError
	}
	var id, who string
	if req != nil {
		id = req.ID
	}
	if subj != nil {
		who = subj.Name()
	}
	s.logger.Log(context.Background(), level, "sts: request refused", "request_id", id, "principal", who,
		"kind", kind.String(), "reason", reason, "err", err)
}

// tokenID is the wsu:Id of an SCT in a response: derived from its
// Identifier so that it is stable across renewals and an XML NCName.
func tokenID(identifier string) string {
	h := hex.EncodeToString([]byte(identifier))
	if len(h) > 32 {
		h = h[len(h)-32:]
	}
	return "sct-" + h
}

func header(req *authn.Request, name string) string {
	if req.Header == nil {
		return ""
	}
	return req.Header(name)
}

type metrics struct {
	issued, renewed, cancelled *prometheus.CounterVec
	refused                    *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_sts_issued_total",
			Help: "Security contexts issued, by WS-Trust version.",
		}, []string{"version"}),
		renewed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_sts_renewed_total",
			Help: "Security contexts renewed, by WS-Trust version.",
		}, []string{"version"}),
		cancelled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_sts_cancelled_total",
			Help: "Security contexts cancelled, by WS-Trust version.",
		}, []string{"version"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authsvc_sts_refused_total",
			Help: "RSTs refused after authentication, by kind (Issue, Renew, Cancel, Amend) and reason (invalid_request, insecure_channel, bootstrap_is_context, no_proof_of_possession, target_mismatch, amend, renew_conflict, context_gone, store_full, store_unavailable, store_error, error).",
		}, []string{"kind", "reason"}),
	}
}

// refusalReasons are the reason label's values of authsvc_sts_refused_total.
var refusalReasons = []string{"invalid_request", "insecure_channel", "bootstrap_is_context", "no_proof_of_possession",
	"target_mismatch", "amend", "renew_conflict", "context_gone", "store_full", "store_unavailable", "store_error", "error"}

// register registers the metrics with every series at zero (versions,
// kinds and reasons are known), so that they are there from the start.
func (m *metrics) register(reg prometheus.Registerer) error {
	for _, v := range wstrust.Versions {
		m.issued.WithLabelValues(v.Name)
		m.renewed.WithLabelValues(v.Name)
		m.cancelled.WithLabelValues(v.Name)
	}
	for _, k := range []wstrust.Kind{wstrust.Issue, wstrust.Renew, wstrust.Cancel, wstrust.Amend} {
		for _, r := range refusalReasons {
			m.refused.WithLabelValues(k.String(), r)
		}
	}
	for _, c := range []prometheus.Collector{m.issued, m.renewed, m.cancelled, m.refused} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("sts: metrics: %w", err)
		}
	}
	return nil
}
