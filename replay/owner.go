package replay

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"strings"
	"time"
)

// Owner is who a key is recorded for: the authenticated principal and the
// client's address. A cache with a Quota limits how many keys one owner may
// record, so that one account (or one client) flooding fresh credentials is
// refused itself instead of filling the cache for everyone.
//
// Either field may be empty. Callers record keys only for credentials that
// checked out (a password, a ticket, a signature), so Principal is the
// verified name, never a claimed one.
type Owner struct {
	// Principal is the authenticated principal, as the registry or the
	// ticket names it (realm included where there is one).
	Principal string
	// Address is the client's address (a trusted proxy's X-Forwarded-For
	// resolved); IPv6 addresses are counted per /64.
	Address netip.Addr
}

// OwnedCache is the optional interface of a Cache that enforces per-owner
// quotas. AddOwned is Add with the owner of the key; it returns an error
// wrapping ErrQuota (a *QuotaError) when the owner's share is used up. A
// replayed key is reported as ErrReplay whatever the owner's quota.
type OwnedCache interface {
	Cache
	AddOwned(ctx context.Context, key string, exp time.Time, o Owner) error
}

// AddFor records key for owner o: with c.AddOwned when c enforces quotas,
// with c.Add otherwise. Modules call it instead of c.Add.
func AddFor(ctx context.Context, c Cache, key string, exp time.Time, o Owner) error {
	if oc, ok := c.(OwnedCache); ok {
		return oc.AddOwned(ctx, key, exp, o)
	}
	return c.Add(ctx, key, exp)
}

// ErrQuota reports an owner whose share of the cache is used up.
var ErrQuota = errors.New("replay: owner quota exhausted")

// QuotaError says which quota refused a key, and when the owner may record
// keys again. It wraps ErrQuota.
type QuotaError struct {
	// Kind is "principal" or "address".
	Kind string
	// Owner is the principal or the address (an IPv6 /64) refused.
	Owner string
	// Limit is the number of keys the owner may record per window.
	Limit int
	// Window is the quota's window.
	Window time.Duration
	// RetryAfter is how long until the owner's window ends (0: unknown).
	RetryAfter time.Duration
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("replay: %s %q recorded its %d keys for this %s window; refused for %s",
		e.Kind, e.Owner, e.Limit, e.Window, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrQuota) true.
func (e *QuotaError) Is(target error) bool { return target == ErrQuota }

// Quota limits what one owner may record: at most Principal keys per
// principal and Address keys per client address in each Window (a fixed
// window that starts with the owner's first key). A key is refused when
// either limit is reached; the refusal records nothing and counts nothing.
//
// Since an entry lives for its own window (a UsernameToken's max_age), an
// owner can hold up to twice its limit at the turn of a window: size the
// limits below half of the cache's max_entries. Zero in a field means no
// limit of that kind.
type Quota struct {
	Principal int
	Address   int
	Window    time.Duration
}

// DefaultQuotaWindow is the quota window when none is configured: WSS4J's
// and our default UsernameToken max_age.
const DefaultQuotaWindow = 5 * time.Minute

// On reports whether q limits anything.
func (q Quota) On() bool { return q.Principal > 0 || q.Address > 0 }

// ownerCounter is one counter a key is charged to.
type ownerCounter struct {
	kind  string // "principal" or "address"
	name  string // what the log and the QuotaError show
	key   string // the counter's identity: kind prefix + folded name
	limit int
}

// counters returns the counters q charges o's keys to, at most two.
func (q Quota) counters(o Owner) (out [2]ownerCounter, n int) {
	if q.Principal > 0 && o.Principal != "" {
		// Principals come from the registry or the ticket, already
		// canonical; fold case and spaces anyway, as the lockout does, so
		// that a registry that answers for "Alice" and "alice" alike
		// does not give one account two quotas.
		out[n] = ownerCounter{kind: "principal", name: o.Principal, key: "p:" + foldName(o.Principal), limit: q.Principal}
		n++
	}
	if q.Address > 0 && o.Address.IsValid() {
		name := addressName(o.Address)
		out[n] = ownerCounter{kind: "address", name: name, key: "a:" + name, limit: q.Address}
		n++
	}
	return out, n
}

// foldName folds a principal as the lockout folds claimed names: case
// ignored, leading and trailing spaces dropped, inner runs of space
// collapsed. A name that is already folded (the common case: ASCII lower
// case, single spaces) is returned as it is, without allocating.
func foldName(s string) string {
	folded := len(s) > 0 && s[0] != ' ' && s[len(s)-1] != ' '
	for i := 0; folded && i < len(s); i++ {
		c := s[i]
		folded = c >= 0x21 && c < 0x7f && !('A' <= c && c <= 'Z') || c == ' ' && s[i-1] != ' '
	}
	if folded {
		return s
	}
	// ASCII (a Kerberos principal with its upper-case realm): folded in
	// one pass, into one string.
	ascii := true
	for i := 0; ascii && i < len(s); i++ {
		ascii = s[i] < 0x80
	}
	if !ascii {
		return strings.ToLower(strings.Join(strings.Fields(s), " "))
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case asciiSpace(c):
			if len(b) > 0 && b[len(b)-1] != ' ' {
				b = append(b, ' ')
			}
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	if len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return string(b)
}

// asciiSpace is strings.Fields' white space, in ASCII.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// addressName is the address a quota counts: IPv4 as it is, IPv6 as its /64.
func addressName(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// ownerHashes hashes the identities of o's counters, in the order of
// counters, without building strings (the in-memory cache's hot path). It
// returns each counter's hash under the two seeds, its limit and its kind
// (0 principal, 1 address).
func (q Quota) ownerHashes(o *Owner, s1, s2 maphash.Seed) (ks [2]memKey, lims [2]int, kinds [2]int, n int) {
	var h maphash.Hash
	sum := func(write func(*maphash.Hash)) memKey {
		var k memKey
		for i, s := range [2]maphash.Seed{s1, s2} {
			h.SetSeed(s)
			write(&h)
			k[i] = h.Sum64()
		}
		return k
	}
	if q.Principal > 0 && o.Principal != "" {
		p := foldName(o.Principal)
		ks[n] = sum(func(h *maphash.Hash) { h.WriteString("p:"); h.WriteString(p) })
		lims[n], kinds[n] = q.Principal, 0
		n++
	}
	if q.Address > 0 && o.Address.IsValid() {
		a := o.Address.Unmap()
		if a.Is6() {
			p, _ := a.Prefix(64)
			a = p.Addr()
		}
		b := a.As16()
		ks[n] = sum(func(h *maphash.Hash) { h.WriteString("a:"); h.Write(b[:]) })
		lims[n], kinds[n] = q.Address, 1
		n++
	}
	return
}

// Counters returns, for o, the counter identities a shared store keys on
// ("p:"+folded principal, "a:"+address or /64), their kinds, names and
// limits. It is exported for the Redis cache.
func (q Quota) Counters(o Owner) []Counter {
	cs, n := q.counters(o)
	out := make([]Counter, n)
	for i := 0; i < n; i++ {
		out[i] = Counter{Kind: cs[i].kind, Name: cs[i].name, Key: cs[i].key, Limit: cs[i].limit}
	}
	return out
}

// Counter is one quota counter a key is charged to (see Quota.Counters).
type Counter struct {
	Kind, Name, Key string
	Limit           int
}

// WindowOrDefault returns q.Window, or DefaultQuotaWindow when it is zero.
func (q Quota) WindowOrDefault() time.Duration {
	if q.Window > 0 {
		return q.Window
	}
	return DefaultQuotaWindow
}

// QuotaConfig is the configuration form of a Quota (the quota key of the
// replay section).
//
//	quota:
//	  principal: 100000  # keys one principal may record per window (0: default; -1: no limit)
//	  address: 100000    # keys one client address (IPv6: /64) may record per window
//	  window: 5m
type QuotaConfig struct {
	// Principal is how many entries one principal may record per window
	// (0: the default share; -1: no limit).
	Principal int `yaml:"principal"`
	// Address is how many entries one client address may record per
	// window (0: the default share; -1: no limit).
	Address int `yaml:"address"`
	// Window is the quota's period (default 5m).
	Window time.Duration `yaml:"window"`
}

// Validate checks the configuration; errors name the yaml key.
func (q QuotaConfig) Validate() error {
	var errs []error
	if q.Principal < -1 {
		errs = append(errs, fmt.Errorf("quota.principal: %d is neither a limit, 0 (the default) nor -1 (no limit)", q.Principal))
	}
	if q.Address < -1 {
		errs = append(errs, fmt.Errorf("quota.address: %d is neither a limit, 0 (the default) nor -1 (no limit)", q.Address))
	}
	if q.Window < 0 {
		errs = append(errs, errors.New("quota.window: must not be negative"))
	}
	return errors.Join(errs...)
}

// Quota resolves the configuration: 0 takes def, -1 turns the kind off.
func (q QuotaConfig) Quota(def int) Quota {
	pick := func(v int) int {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	return Quota{Principal: pick(q.Principal), Address: pick(q.Address), Window: q.WindowOrDefault()}
}

// WindowOrDefault returns the window, or DefaultQuotaWindow when unset.
func (q QuotaConfig) WindowOrDefault() time.Duration {
	if q.Window > 0 {
		return q.Window
	}
	return DefaultQuotaWindow
}
