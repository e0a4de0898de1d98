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
	// Created and Expires bound the context's life.
	Created, Expires time.Time
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
// cannot be reached; callers fail closed on it.
type Store interface {
	// Issue records c. It returns ErrExists when a context with c's
	// Issuer and Identifier is already recorded (live or cancelled), and
	// ErrFull when the store is at its bound: a store never evicts a
	// live context to make room.
	Issue(ctx context.Context, c *Context) error
	// Get returns the live context issuer/identifier. It returns
	// ErrNotFound for one never issued or already expired, and
	// ErrCancelled for one cancelled before its expiry.
	Get(ctx context.Context, issuer, identifier string) (*Context, error)
	// Renew replaces the context next.Issuer/next.Identifier with next,
	// only if its current Instance is oldInstance (compare and swap): of
	// two concurrent renewals of one instance exactly one succeeds, the
	// other gets ErrConflict. A renewal of an unknown, expired or
	// cancelled context gets ErrNotFound or ErrCancelled.
	Renew(ctx context.Context, oldInstance string, next *Context) error
	// Cancel ends the context issuer/identifier before its expiry. The
	// store remembers the cancellation until the context would have
	// expired (a tombstone), so that Get and Issue tell it apart.
	// Cancelling an unknown or expired context gets ErrNotFound; a second
	// cancel gets ErrCancelled.
	Cancel(ctx context.Context, issuer, identifier string) error
	// Close releases the store's resources.
	Close() error
}

var (
	// ErrNotFound reports a context never issued, or expired.
	ErrNotFound = errors.New("sct: no such security context")
	// ErrCancelled reports a context that was cancelled.
	ErrCancelled = errors.New("sct: security context cancelled")
	// ErrExists reports an Identifier already in use.
	ErrExists = errors.New("sct: security context already exists")
	// ErrConflict reports a renewal that lost a race with another.
	ErrConflict = errors.New("sct: security context renewed concurrently")
	// ErrFull reports a store at its bound.
	ErrFull = errors.New("sct: store full")
)
