package kerberos

import (
	"crypto/hmac"
	"crypto/rand"
	"errors"

	"github.com/jcmturner/aescts/v2"
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
// other enctype goes through gokrb5's EncryptMessage/DecryptMessage.
type sessionKeys struct {
	e                etype.EType
	keyType          int32
	authKe, authKi   []byte // usage 11
	replyKe, replyKi []byte // usage 12
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
	return s
}

var errIntegrity = errors.New("integrity verification failed")

// decrypt is gokrb5's DecryptMessage for usage 11 with the derived keys:
// AES-CTS with a zero IV, then HMAC-SHA1-96 over confounder and plaintext,
// compared in constant time.
func (s *sessionKeys) decryptAuthenticator(ct []byte) ([]byte, error) {
	h := s.e.GetHMACBitLength() / 8
	c := s.e.GetConfounderByteSize()
	if len(ct) < h+c {
		return nil, errors.New("ciphertext too short")
	}
	var iv [16]byte
	pt, err := aescts.Decrypt(s.authKe, iv[:], ct[:len(ct)-h])
	if err != nil {
		return nil, err
	}
	mac := hmac.New(s.e.GetHashFunc(), s.authKi)
	mac.Write(pt)
	var sum [20]byte
	if !hmac.Equal(mac.Sum(sum[:0])[:h], ct[len(ct)-h:]) {
		return nil, errIntegrity
	}
	return pt[c:], nil
}

// encryptReply is gokrb5's EncryptMessage for usage 12 with the derived
// keys: a random confounder, AES-CTS with a zero IV, HMAC-SHA1-96 appended.
func (s *sessionKeys) encryptReply(msg []byte) (types.EncryptedData, error) {
	c := s.e.GetConfounderByteSize()
	pt := make([]byte, c+len(msg))
	if _, err := rand.Read(pt[:c]); err != nil {
		return types.EncryptedData{}, err
	}
	copy(pt[c:], msg)
	var iv [16]byte
	_, ct, err := aescts.Encrypt(s.replyKe, iv[:], pt)
	if err != nil {
		return types.EncryptedData{}, err
	}
	mac := hmac.New(s.e.GetHashFunc(), s.replyKi)
	mac.Write(pt)
	var sum [20]byte
	ct = append(ct, mac.Sum(sum[:0])[:s.e.GetHMACBitLength()/8]...)
	return types.EncryptedData{EType: s.keyType, Cipher: ct}, nil
}
