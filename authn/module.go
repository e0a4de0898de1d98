package authn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/wsse"
)

// Request is what a login module sees of one authentication: the parsed
// envelope and the few facts of the HTTP request a module may need.
type Request struct {
	// Envelope is the parsed SOAP envelope. It is nil for a request that
	// carries no SOAP message (HTTP Negotiate on a bare GET, say).
	Envelope *wsse.Envelope
	// Peer is the client's address as the listener saw it.
	Peer netip.AddrPort
	// Client is the client's address: Peer's, or the one a trusted proxy
	// forwarded. Modules charge replay-cache entries to it (replay.Owner).
	Client netip.Addr
	// TLS is the connection state when the listener terminated TLS.
	TLS *tls.ConnectionState
	// Secure reports whether the client's connection was confidential: TLS
	// here, or TLS at a configured terminating proxy in front of us.
	Secure bool
	// prechecked says the chain's pre-steps passed (Chain.Precheck). It
	// sits here, in the padding after Secure, to keep the Request's size.
	prechecked bool
	// Authorization is the HTTP Authorization header, if any.
	Authorization string
	// Header gives read access to other request headers (canonical names).
	Header func(name string) string
	// ID is the request id that appears in logs and faults.
	ID string
	// Now is the time the request arrived; modules use it, not time.Now,
	// so that a request is judged against one instant.
	Now time.Time
	// Shared is state passed along the chain (JAAS sharedState): a module
	// may leave facts here for the modules after it. It is nil until a
	// module sets something (SetShared allocates it).
	Shared map[string]any

	// processed are the indexes into Security().Elements that modules (or
	// the chain's Timestamp pre-step) marked processed; see MarkProcessed.
	processed    []int32
	processedBuf [4]int32
}

// SetShared records a fact for the modules after this one.
func (r *Request) SetShared(key string, v any) {
	if r.Shared == nil {
		r.Shared = make(map[string]any, 4)
	}
	r.Shared[key] = v
}

// Security returns the envelope's Security header for this service, or nil.
func (r *Request) Security() *wsse.Security {
	if r.Envelope == nil {
		return nil
	}
	return r.Envelope.Security
}

// Module is a login module.
//
// Login returns (true, nil) when it accepted the credential and filled in
// the Subject; (false, nil) or (false, *Fault) when it rejected it (the
// fault says which WS-Security code the client gets and why, for the log);
// an error wrapping ErrUnsupported when the request carries no credential of
// its kind (the module is then ignored, as a JAAS module whose login returns
// false); and any other error only for a technical failure (a directory or
// cache that cannot answer). The chain never counts a technical failure as
// success: it fails closed and tells the client to try again later.
//
// A module changes the Subject only when it returns true; the chain discards
// changes made by a module that did not succeed.
type Module interface {
	Login(ctx context.Context, req *Request, s *Subject) (bool, error)
}

// ModuleFunc adapts a function to the Module interface.
type ModuleFunc func(ctx context.Context, req *Request, s *Subject) (bool, error)

// Login calls f.
func (f ModuleFunc) Login(ctx context.Context, req *Request, s *Subject) (bool, error) {
	return f(ctx, req, s)
}

// Checker is an optional interface for modules with a dependency (directory,
// cache, upstream service) whose health decides readiness. It is
// health.Checker, which dependencies implement without importing authn.
type Checker = health.Checker

// ErrUnsupported says a request carries no credential of the module's kind.
var ErrUnsupported = errors.New("authn: no credential for this module")

// ErrUnavailable marks a technical failure of a dependency. Modules may wrap
// it; the chain treats any non-fault error the same way. It is
// health.ErrUnavailable.
var ErrUnavailable = health.ErrUnavailable

// Fault is a rejection: Code goes to the client, Reason and Err to the log.
type Fault struct {
	// Code is the fault code's local name, in Namespace.
	Code wsse.FaultCode
	// Namespace is the fault code's namespace; empty means WS-Security's
	// (wsse.NSWSSE). Other protocols' codes (wsc:BadContextToken,
	// wst:InvalidRequest) set theirs.
	Namespace string
	Reason    string
	// Temporary marks a failure the client may retry (a dependency is down):
	// HTTP 503 and a Receiver/Server fault.
	Temporary bool
	// Module names the chain entry that produced the fault.
	Module string
	// Challenge, when set, is sent as WWW-Authenticate with an HTTP 401
	// (HTTP Negotiate asks the client for a ticket this way).
	Challenge string
	// RetryAfter, when positive on a Temporary fault, is sent as the
	// Retry-After header: when the client may try again.
	RetryAfter time.Duration
	Err        error
}

func (f *Fault) Error() string {
	s := "authn: " + string(f.Code) + ": " + f.Reason
	if f.Module != "" {
		s = "authn: " + f.Module + ": " + string(f.Code) + ": " + f.Reason
	}
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

func (f *Fault) Unwrap() error { return f.Err }

// Reject returns a fault with the code and a formatted reason for the log.
func Reject(code wsse.FaultCode, format string, args ...any) *Fault {
	return &Fault{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Wrap records the error behind a rejection (for errors.Is and the log) and
// returns the fault.
func (f *Fault) Wrap(err error) *Fault {
	f.Err = err
	return f
}

// AsFault turns any error into the fault the client gets: a *Fault as it is,
// a *wsse.Error with its code, anything else as a temporary failure.
func AsFault(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	var we *wsse.Error
	if errors.As(err, &we) {
		return &Fault{Code: we.Code, Reason: we.Reason, Err: err}
	}
	return &Fault{Code: wsse.SecurityTokenUnavailable, Reason: "technical failure", Temporary: true, Err: err}
}
