package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
)

// LockPolicy limits failures of one kind of key (principal or address).
type LockPolicy struct {
	// MaxFailures within Window lock the key; 0 turns the kind off.
	MaxFailures int
	// Window is how long failures are remembered after the last one.
	Window time.Duration
	// Lockout is the first lock's length. Each lock after that (a failure
	// right after a lock ends, while failures are still remembered) doubles
	// it, up to MaxLockout.
	Lockout, MaxLockout time.Duration
}

func (p LockPolicy) on() bool { return p.MaxFailures > 0 }

func (p LockPolicy) lockFor(n int) time.Duration {
	d := p.Lockout
	for i := 1; i < n && d < p.MaxLockout; i++ {
		d *= 2
	}
	return min(d, p.MaxLockout)
}

// LockoutOptions configure brute-force protection: failed authentications
// (FailedAuthentication faults) are counted per principal, as claimed in
// the token (folded as directories match names, see lockoutName), and per
// client address. A request whose principal or address is locked is
// refused with the same fault as a wrong password, after the chain ran on
// it with a decoy user name so that it costs the same (see decoyLogin).
type LockoutOptions struct {
	Principal LockPolicy
	Address   LockPolicy
	// Store keeps the counters (default: in memory, 100000 keys).
	Store LockoutStore
}

// LockoutStore keeps failure counters. Keys are opaque strings.
type LockoutStore interface {
	// Status says whether key is locked at now, and whether it has
	// failures on record.
	Status(ctx context.Context, key string, now time.Time) (locked, failures bool, err error)
	// Fail records a failure under p and says whether the key is now locked.
	Fail(ctx context.Context, key string, p LockPolicy, now time.Time) (locked bool, err error)
	// Reset forgets key's failures (a successful login of the principal).
	Reset(ctx context.Context, key string) error
}

// MemoryLockout is a LockoutStore in process memory, bounded in size.
type MemoryLockout struct {
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

// NewMemoryLockout returns a store that holds at most max keys (default
// 100000). When full it drops expired keys, then unlocked ones.
func NewMemoryLockout(max int) *MemoryLockout {
	if max <= 0 {
		max = 100000
	}
	return &MemoryLockout{max: max, m: make(map[string]*lockEntry)}
}

// Len returns the number of keys held.
func (s *MemoryLockout) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Status implements LockoutStore.
func (s *MemoryLockout) Status(_ context.Context, key string, now time.Time) (bool, bool, error) {
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

// Fail implements LockoutStore.
func (s *MemoryLockout) Fail(_ context.Context, key string, p LockPolicy, now time.Time) (bool, error) {
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

// Reset implements LockoutStore.
func (s *MemoryLockout) Reset(_ context.Context, key string) error {
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
func (s *MemoryLockout) makeRoom(now time.Time) {
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

// RedisLockout is a LockoutStore in Redis, shared by replicas. Keys are
// hashed: prefix + "{" + hex SHA-256 + "}" + suffix (one cluster slot per
// key).
type RedisLockout struct {
	Client  goredis.UniversalClient
	Prefix  string
	Timeout time.Duration
}

// failScript counts a failure and sets the lock atomically.
// KEYS: failures, lock, locks. ARGV: max, window ms, lockout ms, max lockout ms.
var failScript = goredis.NewScript(`
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
`)

func (r *RedisLockout) keys(key string) (failures, lock, locks string) {
	sum := sha256.Sum256([]byte(key))
	base := r.Prefix + "{" + hex.EncodeToString(sum[:]) + "}"
	return base + ":n", base + ":lock", base + ":locks"
}

func (r *RedisLockout) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	t := r.Timeout
	if t <= 0 {
		t = 500 * time.Millisecond
	}
	return context.WithTimeout(ctx, t)
}

// Status implements LockoutStore.
func (r *RedisLockout) Status(ctx context.Context, key string, _ time.Time) (bool, bool, error) {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	n, lock, _ := r.keys(key)
	res, err := r.Client.MGet(ctx, lock, n).Result()
	if err != nil {
		return false, false, err
	}
	return res[0] != nil, res[1] != nil, nil
}

// Fail implements LockoutStore.
func (r *RedisLockout) Fail(ctx context.Context, key string, p LockPolicy, _ time.Time) (bool, error) {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	n, lock, locks := r.keys(key)
	v, err := failScript.Run(ctx, r.Client, []string{n, lock, locks},
		p.MaxFailures, p.Window.Milliseconds(), p.Lockout.Milliseconds(), p.MaxLockout.Milliseconds()).Int()
	if err != nil {
		return false, err
	}
	return v == 1, nil
}

// Reset implements LockoutStore.
func (r *RedisLockout) Reset(ctx context.Context, key string) error {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	n, _, _ := r.keys(key)
	return r.Client.Del(ctx, n).Err()
}

var (
	_ LockoutStore = (*MemoryLockout)(nil)
	_ LockoutStore = (*RedisLockout)(nil)
)

// lockKeys are the counters a request touches.
type lockKeys struct {
	principal string // "p:" + the claimed name folded (lockoutName), "" if none
	address   string // "a:" + address (IPv6: its /64)
}

func (s *Server) lockKeysFor(claimed string, client netip.Addr) lockKeys {
	var k lockKeys
	if lo := s.o.Lockout; lo != nil {
		if lo.Principal.on() && claimed != "" {
			k.principal = "p:" + lockoutName(claimed)
		}
		if lo.Address.on() && client.IsValid() {
			if client.Is6() {
				p, _ := client.Prefix(64)
				k.address = "a:" + p.String()
			} else {
				k.address = "a:" + client.String()
			}
		}
	}
	return k
}

// checkLocked says which key, if any, is locked ("principal", "address").
func (s *Server) checkLocked(ctx context.Context, k lockKeys, now time.Time) (which string, hadFailures bool, err error) {
	st := s.o.Lockout.Store
	for _, c := range []struct{ name, key string }{{"principal", k.principal}, {"address", k.address}} {
		if c.key == "" {
			continue
		}
		start := time.Now()
		locked, failures, err := st.Status(ctx, c.key, now)
		s.m.depDuration.WithLabelValues("lockout_store").Observe(time.Since(start).Seconds())
		if err != nil {
			s.m.depErrorsTotal.WithLabelValues("lockout_store").Inc()
			return "", false, err
		}
		if c.name == "principal" {
			hadFailures = failures
		}
		if locked {
			return c.name, hadFailures, nil
		}
	}
	return "", hadFailures, nil
}

// recordFailure counts a failed authentication against the claimed
// principal, the client address, and the principals a registry resolved the
// claimed name to (resolved.keys). It returns "principal" when a resolved
// principal was already locked: that one is not counted again (a failure
// during a lock would lengthen it), and the request is refused as locked.
func (s *Server) recordFailure(ctx context.Context, k lockKeys, resolved *resolvedNames, now time.Time) (locked string) {
	lo := s.o.Lockout
	type counter struct {
		name, key string
		p         LockPolicy
	}
	counters := []counter{{"principal", k.principal, lo.Principal}, {"address", k.address, lo.Address}}
	for _, key := range resolved.keys() {
		st, err := s.status(ctx, key, now)
		if err != nil {
			s.log.Error("brute-force store: reading a resolved principal's lock failed", "error", err.Error())
		}
		if st {
			locked = "principal"
			continue
		}
		counters = append(counters, counter{"principal", key, lo.Principal})
	}
	for _, c := range counters {
		if c.key == "" {
			continue
		}
		start := time.Now()
		locked, err := lo.Store.Fail(ctx, c.key, c.p, now)
		s.m.depDuration.WithLabelValues("lockout_store").Observe(time.Since(start).Seconds())
		if err != nil {
			s.m.depErrorsTotal.WithLabelValues("lockout_store").Inc()
			s.log.Error("brute-force store: recording a failure failed", "kind", c.name, "error", err.Error())
			continue
		}
		if locked {
			s.m.lockouts.WithLabelValues(c.name).Inc()
		}
	}
	return locked
}

// status reads whether key is locked, with the store's metrics.
func (s *Server) status(ctx context.Context, key string, now time.Time) (bool, error) {
	start := time.Now()
	locked, _, err := s.o.Lockout.Store.Status(ctx, key, now)
	s.m.depDuration.WithLabelValues("lockout_store").Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.depErrorsTotal.WithLabelValues("lockout_store").Inc()
	}
	return locked, err
}

// resolvedNames collects the principal keys that registries resolved a
// claimed name to (registry.Trace), other than the claimed name's own.
type resolvedNames struct {
	claimed string
	mu      sync.Mutex
	list    []string
}

// traceResolved returns ctx with a registry.Trace collecting the names the
// claimed principal resolves to; nil when no principal is counted.
func traceResolved(ctx context.Context, k lockKeys) (context.Context, *resolvedNames) {
	if k.principal == "" {
		return ctx, nil
	}
	rn := &resolvedNames{claimed: k.principal}
	return registry.WithTrace(ctx, &registry.Trace{Resolved: rn.add}), rn
}

func (rn *resolvedNames) add(name string) {
	key := "p:" + lockoutName(name)
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

// settleSuccess runs after the chain accepted a request whose keys were not
// locked. The principal the chain authenticated, and those registries
// resolved the claimed name to, may be locked under their own names (the
// client used another attribute, such as mail, that the directory also
// matches): then it returns "principal" and the request is refused as
// locked, having cost what any request costs. Otherwise it forgets the
// principals' failures.
func (s *Server) settleSuccess(ctx context.Context, id string, k lockKeys, hadFailures bool, subj *authn.Subject, resolved *resolvedNames, now time.Time) (locked string) {
	if k.principal == "" {
		return ""
	}
	if resolved != nil {
		resolved.add(subj.Principal)
	}
	reset := []string{}
	if hadFailures {
		reset = append(reset, k.principal)
	}
	for _, key := range resolved.keys() {
		start := time.Now()
		isLocked, failures, err := s.o.Lockout.Store.Status(ctx, key, now)
		s.m.depDuration.WithLabelValues("lockout_store").Observe(time.Since(start).Seconds())
		if err != nil {
			// The claimed name was checked before the chain; this is the
			// second look: log and let the request through.
			s.m.depErrorsTotal.WithLabelValues("lockout_store").Inc()
			s.log.Error("brute-force store: reading a resolved principal's lock failed", "request_id", id, "error", err.Error())
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
		if err := s.o.Lockout.Store.Reset(ctx, key); err != nil {
			s.m.depErrorsTotal.WithLabelValues("lockout_store").Inc()
			s.log.Warn("brute-force store: resetting a principal's failures after a success failed",
				"request_id", id, "error", err.Error())
		}
	}
	return ""
}

// lockoutName folds a claimed user name the way directories match names,
// so that every spelling a directory takes for alice counts against alice:
// OpenLDAP's caseIgnoreMatch (uid, cn) binds "ALICE", " alice", "ａｌｉｃｅ"
// (fullwidth), "𝐚lice" (mathematical bold), "ⓐlice", "ALİCE" and
// "alice\u00a0" all as alice. The steps:
//
//   - Unicode compatibility normalization (NFKC): fullwidth, mathematical,
//     circled and superscript letters become plain ones, and the Unicode
//     spaces (no-break, ideographic, en quad...) become U+0020;
//   - format characters (soft hyphen, zero-width space and joiners) and
//     variation selectors are dropped, as RFC 4518 string preparation maps
//     them to nothing (OpenLDAP keeps them; other directories do not);
//   - each rune's simple lower case (İ U+0130 becomes i, as slapd does;
//     full case folding would give i + U+0307), then full case folding
//     (ß and ss, ς and σ) and NFKC again;
//   - leading and trailing space dropped, inner runs of space collapsed.
//
// Checked against the test slapd by substituting every rune below U+30000
// for one letter of "alice" and "bob" and for a leading or trailing space:
// each spelling slapd matched folds to the plain name here. PRECIS
// UsernameCaseMapped (RFC 8265) was tried and rejected: it refuses
// mathematical and circled letters and the Unicode spaces outright rather
// than mapping them, so it would leave 12 of slapd's 16 spellings of the
// first letter of alice with counters of their own.
//
// The fold may join names a directory keeps apart (ß and ss, modifier
// letters newer than OpenLDAP's tables); that only shares a counter, and
// each of those names could be locked under its own spelling anyway. It must
// never keep apart names a directory joins.
func lockoutName(claimed string) string {
	ascii := true
	for i := 0; i < len(claimed); i++ {
		if claimed[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		s := norm.NFKC.String(claimed)
		s = strings.Map(func(r rune) rune {
			switch {
			case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Variation_Selector, r), r == '\u034f':
				return -1
			case unicode.IsSpace(r):
				return ' '
			}
			return unicode.ToLower(r)
		}, s)
		// A Caser is not safe for concurrent use: one per call.
		claimed = norm.NFKC.String(cases.Fold().String(s))
	}
	return strings.ToLower(strings.Join(strings.Fields(claimed), " "))
}

// decoySecret makes decoy names unpredictable (per process).
var decoySecret = func() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}()

// decoyName is the user name a locked request's UsernameTokens are checked
// under: one no registry holds, the same for the same claimed name (so that
// a credential cache answers a repeated guess as it would for the real
// name), and not guessable from outside.
func decoyName(claimed string) string {
	h := hmac.New(sha256.New, decoySecret)
	h.Write([]byte(claimed))
	return "authsvc-locked-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// decoyLogin runs the chain for a request refused because its principal or
// address is locked, and discards the outcome. Refusing at once would answer
// a locked principal in a fraction of a millisecond against the tens of
// milliseconds a wrong password costs (a directory bind, a password hash):
// the lock, and so that a guess had counted, would show in the latency.
//
// The request's UsernameTokens are checked under a decoy name (decoyName)
// rather than the claimed one: the registries spend what an unknown user
// costs, which they already make cost what a wrong password does (a bind to
// a DN that does not exist, a hash of a dummy password), while
//   - the user's own account in the directory sees no bind, so guesses made
//     while authsvc holds the lock do not count toward the directory's own
//     password-policy lockout, nor reset it on a right password;
//   - a right password cannot succeed, so nothing learns it was right: no
//     counter is reset, no credential cache remembers it, no nonce goes
//     into the replay cache (the username module records nonces only after
//     a password checked out).
//
// Credentials without a user name (Kerberos, HTTP Negotiate, custom
// tokens), refused because the client address is locked, are verified as
// they are: a valid Kerberos authenticator is then recorded in the replay
// cache, which only spends it. Custom modules see the request as usual.
// Modules' metrics count these runs (rejected, or success for a credential
// that was valid); the request itself is logged and counted as locked.
func (s *Server) decoyLogin(ctx context.Context, req *authn.Request) {
	d := *req
	d.Shared = nil
	if env := req.Envelope; env != nil && env.Security != nil && len(env.Security.UsernameTokens) > 0 {
		e, sec := *env, *env.Security
		sec.UsernameTokens = slices.Clone(sec.UsernameTokens)
		for i := range sec.UsernameTokens {
			sec.UsernameTokens[i].Username = decoyName(sec.UsernameTokens[i].Username)
		}
		e.Security = &sec
		d.Envelope = &e
	}
	_, _ = s.o.Chain.Authenticate(ctx, &d)
}
