// Package health is the contract between authsvc and what it depends on
// (directories, caches, upstream services): a dependency says whether it
// answers (Checker), and marks its technical failures (ErrUnavailable) so
// that callers fail closed instead of taking them for a rejection. It
// imports nothing of authsvc, so registries and caches can implement it
// without knowing the authentication chain.
package health

import (
	"context"
	"errors"
)

// Checker is implemented by a dependency (directory, cache, upstream
// service) whose health decides readiness.
type Checker interface {
	Check(ctx context.Context) error
}

// ErrUnavailable marks a technical failure of a dependency. Wrap it; the
// chain treats a wrapped ErrUnavailable, like any error that is not a fault,
// as a failure to decide, never as a rejection.
var ErrUnavailable = errors.New("dependency unavailable")
