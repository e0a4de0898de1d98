package replay

import (
	"context"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Memory is an in-process Cache: sharded maps with a hard bound on entries.
//
// The bound is global: one atomic count of the entries held, so that the
// cache takes MaxEntries keys however they hash (a bound per shard refused
// keys once the fullest shard was full, at about half the configured size).
// When the cache is full, Add sweeps the shards that hold expired entries;
// when none has expired, it returns ErrFull rather than evicting an entry
// that is still live.
//
// With a Quota, AddOwned also limits how many keys one principal and one
// client address may record per window (see Quota), so that a flood of
// fresh credentials from one account or one client is refused with a
// *QuotaError while everyone else keeps authenticating.
type Memory struct {
	shards []memShard
	owners []ownerShard
	seed   maphash.Seed
	seed2  maphash.Seed
	now    func() time.Time
	max    int64
	base   int64        // unix nanoseconds: expiries are held as seconds after it
	n      atomic.Int64 // entries held, expired ones not yet swept included
	quota  Quota
	window int64
	logger *slog.Logger
	level  atomic.Int32 // fill level logged last: levelLow, levelHigh, levelFull
	sweep  atomic.Uint32
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// memKey is a 128-bit hash under two random per-process seeds (the quota
// counters' keys).
type memKey [2]uint64

// nonceKey is a recorded key's 96-bit hash under two random per-process
// seeds (64 bits of one, 32 of the other), and expSec its expiry in whole
// seconds after Memory.base, rounded up: a map slot of 16 bytes with no
// pointers (the garbage collector never scans the map, however many
// entries it has). Two keys with the same hash would make the second look
// like a replay: a refusal, never an acceptance; with 96 bits from seeds no
// client knows, among 10 million live keys a fresh key collides with
// probability 10^7 / 2^96 ≈ 10^-22. Rounding the expiry up keeps a key at
// most a second longer: never shorter than asked.
type nonceKey [3]uint32

type expSec = uint32

type memShard struct {
	mu   sync.Mutex
	m    map[nonceKey]expSec
	next atomic.Int64 // no sweep frees anything before this time (unix ns; see sweepLocked); written under mu
	_    [40]byte
}

// ownerShard holds quota counters: owner -> its window's count and end.
type ownerShard struct {
	mu sync.Mutex
	m  map[memKey]ownerCount
	_  [48]byte
}

type ownerCount struct {
	n   int32
	end int64 // unix nanoseconds
}

// Fill levels, logged when crossed (not per request).
const (
	levelLow  = 0
	levelHigh = 1 // at or above 90 % of MaxEntries
	levelFull = 2 // an Add was refused with ErrFull
)

// MemoryOptions configure NewMemory.
type MemoryOptions struct {
	// MaxEntries bounds the entries held (default 8,000,000).
	MaxEntries int
	// Shards is the number of independently locked shards (default 64).
	Shards int
	// SweepInterval is how often expired entries are dropped in the
	// background (default 30 s; negative disables the sweeper).
	SweepInterval time.Duration
	// Quota limits the keys one owner may record through AddOwned (zero:
	// no limit).
	Quota Quota
	// Logger receives a line when the cache crosses 90 % of MaxEntries,
	// when it refuses a key for being full, and when it falls back below
	// 80 % (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

var _ OwnedCache = (*Memory)(nil)

// NewMemory returns an in-memory cache.
func NewMemory(o MemoryOptions) *Memory {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 8_000_000
	}
	if o.Shards <= 0 {
		o.Shards = 64
	}
	if o.Shards > o.MaxEntries {
		o.Shards = o.MaxEntries
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Memory{shards: make([]memShard, o.Shards), seed: maphash.MakeSeed(), seed2: maphash.MakeSeed(), now: o.Now,
		max: int64(o.MaxEntries), base: o.Now().UnixNano() - int64(time.Second), quota: o.Quota, window: int64(o.Quota.WindowOrDefault()), logger: o.Logger,
		stop: make(chan struct{}), done: make(chan struct{})}
	for i := range c.shards {
		c.shards[i].m = make(map[nonceKey]expSec)
	}
	if o.Quota.On() {
		c.owners = make([]ownerShard, 16)
		for i := range c.owners {
			c.owners[i].m = make(map[memKey]ownerCount)
		}
	}
	if o.SweepInterval > 0 {
		go c.sweeper(o.SweepInterval)
	} else {
		close(c.done)
	}
	return c
}

// Add implements Cache. It enforces no quota.
func (c *Memory) Add(_ context.Context, key string, exp time.Time) error {
	return c.add(key, exp, nil)
}

// AddOwned implements OwnedCache: Add, charged to o's quota.
func (c *Memory) AddOwned(_ context.Context, key string, exp time.Time, o Owner) error {
	if c.owners == nil {
		return c.add(key, exp, nil)
	}
	return c.add(key, exp, &o)
}

func (c *Memory) add(key string, exp time.Time, o *Owner) error {
	now := c.now().UnixNano()
	e := exp.UnixNano()
	if e <= now {
		return nil // already outside its window: nothing to remember
	}
	h := maphash.String(c.seed, key)
	k := nonceKey{uint32(h), uint32(h >> 32), uint32(maphash.String(c.seed2, key))}
	sh := &c.shards[h%uint64(len(c.shards))]
	es := c.toSec(e)
	e = c.fromSec(es)
	for reclaimed := false; ; reclaimed = true {
		sh.mu.Lock()
		old, held := sh.m[k]
		if held && c.fromSec(old) > now {
			sh.mu.Unlock()
			return ErrReplay
		}
		n := c.n.Load()
		if !held {
			// A new entry: take a slot of the global bound.
			if n = c.n.Add(1); n > c.max {
				c.n.Add(-1)
				sh.mu.Unlock()
				if !reclaimed && c.reclaim(now) {
					continue
				}
				c.noteFull()
				return ErrFull
			}
		}
		if o != nil {
			if err := c.charge(o, now); err != nil {
				if !held {
					c.n.Add(-1)
				}
				sh.mu.Unlock()
				return err
			}
		}
		sh.m[k] = es
		if e < sh.next.Load() {
			// Keep next a lower bound of the live expiries: a sweep that found
			// the shard empty (or holding only long-lived keys) set it later than
			// this entry expires, and a full cache would otherwise refuse keys
			// with ErrFull long after this one could be dropped.
			sh.next.Store(e)
		}
		sh.mu.Unlock()
		if n >= c.high() && c.level.Load() == levelLow && c.level.CompareAndSwap(levelLow, levelHigh) {
			c.logger.Warn("replay cache: nearly full; at capacity, credentials carrying a nonce are refused until entries expire",
				"entries", n, "max_entries", c.max)
		}
		return nil
	}
}

func (c *Memory) high() int64 { return c.max - c.max/10 }

// toSec is the expiry e (unix ns, after base) as whole seconds after base,
// rounded up (and capped at 136 years); fromSec is the reverse.
func (c *Memory) toSec(e int64) expSec {
	d := (e - c.base + int64(time.Second) - 1) / int64(time.Second)
	switch {
	case d < 0: // before base (the wall clock went back): keep it until base
		return 0
	case d > 1<<32-1:
		return 1<<32 - 1
	}
	return expSec(d)
}

func (c *Memory) fromSec(s expSec) int64 { return c.base + int64(s)*int64(time.Second) }

// reclaim sweeps the shards that hold expired entries, stopping once
// there is room; it reports whether it made room. Shards whose earliest
// expiry is still ahead are skipped without taking their lock, so a full
// cache of live entries costs a pass over the shards' counters, not over
// their entries.
func (c *Memory) reclaim(now int64) bool {
	start := int(c.sweep.Add(1)) // spread the sweeping over the shards
	for i := range c.shards {
		sh := &c.shards[(start+i)%len(c.shards)]
		if sh.next.Load() > now {
			continue
		}
		sh.mu.Lock()
		c.n.Add(-int64(c.sweepLocked(sh, now)))
		sh.mu.Unlock()
		if c.n.Load() < c.max {
			return true
		}
	}
	return c.n.Load() < c.max
}

// charge counts one key against each of o's quota counters, or none of
// them when one is used up.
func (c *Memory) charge(o *Owner, now int64) error {
	ks, lims, _, n := c.quota.ownerHashes(o, c.seed, c.seed2)
	for i := 0; i < n; i++ {
		os := &c.owners[ks[i][0]%uint64(len(c.owners))]
		os.mu.Lock()
		oc := os.m[ks[i]]
		if oc.end <= now {
			oc = ownerCount{end: now + c.window}
		}
		if int(oc.n) >= lims[i] {
			os.mu.Unlock()
			if i == 1 {
				c.uncharge(ks[0], now)
			}
			cs, _ := c.quota.counters(*o) // in the order of ownerHashes
			q := cs[i]
			return &QuotaError{Kind: q.kind, Owner: q.name, Limit: q.limit,
				Window: time.Duration(c.window), RetryAfter: time.Duration(oc.end - now)}
		}
		oc.n++
		os.m[ks[i]] = oc
		os.mu.Unlock()
	}
	return nil
}

// uncharge takes back a charge made, unless its window has ended.
func (c *Memory) uncharge(k memKey, now int64) {
	os := &c.owners[k[0]%uint64(len(c.owners))]
	os.mu.Lock()
	if oc, ok := os.m[k]; ok && oc.end > now && oc.n > 0 {
		oc.n--
		os.m[k] = oc
	}
	os.mu.Unlock()
}

// noteFull logs the first refusal for want of room.
func (c *Memory) noteFull() {
	if c.level.Swap(levelFull) != levelFull {
		c.logger.Error("replay cache: full; refusing credentials that carry a nonce until entries expire (raise replay.max_entries, or lower the per-owner quota)",
			"entries", c.n.Load(), "max_entries", c.max)
	}
}

// reclaimGap is how long a shard whose sweep freed less than a sixteenth of
// its entries is left alone by reclaim. At capacity under a steady flow,
// entries expire a few at a time in every shard: without the gap, each Add
// that found the cache full would sweep a whole shard (1/64 of the cache)
// to free a handful of entries. With it, a shard is swept at most once per
// gap unless a sweep pays for itself, and what expired meanwhile (up to
// gap × rate entries) waits: credentials may be refused as ErrFull for
// that long (fail closed, logged), never accepted twice.
const reclaimGap = 2 * time.Second

// sweepLocked drops expired entries, notes when reclaim may next sweep the
// shard (the earliest live expiry; no sooner than reclaimGap from now when
// this sweep freed little), and returns how many it dropped. The caller
// holds sh.mu.
func (c *Memory) sweepLocked(sh *memShard, now int64) int {
	next := int64(1<<63 - 1)
	held, n := len(sh.m), 0
	for k, s := range sh.m {
		if e := c.fromSec(s); e <= now {
			delete(sh.m, k)
			n++
		} else if e < next {
			next = e
		}
	}
	if n*16 < held {
		next = max(next, now+int64(reclaimGap))
	}
	sh.next.Store(next)
	return n
}

// sweepAll drops the expired entries of every shard, one shard locked at a
// time.
func (c *Memory) sweepAll(now int64) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		c.n.Add(-int64(c.sweepLocked(sh, now)))
		sh.mu.Unlock()
	}
}

func (c *Memory) sweeper(every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			now := c.now().UnixNano()
			c.sweepAll(now)
			for i := range c.owners {
				os := &c.owners[i]
				os.mu.Lock()
				for k, oc := range os.m {
					if oc.end <= now {
						delete(os.m, k)
					}
				}
				os.mu.Unlock()
			}
			if n := c.n.Load(); n < c.max-c.max/5 && c.level.Swap(levelLow) != levelLow {
				c.logger.Info("replay cache: below 80 % of max_entries again", "entries", n, "max_entries", c.max)
			}
		}
	}
}

// Len returns the number of entries held, expired ones not yet swept included.
func (c *Memory) Len() int { return int(c.n.Load()) }

// Cap returns MaxEntries.
func (c *Memory) Cap() int { return int(c.max) }

// Close stops the background sweeper.
func (c *Memory) Close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return nil
}

// Check implements health.Checker: an in-memory cache is always ready, full
// or not (see docs/replay.md: a full cache refuses only credentials that
// carry a nonce, and taking the replica out of rotation would move the
// load onto the others until every replica is out).
func (c *Memory) Check(context.Context) error { return nil }
