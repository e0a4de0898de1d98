// Package lockout is authsvc's brute-force protection: failed
// authentications are counted per principal, as claimed in the token (folded
// as directories match names, see Name), and per client address, in a store
// kept in memory or in Redis (shared by replicas). A request whose principal
// or address is locked is refused with the same fault as a wrong password;
// the caller runs its chain on it under a decoy user name (DecoyName) so
// that the refusal costs what a wrong password costs.
//
// The package knows no chain and no HTTP: the server asks a Guard before
// and after running the chain (Begin, then Failed or Succeeded).
package lockout

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/authsvc/authsvc/registry"
)

// Options configure a Guard.
type Options struct {
	Principal Policy
	Address   Policy
	// Store keeps the counters (default: in memory, DefaultMaxEntries keys).
	Store Store
}

// Hooks let the caller observe a Guard (for metrics). Any may be nil.
type Hooks struct {
	// StoreCall is told the duration of every store call and its error.
	StoreCall func(d time.Duration, err error)
	// Locked is told the kind ("principal", "address") of every key a
	// failure locked.
	Locked func(kind string)
}

// Guard applies Options to requests. It is safe for concurrent use.
type Guard struct {
	o     Options
	hooks Hooks
	log   *slog.Logger
}

// New checks the policies and returns a Guard.
func New(o Options, hooks Hooks, logger *slog.Logger) (*Guard, error) {
	if !o.Principal.valid() || !o.Address.valid() {
		return nil, errors.New("lockout: a policy needs a window, a lockout and max_lockout >= lockout")
	}
	if o.Store == nil {
		o.Store = NewMemory(0)
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Guard{o: o, hooks: hooks, log: logger}, nil
}

// Store returns the guard's store.
func (g *Guard) Store() Store { return g.o.Store }

// Keys are the counters a request touches.
type Keys struct {
	Principal string // "p:" + the claimed name folded (Name), "" if none
	Address   string // "a:" + address (IPv6: its /64), "" if none
}

// KeysFor returns the keys of a claimed name (unverified, "" for none) sent
// from client.
func (g *Guard) KeysFor(claimed string, client netip.Addr) Keys {
	var k Keys
	if g.o.Principal.On() && claimed != "" {
		k.Principal = "p:" + Name(claimed)
	}
	if g.o.Address.On() && client.IsValid() {
		if client.Is6() {
			p, _ := client.Prefix(64)
			k.Address = "a:" + p.String()
		} else {
			k.Address = "a:" + client.String()
		}
	}
	return k
}

// Attempt is one request between Begin and Failed or Succeeded.
type Attempt struct {
	keys        Keys
	resolved    *resolvedNames
	hadFailures bool
}

// Begin looks up the request's keys. It returns the context to run the
// chain with (it collects the names registries resolve the claimed name to,
// registry.Trace), and which key is locked ("principal", "address"), if
// any. An error means the store could not answer: the caller fails closed.
func (g *Guard) Begin(ctx context.Context, claimed string, client netip.Addr, now time.Time) (context.Context, Attempt, string, error) {
	a := Attempt{keys: g.KeysFor(claimed, client)}
	traced := ctx
	if a.keys.Principal != "" {
		a.resolved = &resolvedNames{claimed: a.keys.Principal}
		traced = registry.WithTrace(ctx, &registry.Trace{Resolved: a.resolved.add})
	}
	for _, c := range []struct{ name, key string }{{"principal", a.keys.Principal}, {"address", a.keys.Address}} {
		if c.key == "" {
			continue
		}
		locked, failures, err := g.status(ctx, c.key, now)
		if err != nil {
			return traced, a, "", err
		}
		if c.name == "principal" {
			a.hadFailures = failures
		}
		if locked {
			return traced, a, c.name, nil
		}
	}
	return traced, a, "", nil
}

// Failed counts a failed authentication against the claimed principal, the
// client address, and the principals a registry resolved the claimed name
// to. It returns "principal" when a resolved principal was already locked:
// that one is not counted again (a failure during a lock would lengthen
// it), and the request is to be refused as locked.
func (g *Guard) Failed(ctx context.Context, a *Attempt, now time.Time) (locked string) {
	type counter struct {
		name, key string
		p         Policy
	}
	counters := []counter{{"principal", a.keys.Principal, g.o.Principal}, {"address", a.keys.Address, g.o.Address}}
	for _, key := range a.resolved.keys() {
		st, _, err := g.status(ctx, key, now)
		if err != nil {
			g.log.Error("brute-force store: reading a resolved principal's lock failed", "error", err.Error())
		}
		if st {
			locked = "principal"
			continue
		}
		counters = append(counters, counter{"principal", key, g.o.Principal})
	}
	for _, c := range counters {
		if c.key == "" {
			continue
		}
		start := time.Now()
		isLocked, err := g.o.Store.Fail(ctx, c.key, c.p, now)
		g.observe(start, err)
		if err != nil {
			g.log.Error("brute-force store: recording a failure failed", "kind", c.name, "error", err.Error())
			continue
		}
		if isLocked && g.hooks.Locked != nil {
			g.hooks.Locked(c.name)
		}
	}
	return locked
}

// Succeeded runs after the chain accepted a request whose keys were not
// locked, for principal, the name the chain authenticated. That principal,
// and those registries resolved the claimed name to, may be locked under
// their own names (the client used another attribute, such as mail, that
// the directory also matches): then it returns "principal" and the request
// is to be refused as locked, having cost what any request costs.
// Otherwise it forgets the principals' failures.
func (g *Guard) Succeeded(ctx context.Context, a *Attempt, requestID, principal string, now time.Time) (locked string) {
	if a.keys.Principal == "" {
		return ""
	}
	if a.resolved != nil {
		a.resolved.add(principal)
	}
	reset := []string{}
	if a.hadFailures {
		reset = append(reset, a.keys.Principal)
	}
	for _, key := range a.resolved.keys() {
		isLocked, failures, err := g.status(ctx, key, now)
		if err != nil {
			// The claimed name was checked before the chain; this is the
			// second look: log and let the request through.
			g.log.Error("brute-force store: reading a resolved principal's lock failed", "request_id", requestID, "error", err.Error())
			continue
		}
		if isLocked {
			return "principal"
		}
		if failures {
			reset = append(reset, key)
		}
	}
	for _, key := range reset {
		if err := g.o.Store.Reset(ctx, key); err != nil {
			g.observeErr(err)
			g.log.Warn("brute-force store: resetting a principal's failures after a success failed",
				"request_id", requestID, "error", err.Error())
		}
	}
	return ""
}

// status reads key from the store, observed.
func (g *Guard) status(ctx context.Context, key string, now time.Time) (locked, failures bool, err error) {
	start := time.Now()
	locked, failures, err = g.o.Store.Status(ctx, key, now)
	g.observe(start, err)
	return locked, failures, err
}

func (g *Guard) observe(start time.Time, err error) {
	if g.hooks.StoreCall != nil {
		g.hooks.StoreCall(time.Since(start), err)
	}
}

// observeErr reports an error of a call whose duration is not observed.
func (g *Guard) observeErr(err error) {
	if g.hooks.StoreCall != nil {
		g.hooks.StoreCall(-1, err)
	}
}

// resolvedNames collects the principal keys that registries resolved a
// claimed name to (registry.Trace), other than the claimed name's own.
type resolvedNames struct {
	claimed string
	mu      sync.Mutex
	list    []string
}

func (rn *resolvedNames) add(name string) {
	key := "p:" + Name(name)
	rn.mu.Lock()
	defer rn.mu.Unlock()
	// A chain asks a few registries at most; bound it all the same.
	if key != rn.claimed && !slices.Contains(rn.list, key) && len(rn.list) < 4 {
		rn.list = append(rn.list, key)
	}
}

func (rn *resolvedNames) keys() []string {
	if rn == nil {
		return nil
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return slices.Clone(rn.list)
}
