// Package keytabs loads Kerberos keytabs (the MIT file format that ktutil,
// kadmin and ktpass write), picks the key for a ticket by principal, kvno and
// encryption type, keeps old kvnos working during a key rotation, and reloads
// the files when they change without dropping requests.
//
// Key material never leaves this package except as the EncryptionKey that
// decrypts a ticket; nothing here logs or prints it.
package keytabs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Entry is one key of a keytab.
type Entry struct {
	// Components are the principal's name components ("HTTP", "localhost").
	Components []string
	Realm      string
	NameType   int32
	Timestamp  time.Time
	// KVNO is the key version: the 32-bit field when present, else the
	// 8-bit one.
	KVNO  uint32
	EType int32
	key   []byte
}

// Principal returns name@REALM.
func (e *Entry) Principal() string { return strings.Join(e.Components, "/") + "@" + e.Realm }

// Name returns the principal without the realm.
func (e *Entry) Name() string { return strings.Join(e.Components, "/") }

// MaxFileSize bounds a keytab file (a keytab of a thousand keys is ~100 KiB).
const MaxFileSize = 16 << 20

// ErrFormat reports a file that is not a keytab.
var ErrFormat = errors.New("keytabs: not a keytab")

// Parse reads a keytab in the MIT format, versions 1 and 2.
func Parse(b []byte) ([]Entry, error) {
	if len(b) < 2 || b[0] != 5 || (b[1] != 1 && b[1] != 2) {
		return nil, fmt.Errorf("%w: bad header", ErrFormat)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrFormat, MaxFileSize)
	}
	v1 := b[1] == 1
	// Version 1 is in the writer's native order; every platform that
	// still writes it is little-endian, as is every one we run on.
	var order binary.ByteOrder = binary.BigEndian
	if v1 {
		order = binary.LittleEndian
	}
	var out []Entry
	p := 2
	for len(b)-p >= 4 {
		size := int32(order.Uint32(b[p:]))
		p += 4
		if size == 0 {
			break
		}
		if size < 0 { // a hole left by a deleted entry
			// Negate in 64 bits: -math.MinInt32 does not fit in an int32.
			hole := -int64(size)
			if hole > int64(len(b)-p) {
				return nil, fmt.Errorf("%w: hole runs past the end", ErrFormat)
			}
			p += int(hole)
			continue
		}
		if int64(size) > int64(len(b)-p) {
			return nil, fmt.Errorf("%w: entry at offset %d runs past the end", ErrFormat, p-4)
		}
		e, err := parseEntry(b[p:p+int(size)], order, v1)
		if err != nil {
			return nil, fmt.Errorf("%w: entry at offset %d: %w", ErrFormat, p-4, err)
		}
		out = append(out, e)
		p += int(size)
	}
	return out, nil
}

type reader struct {
	b     []byte
	order binary.ByteOrder
	err   error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return r.order.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return r.order.Uint32(v)
	}
	return 0
}

func (r *reader) str() string { return string(r.take(int(r.u16()))) }

func parseEntry(b []byte, order binary.ByteOrder, v1 bool) (Entry, error) {
	r := &reader{b: b, order: order}
	n := int(r.u16())
	if v1 {
		n-- // version 1 counts the realm as a component
	}
	if n <= 0 || n > 16 {
		return Entry{}, fmt.Errorf("%d name components", n)
	}
	var e Entry
	e.Realm = r.str()
	for range n {
		e.Components = append(e.Components, r.str())
	}
	if !v1 {
		e.NameType = int32(r.u32())
	}
	e.Timestamp = time.Unix(int64(r.u32()), 0)
	kv8 := r.take(1)
	e.EType = int32(int16(r.u16()))
	e.key = append([]byte(nil), r.take(int(r.u16()))...)
	if r.err != nil {
		return Entry{}, r.err
	}
	if kv8 != nil {
		e.KVNO = uint32(kv8[0])
	}
	if len(r.b) >= 4 {
		if k := r.u32(); k != 0 {
			e.KVNO = k
		}
	}
	if len(e.key) == 0 {
		return Entry{}, errors.New("empty key")
	}
	return e, nil
}

// Load reads and parses a keytab file.
func Load(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keytabs: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keytabs: %w", err)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("keytabs: %s: %w: larger than %d bytes", path, ErrFormat, MaxFileSize)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("keytabs: reading %s: %w", path, err)
	}
	es, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("keytabs: %s: %w", path, err)
	}
	return es, nil
}

// ETypeName returns the MIT name of an encryption type.
func ETypeName(etype int32) string {
	switch etype {
	case 1:
		return "des-cbc-crc"
	case 3:
		return "des-cbc-md5"
	case 16:
		return "des3-cbc-sha1"
	case 17:
		return "aes128-cts-hmac-sha1-96"
	case 18:
		return "aes256-cts-hmac-sha1-96"
	case 19:
		return "aes128-cts-hmac-sha256-128"
	case 20:
		return "aes256-cts-hmac-sha384-192"
	case 23:
		return "arcfour-hmac"
	case 24:
		return "arcfour-hmac-exp"
	case 25:
		return "camellia128-cts-cmac"
	case 26:
		return "camellia256-cts-cmac"
	}
	return "etype " + strconv.Itoa(int(etype))
}
