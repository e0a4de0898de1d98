package kerberos

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/authsvc/authsvc/keytabs"
	"github.com/authsvc/authsvc/wsse"
)

// SPNEGO's mechListMIC (RFC 4178 section 5): an initiator whose krb5
// context is complete with its first token (no mutual authentication) may
// put in its NegTokenInit a MIC of the DER mechTypes list, made with the
// context's key; it proves that no one removed mechs from the list. MIT's
// acceptor verifies it and answers with its own MIC; this module does the
// same. The MIC is an RFC 4121 MIC token (gokrb5's gssapi.MICToken), so
// only the enctypes of RFC 3962 and RFC 8009 are possible: with rc4-hmac or
// DES keys a MIC is refused.

// micKey is the key of the context's per-message tokens when the acceptor
// asserts no subkey of its own (RFC 4121 2): the initiator's subkey from
// the authenticator, else the ticket's session key.
func micKey(auth *types.Authenticator, session types.EncryptionKey) types.EncryptionKey {
	if auth.SubKey.KeyType != 0 && len(auth.SubKey.KeyValue) > 0 {
		return auth.SubKey
	}
	return session
}

// rfc4121 reports whether a key's enctype makes RFC 4121 tokens (the AES
// types; DES, DES3 and RC4 use the older formats of RFC 1964 and 4757).
func rfc4121(etype int32) bool {
	switch etype {
	case 17, 18, 19, 20:
		return true
	}
	return false
}

// checkMechListMIC verifies the NegTokenInit's mechListMIC, if it has one,
// with the initiator's key. client names the client for the log.
func (m *Module) checkMechListMIC(tok *Token, key types.EncryptionKey, client string) error {
	if tok.MechListMIC == nil {
		return nil
	}
	if !rfc4121(key.KeyType) || !m.enctypes[key.KeyType] {
		return reject(wsse.FailedAuthentication, "client %s: a mechListMIC made with a key of enctype %s is not supported (RFC 4121 MICs only)", client, keytabs.ETypeName(key.KeyType))
	}
	var mt gssapi.MICToken
	if err := mt.Unmarshal(tok.MechListMIC, false); err != nil {
		return reject(wsse.FailedAuthentication, "client %s: the SPNEGO mechListMIC is malformed: %v", client, err)
	}
	if mt.Flags&^gssapi.MICTokenFlagSentByAcceptor != 0 {
		// Sealed is never set on a MIC; AcceptorSubkey cannot be, since
		// the acceptor has asserted no subkey yet.
		return reject(wsse.FailedAuthentication, "client %s: the SPNEGO mechListMIC has flags 0x%02x", client, mt.Flags)
	}
	mt.Payload = tok.MechTypes
	if ok, err := mt.Verify(key, keyusage.GSSAPI_INITIATOR_SIGN); !ok || err != nil {
		return reject(wsse.FailedAuthentication, "client %s: the SPNEGO mechListMIC does not verify: the mech list was altered or the MIC was not made with this context's key", client)
	}
	return nil
}

// acceptorMIC is our mechListMIC for the reply: an RFC 4121 MIC token with
// the SentByAcceptor flag over the client's DER mechTypes, with the
// initiator's key (we assert no subkey) and our sequence number seq.
func acceptorMIC(mechTypes []byte, key types.EncryptionKey, seq uint32) ([]byte, error) {
	mt := gssapi.MICToken{Flags: gssapi.MICTokenFlagSentByAcceptor, SndSeqNum: uint64(seq), Payload: mechTypes}
	if err := mt.SetChecksum(key, keyusage.GSSAPI_ACCEPTOR_SIGN); err != nil {
		return nil, fmt.Errorf("kerberos: mechListMIC: %w", err)
	}
	return mt.Marshal()
}

// HasReply reports whether the client expects a token back: the AP-REP of
// mutual authentication, or for SPNEGO the final NegTokenResp, without which
// an SPNEGO initiator's context does not complete.
func (r *Result) HasReply() bool { return r.Mutual || r.Token.Framing == FrameSPNEGO }

// Reply builds the token the client expects (see HasReply; nil if none):
// the AP-REP (RFC 4120 5.5.2) for mutual authentication, framed as the
// request was (see WrapReply), and for SPNEGO the NegTokenResp with our
// mechListMIC when the client sent one.
func (r *Result) Reply() ([]byte, error) {
	if !r.HasReply() {
		return nil, nil
	}
	// Our sequence number: without an AP-REP the initiator expects its
	// own (RFC 4121 4.1 as MIT implements it), else the AP-REP's.
	seq := r.initSeq
	var aprep []byte
	if r.Mutual {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		seq = binary.BigEndian.Uint32(b[:]) & 0x3fffffff
		var err error
		if aprep, err = r.apRep(seq); err != nil {
			return nil, err
		}
	}
	var mic []byte
	if r.Token.Framing == FrameSPNEGO && r.Token.MechListMIC != nil {
		var err error
		if mic, err = acceptorMIC(r.Token.MechTypes, r.micKey, seq); err != nil {
			return nil, err
		}
	}
	return WrapReply(r.Token, aprep, mic), nil
}
