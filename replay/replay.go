// Package replay detects replayed credentials: a nonce, an authenticator or
// a signature value seen before within its freshness window.
//
// A Cache has one operation, Add, which checks and records a key atomically:
// of any number of concurrent Adds of one key, exactly one succeeds. An
// implementation shared by every replica (Redis) makes the check hold across
// a cluster.
package replay

import (
	"context"
	"errors"
	"time"
)

// Cache records keys until they expire.
type Cache interface {
	// Add records key until exp. It returns ErrReplay when the key is
	// already recorded and not yet expired, ErrFull when the cache cannot
	// take it (the caller must then refuse the credential: a cache that
	// forgets lets replays through), and other errors for technical
	// failures, which callers also treat as refusal.
	Add(ctx context.Context, key string, exp time.Time) error
	// Close releases the cache's resources.
	Close() error
}

var (
	// ErrReplay reports a key that was seen before.
	ErrReplay = errors.New("replay: key seen before")
	// ErrFull reports a cache at its bound.
	ErrFull = errors.New("replay: cache full")
)
