package replay

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Memory is an in-process Cache: sharded maps with a hard bound on entries.
// When a shard is full and none of its entries has expired, Add returns
// ErrFull rather than evicting an entry that is still live.
type Memory struct {
	shards []memShard
	seed   maphash.Seed
	seed2  maphash.Seed
	now    func() time.Time
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// memKey is a key's 128-bit hash under two random per-process seeds. The
// map then holds no pointers (the garbage collector never scans it, however
// many entries it has) and each entry has a fixed size. Two keys with the
// same hash would make the second look like a replay: a refusal, never an
// acceptance, and with 128 bits from seeds no client knows, not a
// practical event.
type memKey [2]uint64

type memShard struct {
	mu   sync.Mutex
	m    map[memKey]int64 // key -> expiry, unix nanoseconds
	max  int
	next int64 // no sweep can free anything before this time (a lower bound of the expiries held)
	_    [40]byte
}

// MemoryOptions configure NewMemory.
type MemoryOptions struct {
	// MaxEntries bounds the entries held (default 1,000,000).
	MaxEntries int
	// Shards is the number of independently locked shards (default 64).
	Shards int
	// SweepInterval is how often expired entries are dropped in the
	// background (default 30 s; negative disables the sweeper).
	SweepInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewMemory returns an in-memory cache.
func NewMemory(o MemoryOptions) *Memory {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 1_000_000
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
	c := &Memory{shards: make([]memShard, o.Shards), seed: maphash.MakeSeed(), seed2: maphash.MakeSeed(), now: o.Now,
		stop: make(chan struct{}), done: make(chan struct{})}
	per := o.MaxEntries / o.Shards
	for i := range c.shards {
		c.shards[i].m = make(map[memKey]int64)
		c.shards[i].max = per
	}
	if o.SweepInterval > 0 {
		go c.sweeper(o.SweepInterval)
	} else {
		close(c.done)
	}
	return c
}

// Add implements Cache.
func (c *Memory) Add(_ context.Context, key string, exp time.Time) error {
	now := c.now().UnixNano()
	e := exp.UnixNano()
	if e <= now {
		return nil // already outside its window: nothing to remember
	}
	k := memKey{maphash.String(c.seed, key), maphash.String(c.seed2, key)}
	sh := &c.shards[k[0]%uint64(len(c.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := sh.m[k]; ok && old > now {
		return ErrReplay
	}
	if len(sh.m) >= sh.max {
		if now < sh.next {
			return ErrFull
		}
		sh.sweep(now)
		if len(sh.m) >= sh.max {
			return ErrFull
		}
	}
	sh.m[k] = e
	if e < sh.next {
		// Keep next a lower bound of the live expiries: a sweep that found
		// the shard empty (or holding only long-lived keys) set it later than
		// this entry expires, and a full shard would otherwise refuse keys
		// with ErrFull long after this one could be dropped.
		sh.next = e
	}
	return nil
}

// sweep drops expired entries and notes when the next one expires.
func (sh *memShard) sweep(now int64) {
	next := int64(1<<63 - 1)
	for k, e := range sh.m {
		if e <= now {
			delete(sh.m, k)
		} else if e < next {
			next = e
		}
	}
	sh.next = next
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
			for i := range c.shards {
				sh := &c.shards[i]
				sh.mu.Lock()
				sh.sweep(now)
				sh.mu.Unlock()
			}
		}
	}
}

// Len returns the number of entries held, expired ones not yet swept included.
func (c *Memory) Len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.Lock()
		n += len(c.shards[i].m)
		c.shards[i].mu.Unlock()
	}
	return n
}

// Close stops the background sweeper.
func (c *Memory) Close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return nil
}

// Check implements authn.Checker: an in-memory cache is always ready.
func (c *Memory) Check(context.Context) error { return nil }
