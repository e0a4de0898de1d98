package lockout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authsvc/authsvc/internal/redisconn"
)

// Store keeps failure counters. Keys are opaque strings.
type Store interface {
	// Status says whether key is locked at now, and whether it has
	// failures on record.
	Status(ctx context.Context, key string, now time.Time) (locked, failures bool, err error)
	// Fail records a failure under p and says whether the key is now locked.
	Fail(ctx context.Context, key string, p Policy, now time.Time) (locked bool, err error)
	// Reset forgets key's failures (a successful login of the principal).
	Reset(ctx context.Context, key string) error
}

// Memory is a Store in process memory, bounded in size.
type Memory struct {
	mu  sync.Mutex
	max int
	m   map[string]*lockEntry
}

type lockEntry struct {
	failures    int
	locks       int
	last        time.Time // last failure
	lockedUntil time.Time
	window      time.Duration
}

func (e *lockEntry) expired(now time.Time) bool {
	return !now.Before(e.lockedUntil) && now.Sub(e.last) >= e.window
}

// NewMemory returns a store that holds at most max keys (default
// 100000). When full it drops expired keys, then unlocked ones.
func NewMemory(max int) *Memory {
	if max <= 0 {
		max = 100000
	}
	return &Memory{max: max, m: make(map[string]*lockEntry)}
}

// Len returns the number of keys held.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Status implements Store.
func (s *Memory) Status(_ context.Context, key string, now time.Time) (bool, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e == nil {
		return false, false, nil
	}
	if e.expired(now) {
		delete(s.m, key)
		return false, false, nil
	}
	return now.Before(e.lockedUntil), e.failures > 0, nil
}

// Fail implements Store.
func (s *Memory) Fail(_ context.Context, key string, p Policy, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e != nil && e.expired(now) {
		delete(s.m, key)
		e = nil
	}
	if e == nil {
		s.makeRoom(now)
		e = &lockEntry{}
		s.m[key] = e
	}
	e.window = p.Window
	e.failures++
	e.last = now
	if e.failures >= p.MaxFailures {
		e.locks++
		e.lockedUntil = now.Add(p.lockFor(e.locks))
		// One more failure after the lock ends locks again, for longer.
		e.failures = p.MaxFailures - 1
		return true, nil
	}
	return now.Before(e.lockedUntil), nil
}

// Reset implements Store.
func (s *Memory) Reset(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[key]; e != nil {
		e.failures = 0
		if e.locks == 0 {
			delete(s.m, key)
		}
	}
	return nil
}

// makeRoom frees a slot when the map is full: expired entries first, then
// an unlocked one, then any. Called with mu held.
func (s *Memory) makeRoom(now time.Time) {
	if len(s.m) < s.max {
		return
	}
	for k, e := range s.m {
		if e.expired(now) {
			delete(s.m, k)
		}
	}
	if len(s.m) < s.max {
		return
	}
	var victim string
	n := 0
	for k, e := range s.m { // random order
		victim = k
		if !now.Before(e.lockedUntil) || n >= 64 {
			break
		}
		n++
	}
	delete(s.m, victim)
}

// Redis is a Store in Redis, shared by replicas. Keys are
// hashed: prefix + "{" + hex SHA-256 + "}" + suffix (one cluster slot per
// key).
//
// With Ack set, a failure counts only once Ack's replicas have it (WAIT
// after the script, on the same connection): a failover cannot forget
// failures or a lock, and a failure not acknowledged in time is an error
// (it may still have been counted).
type Redis struct {
	Client  goredis.UniversalClient
	Prefix  string
	Timeout time.Duration
	Ack     *redisconn.Acker
}

// failScript counts a failure and sets the lock atomically.
// KEYS: failures, lock, locks. ARGV: max, window ms, lockout ms, max lockout ms.
var failScript = goredis.NewScript(failSource)

const failSource = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if n >= tonumber(ARGV[1]) then
  local k = redis.call('INCR', KEYS[3])
  local d = tonumber(ARGV[3])
  local maxd = tonumber(ARGV[4])
  for i = 2, k do
    if d >= maxd then break end
    d = d * 2
  end
  if d > maxd then d = maxd end
  redis.call('PEXPIRE', KEYS[3], d + tonumber(ARGV[2]))
  redis.call('SET', KEYS[2], '1', 'PX', d)
  redis.call('SET', KEYS[1], tonumber(ARGV[1]) - 1, 'PX', d + tonumber(ARGV[2]))
  return 1
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
return 0
`

func (r *Redis) keys(key string) (failures, lock, locks string) {
	sum := sha256.Sum256([]byte(key))
	base := r.Prefix + "{" + hex.EncodeToString(sum[:]) + "}"
	return base + ":n", base + ":lock", base + ":locks"
}

func (r *Redis) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	t := r.Timeout
	if t <= 0 {
		t = 500 * time.Millisecond
	}
	return context.WithTimeout(ctx, t)
}

// Status implements Store.
func (r *Redis) Status(ctx context.Context, key string, _ time.Time) (bool, bool, error) {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	n, lock, _ := r.keys(key)
	res, err := r.Client.MGet(ctx, lock, n).Result()
	if err != nil {
		return false, false, err
	}
	return res[0] != nil, res[1] != nil, nil
}

// Fail implements Store.
func (r *Redis) Fail(ctx context.Context, key string, p Policy, _ time.Time) (bool, error) {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	n, lock, locks := r.keys(key)
	args := []any{p.MaxFailures, p.Window.Milliseconds(), p.Lockout.Milliseconds(), p.MaxLockout.Milliseconds()}
	if r.Ack == nil {
		v, err := failScript.Run(ctx, r.Client, []string{n, lock, locks}, args...).Int()
		if err != nil {
			return false, err
		}
		return v == 1, nil
	}
	cmd := goredis.NewIntCmd(ctx, append([]any{"eval", failSource, 3, n, lock, locks}, args...)...)
	wait := r.Ack.Run(ctx, []string{n}, []goredis.Cmder{cmd})[0]
	v, err := cmd.Result()
	if err != nil {
		return false, err
	}
	if err := r.Ack.Check(wait); err != nil {
		return v == 1, fmt.Errorf("lockout: %w", err)
	}
	return v == 1, nil
}

// Reset implements Store.
func (r *Redis) Reset(ctx context.Context, key string) error {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	n, _, _ := r.keys(key)
	return r.Client.Del(ctx, n).Err()
}

var (
	_ Store = (*Memory)(nil)
	_ Store = (*Redis)(nil)
)
