package ldap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/authsvc/authsvc/internal/logsafe"
	"github.com/authsvc/authsvc/internal/uniq"
	"github.com/authsvc/authsvc/registry"
)

// ActiveDirectory turns on what an Active Directory (or Samba AD) domain
// needs beyond plain LDAP. See docs/active-directory.md for a whole
// configuration.
//
//	active_directory:
//	  netbios_domain: ADEX      # ADEX\alice is looked up as alice
//	  sid_base_dn: DC=ad,DC=example,DC=test
//	  sid_name_attribute: sAMAccountName
//	  sid_cache_ttl: 10m
//	  sid_cache_entries: 10000
//
// With it, an account that cannot log in is refused by VerifyPassword and by
// LookupUser (so also for a user who arrived by Kerberos and is then
// enriched, whose ticket may be hours old): disabled (userAccountControl
// ACCOUNTDISABLE), locked out (msDS-User-Account-Control-Computed
// UF_LOCKOUT, or lockoutTime when the server does not compute it), expired
// (accountExpires in the past), or whose password expired or must be changed
// (UF_PASSWORD_EXPIRED, pwdLastSet 0). The refusal looks like an unknown
// user to the client; the log names the state.
type ActiveDirectory struct {
	// NetBIOSDomain is the domain's pre-Windows 2000 name: a user name
	// DOMAIN\user with this domain (any case) is looked up as user, and one
	// with another domain is unknown. Empty: names with a backslash are
	// unknown.
	NetBIOSDomain string `yaml:"netbios_domain"`
	// SIDBaseDN is where SIDs are resolved to names (default: the domain,
	// the DC= part of user_search.base_dn).
	SIDBaseDN string `yaml:"sid_base_dn"`
	// SIDNameAttribute names what a SID resolves to (default
	// sAMAccountName; cn is the other common choice).
	SIDNameAttribute string `yaml:"sid_name_attribute"`
	// SIDCacheTTL is how long a resolved (or unknown) SID is remembered
	// (default 10m, at most MaxSIDCacheTTL): a renamed group keeps its old
	// name for at most this long.
	SIDCacheTTL time.Duration `yaml:"sid_cache_ttl"`
	// SIDCacheEntries bounds the SID cache (default 10000).
	SIDCacheEntries int `yaml:"sid_cache_entries"`
}

// MaxSIDCacheTTL bounds active_directory.sid_cache_ttl.
const MaxSIDCacheTTL = 24 * time.Hour

// maxSIDs bounds the SIDs of one ResolveSIDs call; a PAC lists at most a few
// thousand groups.
const maxSIDs = 4096

// adStateAttributes are read with each user entry to judge the account.
var adStateAttributes = []string{"userAccountControl", "msDS-User-Account-Control-Computed", "accountExpires", "lockoutTime", "pwdLastSet"}

const (
	uacAccountDisable  = 0x2
	uacLockout         = 0x10
	uacDontExpirePwd   = 0x10000
	uacPasswordExpired = 0x800000
	// accountExpires values that mean never.
	adNever = 0x7FFFFFFFFFFFFFFF
)

func (ad *ActiveDirectory) check(us *UserSearch) error {
	if strings.ContainsAny(ad.NetBIOSDomain, `\@/ `) {
		return fmt.Errorf("ldap: active_directory.netbios_domain: %q: want the bare NetBIOS name (ADEX)", ad.NetBIOSDomain)
	}
	if ad.SIDBaseDN == "" {
		dn, err := goldap.ParseDN(us.BaseDN)
		if err != nil {
			return fmt.Errorf("ldap: user_search.base_dn: %w", err)
		}
		var dcs []string
		for _, rdn := range dn.RDNs {
			if len(rdn.Attributes) == 1 && strings.EqualFold(rdn.Attributes[0].Type, "dc") {
				dcs = append(dcs, "DC="+goldap.EscapeDN(rdn.Attributes[0].Value))
			}
		}
		if len(dcs) == 0 {
			return errors.New("ldap: active_directory.sid_base_dn: required (user_search.base_dn has no DC= components)")
		}
		ad.SIDBaseDN = strings.Join(dcs, ",")
	} else if _, err := goldap.ParseDN(ad.SIDBaseDN); err != nil {
		return fmt.Errorf("ldap: active_directory.sid_base_dn: %w", err)
	}
	if ad.SIDNameAttribute == "" {
		ad.SIDNameAttribute = "sAMAccountName"
	}
	switch {
	case ad.SIDCacheTTL < 0 || ad.SIDCacheEntries < 0:
		return errors.New("ldap: active_directory.sid_cache_ttl, sid_cache_entries: must not be negative")
	case ad.SIDCacheTTL > MaxSIDCacheTTL:
		return fmt.Errorf("ldap: active_directory.sid_cache_ttl: %v is longer than %v", ad.SIDCacheTTL, MaxSIDCacheTTL)
	case ad.SIDCacheTTL == 0:
		ad.SIDCacheTTL = 10 * time.Minute
	}
	if ad.SIDCacheEntries == 0 {
		ad.SIDCacheEntries = defaultCacheEntries
	}
	return nil
}

// adName maps DOMAIN\user to user; ok is false for another domain's user
// (or any backslash name when no NetBIOS domain is configured).
func (ad *ActiveDirectory) adName(name string) (string, bool) {
	dom, user, found := strings.Cut(name, `\`)
	if !found {
		return name, true
	}
	if ad.NetBIOSDomain == "" || !strings.EqualFold(dom, ad.NetBIOSDomain) || user == "" || strings.Contains(user, `\`) {
		return "", false
	}
	return user, true
}

// adAccountRefusal says why an AD account may not log in now, or "".
func adAccountRefusal(e *goldap.Entry, now time.Time) string {
	num := func(attr string) (int64, bool) {
		v := e.GetEqualFoldAttributeValue(attr)
		if v == "" {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			// An unsigned rendering of a negative 32-bit flag word.
			u, uerr := strconv.ParseUint(v, 10, 64)
			if uerr != nil {
				return 0, false
			}
			n = int64(u)
		}
		return n, true
	}
	uac, ok := num("userAccountControl")
	if !ok {
		return "active directory: the entry has no userAccountControl (not a user account?)"
	}
	if uac&uacAccountDisable != 0 {
		return "active directory: the account is disabled (userAccountControl ACCOUNTDISABLE)"
	}
	computed, hasComputed := num("msDS-User-Account-Control-Computed")
	if hasComputed && computed&uacLockout != 0 {
		return "active directory: the account is locked out (msDS-User-Account-Control-Computed UF_LOCKOUT)"
	}
	if lt, ok := num("lockoutTime"); !hasComputed && ok && lt != 0 {
		return "active directory: the account is locked out (lockoutTime set)"
	}
	if exp, ok := num("accountExpires"); ok && exp != 0 && exp != adNever && !now.Before(ntTime(exp)) {
		return fmt.Sprintf("active directory: the account expired at %s (accountExpires)", ntTime(exp).UTC().Format(time.RFC3339))
	}
	if pls, ok := num("pwdLastSet"); ok && pls == 0 && uac&uacDontExpirePwd == 0 {
		return "active directory: the password must be changed (pwdLastSet 0)"
	}
	if hasComputed && computed&uacPasswordExpired != 0 {
		return "active directory: the password has expired (msDS-User-Account-Control-Computed UF_PASSWORD_EXPIRED)"
	}
	return ""
}

// ntTime converts 100-nanosecond intervals since 1601-01-01 UTC.
func ntTime(v int64) time.Time {
	const epochDiff = 11644473600 // seconds from 1601 to 1970
	return time.Unix(v/10_000_000-epochDiff, (v%10_000_000)*100)
}

// ResolveSIDs returns the names (active_directory.sid_name_attribute) of the
// directory objects with the given SIDs (S-1-5-21-...): groups, usually, as
// a Kerberos PAC lists them. SIDs that no object has (well-known SIDs such
// as S-1-1-0, other domains' SIDs) are absent from the map. Results are
// cached for sid_cache_ttl, unknown SIDs too. An error is technical (it
// wraps health.ErrUnavailable); a malformed SID is an error too.
func (r *Registry) ResolveSIDs(ctx context.Context, sids []string) (map[string]string, error) {
	ad := r.cfg.ActiveDirectory
	if ad == nil {
		return nil, errors.New("ldap: ResolveSIDs needs the active_directory section")
	}
	if len(sids) > maxSIDs {
		return nil, fmt.Errorf("ldap: %d SIDs to resolve, more than %d", len(sids), maxSIDs)
	}
	names := make(map[string]string, len(sids))
	var missing []string
	for _, s := range sids {
		if name, found := r.sids.get(s); found {
			if name != "" {
				names[s] = name
			}
			continue
		}
		if _, err := sidBytes(s); err != nil {
			return nil, fmt.Errorf("ldap: SID %q: %w", logsafe.Clip(s, logsafe.MaxName), err)
		}
		missing = append(missing, s)
	}
	missing = uniq.Append(nil, missing, false) // each SID once, in order
	const batch = 64
	for len(missing) > 0 {
		n := min(batch, len(missing))
		found, err := r.searchSIDs(ctx, missing[:n])
		if err != nil {
			return nil, err
		}
		for _, s := range missing[:n] {
			r.sids.put(s, found[s])
			if found[s] != "" {
				names[s] = found[s]
			}
		}
		missing = missing[n:]
	}
	return names, nil
}

// ResolvesSIDs reports whether ResolveSIDs works: with active_directory.
func (r *Registry) ResolvesSIDs() bool { return r.cfg.ActiveDirectory != nil }

// searchSIDs looks sids up in one search: (|(objectSid=...)...), the SIDs in
// their binary form, escaped.
func (r *Registry) searchSIDs(ctx context.Context, sids []string) (map[string]string, error) {
	ad := r.cfg.ActiveDirectory
	var f strings.Builder
	f.WriteString("(|")
	for _, s := range sids {
		b, _ := sidBytes(s) // checked by the caller
		f.WriteString("(objectSid=")
		for _, c := range b {
			fmt.Fprintf(&f, "\\%02x", c)
		}
		f.WriteString(")")
	}
	f.WriteString(")")
	req := goldap.NewSearchRequest(ad.SIDBaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0,
		r.timeLimit(), false, f.String(), []string{"objectSid", ad.SIDNameAttribute}, nil)
	var res *goldap.SearchResult
	err := r.with(ctx, r.search, func(c *conn) error {
		var err error
		res, err = c.Search(req)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ldap: resolving %d SIDs: %w", len(sids), wrapUnavailable(err))
	}
	out := make(map[string]string, len(res.Entries))
	for _, e := range res.Entries {
		s, err := sidString(e.GetEqualFoldRawAttributeValue("objectSid"))
		name := e.GetEqualFoldAttributeValue(ad.SIDNameAttribute)
		if err != nil || name == "" {
			continue
		}
		out[s] = name
	}
	return out, nil
}

// sidBytes encodes S-R-A-S1-S2-... as a binary SID (MS-DTYP 2.4.2).
func sidBytes(s string) ([]byte, error) {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || parts[0] != "S" || parts[1] != "1" || len(parts)-3 > 15 {
		return nil, errors.New("not a SID (S-1-authority-subauthorities, at most 15)")
	}
	auth, err := strconv.ParseUint(parts[2], 10, 48)
	if err != nil {
		return nil, errors.New("bad identifier authority")
	}
	b := make([]byte, 8, 8+4*(len(parts)-3))
	b[0], b[1] = 1, byte(len(parts)-3)
	for i := range 6 {
		b[2+i] = byte(auth >> (8 * (5 - i)))
	}
	for _, p := range parts[3:] {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, errors.New("bad sub-authority")
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b, nil
}

// sidString renders a binary SID as S-1-....
func sidString(b []byte) (string, error) {
	if len(b) < 8 || b[0] != 1 || len(b) != 8+4*int(b[1]) {
		return "", errors.New("malformed binary SID")
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "S-1-%d", auth)
	for i := 8; i < len(b); i += 4 {
		fmt.Fprintf(&sb, "-%d", binary.LittleEndian.Uint32(b[i:]))
	}
	return sb.String(), nil
}

// sidCache remembers SID names (and that a SID has none) for a TTL, bounded.
type sidCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[string]sidEntry
}

type sidEntry struct {
	name string // "" for a SID no object has
	exp  time.Time
}

func newSIDCache(ad *ActiveDirectory) *sidCache {
	return &sidCache{ttl: ad.SIDCacheTTL, max: ad.SIDCacheEntries, now: time.Now, m: make(map[string]sidEntry)}
}

func (c *sidCache) get(sid string) (name string, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[sid]
	if !ok {
		return "", false
	}
	if !c.now().Before(e.exp) {
		delete(c.m, sid)
		return "", false
	}
	return e.name, true
}

func (c *sidCache) put(sid, name string) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.m[sid]; !exists && len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, k) // an arbitrary one: the cache is only a shortcut
		}
	}
	c.m[sid] = sidEntry{name: name, exp: now.Add(c.ttl)}
}

func (c *sidCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// adRefused is the error LookupUser returns for an AD account that may not
// log in: to callers (authn/enrich) it is an unknown user.
func adRefused(name, reason string) error {
	return fmt.Errorf("ldap: user %q may not log in: %s: %w", logsafe.Clip(name, logsafe.MaxName), reason, registry.ErrNotFound)
}
