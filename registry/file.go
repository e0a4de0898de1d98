package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync/atomic"

	"go.yaml.in/yaml/v3"
)

// FileUser is one user in a users file.
//
//	users:
//	  - name: alice
//	    password_hash: "$argon2id$v=19$m=19456,t=2,p=1$..."   # from 'authsvc hash-password'
//	    digest_secret: "wonderland"   # only for PasswordDigest / derived keys
//	    groups: [soap-users]
//	    attributes:
//	      mail: [alice@example.test]
//
// digest_secret is a password-equivalent: the PasswordDigest scheme and
// UsernameToken key derivation need the server to hold the password itself
// (or what the client hashes in its place). Anyone who reads it can log in as
// the user, so give it only to users who need those schemes, and keep the
// file readable by the service alone.
type FileUser struct {
	Name         string              `yaml:"name"`
	PasswordHash string              `yaml:"password_hash"`
	DigestSecret string              `yaml:"digest_secret"`
	Groups       []string            `yaml:"groups"`
	Attributes   map[string][]string `yaml:"attributes"`
	Disabled     bool                `yaml:"disabled"`
}

type fileDoc struct {
	Users []FileUser `yaml:"users"`
}

type fileEntry struct {
	user   User
	hash   hash // nil: no PasswordText for this user
	secret []byte
}

type fileData struct {
	users map[string]*fileEntry
	dummy hash // hashed when the user is unknown, so that costs the same
}

// File is a registry read from a YAML users file. It implements Passwords,
// Secrets and Directory, and can be reloaded while in use.
type File struct {
	path   string
	data   atomic.Pointer[fileData]
	hasher *hasher
}

var (
	_ Passwords = (*File)(nil)
	_ Secrets   = (*File)(nil)
	_ Directory = (*File)(nil)
)

// FileConfig is the configuration section of a users file (registry type
// file):
//
//	registries:
//	  users:
//	    type: file
//	    path: users.yaml
type FileConfig struct {
	// Path is the users file; a relative path is taken from the
	// configuration file's directory.
	Path string `yaml:"path"`
}

// Validate checks the section.
func (c *FileConfig) Validate() error {
	if c.Path == "" {
		return errors.New("path is required")
	}
	return nil
}

// OpenFile reads a users file.
func OpenFile(path string) (*File, error) {
	f := &File{path: path, hasher: newHasher(2 * runtime.GOMAXPROCS(0))}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Reload reads the file again; on error the registry keeps its old content.
func (f *File) Reload() error {
	raw, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	d, err := parseUsers(raw)
	if err != nil {
		return fmt.Errorf("registry: %s: %w", f.path, err)
	}
	f.data.Store(d)
	return nil
}

// Path returns the file the registry reads.
func (f *File) Path() string { return f.path }

func parseUsers(raw []byte) (*fileData, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var doc fileDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	d := &fileData{users: make(map[string]*fileEntry, len(doc.Users))}
	for i, u := range doc.Users {
		if u.Name == "" {
			return nil, fmt.Errorf("users[%d]: name is empty", i)
		}
		if _, dup := d.users[u.Name]; dup {
			return nil, fmt.Errorf("users[%d]: user %q is listed twice", i, u.Name)
		}
		if u.PasswordHash == "" && u.DigestSecret == "" {
			return nil, fmt.Errorf("users[%d] (%s): needs password_hash or digest_secret", i, u.Name)
		}
		if u.Disabled {
			continue
		}
		e := &fileEntry{user: User{Name: u.Name, Groups: slices.Clone(u.Groups), Attributes: u.Attributes}}
		if u.PasswordHash != "" {
			h, err := parseHash(u.PasswordHash)
			if err != nil {
				return nil, fmt.Errorf("users[%d] (%s): password_hash: %v", i, u.Name, err)
			}
			e.hash = h
			if d.dummy == nil {
				d.dummy = dummyLike(h)
			}
		}
		if u.DigestSecret != "" {
			e.secret = []byte(u.DigestSecret)
		}
		d.users[u.Name] = e
	}
	if d.dummy == nil {
		d.dummy = dummyLike(nil)
	}
	return d, nil
}

// dummyLike returns a hash with the same cost as h, of a random password.
func dummyLike(h hash) hash {
	switch h := h.(type) {
	case *argonHash:
		d := *h
		d.salt = []byte("authsvc-dummy-salt")
		return &d
	case bcryptHash:
		return h // comparing a wrong password costs the same as a right one
	}
	s, _ := HashPassword("authsvc dummy password", DefaultArgon2)
	d, _ := parseHash(s)
	return d
}

// VerifyPassword implements Passwords.
func (f *File) VerifyPassword(ctx context.Context, name, password string) (*User, bool, error) {
	d := f.data.Load()
	e, ok := d.users[name]
	if !ok || e.hash == nil || password == "" {
		// Burn the same CPU as a real check, and say no.
		if _, err := f.hasher.verify(ctx, d.dummy, password+"\x00"); err != nil {
			return nil, false, err
		}
		return nil, false, nil
	}
	good, err := f.hasher.verify(ctx, e.hash, password)
	if err != nil || !good {
		return nil, false, err
	}
	return e.user.copy(), true, nil
}

// LookupSecret implements Secrets.
func (f *File) LookupSecret(_ context.Context, name string) ([]byte, *User, error) {
	e, ok := f.data.Load().users[name]
	if !ok || e.secret == nil {
		return nil, nil, ErrNotFound
	}
	return e.secret, e.user.copy(), nil
}

// LookupUser implements Directory.
func (f *File) LookupUser(_ context.Context, name string) (*User, error) {
	e, ok := f.data.Load().users[name]
	if !ok {
		return nil, ErrNotFound
	}
	return e.user.copy(), nil
}

// Check implements health.Checker: a loaded file is always ready.
func (f *File) Check(context.Context) error { return nil }

func (u *User) copy() *User {
	c := *u
	c.Groups = slices.Clone(u.Groups)
	return &c
}
