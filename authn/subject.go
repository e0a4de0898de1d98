// Package authn holds the core of authsvc: the Subject an authentication
// produces, the Request a login module sees, the Module interface, the chain
// that runs modules under JAAS control flags, and the Fault that a rejection
// becomes on the wire.
package authn

import (
	"slices"
	"time"

	"github.com/authsvc/authsvc/internal/uniq"
)

// Subject is the verified identity that the chain produces and that goes
// downstream, as JSON from /v1/authenticate and as identity headers on the
// proxied request.
//
// JSON form:
//
//	{
//	  "principal": "alice",
//	  "realm": "EXAMPLE.TEST",
//	  "method": "UsernameToken",
//	  "token_type": "PasswordDigest",
//	  "groups": ["admins", "soap-users"],
//	  "attributes": {"mail": ["alice@example.test"]},
//	  "auth_time": "2026-11-23T10:00:00Z",
//	  "modules": ["users"]
//	}
type Subject struct {
	// Principal is the authenticated name, without realm.
	Principal string `json:"principal"`
	// Realm is the Kerberos realm or directory domain, empty for local users.
	Realm string `json:"realm,omitempty"`
	// Method names the kind of credential: "UsernameToken", "Kerberos",
	// "Negotiate", or a custom module's method.
	Method string `json:"method"`
	// TokenType refines Method: "PasswordText", "PasswordDigest",
	// "DerivedKey", "Kerberosv5_AP_REQ", ...
	TokenType string `json:"token_type,omitempty"`
	// Groups are group or role names, deduplicated, in the order added.
	Groups []string `json:"groups,omitempty"`
	// Attributes are extra facts about the principal (mail, SIDs, ...).
	Attributes map[string][]string `json:"attributes,omitempty"`
	// AuthTime is when the chain accepted the credential.
	AuthTime time.Time `json:"auth_time"`
	// Modules lists the chain entries that succeeded, in order.
	Modules []string `json:"modules,omitempty"`

	// Reply, when set, is what a module wants sent back to the client with
	// a successful answer. The HTTP layer renders it; it is not part of the
	// JSON form.
	Reply *Reply `json:"-"`
}

// Reply is what the modules that accepted a request want the client told,
// typed so that the HTTP layer decides how it goes on the wire.
type Reply struct {
	// Negotiate is HTTP Negotiate's mutual-authentication token (RFC 4559
	// section 5; a GSS token with the AP-REP), sent as
	// WWW-Authenticate: Negotiate <Base64>.
	Negotiate []byte
}

// AddGroups appends groups that the subject does not have yet, in order,
// skipping empty names and duplicates.
func (s *Subject) AddGroups(groups ...string) {
	s.Groups = uniq.Append(s.Groups, groups, true)
}

// RemoveGroups removes these groups from the subject's, keeping the order
// of the others.
func (s *Subject) RemoveGroups(groups ...string) {
	s.Groups = uniq.Remove(s.Groups, groups)
}

// MergeAttribute appends to an attribute the values it does not have yet,
// in order.
func (s *Subject) MergeAttribute(name string, values ...string) {
	held := s.Attributes[name]
	if merged := uniq.Append(held, values, false); len(merged) != len(held) {
		if s.Attributes == nil {
			s.Attributes = make(map[string][]string)
		}
		s.Attributes[name] = merged
	}
}

// AddAttribute appends values to an attribute.
func (s *Subject) AddAttribute(name string, values ...string) {
	if s.Attributes == nil {
		s.Attributes = make(map[string][]string)
	}
	s.Attributes[name] = append(s.Attributes[name], values...)
}

// Name returns principal@realm, or the principal alone when there is no
// realm or the principal already names one (an "@" not escaped by a
// backslash: a Kerberos name renders an "@" inside a component as "\@",
// RFC 1964).
func (s *Subject) Name() string {
	if s.Realm == "" || hasRealm(s.Principal) {
		return s.Principal
	}
	return s.Principal + "@" + s.Realm
}

// hasRealm reports whether name has an "@" not escaped by a backslash.
func hasRealm(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '@':
			return true
		}
	}
	return false
}

// clone returns a copy whose slices and maps can be changed without touching s.
func (s *Subject) clone() Subject {
	c := *s
	c.Groups = slices.Clone(s.Groups)
	c.Modules = slices.Clone(s.Modules)
	if s.Attributes != nil {
		c.Attributes = make(map[string][]string, len(s.Attributes))
		for k, v := range s.Attributes {
			c.Attributes[k] = slices.Clone(v)
		}
	}
	if s.Reply != nil {
		r := *s.Reply
		r.Negotiate = slices.Clone(r.Negotiate)
		c.Reply = &r
	}
	return c
}
