// Package sct keeps the security contexts of WS-SecureConversation: the
// SecurityContextTokens authsvc issues, each naming a shared secret bound to
// the Subject that authenticated when it was issued.
//
// A Store is shared by every replica that verifies messages signed with a
// context (Redis), so that a context issued on one replica is used on a
// second and cancelled on a third, after which none accepts it. Stores know
// nothing of the chain or of SOAP: they keep records.
package sct

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Context is one issued security context.
type Context struct {
	// Identifier is the SCT's wsc:Identifier, an absolute URI
	// (urn:uuid:...). It names the context across renewals.
	Identifier string
	// Instance is the SCT's wsc:Instance: it changes on every renewal,
	// and only the latest instance's key is accepted.
	Instance string
	// Issuer names the authsvc deployment that issued the context (from
	// configuration); a store never returns another issuer's context.
	Issuer string
	// Key is the shared secret (16..64 bytes).
	Key []byte
	// Created and Expires bound the context's life: messages signed with
	// its key are accepted from Created until Expires.
	Created, Expires time.Time
	// RenewUntil, when after Expires, is the end of the context's renew
	// grace: the store keeps the context until then, Get returns it with
	// Expires in the past (so that a verifier tells an expired context,
	// wsc:RenewNeeded, from an unknown one, wsc:BadContextToken), and Renew
	// of it is still allowed. Zero (or not after Expires) means no grace:
	// the record ends at Expires. The issuer sets it to Expires plus its
	// configured renew grace.
	RenewUntil time.Time
	// Subject is who authenticated when the context was issued.
	Subject Subject
}

// Subject is the identity a context is bound to: a copy of the fields of
// authn.Subject that travel downstream, kept here so that stores need no
// knowledge of the chain.
type Subject struct {
	Principal  string              `json:"principal"`
	Realm      string              `json:"realm,omitempty"`
	Method     string              `json:"method"`
	Groups     []string            `json:"groups,omitempty"`
	Attributes map[string][]string `json:"attributes,omitempty"`
}

// Store keeps contexts until they expire or are cancelled.
//
// Every method returns health.ErrUnavailable (wrapped) when the store's backend
// cannot be reached, or holds a record it cannot read (corrupt, or encrypted
// under a key it does not have); callers fail closed on it. An error that is
// none of the sentinels below is such a technical failure, never a success.
//
// Stores copy: Issue and Renew keep no reference to the caller's Context
// (its Key, Groups and Attributes included), and Get returns a Context the
// caller owns.
//
// Retention: a store keeps a record until its Retention (RenewUntil when
// that is after Expires, else Expires), then forgets it. Between Expires
// and RenewUntil (the renew grace) Get returns the context with Expires in
// the past: callers check Expires themselves (a message signed with an
// expired context is refused with wsc:RenewNeeded; a Renew of it is
// allowed). Get never returns a context whose Retention has passed (by the
// replica's clock), and once Get says ErrNotFound for that reason, Renew
// and Cancel on the same clock say so too. The record itself, or its
// tombstone, may end up to two milliseconds before its Retention (Redis
// keeps whole milliseconds of TTL): a context is never accepted late.
//
// Implementations: NewMemory (one replica) and package sct/redis (shared by
// replicas); package sct/scttest is the conformance suite both pass.
type Store interface {
	// Issue records c. It returns ErrExists when a context with c's
	// Issuer and Identifier is already recorded (live or cancelled), and
	// ErrFull when the store is at its bound: a store never evicts a
	// live context to make room. A context that fails c.Validate is
	// refused with an error wrapping ErrInvalid and recorded nowhere.
	Issue(ctx context.Context, c *Context) error
	// Get returns the context issuer/identifier, live or within its renew
	// grace (Expires passed, RenewUntil not yet). It returns ErrNotFound
	// for one never issued or past its Retention, and ErrCancelled for one
	// cancelled before its Retention.
	Get(ctx context.Context, issuer, identifier string) (*Context, error)
	// Renew replaces the context next.Issuer/next.Identifier with next,
	// only if its current Instance is oldInstance (compare and swap): of
	// two concurrent renewals of one instance exactly one succeeds, the
	// other gets ErrConflict. A context within its renew grace may be
	// renewed; a renewal of an unknown context, one past its Retention, or
	// a cancelled one gets ErrNotFound or ErrCancelled. next must pass
	// Validate and carry a new Instance (next.Instance == oldInstance is
	// ErrInvalid: it would let a second renewal of the same instance
	// succeed); its Expires and RenewUntil, not the old ones, then bound
	// the context's life and that of its record and tombstone.
	Renew(ctx context.Context, oldInstance string, next *Context) error
	// Cancel ends the context issuer/identifier before its Retention (a
	// context within its renew grace may be cancelled). The store
	// remembers the cancellation until the record's Retention (a
	// tombstone), so that Get and Issue tell it apart. Cancelling an
	// unknown context or one past its Retention gets ErrNotFound; a second
	// cancel gets ErrCancelled.
	Cancel(ctx context.Context, issuer, identifier string) error
	// Close releases the store's resources.
	Close() error
}

var (
	// ErrNotFound reports a context never issued, or past its Retention
	// (its renew grace included).
	ErrNotFound = errors.New("sct: no such security context")
	// ErrCancelled reports a context that was cancelled.
	ErrCancelled = errors.New("sct: security context cancelled")
	// ErrExists reports an Identifier already in use.
	ErrExists = errors.New("sct: security context already exists")
	// ErrConflict reports a renewal that lost a race with another.
	ErrConflict = errors.New("sct: security context renewed concurrently")
	// ErrFull reports a store at its bound.
	ErrFull = errors.New("sct: store full")
	// ErrInvalid reports a Context that Validate refuses (a caller's bug,
	// not a client's mistake).
	ErrInvalid = errors.New("sct: invalid security context")
)

// Bounds that Validate enforces, so that every store keeps records of a
// bounded size.
const (
	MinKeyLen        = 16
	MaxKeyLen        = 64
	MaxIssuerLen     = 256
	MaxIdentifierLen = 1024 // Identifier and Instance
	// MaxSubjectBytes bounds the Subject: the sum of the lengths of its
	// strings (principal, realm, method, groups, attribute names and
	// values), plus 16 bytes for each group and attribute value.
	MaxSubjectBytes = 32 << 10
	// MaxRenewGrace bounds RenewUntil - Expires: a record outlives its
	// context by at most a week.
	MaxRenewGrace = 7 * 24 * time.Hour
)

// Retention is when the store forgets c: RenewUntil when it is after
// Expires, else Expires.
func (c *Context) Retention() time.Time {
	if c.RenewUntil.After(c.Expires) {
		return c.RenewUntil
	}
	return c.Expires
}

// Expired reports whether c's Expires has come at now: a message signed
// with it is refused (wsc:RenewNeeded) though the store still holds it.
func (c *Context) Expired(now time.Time) bool { return !now.Before(c.Expires) }

// Validate checks that c can be recorded at now: Issuer, Identifier,
// Instance and Subject.Principal set and within their bounds, a Key of
// MinKeyLen..MaxKeyLen bytes, Expires after now and not before Created
// (which may be zero), RenewUntil zero or not before Expires and at most
// MaxRenewGrace after it. Errors wrap ErrInvalid.
func (c *Context) Validate(now time.Time) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case c == nil:
		return bad("nil context")
	case c.Issuer == "" || len(c.Issuer) > MaxIssuerLen:
		return bad("issuer of %d bytes, want 1..%d", len(c.Issuer), MaxIssuerLen)
	case c.Identifier == "" || len(c.Identifier) > MaxIdentifierLen:
		return bad("identifier of %d bytes, want 1..%d", len(c.Identifier), MaxIdentifierLen)
	case c.Instance == "" || len(c.Instance) > MaxIdentifierLen:
		return bad("instance of %d bytes, want 1..%d", len(c.Instance), MaxIdentifierLen)
	case len(c.Key) < MinKeyLen || len(c.Key) > MaxKeyLen:
		return bad("key of %d bytes, want %d..%d", len(c.Key), MinKeyLen, MaxKeyLen)
	case !c.Expires.After(now):
		return bad("expires %s, not after now (%s)", c.Expires.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	case !c.Created.IsZero() && c.Created.After(c.Expires):
		return bad("created after it expires")
	case !c.RenewUntil.IsZero() && c.RenewUntil.Before(c.Expires):
		return bad("renew grace ends before the context expires")
	case !c.RenewUntil.IsZero() && c.RenewUntil.Sub(c.Expires) > MaxRenewGrace:
		return bad("renew grace of %s, more than %s", c.RenewUntil.Sub(c.Expires), MaxRenewGrace)
	case c.Subject.Principal == "":
		return bad("no subject principal")
	}
	if n := c.Subject.size(); n > MaxSubjectBytes {
		return bad("subject of about %d bytes, more than %d", n, MaxSubjectBytes)
	}
	return nil
}

func (s *Subject) size() int {
	n := len(s.Principal) + len(s.Realm) + len(s.Method)
	for _, g := range s.Groups {
		n += 16 + len(g)
	}
	for k, vs := range s.Attributes {
		n += 16 + len(k)
		for _, v := range vs {
			n += 16 + len(v)
		}
	}
	return n
}

// Clone returns a deep copy of c: its Key, Groups and Attributes share
// nothing with c's.
func (c *Context) Clone() *Context {
	if c == nil {
		return nil
	}
	d := *c
	d.Key = append([]byte(nil), c.Key...)
	d.Subject = c.Subject.Clone()
	return &d
}

// Clone returns a deep copy of s.
func (s Subject) Clone() Subject {
	d := s
	if s.Groups != nil {
		d.Groups = append([]string(nil), s.Groups...)
	}
	if s.Attributes != nil {
		d.Attributes = make(map[string][]string, len(s.Attributes))
		for k, vs := range s.Attributes {
			d.Attributes[k] = append([]string(nil), vs...)
		}
	}
	return d
}
