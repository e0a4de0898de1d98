// Package enrich is a login module that authenticates nobody: it looks up the
// principal that an earlier module in the chain established (a Kerberos user,
// a UsernameToken user checked against another registry) in a directory and
// adds the groups and attributes found there to the Subject, the way a JAAS
// optional module adds roles.
//
// Outcomes, as the chain sees them:
//   - no principal yet: authn.ErrUnsupported (the module is ignored; put it
//     after the modules that authenticate);
//   - principal found: success, with groups and attributes added;
//   - principal unknown to the directory, or from a realm the module does not
//     serve: a FailedAuthentication rejection;
//   - directory down: a technical error (the chain fails closed with a
//     retryable fault when the entry is required or requisite; an optional
//     entry's failure leaves the Subject as it was).
//
// Mark it required when directory groups are mandatory for authorization
// downstream, optional when they are a nicety.
//
// Active Directory: the Kerberos module puts the PAC's group SIDs in the
// Subject's groups and in the attribute group_sids. Given a directory that
// resolves SIDs (an LDAP registry with active_directory), this module turns
// them into names (SIDGroups): "names" replaces the SIDs in the groups by
// the directory's names, "both" adds the names after the SIDs, "sids"
// leaves them. group_sids and the user's sid stay as attributes in every
// mode; a SID the directory does not know (well-known SIDs such as S-1-1-0,
// another forest's) has no name and, with "names", is left out of the
// groups.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
)

// Module adds directory groups and attributes to an authenticated Subject.
type Module struct {
	dir        registry.Directory
	strip      bool
	realms     []string
	mapName    func(s *authn.Subject) (string, error)
	attributes bool
	sids       SIDResolver
	sidMode    SIDMode
	log        *slog.Logger
}

// SIDResolver resolves SIDs (S-1-5-21-...) to names; an LDAP registry with
// active_directory is one.
type SIDResolver interface {
	// ResolveSIDs returns the names of the SIDs it knows; an error is
	// technical.
	ResolveSIDs(ctx context.Context, sids []string) (map[string]string, error)
	// ResolvesSIDs reports whether the directory is configured to.
	ResolvesSIDs() bool
}

// SIDMode says what becomes of the PAC's group SIDs in Subject.Groups.
type SIDMode string

// The SID modes (see the package comment).
const (
	SIDNames SIDMode = "names"
	SIDsOnly SIDMode = "sids"
	SIDBoth  SIDMode = "both"
)

// GroupSIDsAttribute is the Subject attribute that lists the PAC's group
// SIDs (set by authn/kerberos).
const GroupSIDsAttribute = "group_sids"

var (
	_ authn.Module  = (*Module)(nil)
	_ authn.Checker = (*Module)(nil)
)

// Option configures a Module.
type Option func(*Module)

// StripRealm looks the user up without the realm: alice@EXAMPLE.TEST as
// alice. With realms given, only principals of those realms (exact, as
// Kerberos realms are case-sensitive) are mapped, and a principal of any
// other realm is rejected rather than confused with a local user of the same
// name; with none, any realm is stripped. Without this option the lookup name
// is Subject.Name(): principal@realm, or the principal alone when the
// Subject has no realm.
func StripRealm(realms ...string) Option {
	return func(m *Module) {
		m.strip = true
		m.realms = slices.Clone(realms)
	}
}

// MapName replaces the name mapping with fn, which returns the name to look
// up, or an error that rejects the Subject.
func MapName(fn func(s *authn.Subject) (string, error)) Option {
	return func(m *Module) { m.mapName = fn }
}

// GroupsOnly adds the directory's groups but not its attributes.
func GroupsOnly() Option {
	return func(m *Module) { m.attributes = false }
}

// SIDGroups resolves the Subject's group SIDs (attribute group_sids) with r
// and applies mode to Subject.Groups.
func SIDGroups(r SIDResolver, mode SIDMode) Option {
	return func(m *Module) { m.sids, m.sidMode = r, mode }
}

// WithLogger sets the logger (default: none).
func WithLogger(l *slog.Logger) Option {
	return func(m *Module) { m.log = l }
}

// New returns a module that looks principals up in dir.
func New(dir registry.Directory, opts ...Option) *Module {
	m := &Module{dir: dir, attributes: true}
	for _, o := range opts {
		o(m)
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m
}

// Login implements authn.Module.
func (m *Module) Login(ctx context.Context, _ *authn.Request, s *authn.Subject) (bool, error) {
	if s.Principal == "" {
		return false, fmt.Errorf("enrich: no principal to enrich yet: %w", authn.ErrUnsupported)
	}
	name, err := m.lookupName(s)
	if err != nil {
		return false, authn.Reject(wsse.FailedAuthentication, "enrich: %s: %v", s.Name(), err)
	}
	u, err := m.dir.LookupUser(ctx, name)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return false, authn.Reject(wsse.FailedAuthentication, "enrich: %s (looked up as %q) is not a usable account of the directory: %v", s.Name(), name, err)
	case err != nil:
		return false, fmt.Errorf("enrich: looking up %q: %w", name, err)
	}
	if err := m.nameSIDs(ctx, s); err != nil {
		return false, err
	}
	s.AddGroups(u.Groups...)
	if m.attributes {
		for _, k := range sortedKeys(u.Attributes) {
			s.MergeAttribute(k, u.Attributes[k]...)
		}
	}
	m.log.Debug("enrich: added directory groups", "principal", s.Name(), "user", name, "groups", u.Groups)
	return true, nil
}

// nameSIDs applies the SID mode to the Subject's group SIDs.
func (m *Module) nameSIDs(ctx context.Context, s *authn.Subject) error {
	sids := s.Attributes[GroupSIDsAttribute]
	if m.sids == nil || m.sidMode == SIDsOnly || len(sids) == 0 {
		return nil
	}
	names, err := m.sids.ResolveSIDs(ctx, sids)
	if err != nil {
		return fmt.Errorf("enrich: resolving the group SIDs of %s: %w", s.Name(), err)
	}
	if m.sidMode == SIDNames {
		s.RemoveGroups(sids...)
	}
	named := make([]string, 0, len(names))
	var unknown []string
	for _, sid := range sids {
		if n, ok := names[sid]; ok {
			named = append(named, n)
		} else {
			unknown = append(unknown, sid)
		}
	}
	s.AddGroups(named...)
	if len(unknown) > 0 {
		m.log.Debug("enrich: group SIDs without a name in the directory", "principal", s.Name(), "sids", unknown)
	}
	return nil
}

// lookupName maps the Subject to the name the directory knows.
func (m *Module) lookupName(s *authn.Subject) (string, error) {
	if m.mapName != nil {
		return m.mapName(s)
	}
	full := s.Name()
	if !m.strip {
		return full, nil
	}
	i := strings.LastIndexByte(full, '@')
	if i < 0 {
		return full, nil
	}
	user, realm := full[:i], full[i+1:]
	if user == "" {
		return "", errors.New("empty user name")
	}
	if len(m.realms) > 0 && !slices.Contains(m.realms, realm) {
		return "", fmt.Errorf("realm %q is not served by this directory", realm)
	}
	return user, nil
}

// Check implements authn.Checker: the module is ready when its directory is.
func (m *Module) Check(ctx context.Context) error {
	if c, ok := m.dir.(authn.Checker); ok {
		return c.Check(ctx)
	}
	return nil
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
