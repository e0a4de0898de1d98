// Package redis is an sct.Store shared by every replica through Redis
// (standalone, Sentinel or Cluster), so that a security context issued on
// one replica is used on a second and cancelled on a third, after which
// none accepts it.
//
// # Records
//
// One context is one Redis string under
//
//	prefix + issuer + ":" + hex(SHA-256(Identifier))
//
// holding the whole context (key, Subject, instance, times) as one AES-GCM
// ciphertext under a key of the configured keyring, named by its key id
// (see codec.go for the layout). The additional data binds the ciphertext
// to its Redis key, its key id and the SHA-256 of its Instance, which is
// kept in clear beside it for the renewal's compare-and-swap. Nothing
// secret or identifying is readable in Redis: no key, principal, group or
// Identifier in clear. The TTL is the context's Retention (Expires, or
// RenewUntil when the context has a renew grace; an absolute PXAT, its
// millisecond less one: see expireAt); Get also checks the Retention on
// the replica's clock and returns a context within its grace with Expires
// in the past.
//
// Issue is SET NX PXAT: of concurrent Issues of one Identifier, from any
// number of replicas, exactly one succeeds. Renew is one Lua script that
// compares the stored instance hash with the SHA-256 of the old instance
// and, only if they are equal, writes the new record with the new TTL.
// Cancel is one Lua script that replaces the record with a tombstone (two
// bytes, no secret, no Subject), keeping the remaining TTL (KEEPTTL).
// Every operation touches one key, so Redis Cluster is fine.
//
// # Failure
//
// When Redis does not answer within the timeout (or refuses the command),
// every method returns an error wrapping health.ErrUnavailable: callers fail
// closed (503). A record that cannot be decrypted (tampered with, moved,
// encrypted under a key id that is not configured) is an error wrapping
// ErrCorrupt and health.ErrUnavailable, logged, never a context. Commands
// are never retried by the client: a retried SET NX whose first attempt
// reached Redis would report ErrExists for an honest Issue.
//
// # Acknowledged writes
//
// With replicas_ack (the default with Sentinel and Cluster: one replica),
// Issue, Renew and Cancel send WAIT after their command on the same
// connection and succeed only once that many replicas have the write, so
// that a failover cannot undo a cancellation or lose an issued context
// (docs/replicas.md says what this does and does not guarantee). A write
// not acknowledged in time fails with health.ErrUnavailable although it
// may have happened: a cancellation then may or may not hold, and the
// caller, told of a failure, must not report success.
//
// A Redis at maxmemory with maxmemory-policy noeviction refuses new records:
// Issue then returns sct.ErrFull (and logs), while renewals and
// cancellations, which replace a record in place, may still fail with
// health.ErrUnavailable. With an evicting policy, an evicted record ends a
// context early (clients must issue a new one); it never brings a
// cancelled one back.
//
// # Wiring
//
// Not wired into config/ or app/ yet. To wire it: add a Config under the
// secure-conversation section of the configuration (strict YAML, the
// fields and yaml tags below), call Config.Validate from the configuration's
// validation, and in the app build the store with
//
//	store, err := cfg.Open(logger.With("component", "sct-store"))
//
// close it on shutdown (store.Close), register it as a readiness check
// (it is a health.Checker), and hand it to the WS-Trust handler as its
// sct.Store. Single-replica deployments can use sct.NewMemory instead.
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

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/sct"
)

// Store is an sct.Store in Redis. It is safe for concurrent use.
type Store struct {
	client  goredis.UniversalClient
	prefix  string
	ring    *keyring
	timeout time.Duration
	now     func() time.Time
	logger  *slog.Logger
	ack     *redisconn.Acker // nil: a write counts once the master has it

	down      atomic.Bool // the last command failed; logged on each transition
	closeOnce sync.Once
	closeErr  error
}

var (
	_ sct.Store      = (*Store)(nil)
	_ health.Checker = (*Store)(nil)
)

// Answers of the scripts.
const (
	ansNotFound  = 0
	ansConflict  = 1
	ansCancelled = 2
	ansCorrupt   = 3
	ansOK        = 4
)

// renewScript: KEYS[1] the record; ARGV[1] SHA-256 of the old instance,
// ARGV[2] the new record, ARGV[3] its expiry (Unix ms, see expireAt). The hash sits at bytes
// 3..34 of a record (see codec.go).
var renewScript = goredis.NewScript(renewSource)

const renewSource = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local kind = string.sub(v, 1, 1)
if kind == 'X' then return 2 end
if kind ~= 'R' or string.len(v) < 34 then return 3 end
if string.sub(v, 3, 34) ~= ARGV[1] then return 1 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return 4
`

// cancelScript: KEYS[1] the record; ARGV[1] the tombstone.
var cancelScript = goredis.NewScript(cancelSource)

const cancelSource = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local kind = string.sub(v, 1, 1)
if kind == 'X' then return 2 end
if kind ~= 'R' then return 3 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return 4
`

// Issue implements sct.Store with SET NX PXAT.
func (s *Store) Issue(ctx context.Context, c *sct.Context) error {
	now := s.now()
	if err := c.Validate(now); err != nil {
		return err
	}
	rkey := s.Key(c.Issuer, c.Identifier)
	v, err := s.ring.seal(rkey, c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := goredis.NewStatusCmd(ctx, "set", rkey, v, "pxat", expireAt(c.Retention()), "nx")
	wait := s.write(ctx, rkey, cmd)
	err = cmd.Err()
	if err == nil {
		err = s.acked(wait)
	}
	switch {
	case errors.Is(err, goredis.Nil):
		s.ok()
		return sct.ErrExists
	case goredis.IsOOMError(err):
		// Redis at maxmemory with noeviction: the store is at its bound.
		s.ok()
		s.logger.Warn("sct store: Redis is at maxmemory; refusing to issue security contexts until records expire",
			"err", err)
		return fmt.Errorf("%w: %w", sct.ErrFull, err)
	case err != nil:
		return s.fail("SET NX", err)
	}
	s.ok()
	return nil
}

// write sends cmd, which writes rkey, and with acknowledged writes WAIT
// after it on the same connection; it returns that WAIT (nil without).
func (s *Store) write(ctx context.Context, rkey string, cmd goredis.Cmder) *goredis.IntCmd {
	if s.ack == nil {
		_ = s.client.Process(ctx, cmd)
		return nil
	}
	return s.ack.Run(ctx, []string{rkey}, []goredis.Cmder{cmd})[0]
}

// acked checks that enough replicas have the write that wait followed
// (nil without acknowledged writes). The write happened either way.
func (s *Store) acked(wait *goredis.IntCmd) error {
	if s.ack == nil || wait == nil {
		return nil
	}
	return s.ack.Check(wait)
}

// script runs one of the store's scripts on rkey: EVALSHA with go-redis's
// fallback to EVAL, or, with acknowledged writes, EVAL and WAIT in one
// pipeline.
func (s *Store) script(ctx context.Context, sc *goredis.Script, src, rkey string, args ...any) (int64, error) {
	if s.ack == nil {
		return sc.Run(ctx, s.client, []string{rkey}, args...).Int64()
	}
	cmd := goredis.NewIntCmd(ctx, append([]any{"eval", src, 1, rkey}, args...)...)
	wait := s.write(ctx, rkey, cmd)
	ans, err := cmd.Result()
	if err != nil {
		return 0, err
	}
	if ans == ansOK {
		if err := s.acked(wait); err != nil {
			return 0, err
		}
	}
	return ans, nil
}

// Get implements sct.Store.
func (s *Store) Get(ctx context.Context, issuer, identifier string) (*sct.Context, error) {
	rkey := s.Key(issuer, identifier)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, err := s.client.Get(ctx, rkey).Bytes()
	switch {
	case errors.Is(err, goredis.Nil):
		s.ok()
		return nil, sct.ErrNotFound
	case err != nil:
		return nil, s.fail("GET", err)
	}
	s.ok()
	c, err := s.ring.open(rkey, v, issuer, identifier)
	switch {
	case errors.Is(err, sct.ErrCancelled):
		return nil, err
	case err != nil:
		return nil, s.corrupt("GET", rkey, err)
	case !c.Retention().After(s.now()):
		// The record has ended by our clock (another replica's clock
		// may differ from ours). (A context past Expires but within its
		// renew grace is returned: the caller checks Expires.)
		clear(c.Key)
		return nil, sct.ErrNotFound
	}
	return c, nil
}

// Renew implements sct.Store: the compare-and-swap is one script, on the
// SHA-256 of the instances (the instance itself never reaches Redis in
// clear).
func (s *Store) Renew(ctx context.Context, oldInstance string, next *sct.Context) error {
	now := s.now()
	if err := next.Validate(now); err != nil {
		return err
	}
	if next.Instance == oldInstance {
		return fmt.Errorf("%w: a renewal must carry a new instance", sct.ErrInvalid)
	}
	rkey := s.Key(next.Issuer, next.Identifier)
	v, err := s.ring.seal(rkey, next)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ans, err := s.script(ctx, renewScript, renewSource, rkey, instanceHash(oldInstance), v, expireAt(next.Retention()))
	if err != nil {
		return s.fail("renew script", err)
	}
	s.ok()
	switch ans {
	case ansOK:
		return nil
	case ansNotFound:
		return sct.ErrNotFound
	case ansConflict:
		return sct.ErrConflict
	case ansCancelled:
		return sct.ErrCancelled
	case ansCorrupt:
		return s.corrupt("renew script", rkey, fmt.Errorf("%w: not a record", ErrCorrupt))
	}
	return s.fail("renew script", fmt.Errorf("unexpected answer %d", ans))
}

// Cancel implements sct.Store: the record becomes a tombstone with the
// remaining TTL.
func (s *Store) Cancel(ctx context.Context, issuer, identifier string) error {
	rkey := s.Key(issuer, identifier)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ans, err := s.script(ctx, cancelScript, cancelSource, rkey, tombstone)
	if err != nil {
		return s.fail("cancel script", err)
	}
	s.ok()
	switch ans {
	case ansOK:
		return nil
	case ansNotFound:
		return sct.ErrNotFound
	case ansCancelled:
		return sct.ErrCancelled
	case ansCorrupt:
		return s.corrupt("cancel script", rkey, fmt.Errorf("%w: not a record", ErrCorrupt))
	}
	return s.fail("cancel script", fmt.Errorf("unexpected answer %d", ans))
}

// expireAt is the Unix time in milliseconds at which Redis drops a record
// whose Retention is exp: exp's millisecond less one. Redis expires a key
// once its clock in milliseconds is past (not at) that time, so, with the
// clocks in step, the record is gone by the time our clock reaches its
// Retention: once Get says ErrNotFound (the Retention has passed), the
// renew and cancel scripts, which rely on the key's expiry alone, find no
// record either. The time is absolute (PXAT) rather than a TTL counted
// from our clock's now: a relative TTL starts when Redis receives the
// command, so it outlived the Retention by the command's latency, and a
// Renew sent just after Get said ErrNotFound could still renew a context
// past its renew grace (seen under load in the Cluster conformance test).
// What remains is the offset between our clock and Redis's, which NTP
// keeps to milliseconds.
func expireAt(exp time.Time) int64 {
	return exp.UnixMilli() - 1
}

// Key returns the Redis key of the context issuer/identifier: the prefix,
// the issuer, ":" and the hex SHA-256 of the identifier. Tests and
// operators use it to find a record.
func (s *Store) Key(issuer, identifier string) string {
	sum := sha256.Sum256([]byte(identifier))
	b := make([]byte, 0, len(s.prefix)+len(issuer)+1+hex.EncodedLen(len(sum)))
	b = append(b, s.prefix...)
	b = append(b, issuer...)
	b = append(b, ':')
	b = hex.AppendEncode(b, sum[:])
	return string(b)
}

// Check implements health.Checker: it PINGs Redis within the timeout.
func (s *Store) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		return s.fail("PING", err)
	}
	s.ok()
	return nil
}

// Close closes the connection pool; the methods fail afterwards. A second
// Close returns what the first did.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.client.Close() })
	return s.closeErr
}

// Client returns the underlying client (for tests and diagnostics).
func (s *Store) Client() goredis.UniversalClient { return s.client }

func (s *Store) fail(op string, err error) error {
	if errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("sct/redis: %s: store is closed: %w: %w", op, health.ErrUnavailable, err)
	}
	if s.down.CompareAndSwap(false, true) {
		s.logger.Error("sct store: Redis unavailable; security contexts cannot be issued, used, renewed or cancelled until it answers",
			"op", op, "err", err)
	}
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		cc.ReloadState(context.Background()) // a master may have failed over
	}
	return fmt.Errorf("sct/redis: %s: %w: %w", op, health.ErrUnavailable, err)
}

func (s *Store) ok() {
	if s.down.Load() && s.down.CompareAndSwap(true, false) {
		s.logger.Info("sct store: Redis answers again")
	}
}

// corrupt logs an unreadable record (by its Redis key, which names nothing
// secret) and returns err wrapped with health.ErrUnavailable.
func (s *Store) corrupt(op, rkey string, err error) error {
	s.logger.Error("sct store: unreadable security-context record in Redis; the context is refused (a key id missing from keys, or a record tampered with)",
		"op", op, "redis_key", rkey, "err", err)
	return fmt.Errorf("sct/redis: %s: %w: %w", op, health.ErrUnavailable, err)
}
