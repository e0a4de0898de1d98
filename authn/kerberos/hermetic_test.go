package kerberos

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/authsvc/authsvc/wsse"
)

// TestRejectionsHermetic runs every refusal of the AP-REQ check on tickets
// minted in Go (no KDC), judged by the module's injected clock: each gives
// its fault code and its own reason.
func TestRejectionsHermetic(t *testing.T) {
	mt := newMinter(t, 18, 23)
	now := mt.now
	m := mt.module(t, nil)
	flip := func(b []byte) { b[len(b)/2] ^= 0x40 }
	encryptJunk := func(key types.EncryptionKey, usage uint32, kvno int) types.EncryptedData {
		ed, err := crypto.GetEncryptedData([]byte{0x30, 0x00}, key, usage, kvno)
		if err != nil {
			t.Fatal(err)
		}
		return ed
	}
	svcKey, _, err := mt.kt.GetEncryptionKey(types.NewPrincipalName(2, mt.sname), mt.srealm, 3, 18)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		o      ticketOpts
		code   wsse.FaultCode
		reason string
	}{
		{"authenticator names another client", ticketOpts{authClient: []string{"mallory"}}, wsse.FailedAuthentication,
			"the authenticator names mallory@EXAMPLE.TEST, the ticket is for client alice@EXAMPLE.TEST"},
		{"authenticator names another realm", ticketOpts{authRealm: "EVIL.TEST"}, wsse.FailedAuthentication,
			"the authenticator names alice@EVIL.TEST, the ticket is for client alice@EXAMPLE.TEST"},
		{"authenticator too late", ticketOpts{authTime: now.Add(-6 * time.Minute)}, wsse.FailedAuthentication,
			"clock skew: the authenticator's time 2026-03-01T11:54:00Z is 6m0s from ours, more than 5m0s"},
		{"authenticator too early", ticketOpts{authTime: now.Add(6 * time.Minute)}, wsse.FailedAuthentication, "clock skew"},
		{"ticket not yet valid", ticketOpts{start: now.Add(10 * time.Minute)}, wsse.FailedAuthentication,
			"ticket for HTTP/soap.example.test@EXAMPLE.TEST not yet valid: it starts at 2026-03-01T12:10:00Z"},
		{"ticket expired", ticketOpts{start: now.Add(-10 * time.Hour), end: now.Add(-6 * time.Minute)}, wsse.FailedAuthentication,
			"expired ticket: the ticket of alice@EXAMPLE.TEST for HTTP/soap.example.test@EXAMPLE.TEST ended at 2026-03-01T11:54:00Z"},
		{"invalid flag", ticketOpts{flags: []int{flags.Invalid}}, wsse.FailedAuthentication, "has the invalid flag set"},
		{"client realm not accepted", ticketOpts{realm: "OTHER.TEST"}, wsse.FailedAuthentication, "client alice@OTHER.TEST: realm OTHER.TEST is not accepted"},
		{"wrong SPN", ticketOpts{patch: func(ap *messages.APReq, _ types.EncryptionKey) {
			ap.Ticket.SName = types.NewPrincipalName(2, "HTTP/other.example.test")
		}}, wsse.FailedAuthentication, "wrong SPN: the ticket is for HTTP/other.example.test@EXAMPLE.TEST, this service is HTTP/soap.example.test@EXAMPLE.TEST"},
		{"unknown kvno", ticketOpts{patch: func(ap *messages.APReq, _ types.EncryptionKey) { ap.Ticket.EncPart.KVNO = 7 }},
			wsse.FailedAuthentication, "unknown kvno"},
		{"no key of the enctype", ticketOpts{patch: func(ap *messages.APReq, _ types.EncryptionKey) { ap.Ticket.EncPart.EType = 17 }},
			wsse.FailedAuthentication, "no key for the enctype"},
		{"unsupported enctype", ticketOpts{patch: func(ap *messages.APReq, _ types.EncryptionKey) { ap.Ticket.EncPart.EType = 26 }},
			wsse.InvalidSecurityToken, "unsupported enctype: the ticket for HTTP/soap.example.test@EXAMPLE.TEST is encrypted with camellia256-cts-cmac"},
		{"ticket enctype not allowed", ticketOpts{etype: 23}, wsse.UnsupportedAlgorithm, "enctype not allowed"},
		{"session key enctype not allowed", ticketOpts{keyEtype: 23}, wsse.UnsupportedAlgorithm, "session key of the ticket"},
		{"ticket does not decrypt", ticketOpts{patch: func(ap *messages.APReq, _ types.EncryptionKey) { flip(ap.Ticket.EncPart.Cipher) }},
			wsse.FailedAuthentication, "does not decrypt with the keytab's key (kvno 3, aes256-cts-hmac-sha1-96)"},
		{"ticket does not decode", ticketOpts{patch: func(ap *messages.APReq, _ types.EncryptionKey) {
			ap.Ticket.EncPart = encryptJunk(svcKey, keyusage.KDC_REP_TICKET, 3)
		}}, wsse.InvalidSecurityToken, "the ticket for HTTP/soap.example.test@EXAMPLE.TEST does not decode"},
		{"authenticator does not decrypt", ticketOpts{patch: func(ap *messages.APReq, _ types.EncryptionKey) { flip(ap.EncryptedAuthenticator.Cipher) }},
			wsse.FailedAuthentication, "the authenticator does not decrypt with the ticket's session key"},
		{"authenticator does not decode", ticketOpts{patch: func(ap *messages.APReq, sk types.EncryptionKey) {
			ap.EncryptedAuthenticator = encryptJunk(sk, keyusage.AP_REQ_AUTHENTICATOR, 0)
		}}, wsse.InvalidSecurityToken, "the authenticator does not decode"},
		{"user-to-user", ticketOpts{patch: func(ap *messages.APReq, _ types.EncryptionKey) {
			types.SetFlag(&ap.APOptions, flags.APOptionUseSessionKey)
		}},
			wsse.InvalidSecurityToken, "user-to-user AP-REQ"},
		{"protocol version", ticketOpts{patch: func(ap *messages.APReq, _ types.EncryptionKey) { ap.PVNO = 4 }},
			wsse.InvalidSecurityToken, "protocol version other than 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := mt.apReq(t, tc.o)
			_, err := login(m, negotiateRequest(gssWrap(tok), now))
			if f := wantFault(t, err, tc.code, tc.reason); f.Challenge != "Negotiate" {
				t.Errorf("no Negotiate challenge on the refusal")
			}
			_, err = login(m, bstRequest(t, vtAPREQ, tok, now))
			wantFault(t, err, tc.code, tc.reason)
		})
	}

	t.Run("replay", func(t *testing.T) {
		tok := mt.apReq(t, ticketOpts{})
		if _, err := login(m, bstRequest(t, vtAPREQ, tok, now)); err != nil {
			t.Fatal(err)
		}
		_, err := login(m, bstRequest(t, vtAPREQ, tok, now.Add(time.Minute)))
		wantFault(t, err, wsse.InvalidSecurity, "client alice@EXAMPLE.TEST: replayed authenticator for HTTP/soap.example.test@EXAMPLE.TEST")
	})
	t.Run("clock skew setting", func(t *testing.T) {
		// The same authenticator, 6 minutes old, is good with a 10m skew.
		m := mt.module(t, func(c *Config) { c.ClockSkew = 10 * time.Minute })
		if _, err := login(m, negotiateRequest(mt.apReq(t, ticketOpts{authTime: now.Add(-6 * time.Minute)}), now)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("module clock", func(t *testing.T) {
		// A request without a time is judged by Deps.Now (the minter's).
		req := negotiateRequest(mt.apReq(t, ticketOpts{authTime: now.Add(-time.Hour)}), time.Time{})
		_, err := login(m, req)
		wantFault(t, err, wsse.FailedAuthentication, "clock skew: the authenticator's time 2026-03-01T11:00:00Z is 1h0m0s from ours")
		if _, err := login(m, negotiateRequest(mt.apReq(t, ticketOpts{}), time.Time{})); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("empty principal_map result", func(t *testing.T) {
		m := mt.module(t, func(c *Config) { c.PrincipalMap = []MapRule{{Match: `alice@(.*)`, Principal: "$9"}} })
		_, err := login(m, negotiateRequest(mt.apReq(t, ticketOpts{}), now))
		wantFault(t, err, wsse.FailedAuthentication, "principal_map gives an empty name")
	})
}

// recordedADPAC is the PAC (AD-WIN2K-PAC) of the recorded Samba AD ticket,
// signed with the AD domain's keys.
func recordedADPAC(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(adDir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec adRecording
	if err := json.Unmarshal(raw, &rec); err != nil || len(rec.KRB5) == 0 {
		t.Fatalf("tokens.json: %v", err)
	}
	tok, err := base64.StdEncoding.DecodeString(rec.KRB5[0])
	if err != nil {
		t.Fatal(err)
	}
	kt, err := keytab.Load(filepath.Join(adDir, "authsvc.keytab"))
	if err != nil {
		t.Fatal(err)
	}
	var pac []byte
	resealPAC(t, tok, kt, func(p []byte) { pac = append([]byte(nil), p...) })
	return pac
}

// TestPACSignatureHermetic: a PAC with logon information whose server
// signature was made by another key (Samba's, from the recorded AD ticket)
// in a ticket minted for this service is refused.
func TestPACSignatureHermetic(t *testing.T) {
	pacBytes := recordedADPAC(t)
	mt := newMinter(t)
	m := mt.module(t, nil)
	inner, err := asn1.Marshal(types.AuthorizationData{{ADType: 128, ADData: pacBytes}})
	if err != nil {
		t.Fatal(err)
	}
	ad := types.AuthorizationData{{ADType: 1, ADData: inner}}
	_, err = login(m, negotiateRequest(mt.apReq(t, ticketOpts{authzData: ad}), mt.now))
	wantFault(t, err, wsse.FailedAuthentication, "client alice@EXAMPLE.TEST: PAC:")
	// decode_pac: false leaves it alone.
	off := false
	m2 := mt.module(t, func(c *Config) { c.DecodePAC = &off })
	s, err := login(m2, negotiateRequest(mt.apReq(t, ticketOpts{authzData: ad}), mt.now))
	if err != nil || len(s.Groups) != 0 {
		t.Fatalf("decode_pac false: %+v %v", s, err)
	}
}

// TestMechListMICHermetic: mechListMICs made in Go with the authenticator's
// subkey or, without one, the session key; the reply's MIC verifies with the
// same key, the acceptor's key usage and the initiator's sequence number.
func TestMechListMICHermetic(t *testing.T) {
	mt := newMinter(t, 18, 23)
	m := mt.module(t, nil)
	mechs := [][]byte{oidKRB5, oidMSKRB5}
	der := mechTypesDER(mechs)
	newKey := func(etype int32) types.EncryptionKey {
		et, err := crypto.GetEtype(etype)
		if err != nil {
			t.Fatal(err)
		}
		k, err := types.GenerateEncryptionKey(et)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	sub := newKey(17)
	mic := func(key types.EncryptionKey, seq uint64) []byte { return initiatorMIC(t, key, seq, der) }
	// spnego mints an AP-REQ and wraps it with the MIC micFor makes from
	// the ticket's session key.
	spnego := func(o ticketOpts, micFor func(sk types.EncryptionKey) []byte) ([]byte, types.EncryptionKey) {
		var sk types.EncryptionKey
		o.patch = func(_ *messages.APReq, k types.EncryptionKey) { sk = k }
		ap := mt.apReq(t, o)
		return negTokenInit(mechs, gssWrap(ap), micFor(sk)), sk
	}

	for _, withSub := range []bool{true, false} {
		o := ticketOpts{seq: 12345}
		if withSub {
			o.subkey = &sub
		}
		tok, sk := spnego(o, func(sk types.EncryptionKey) []byte {
			if withSub {
				return mic(sub, 12345)
			}
			return mic(sk, 12345)
		})
		s, err := login(m, negotiateRequest(tok, mt.now))
		if err != nil {
			t.Fatalf("subkey %v: %v", withSub, err)
		}
		resp, err := parseNegTokenResp(s.Reply.Negotiate)
		if err != nil || resp.negState != 0 || !bytes.Equal(resp.supportedMech, oidKRB5) || resp.mechListMIC == nil || resp.responseToken != nil {
			t.Fatalf("reply %+v %v", resp, err)
		}
		var rm gssapi.MICToken
		if err := rm.Unmarshal(resp.mechListMIC, true); err != nil {
			t.Fatal(err)
		}
		if rm.SndSeqNum != 12345 || rm.Flags != gssapi.MICTokenFlagSentByAcceptor {
			t.Errorf("acceptor MIC: sequence number %d (want the initiator's 12345), flags %x", rm.SndSeqNum, rm.Flags)
		}
		rm.Payload = der
		key := sk
		if withSub {
			key = sub
		}
		if ok, err := rm.Verify(key, keyusage.GSSAPI_ACCEPTOR_SIGN); !ok {
			t.Fatalf("subkey %v: our MIC does not verify: %v", withSub, err)
		}
	}
	// Made with the session key while the authenticator has a subkey.
	tok, _ := spnego(ticketOpts{subkey: &sub}, func(sk types.EncryptionKey) []byte { return mic(sk, 0) })
	_, err := login(m, negotiateRequest(tok, mt.now))
	wantFault(t, err, wsse.FailedAuthentication, "mechListMIC does not verify")
	// An RC4 subkey makes no RFC 4121 MIC.
	rc4 := newKey(23)
	tok, _ = spnego(ticketOpts{subkey: &rc4}, func(types.EncryptionKey) []byte { return mic(sub, 0) })
	_, err = login(m, negotiateRequest(tok, mt.now))
	wantFault(t, err, wsse.FailedAuthentication, "a mechListMIC made with a key of enctype arcfour-hmac is not supported")
	// Without a MIC and without mutual authentication the reply is the bare
	// accept-completed NegTokenResp naming krb5.
	tok = negTokenInit(mechs, gssWrap(mt.apReq(t, ticketOpts{})), nil)
	s, err := login(m, negotiateRequest(tok, mt.now))
	if err != nil {
		t.Fatal(err)
	}
	want := appendTLV(nil, 0xa1, appendTLV(nil, 0x30, []byte{0xa0, 0x03, 0x0a, 0x01, 0x00}, appendTLV(nil, 0xa1, appendTLV(nil, 0x06, oidKRB5))))
	if !bytes.Equal(s.Reply.Negotiate, want) {
		t.Fatalf("reply % x, want % x", s.Reply.Negotiate, want)
	}
	// A raw or GSS token without mutual authentication gets no reply.
	s, err = login(m, negotiateRequest(gssWrap(mt.apReq(t, ticketOpts{})), mt.now))
	if err != nil || s.Reply != nil {
		t.Fatalf("GSS without mutual: %+v %v", s, err)
	}
}

// TestMechListMICOversizedMechTypes: an initiator's mechTypes list is
// what its mechListMIC covers, and the acceptor MACs all of it. A list of
// thousands of OIDs within max_token_bytes is MACed (a right MIC is
// accepted, one over another list refused); a list that makes the token
// larger than max_token_bytes is refused before anything is decoded or
// MACed, with the limit named.
func TestMechListMICOversizedMechTypes(t *testing.T) {
	mt := newMinter(t, 18)
	m := mt.module(t, nil)
	listOf := func(n int) [][]byte {
		mechs := [][]byte{oidKRB5}
		for i := 0; i < n; i++ {
			mechs = append(mechs, []byte{0x2b, 0x06, 0x01, 0x04, 0x01, byte(0x80 | i>>7&0x7f), byte(i & 0x7f)})
		}
		return mechs
	}
	// mint wraps a fresh AP-REQ in a NegTokenInit of mechs whose MIC
	// covers the DER of covered.
	mint := func(mechs, covered [][]byte) []byte {
		var sk types.EncryptionKey
		ap := mt.apReq(t, ticketOpts{patch: func(_ *messages.APReq, k types.EncryptionKey) { sk = k }})
		return negTokenInit(mechs, gssWrap(ap), initiatorMIC(t, sk, 0, mechTypesDER(covered)))
	}
	long := listOf(5000) // about 45 KB of OIDs
	tok := mint(long, long)
	if len(tok) > DefaultMaxTokenBytes {
		t.Fatalf("test token of %d bytes is over the limit", len(tok))
	}
	if _, err := login(m, negotiateRequest(tok, mt.now)); err != nil {
		t.Fatalf("MIC over %d mechTypes: %v", len(long), err)
	}
	_, err := login(m, negotiateRequest(mint(long, long[:2]), mt.now))
	wantFault(t, err, wsse.FailedAuthentication, "mechListMIC does not verify")

	huge := listOf(9000) // about 80 KB: past the 64 KiB default
	_, err = login(m, negotiateRequest(mint(huge, huge), mt.now))
	wantFault(t, err, wsse.InvalidSecurityToken, fmt.Sprintf("longer than %d bytes", DefaultMaxTokenBytes))
}

// initiatorMIC is the initiator's mechListMIC over payload (RFC 4121 MIC
// token, sequence number seq) made with key.
func initiatorMIC(t *testing.T, key types.EncryptionKey, seq uint64, payload []byte) []byte {
	t.Helper()
	tok := gssapi.MICToken{SndSeqNum: seq, Payload: payload}
	if err := tok.SetChecksum(key, keyusage.GSSAPI_INITIATOR_SIGN); err != nil {
		t.Fatal(err)
	}
	b, err := tok.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
