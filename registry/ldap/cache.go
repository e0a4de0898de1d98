package ldap

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"github.com/authsvc/authsvc/registry"
)

// credCache remembers the outcome of password checks for a short time.
//
// Its keys are HMAC-SHA256 values of the user name and password under a key
// drawn at start: the cache holds no password, nothing that can be checked
// against a guess without the process's memory, and nothing that survives a
// restart. An entry is never extended: a password that is changed, or an
// account that is locked, in the directory stops working from the cache at
// most ttl after it was last checked against the directory.
type credCache struct {
	salt   [32]byte
	ttl    time.Duration
	negTTL time.Duration
	max    int
	now    func() time.Time

	mu sync.Mutex
	m  map[[32]byte]cacheEntry
}

type cacheEntry struct {
	user     *registry.User // nil for a failed check
	resolved string         // the entry's name a failed check matched, if any
	exp      time.Time
}

func newCredCache(c CacheConfig) *credCache {
	cc := &credCache{ttl: c.TTL, negTTL: c.NegativeTTL, max: c.MaxEntries, now: time.Now,
		m: make(map[[32]byte]cacheEntry)}
	if _, err := rand.Read(cc.salt[:]); err != nil {
		panic("ldap: no randomness for the credential cache: " + err.Error())
	}
	return cc
}

func (cc *credCache) key(name, password string) [32]byte {
	h := hmac.New(sha256.New, cc.salt[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(name)))
	h.Write(n[:])
	h.Write([]byte(name))
	h.Write([]byte(password))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// get returns the remembered outcome: (user, true, true) for a success,
// (nil, false, true) for a failure, found=false when there is none, and
// the name of the entry the check matched.
func (cc *credCache) get(k [32]byte) (u *registry.User, ok bool, resolved string, found bool) {
	cc.mu.Lock()
	e, hit := cc.m[k]
	if hit && !cc.now().Before(e.exp) {
		delete(cc.m, k)
		hit = false
	}
	cc.mu.Unlock()
	if !hit {
		return nil, false, "", false
	}
	if e.user == nil {
		return nil, false, e.resolved, true
	}
	return copyUser(e.user), true, e.resolved, true
}

// put remembers an outcome; u nil records a failure. resolved is the name
// of the entry the check matched, if any.
func (cc *credCache) put(k [32]byte, u *registry.User, resolved string) {
	ttl := cc.ttl
	if u == nil {
		ttl = cc.negTTL
	} else {
		u = copyUser(u)
	}
	now := cc.now()
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if _, exists := cc.m[k]; !exists && len(cc.m) >= cc.max {
		for key, e := range cc.m {
			if !now.Before(e.exp) {
				delete(cc.m, key)
			}
		}
		for key := range cc.m {
			if len(cc.m) < cc.max {
				break
			}
			delete(cc.m, key) // an arbitrary one: the cache is only a shortcut
		}
	}
	cc.m[k] = cacheEntry{user: u, resolved: resolved, exp: now.Add(ttl)}
}

// forget drops every entry (after a password change known to this process).
func (cc *credCache) forget() {
	cc.mu.Lock()
	clear(cc.m)
	cc.mu.Unlock()
}

func (cc *credCache) len() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return len(cc.m)
}
