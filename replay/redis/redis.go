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
// refuses the command), Add returns an error that wraps health.ErrUnavailable
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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/internal/redisconn"
	"github.com/authsvc/authsvc/replay"
)

// Cache is a replay.Cache in Redis. It is safe for concurrent use.
type Cache struct {
	client  goredis.UniversalClient
	prefix  string
	timeout time.Duration
	now     func() time.Time
	logger  *slog.Logger

	quota  replay.Quota
	window time.Duration

	ack *redisconn.Acker // nil: a record counts once the master has it

	batch     *batcher    // nil: one round trip per Add
	down      atomic.Bool // the last command failed; logged on each transition
	closeOnce sync.Once
	closeErr  error
}

var (
	_ replay.OwnedCache = (*Cache)(nil)
	_ health.Checker    = (*Cache)(nil)
)

// Add implements replay.Cache with SET key 1 PX ttl NX.
func (c *Cache) Add(ctx context.Context, key string, exp time.Time) error {
	ms, ok := c.ttl(exp)
	if !ok {
		return nil // already outside its window: nothing to remember
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rkey := c.Key(key)
	cmd := goredis.NewBoolCmd(ctx, "set", rkey, "1", "px", ms, "nx")
	wait, err := c.run(ctx, rkey, cmd)
	if err != nil {
		return c.fail("SET NX", err)
	}
	set, err := cmd.Result()
	if err != nil {
		return c.fail("SET NX", err)
	}
	if !set {
		// The key was there: a replay, whatever the replicas say.
		c.ok()
		return replay.ErrReplay
	}
	if err := c.acked(wait); err != nil {
		return err
	}
	c.ok()
	return nil
}

// acked checks that enough replicas have the record that wait followed.
// When not, the record stays (the nonce is spent: a later Add of it is a
// replay) but this Add fails closed.
func (c *Cache) acked(wait *goredis.IntCmd) error {
	if c.ack == nil {
		return nil
	}
	if err := c.ack.Check(wait); err != nil {
		return c.fail("WAIT", err)
	}
	return nil
}

// AddOwned implements replay.OwnedCache. With a quota, one script checks
// the key, checks and counts the owner's counters, and records the key,
// atomically and in one round trip (see quotaScript); without one, or for
// an owner with no counter, it is Add.
func (c *Cache) AddOwned(ctx context.Context, key string, exp time.Time, o replay.Owner) error {
	counters := c.quota.Counters(o)
	if len(counters) == 0 {
		return c.Add(ctx, key, exp)
	}
	ms, ok := c.ttl(exp)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rkey := c.Key(key)
	args := make([]any, 0, 5+2*len(counters)+2)
	args = append(args, "eval", quotaScript, 1+len(counters), rkey)
	for _, q := range counters {
		args = append(args, c.quotaKey(q.Key))
	}
	args = append(args, ms, c.window.Milliseconds())
	for _, q := range counters {
		args = append(args, q.Limit)
	}
	cmd := goredis.NewSliceCmd(ctx, args...)
	wait, err := c.run(ctx, rkey, cmd)
	if err != nil {
		return c.fail("EVAL", err)
	}
	res, err := cmd.Result()
	if err != nil {
		return c.fail("EVAL", err)
	}
	var status, pttl int64
	if len(res) == 2 {
		status, _ = res[0].(int64)
		pttl, _ = res[1].(int64)
	}
	if status == 1 {
		if err := c.acked(wait); err != nil {
			return err
		}
	}
	c.ok()
	switch {
	case status == 1:
		return nil
	case status == 0:
		return replay.ErrReplay
	case status >= 2 && int(status) <= 1+len(counters):
		q := counters[status-2]
		return &replay.QuotaError{Kind: q.Kind, Owner: q.Name, Limit: q.Limit, Window: c.window,
			RetryAfter: time.Duration(pttl) * time.Millisecond}
	}
	return c.fail("EVAL", fmt.Errorf("unexpected answer %v", res))
}

// quotaScript records KEYS[1] for ARGV[1] ms unless it is recorded already
// (answer {0, 0}: a replay) or one of the owner's counters KEYS[2..] has
// reached its limit ARGV[3..] (answer {i, pttl of KEYS[i]}: nothing is
// recorded or counted). Otherwise it counts the key in each counter, a
// counter's first count starting its window of ARGV[2] ms, and answers
// {1, 0}. A replay counts nothing: whoever replays a captured message
// cannot use up its owner's quota.
const quotaScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, 0} end
for i = 2, #KEYS do
  local n = tonumber(redis.call('GET', KEYS[i]) or '0')
  if n >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], ARGV[2])
      ttl = tonumber(ARGV[2])
    end
    return {i, ttl}
  end
end
for i = 2, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return {1, 0}
`

// ttl is exp - now in milliseconds, rounded up; false when exp has passed.
func (c *Cache) ttl(exp time.Time) (int64, bool) {
	ttl := exp.Sub(c.now())
	if ttl <= 0 {
		return 0, false
	}
	return int64((ttl + time.Millisecond - 1) / time.Millisecond), true
}

// run sends cmd, which writes the Redis key rkey, through the batcher when
// there is one; an error means no answer arrived (the answer itself, an
// error from Redis included, is in cmd). With acknowledged records, wait
// is the WAIT that followed cmd on its connection.
func (c *Cache) run(ctx context.Context, rkey string, cmd goredis.Cmder) (wait *goredis.IntCmd, err error) {
	if c.batch != nil {
		return c.batch.do(ctx, rkey, cmd)
	}
	if c.ack != nil {
		return c.ack.Run(ctx, []string{rkey}, []goredis.Cmder{cmd})[0], nil
	}
	_ = c.client.Process(ctx, cmd)
	return nil, nil
}

// quotaKey is the Redis key of a quota counter: the prefix, "quota:" and
// the hex SHA-256 of the counter's identity (no principal name or address
// reaches Redis).
func (c *Cache) quotaKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return c.prefix + "quota:" + hex.EncodeToString(sum[:])
}

// Check implements health.Checker: it PINGs Redis within the timeout.
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
		return fmt.Errorf("replay/redis: %s: cache is closed: %w: %w", op, health.ErrUnavailable, err)
	}
	if c.down.CompareAndSwap(false, true) {
		attrs := []any{"op", op, "err", err}
		if op == "WAIT" {
			// Which node fell short, and what it knows of its replicas:
			// once per outage, so the extra round trip costs nothing.
			if n := c.describeNode(); n != "" {
				attrs = append(attrs, "node", n)
			}
		}
		c.logger.Error("replay cache: Redis unavailable; refusing credentials that need a replay check until it answers", attrs...)
	}
	if cc, ok := c.client.(*goredis.ClusterClient); ok {
		// A master may have failed over: read the slot map again (at
		// most one reload at a time, then a 200 ms pause, in go-redis).
		// go-redis reloads by itself on MOVED, but not when the master
		// it knows refuses connections.
		cc.ReloadState(context.Background())
	}
	return fmt.Errorf("replay/redis: %s: %w: %w", op, health.ErrUnavailable, err)
}

// describeNode says which node the client's commands go to and what it
// knows of its replicas, from CLIENT INFO (the server's own address,
// laddr) and ROLE sent on one connection: "127.0.0.1:6379 (role master,
// offset 1234; replicas 127.0.0.1:6380 at 1234, ...)". It is "" for a
// Cluster, whose commands go to each key's master, and says why when the
// node does not answer them (an ACL without +client|info or +role).
func (c *Cache) describeNode() string {
	if _, ok := c.client.(*goredis.ClusterClient); ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var info *goredis.ClientInfoCmd
	var role *goredis.Cmd
	_, _ = c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		info = p.ClientInfo(ctx)
		role = p.Do(ctx, "ROLE")
		return nil
	})
	addr := "?"
	if ci, err := info.Result(); err == nil && ci.LAddr != "" {
		addr = ci.LAddr
	} else if cl, ok := c.client.(*goredis.Client); ok && strings.Contains(cl.Options().Addr, ":") {
		addr = cl.Options().Addr // the one server configured (Sentinel's says "FailoverClient")
	}
	r, err := role.Slice()
	if err != nil {
		return addr + " (ROLE: " + err.Error() + ")"
	}
	return addr + " (" + formatRole(r) + ")"
}

// formatRole renders a ROLE reply: a master's offset and its replicas with
// theirs, or a replica's master and link state.
func formatRole(r []any) string {
	if len(r) == 0 {
		return "role ?"
	}
	kind := fmt.Sprint(r[0])
	switch {
	case kind == "master" && len(r) >= 3:
		out := fmt.Sprintf("role master, offset %v; replicas", r[1])
		reps, _ := r[2].([]any)
		if len(reps) == 0 {
			return out + " none"
		}
		for i, rep := range reps {
			f, _ := rep.([]any)
			if len(f) < 3 {
				continue
			}
			if i > 0 {
				out += ","
			}
			out += fmt.Sprintf(" %v:%v at %v", f[0], f[1], f[2])
		}
		return out
	case kind == "slave" && len(r) >= 5:
		return fmt.Sprintf("role replica of %v:%v, link %v, offset %v", r[1], r[2], r[3], r[4])
	}
	return "role " + kind
}

func (c *Cache) ok() {
	if c.down.Load() && c.down.CompareAndSwap(true, false) {
		c.logger.Info("replay cache: Redis answers again")
	}
}
