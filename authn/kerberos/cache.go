package kerberos

import (
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"
)

// ticketInfo is what decrypting a ticket once yields: the decrypted part and
// what the PAC said. It is immutable once cached.
type ticketInfo struct {
	enc messages.EncTicketPart
	pac *pacInfo // nil without a PAC that carries logon info
	// keys are the session key's derived keys (nil for enctypes that
	// sessionKeys does not handle).
	keys *sessionKeys
}

type cachedTicket struct {
	info *ticketInfo
	gen  uint64    // keytab generation that decrypted it
	exp  time.Time // ticket end time plus skew
}

// ticketCache is a bounded cache of decrypted tickets keyed by a hash of the
// ticket's ciphertext (with its service name, kvno and etype). A service
// ticket that an SSO client presents again with a new authenticator is then
// decrypted once. Entries expire with the ticket and are dropped when the
// keytabs are reloaded (a key taken out of a keytab stops working at once).
type ticketCache struct {
	mu  sync.Mutex
	m   map[[32]byte]cachedTicket
	max int
}

func newTicketCache(max int) *ticketCache {
	return &ticketCache{m: make(map[[32]byte]cachedTicket), max: max}
}

func (c *ticketCache) get(k [32]byte, gen uint64, now time.Time) *ticketInfo {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e, ok := c.m[k]
	if ok && (e.gen != gen || !now.Before(e.exp)) {
		delete(c.m, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return e.info
}

func (c *ticketCache) put(k [32]byte, info *ticketInfo, gen uint64, exp, now time.Time) {
	if c == nil || !now.Before(exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if e.gen != gen || !now.Before(e.exp) {
				delete(c.m, key)
			}
		}
		// Still full of live tickets: drop arbitrary ones (map order is
		// random), which costs those clients one decryption.
		for key := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = cachedTicket{info: info, gen: gen, exp: exp}
}

func (c *ticketCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
