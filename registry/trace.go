package registry

import "context"

// Trace receives what a registry learns about a user while it answers,
// for the caller's bookkeeping, the way net/http/httptrace reports on a
// request. The server uses it to count failed passwords against the user
// the directory matched, not only against the name as the client spelled
// it (a filter such as (|(uid=%s)(mail=%s)) takes several names for one
// user). A registry that matches names exactly need not report.
type Trace struct {
	// Resolved is called with the registry's own name for the user that a
	// claimed name matched, as soon as the registry knows it: before the
	// password is checked, and whether or not it checks out. The name must
	// never reach the client.
	Resolved func(name string)
}

type traceKey struct{}

// WithTrace returns a context whose registry calls report to t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceResolved reports to ctx's Trace, if any, that name is the user a
// claimed name matched.
func TraceResolved(ctx context.Context, name string) {
	if t, _ := ctx.Value(traceKey{}).(*Trace); t != nil && t.Resolved != nil && name != "" {
		t.Resolved(name)
	}
}
