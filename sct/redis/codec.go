package redis

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/sct"
)

// The value of a Redis key is one of two envelopes.
//
// A record:
//
//	'R' 0x01 | SHA-256(Instance) [32] | len(key id) [1] | key id | nonce [12] | AES-GCM(plaintext) with its tag [16]
//
// The plaintext is the JSON of a record (every field of the sct.Context).
// The GCM additional data is recordAAD, the Redis key and the header (every
// byte before the nonce): a record moved under another Redis key, or with
// another instance hash or key id, does not decrypt. The instance hash is
// in clear so that the renewal script can compare it without a key.
//
// A tombstone (a cancelled context): 'X' 0x01. It carries nothing else:
// no secret, no Subject.
const (
	kindRecord    = 'R'
	kindTombstone = 'X'
	version       = 0x01

	hashLen   = sha256.Size
	nonceLen  = 12
	tagLen    = 16
	headerMin = 2 + hashLen + 1 // before the key id

	// maxValueLen bounds what a Get will try to decode: a record of the
	// largest context sct.Validate accepts is well under it.
	maxValueLen = 256 << 10
)

const recordAAD = "authsvc/sct/redis/v1\x00"

var tombstone = string([]byte{kindTombstone, version})

// ErrCorrupt reports a record that cannot be read: malformed, tampered
// with, moved under another key, or encrypted under a key id that is not in
// the keyring. Errors wrapping it also wrap health.ErrUnavailable: the
// context cannot be used (fail closed), and an operator must look.
var ErrCorrupt = errors.New("sct/redis: unreadable record")

// keyring holds the AEADs by key id, and which one writes.
type keyring struct {
	aeads map[string]cipher.AEAD
	write string
}

func newKeyring(keys map[string][]byte, write string) (*keyring, error) {
	r := &keyring{aeads: make(map[string]cipher.AEAD, len(keys)), write: write}
	for id, k := range keys {
		if err := checkKeyID(id); err != nil {
			return nil, fmt.Errorf("sct/redis: key id: %v", err)
		}
		b, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("sct/redis: key %q: %w", id, err)
		}
		g, err := cipher.NewGCM(b)
		if err != nil {
			return nil, fmt.Errorf("sct/redis: key %q: %w", id, err)
		}
		r.aeads[id] = g
	}
	if r.aeads[write] == nil {
		return nil, fmt.Errorf("sct/redis: write_key %q is not in the keyring", write)
	}
	return r, nil
}

// plain is the encrypted part of a record.
type plain struct {
	Identifier string      `json:"id"`
	Instance   string      `json:"in"`
	Issuer     string      `json:"is"`
	Key        []byte      `json:"k"`
	Created    time.Time   `json:"c"`
	Expires    time.Time   `json:"e"`
	Subject    sct.Subject `json:"s"`
}

func instanceHash(instance string) []byte {
	h := sha256.Sum256([]byte(instance))
	return h[:]
}

// seal returns the record envelope of c under the Redis key rkey.
func (r *keyring) seal(rkey string, c *sct.Context) ([]byte, error) {
	pt, err := json.Marshal(plain{c.Identifier, c.Instance, c.Issuer, c.Key, c.Created, c.Expires, c.Subject})
	if err != nil {
		return nil, fmt.Errorf("sct/redis: encoding the record: %w", err)
	}
	defer clear(pt)
	g := r.aeads[r.write]
	id := r.write
	out := make([]byte, 0, headerMin+len(id)+nonceLen+len(pt)+tagLen)
	out = append(out, kindRecord, version)
	out = append(out, instanceHash(c.Instance)...)
	out = append(out, byte(len(id)))
	out = append(out, id...)
	header := len(out)
	nonce := out[header : header+nonceLen]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sct/redis: nonce: %w", err)
	}
	out = out[:header+nonceLen]
	return g.Seal(out, nonce, pt, aad(rkey, out[:header])), nil
}

func aad(rkey string, header []byte) []byte {
	a := make([]byte, 0, len(recordAAD)+len(rkey)+1+len(header))
	a = append(a, recordAAD...)
	a = append(a, rkey...)
	a = append(a, 0)
	return append(a, header...)
}

// open decodes the value v of the Redis key rkey, asked for as
// issuer/identifier. It returns sct.ErrCancelled for a tombstone, and an
// error wrapping ErrCorrupt for anything it cannot authenticate or that
// does not match what was asked; never a context it did not decrypt.
func (r *keyring) open(rkey string, v []byte, issuer, identifier string) (*sct.Context, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	switch {
	case len(v) == len(tombstone) && string(v) == tombstone:
		return nil, sct.ErrCancelled
	case len(v) > maxValueLen:
		return nil, corrupt("%d bytes, more than %d", len(v), maxValueLen)
	case len(v) < headerMin+1+nonceLen+tagLen:
		return nil, corrupt("%d bytes, too short", len(v))
	case v[0] != kindRecord || v[1] != version:
		return nil, corrupt("unknown kind or version %#x %#x", v[0], v[1])
	}
	idLen := int(v[headerMin-1])
	header := headerMin + idLen
	if idLen == 0 || idLen > MaxKeyIDLen || len(v) < header+nonceLen+tagLen {
		return nil, corrupt("bad key id length %d for %d bytes", idLen, len(v))
	}
	id := string(v[headerMin:header])
	g := r.aeads[id]
	if g == nil {
		return nil, corrupt("encrypted under key id %q, which is not in the keyring (keys)", id)
	}
	nonce := v[header : header+nonceLen]
	pt, err := g.Open(nil, nonce, v[header+nonceLen:], aad(rkey, v[:header]))
	if err != nil {
		return nil, corrupt("does not authenticate under key id %q (tampered with, or moved from another key)", id)
	}
	defer clear(pt)
	var p plain
	if err := json.Unmarshal(pt, &p); err != nil {
		return nil, corrupt("authenticated but not a record: %v", err)
	}
	c := &sct.Context{Identifier: p.Identifier, Instance: p.Instance, Issuer: p.Issuer, Key: p.Key,
		Created: p.Created, Expires: p.Expires, Subject: p.Subject}
	switch {
	case c.Issuer != issuer || c.Identifier != identifier:
		clear(c.Key)
		return nil, corrupt("authenticated record names another context")
	case subtle.ConstantTimeCompare(instanceHash(c.Instance), v[2:2+hashLen]) != 1:
		clear(c.Key)
		return nil, corrupt("instance does not match its hash")
	}
	return c, nil
}
