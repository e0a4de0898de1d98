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
