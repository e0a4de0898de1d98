// Package registry answers questions about users: does this password belong
// to this user, what is the user's password-equivalent secret (for
// PasswordDigest and derived keys), which groups and attributes does a user
// have. The file registry lives here; directory-backed ones in subpackages.
//
// The three questions are separate interfaces because not every store can
// answer each: an LDAP directory checks a password by binding but holds no
// password-equivalent, so it cannot serve PasswordDigest.
package registry

import (
	"context"
	"errors"
	"io"

	"github.com/authsvc/authsvc/health"
)

// User is what a registry knows of a user.
type User struct {
	Name       string
	Realm      string
	Groups     []string
	Attributes map[string][]string
}

// Passwords verifies cleartext passwords.
type Passwords interface {
	// VerifyPassword returns the user and true when the password is right;
	// (nil, false, nil) when the user is unknown or the password wrong (the
	// two cost the same time and are not told apart); an error only for a
	// technical failure.
	VerifyPassword(ctx context.Context, name, password string) (*User, bool, error)
}

// Secrets returns password-equivalent secrets.
type Secrets interface {
	// LookupSecret returns the secret the user's digests and derived keys
	// are computed from, or ErrNotFound when the user is unknown or has no
	// such secret.
	LookupSecret(ctx context.Context, name string) ([]byte, *User, error)
}

// Directory looks up users that another module has authenticated.
type Directory interface {
	// LookupUser returns the user or ErrNotFound.
	LookupUser(ctx context.Context, name string) (*User, error)
}

// ErrNotFound reports an unknown user (or one without the asked-for secret).
var ErrNotFound = errors.New("registry: user not found")

// Set is what an opened registry offers, typed: each question it can answer
// and its lifecycle. A nil field is something the registry cannot do (an
// LDAP directory has no Secrets). Modules take the capabilities they need
// from a Set instead of asserting interfaces on an untyped value.
type Set struct {
	Passwords Passwords
	Secrets   Secrets
	Directory Directory
	// Health, if set, decides readiness.
	Health health.Checker
	// Reloader, if set, re-reads the registry's source (SIGHUP).
	Reloader Reloader
	// Closer, if set, releases the registry at shutdown.
	Closer io.Closer
}

// Reloader is implemented by registries that can re-read their source.
type Reloader interface {
	Reload() error
}

// Set returns the file registry's capabilities: all three questions, and
// reloading.
func (f *File) Set() Set {
	return Set{Passwords: f, Secrets: f, Directory: f, Health: f, Reloader: f}
}
