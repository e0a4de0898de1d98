// Package redis is a replay.Cache shared by every replica through Redis
// (standalone, Sentinel or Cluster).
//
// Check-and-record is one command, SET key 1 PX ttl NX: Redis runs it
// atomically, so of any number of Adds of one key, from any number of
// replicas, exactly one gets OK and the others get nil (ErrReplay). There is
// no read-then-write race and no Lua.
//
// Keys are the configured prefix followed by the hex SHA-256 of the caller's
// key ("ut-nonce:"+nonce, an authenticator hash, ...). No nonce, secret or
// token byte reaches Redis, keys have a fixed length whatever the caller
// passes, and the caller's kind prefix, being part of the hashed input,
// keeps kinds apart. The TTL is exp - now rounded up to the millisecond; an
// exp that has already passed records nothing.
//
// Failure: when Redis does not answer within the configured timeout (or
// refuses the command), Add returns an error that wraps authn.ErrUnavailable
// and the client's error; callers refuse the credential (fail closed). The
// client reconnects by itself, so a Cache recovers without a restart once
// Redis is back. Check (PING) reports the dependency for /readyz.
//
// Commands are never retried by the client: a retried SET NX whose first
// attempt reached Redis but whose reply was lost would find its own key and
// report an honest first use as a replay. A failed Add is an error; the
// client (SOAP caller) may resend.
package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/replay"
)

// Cache is a replay.Cache in Redis. It is safe for concurrent use.
type Cache struct {
	client  goredis.UniversalClient
	prefix  string
	timeout time.Duration
	now     func() time.Time
	logger  *slog.Logger

	batch     *batcher    // nil: one round trip per Add
	down      atomic.Bool // the last command failed; logged on each transition
	closeOnce sync.Once
	closeErr  error
}

var (
	_ replay.Cache  = (*Cache)(nil)
	_ authn.Checker = (*Cache)(nil)
)

// Add implements replay.Cache with SET key 1 PX ttl NX.
func (c *Cache) Add(ctx context.Context, key string, exp time.Time) error {
	ttl := exp.Sub(c.now())
	if ttl <= 0 {
		return nil // already outside its window: nothing to remember
	}
	ms := int64((ttl + time.Millisecond - 1) / time.Millisecond)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.batch != nil {
		return c.batch.add(ctx, c.Key(key), ms)
	}
	cmd := goredis.NewBoolCmd(ctx, "set", c.Key(key), "1", "px", ms, "nx")
	_ = c.client.Process(ctx, cmd)
	set, err := cmd.Result()
	if err != nil {
		return c.fail("SET NX", err)
	}
	c.ok()
	if !set {
		return replay.ErrReplay
	}
	return nil
}

// Check implements authn.Checker: it PINGs Redis within the timeout.
func (c *Cache) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.client.Ping(ctx).Err(); err != nil {
		return c.fail("PING", err)
	}
	c.ok()
	return nil
}

// Key returns the Redis key that records the caller's key: the prefix and
// the hex SHA-256 of key. Tests and operators use it to find an entry.
func (c *Cache) Key(key string) string {
	sum := sha256.Sum256([]byte(key))
	b := make([]byte, len(c.prefix)+hex.EncodedLen(len(sum)))
	n := copy(b, c.prefix)
	hex.Encode(b[n:], sum[:])
	return string(b)
}

// Close closes the connection pool. Add and Check fail afterwards; a second
// Close returns what the first did.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		if c.batch != nil {
			c.batch.close()
		}
		c.closeErr = c.client.Close()
	})
	return c.closeErr
}

// Client returns the underlying client (for tests and diagnostics).
func (c *Cache) Client() goredis.UniversalClient { return c.client }

func (c *Cache) fail(op string, err error) error {
	if errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("replay/redis: %s: cache is closed: %w: %w", op, authn.ErrUnavailable, err)
	}
	if c.down.CompareAndSwap(false, true) {
		c.logger.Error("replay cache: Redis unavailable; refusing credentials that need a replay check until it answers",
			"op", op, "err", err)
	}
	return fmt.Errorf("replay/redis: %s: %w: %w", op, authn.ErrUnavailable, err)
}

func (c *Cache) ok() {
	if c.down.Load() && c.down.CompareAndSwap(true, false) {
		c.logger.Info("replay cache: Redis answers again")
	}
}
