package redis

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/sct"
)

// The value of a Redis key is one of two envelopes.
//
// A record:
//
//	'R' 0x02 | SHA-256(Instance) [32] | len(key id) [1] | key id | nonce [12] | AES-GCM(plaintext) with its tag [16]
//
// The plaintext is every field of the sct.Context, length-prefixed (see
// marshal): strings are bytes, kept exactly (JSON would replace invalid
// UTF-8, and a Kerberos name need not be UTF-8).
// The GCM additional data is recordAAD, the Redis key and the header (every
// byte before the nonce): a record moved under another Redis key, or with
// another instance hash or key id, does not decrypt. The instance hash is
// in clear so that the renewal script can compare it without a key.
//
// A tombstone (a cancelled context): 'X' 0x02. It carries nothing else:
// no secret, no Subject.
const (
	kindRecord    = 'R'
	kindTombstone = 'X'
	version       = 0x02 // 0x02: RenewUntil in the plaintext (0x01, without it, was never deployed)

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

func instanceHash(instance string) []byte {
	h := sha256.Sum256([]byte(instance))
	return h[:]
}

// seal returns the record envelope of c under the Redis key rkey.
func (r *keyring) seal(rkey string, c *sct.Context) ([]byte, error) {
	pt := marshal(c)
	defer clear(pt)
	if len(pt) > maxValueLen-(headerMin+MaxKeyIDLen+nonceLen+tagLen) {
		return nil, fmt.Errorf("%w: a record of %d bytes", sct.ErrInvalid, len(pt))
	}
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
	c, err := unmarshal(pt)
	if err != nil {
		return nil, corrupt("authenticated but not a record: %v", err)
	}
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

// marshal encodes c: Identifier, Instance, Issuer, Key as uvarint length
// and bytes; Created, Expires and RenewUntil as varint Unix seconds and
// uvarint nanoseconds; the Subject's Principal, Realm, Method; the number of
// groups and each group; the number of attributes and, for each, its name,
// the number of values and each value.
func marshal(c *sct.Context) []byte {
	s := &c.Subject
	n := 64 + len(c.Identifier) + len(c.Instance) + len(c.Issuer) + len(c.Key) + len(s.Principal) + len(s.Realm) + len(s.Method)
	for _, g := range s.Groups {
		n += binary.MaxVarintLen32 + len(g)
	}
	for k, vs := range s.Attributes {
		n += 2*binary.MaxVarintLen32 + len(k)
		for _, v := range vs {
			n += binary.MaxVarintLen32 + len(v)
		}
	}
	b := make([]byte, 0, n)
	str := func(v string) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	tm := func(t time.Time) {
		b = binary.AppendVarint(b, t.Unix())
		b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	}
	str(c.Identifier)
	str(c.Instance)
	str(c.Issuer)
	b = binary.AppendUvarint(b, uint64(len(c.Key)))
	b = append(b, c.Key...)
	tm(c.Created)
	tm(c.Expires)
	tm(c.RenewUntil)
	str(s.Principal)
	str(s.Realm)
	str(s.Method)
	b = binary.AppendUvarint(b, uint64(len(s.Groups)))
	for _, g := range s.Groups {
		str(g)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Attributes)))
	for k, vs := range s.Attributes {
		str(k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			str(v)
		}
	}
	return b
}

// unmarshal decodes what marshal encoded. Every length and count is checked
// against the bytes that remain, so no input makes it allocate more than
// its length or panic.
func unmarshal(b []byte) (*sct.Context, error) {
	errShort := errors.New("truncated")
	var err error
	uv := func() uint64 {
		if err != nil {
			return 0
		}
		v, n := binary.Uvarint(b)
		if n <= 0 {
			err = errShort
			return 0
		}
		b = b[n:]
		return v
	}
	raw := func() []byte {
		l := uv()
		if err != nil {
			return nil
		}
		if l > uint64(len(b)) {
			err = errShort
			return nil
		}
		v := b[:l:l]
		b = b[l:]
		return v
	}
	str := func() string { return string(raw()) }
	count := func() int {
		l := uv()
		if l > uint64(len(b)) { // every element takes at least one byte
			err = errShort
			return 0
		}
		return int(l)
	}
	tm := func() time.Time {
		if err != nil {
			return time.Time{}
		}
		sec, n := binary.Varint(b)
		if n <= 0 {
			err = errShort
			return time.Time{}
		}
		b = b[n:]
		ns := uv()
		if ns >= 1e9 {
			err = errors.New("bad nanoseconds")
		}
		if err != nil {
			return time.Time{}
		}
		return time.Unix(sec, int64(ns)).UTC()
	}
	c := &sct.Context{}
	c.Identifier = str()
	c.Instance = str()
	c.Issuer = str()
	c.Key = append([]byte(nil), raw()...)
	c.Created = tm()
	c.Expires = tm()
	c.RenewUntil = tm()
	s := &c.Subject
	s.Principal = str()
	s.Realm = str()
	s.Method = str()
	if n := count(); n > 0 {
		s.Groups = make([]string, n)
		for i := range s.Groups {
			s.Groups[i] = str()
		}
	}
	if n := count(); n > 0 {
		s.Attributes = make(map[string][]string, n)
		for i := 0; i < n && err == nil; i++ {
			k := str()
			var vs []string
			if m := count(); m > 0 {
				vs = make([]string, m)
				for j := range vs {
					vs[j] = str()
				}
			}
			if _, dup := s.Attributes[k]; dup {
				err = errors.New("attribute twice")
			}
			s.Attributes[k] = vs
		}
	}
	if err == nil && len(b) != 0 {
		err = errors.New("trailing bytes")
	}
	if err != nil {
		clear(c.Key)
		return nil, err
	}
	return c, nil
}
