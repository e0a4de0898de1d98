package kerberos

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The derived-key fast path against gokrb5's own EncryptMessage and
// DecryptMessage, both ways, for both RFC 3962 enctypes and many lengths
// (AES-CTS has distinct cases below, at and above one block).
func TestSessionKeysMatchGokrb5(t *testing.T) {
	for _, et := range []int32{etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96} {
		e, err := crypto.GetEtype(et)
		if err != nil {
			t.Fatal(err)
		}
		kv := make([]byte, e.GetKeyByteSize())
		rand.Read(kv)
		key := types.EncryptionKey{KeyType: et, KeyValue: kv}
		s := newSessionKeys(key)
		if s == nil {
			t.Fatalf("etype %d: no fast path", et)
		}
		for n := 0; n < 80; n++ {
			msg := make([]byte, n)
			rand.Read(msg)
			_, ct, err := e.EncryptMessage(kv, msg, keyusage.AP_REQ_AUTHENTICATOR)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.decryptAuthenticator(ct)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("etype %d len %d: decrypt %x, %v; want %x", et, n, got, err, msg)
			}
			ct[len(ct)/2] ^= 1
			if _, err := s.decryptAuthenticator(ct); err == nil {
				t.Fatalf("etype %d len %d: a flipped bit decrypted", et, n)
			}
			ed, err := s.encryptReply(msg)
			if err != nil {
				t.Fatal(err)
			}
			if ed.EType != et {
				t.Fatalf("etype %d: EncryptedData etype %d", et, ed.EType)
			}
			back, err := crypto.DecryptEncPart(ed, key, keyusage.AP_REP_ENCPART)
			if err != nil || !bytes.Equal(back, msg) {
				t.Fatalf("etype %d len %d: gokrb5 decrypts our reply as %x, %v; want %x", et, n, back, err, msg)
			}
			// The wrong usage must not verify: the keys are per usage.
			if _, err := crypto.DecryptEncPart(ed, key, keyusage.AP_REQ_AUTHENTICATOR); err == nil {
				t.Fatalf("etype %d: reply decrypted under usage 11", et)
			}
		}
		if _, err := s.decryptAuthenticator(make([]byte, 20)); err == nil {
			t.Fatal("a short ciphertext decrypted")
		}
	}
	if newSessionKeys(types.EncryptionKey{KeyType: etypeID.AES128_CTS_HMAC_SHA256_128, KeyValue: make([]byte, 16)}) != nil {
		t.Fatal("aes128-sha2 must go through gokrb5")
	}
	if newSessionKeys(types.EncryptionKey{KeyType: etypeID.AES128_CTS_HMAC_SHA1_96, KeyValue: make([]byte, 5)}) != nil {
		t.Fatal("a key of the wrong size must go through gokrb5")
	}
}

// FuzzSessionKeysDecrypt: for any ciphertext, the fast path and gokrb5
// agree on whether it decrypts and to what.
func FuzzSessionKeysDecrypt(f *testing.F) {
	kv := bytes.Repeat([]byte{7}, 16)
	key := types.EncryptionKey{KeyType: etypeID.AES128_CTS_HMAC_SHA1_96, KeyValue: kv}
	e, _ := crypto.GetEtype(key.KeyType)
	_, ct, _ := e.EncryptMessage(kv, []byte("hello authenticator"), keyusage.AP_REQ_AUTHENTICATOR)
	f.Add(ct)
	f.Add([]byte{})
	s := newSessionKeys(key)
	f.Fuzz(func(t *testing.T, ct []byte) {
		got, err := s.decryptAuthenticator(ct)
		var want []byte
		var werr error
		if perr := safely(func() error {
			want, werr = crypto.DecryptEncPart(types.EncryptedData{EType: key.KeyType, Cipher: ct}, key, keyusage.AP_REQ_AUTHENTICATOR)
			return nil
		}); perr != nil {
			werr = perr
		}
		if (err == nil) != (werr == nil) || (err == nil && !bytes.Equal(got, want)) {
			t.Fatalf("fast %x, %v; gokrb5 %x, %v", got, err, want, werr)
		}
	})
}
