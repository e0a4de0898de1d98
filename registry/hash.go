package registry

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2Params are the argon2id cost parameters of a new hash.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 follows the OWASP recommendation for argon2id
// (19 MiB, 2 passes, 1 lane).
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Upper bounds on the cost of a stored hash, so that a bad users file cannot
// make one login take gigabytes of memory.
const (
	maxArgonMemory  = 1 << 20 // 1 GiB in KiB
	maxArgonTime    = 20
	maxArgonThreads = 16
)

// HashPassword returns an argon2id hash in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
func HashPassword(password string, p Argon2Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// hash is a parsed password hash.
type hash interface {
	verify(password string) bool
}

type argonHash struct {
	p          Argon2Params
	salt, hash []byte
}

func (h *argonHash) verify(password string) bool {
	sum := argon2.IDKey([]byte(password), h.salt, h.p.Time, h.p.Memory, h.p.Threads, uint32(len(h.hash)))
	return subtle.ConstantTimeCompare(sum, h.hash) == 1
}

type bcryptHash []byte

func (h bcryptHash) verify(password string) bool {
	return bcrypt.CompareHashAndPassword(h, []byte(password)) == nil
}

// parseHash accepts argon2id PHC strings and bcrypt ($2a$, $2b$, $2y$).
func parseHash(s string) (hash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		parts := strings.Split(s, "$")
		if len(parts) != 6 || parts[2] != "v="+strconv.Itoa(argon2.Version) {
			return nil, errors.New("malformed argon2id hash (want $argon2id$v=19$m=..,t=..,p=..$salt$hash)")
		}
		var h argonHash
		var m, t, p uint64
		if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
			return nil, fmt.Errorf("malformed argon2id parameters %q", parts[3])
		}
		if m < 8 || m > maxArgonMemory || t < 1 || t > maxArgonTime || p < 1 || p > maxArgonThreads {
			return nil, fmt.Errorf("argon2id parameters %q out of range", parts[3])
		}
		h.p = Argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p)}
		var err error
		if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
			return nil, errors.New("malformed argon2id salt")
		}
		if h.hash, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.hash) < 16 {
			return nil, errors.New("malformed argon2id hash value")
		}
		return &h, nil
	case strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return nil, fmt.Errorf("malformed bcrypt hash: %v", err)
		}
		return bcryptHash(s), nil
	}
	return nil, errors.New("unknown password hash format (want argon2id or bcrypt; see 'authsvc hash-password')")
}

// hasher bounds how many password hashes run at once: each argon2id hash
// takes its memory cost, and a burst of logins must not exhaust the machine.
type hasher struct{ sem chan struct{} }

func newHasher(n int) *hasher { return &hasher{sem: make(chan struct{}, n)} }

func (h *hasher) verify(ctx context.Context, hs hash, password string) (bool, error) {
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-h.sem }()
	return hs.verify(password), nil
}
