package kerberos

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"errors"
	"hash"
	"sync"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/common"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// sessionKeys holds the keys derived (RFC 3961 5.3) from a ticket's session
// key for the two usages every request needs: decrypting the authenticator
// (11) and encrypting the AP-REP (12). gokrb5 derives them again for every
// message (a DeriveKey with its bit-by-bit n-fold costs more than the AES
// and HMAC work itself); they are derived once per ticket and kept with the
// cached ticket. Only aes*-cts-hmac-sha1-96 (RFC 3962) takes this path; any
// other enctype goes through gokrb5's EncryptMessage/DecryptMessage. The
// AES key schedules are made once too, and the HMACs (which hold their
// keyed state) are pooled: requests with the same ticket run concurrently.
type sessionKeys struct {
	e                etype.EType
	keyType          int32
	authKe, authKi   []byte // usage 11
	replyKe, replyKi []byte // usage 12
	authBlock        cipher.Block
	replyBlock       cipher.Block
	authMAC          sync.Pool // of hash.Hash: HMAC keyed with authKi
	replyMAC         sync.Pool // keyed with replyKi
}

// newSessionKeys derives the keys, or returns nil for an enctype this fast
// path does not handle.
func newSessionKeys(k types.EncryptionKey) *sessionKeys {
	if k.KeyType != etypeID.AES128_CTS_HMAC_SHA1_96 && k.KeyType != etypeID.AES256_CTS_HMAC_SHA1_96 {
		return nil
	}
	e, err := crypto.GetEtype(k.KeyType)
	if err != nil || len(k.KeyValue) != e.GetKeyByteSize() {
		return nil
	}
	s := &sessionKeys{e: e, keyType: k.KeyType}
	for _, d := range []struct {
		dst   *[]byte
		usage []byte
	}{
		{&s.authKe, common.GetUsageKe(keyusage.AP_REQ_AUTHENTICATOR)},
		{&s.authKi, common.GetUsageKi(keyusage.AP_REQ_AUTHENTICATOR)},
		{&s.replyKe, common.GetUsageKe(keyusage.AP_REP_ENCPART)},
		{&s.replyKi, common.GetUsageKi(keyusage.AP_REP_ENCPART)},
	} {
		if *d.dst, err = e.DeriveKey(k.KeyValue, d.usage); err != nil {
			return nil
		}
	}
	if s.authBlock, err = aes.NewCipher(s.authKe); err != nil {
		return nil
	}
	if s.replyBlock, err = aes.NewCipher(s.replyKe); err != nil {
		return nil
	}
	s.authMAC.New = func() any { return hmac.New(e.GetHashFunc(), s.authKi) }
	s.replyMAC.New = func() any { return hmac.New(e.GetHashFunc(), s.replyKi) }
	return s
}

// mac appends the HMAC of msg, with a keyed hash from pool, to dst.
func mac(pool *sync.Pool, dst, msg []byte) []byte {
	h := pool.Get().(hash.Hash)
	h.Reset()
	h.Write(msg)
	dst = h.Sum(dst)
	pool.Put(h)
	return dst
}

var errIntegrity = errors.New("integrity verification failed")

// decrypt is gokrb5's DecryptMessage for usage 11 with the derived keys:
// AES-CTS with a zero IV, then HMAC-SHA1-96 over confounder and plaintext,
// compared in constant time.
func (s *sessionKeys) decryptAuthenticator(ct []byte) ([]byte, error) {
	h := s.e.GetHMACBitLength() / 8
	c := s.e.GetConfounderByteSize()
	if len(ct) < h+c { // c is one AES block: ctsDecrypt's minimum
		return nil, errors.New("ciphertext too short")
	}
	// One buffer: the plaintext, then its HMAC (an array on the stack
	// would escape through hash.Hash).
	pt := make([]byte, len(ct)-h, len(ct)-h+sha1.Size)
	ctsDecrypt(s.authBlock, pt, ct[:len(ct)-h])
	if !hmac.Equal(mac(&s.authMAC, pt[len(pt):], pt)[:h], ct[len(ct)-h:]) {
		return nil, errIntegrity
	}
	return pt[c:], nil
}

// encryptReply is gokrb5's EncryptMessage for usage 12 with the derived
// keys: a random confounder, AES-CTS with a zero IV, HMAC-SHA1-96 appended.
func (s *sessionKeys) encryptReply(msg []byte) (types.EncryptedData, error) {
	c, h := s.e.GetConfounderByteSize(), s.e.GetHMACBitLength()/8
	n := c + len(msg)
	// One buffer: the ciphertext and its HMAC, then the plaintext.
	buf := make([]byte, n+sha1.Size+n)
	ct, pt := buf[:n], buf[n+sha1.Size:]
	if _, err := rand.Read(pt[:c]); err != nil {
		return types.EncryptedData{}, err
	}
	copy(pt[c:], msg)
	ctsEncrypt(s.replyBlock, ct, pt)
	ct = mac(&s.replyMAC, ct, pt)[:n+h]
	return types.EncryptedData{EType: s.keyType, Cipher: ct[: n+h : n+h]}, nil
}
