package kerberos

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
)

const (
	spnAD       = "HTTP/localhost@AD.EXAMPLE.TEST"
	spnADLegacy = "HTTP/legacy.ad.example.test@AD.EXAMPLE.TEST"
)

// adRecording is what testdata/ad holds: initial context tokens that MIT's
// GSS-API (python3-gssapi) made for alice@AD.EXAMPLE.TEST, a user of the
// Samba AD test domain (test/ad/provision.sh), to HTTP/localhost; the time
// they were made; the PAC facts the DC put in the ticket; and (beside it,
// authsvc.keytab) the throwaway domain's service key.
type adRecording struct {
	Made      time.Time `json:"made"`
	KRB5      []string  `json:"krb5"` // Base64, raw GSS Kerberos
	UserSID   string    `json:"user_sid"`
	GroupSIDs []string  `json:"group_sids"`
}

var adDir = filepath.Join("testdata", "ad")

func adGSSTokens(t testing.TB, ad *testenv.SambaAD, cc, mech, spn string, n int) [][]byte {
	t.Helper()
	return gssTokensEnv(t, ad.Env(cc), mech, spn, n)
}

// checkADSubject checks what an AD ticket's PAC put in the Subject.
func checkADSubject(t *testing.T, rec adRecording, s subjectView) {
	t.Helper()
	if s.Principal != "alice" || s.Realm != "AD.EXAMPLE.TEST" {
		t.Fatalf("subject %s@%s, want alice@AD.EXAMPLE.TEST", s.Principal, s.Realm)
	}
	attr := func(k string) []string { return s.Attributes[k] }
	if !slices.Equal(attr("sid"), []string{rec.UserSID}) || !strings.HasPrefix(rec.UserSID, "S-1-5-21-") {
		t.Errorf("sid = %v, want [%s]", attr("sid"), rec.UserSID)
	}
	if !slices.Equal(attr("logon_domain"), []string{"ADEX"}) || !slices.Equal(attr("account_name"), []string{"alice"}) {
		t.Errorf("logon_domain %v, account_name %v; want ADEX, alice", attr("logon_domain"), attr("account_name"))
	}
	dom := rec.UserSID[:strings.LastIndexByte(rec.UserSID, '-')]
	if !slices.Equal(attr("primary_group_sid"), []string{dom + "-513"}) { // Domain Users
		t.Errorf("primary_group_sid = %v, want %s-513", attr("primary_group_sid"), dom)
	}
	// Domain Users, SOAP Developers, Night Ops and (nested) Engineering.
	if len(rec.GroupSIDs) < 4 || !slices.Contains(rec.GroupSIDs, dom+"-513") {
		t.Errorf("group SIDs %v: want Domain Users and alice's three groups", rec.GroupSIDs)
	}
	if !slices.Equal(attr("group_sids"), rec.GroupSIDs) || !slices.Equal(s.Groups, rec.GroupSIDs) {
		t.Errorf("group_sids %v, groups %v; want %v", attr("group_sids"), s.Groups, rec.GroupSIDs)
	}
}

type subjectView struct {
	Principal, Realm string
	Groups           []string
	Attributes       map[string][]string
}

// checkAD accepts rec's first token at the time it was made, then refuses a
// copy whose PAC server signature no longer matches (the ticket re-sealed
// with the service key, as only someone holding that key could).
func checkAD(t *testing.T, keytabPath string, rec adRecording) {
	t.Helper()
	now := rec.Made.Add(time.Second)
	rc := replay.NewMemory(replay.MemoryOptions{SweepInterval: -1, Now: func() time.Time { return now }})
	t.Cleanup(func() { rc.Close() })
	m, err := (&Config{Keytab: keytabPath, ServicePrincipals: []string{spnAD}, KeytabReload: -1}).Build(Deps{Replay: rc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if len(rec.KRB5) < 2 {
		t.Fatalf("%d tokens recorded, want 2", len(rec.KRB5))
	}
	var toks [][]byte
	for _, s := range rec.KRB5 {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, b)
	}
	const gssVT = NSTokenProfile + "#GSS_Kerberosv5_AP_REQ"
	s, err := login(m, bstRequest(t, gssVT, toks[0], now))
	if err != nil {
		t.Fatal(err)
	}
	checkADSubject(t, rec, subjectView{s.Principal, s.Realm, s.Groups, s.Attributes})

	kt, err := keytab.Load(keytabPath)
	if err != nil {
		t.Fatal(err)
	}
	// A byte of the logon information (PAC buffer type 1), which the
	// server signature covers, changed.
	bad := resealPAC(t, toks[1], kt, func(pac []byte) {
		n := int(binary.LittleEndian.Uint32(pac))
		for i := range n {
			e := pac[8+16*i:]
			if binary.LittleEndian.Uint32(e) == 1 {
				off, size := binary.LittleEndian.Uint64(e[8:]), binary.LittleEndian.Uint32(e[4:])
				pac[off+uint64(size)/2] ^= 1
				return
			}
		}
		t.Fatal("the PAC has no logon information buffer")
	})
	_, err = login(m, negotiateRequest(bad, now))
	f := wantFault(t, err, wsse.FailedAuthentication, "PAC")
	t.Logf("altered PAC: %s", f.Reason)

	// A PAC that does not decode at all (its buffer count made absurd) is
	// ignored: the ticket is good, the Subject gets no PAC facts.
	broken := resealPAC(t, toks[1], kt, func(pac []byte) { binary.LittleEndian.PutUint32(pac, 0xFFFF) })
	s, err = login(m, negotiateRequest(broken, now))
	if err != nil {
		t.Fatalf("undecodable PAC: %v", err)
	}
	if s.Name() != "alice@AD.EXAMPLE.TEST" || s.Attributes["sid"] != nil || len(s.Groups) != 0 {
		t.Errorf("undecodable PAC: subject %+v", s)
	}

	// decode_pac: false leaves the PAC alone (no SIDs in the Subject).
	off := false
	rc2 := replay.NewMemory(replay.MemoryOptions{SweepInterval: -1, Now: func() time.Time { return now }})
	t.Cleanup(func() { rc2.Close() })
	m2, err := (&Config{Keytab: keytabPath, ServicePrincipals: []string{spnAD}, KeytabReload: -1, DecodePAC: &off}).Build(Deps{Replay: rc2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m2.Close() })
	s, err = login(m2, bstRequest(t, gssVT, toks[0], now))
	if err != nil || s.Attributes["sid"] != nil || len(s.Groups) != 0 {
		t.Errorf("decode_pac false: %+v, %v", s, err)
	}
}

// resealPAC decrypts the ticket in a GSS-framed AP-REQ with the keytab's
// key, lets change alter the PAC's bytes (the AD-WIN2K-PAC element inside
// AD-IF-RELEVANT), and encrypts the ticket again.
func resealPAC(t *testing.T, tok []byte, kt *keytab.Keytab, change func([]byte)) []byte {
	t.Helper()
	tk, err := Unwrap(tok)
	if err != nil {
		t.Fatal(err)
	}
	var ap messages.APReq
	if err := ap.Unmarshal(tk.APReq); err != nil {
		t.Fatal(err)
	}
	key, _, err := kt.GetEncryptionKey(ap.Ticket.SName, ap.Ticket.Realm, ap.Ticket.EncPart.KVNO, ap.Ticket.EncPart.EType)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := crypto.DecryptEncPart(ap.Ticket.EncPart, key, keyusage.KDC_REP_TICKET)
	if err != nil {
		t.Fatal(err)
	}
	var enc messages.EncTicketPart
	if err := enc.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	changed := false
	for i, ad := range enc.AuthorizationData {
		if ad.ADType != 1 {
			continue
		}
		var inner types.AuthorizationData
		if err := inner.Unmarshal(ad.ADData); err != nil {
			t.Fatal(err)
		}
		for j := range inner {
			if inner[j].ADType == 128 {
				change(inner[j].ADData)
				changed = true
			}
		}
		b, err := asn1.Marshal(inner)
		if err != nil {
			t.Fatal(err)
		}
		enc.AuthorizationData[i].ADData = b
	}
	if !changed {
		t.Fatal("the ticket has no PAC")
	}
	plain2, err := asn1.Marshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	plain2 = asn1tools.AddASNAppTag(plain2, asnAppTag.EncTicketPart)
	ed, err := crypto.GetEncryptedData(plain2, key, keyusage.KDC_REP_TICKET, ap.Ticket.EncPart.KVNO)
	if err != nil {
		t.Fatal(err)
	}
	ap.Ticket.EncPart = ed
	raw, err := ap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return gssWrap(raw)
}

// TestADRecorded replays the AD tokens recorded in testdata/ad, in both
// tiers (TestADLive re-records them with -update): the PAC's user SID,
// logon domain and group SIDs reach the Subject, and a PAC whose server
// signature does not verify is refused.
func TestADRecorded(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(adDir, "tokens.json"))
	if err != nil {
		t.Fatalf("%v (record with AUTHSVC_LIVE=require go test ./authn/kerberos/ -run TestADLive -update)", err)
	}
	var rec adRecording
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	checkAD(t, filepath.Join(adDir, "authsvc.keytab"), rec)
}

// TestADLive takes tickets from the Samba AD DC with MIT kinit and
// python3-gssapi: an AES service account's ticket is accepted with the PAC
// read, an RC4 one (a service account without msDS-SupportedEncryptionTypes
// for AES) is refused by the default enctype allow-list with a reason that
// names rc4 and the fix. With -update it records testdata/ad.
func TestADLive(t *testing.T) {
	ad := testenv.StartSambaAD(t)
	cc := ad.Kinit(t, "alice", testenv.SambaADUsers["alice"])
	rec := adRecording{Made: time.Now().UTC().Truncate(time.Second)}
	for _, tok := range adGSSTokens(t, ad, cc, "krb5", spnAD, 2) {
		rec.KRB5 = append(rec.KRB5, base64.StdEncoding.EncodeToString(tok))
	}
	// The SIDs the DC gave alice, from its own directory.
	rec.UserSID, rec.GroupSIDs = aliceSIDs(t, ad, rec)
	checkAD(t, ad.Keytab, rec)

	legacy := newModule(t, ad.LegacyKeytab, nil, spnADLegacy)
	tok := adGSSTokens(t, ad, cc, "spnego", spnADLegacy, 1)[0]
	_, err := login(legacy, negotiateRequest(tok, time.Now()))
	f := wantFault(t, err, wsse.UnsupportedAlgorithm, "arcfour-hmac")
	if !strings.Contains(f.Reason, "msDS-SupportedEncryptionTypes=24") {
		t.Errorf("the RC4 refusal does not say how to fix the account: %s", f.Reason)
	}
	// Allowed explicitly, the same RC4 ticket is accepted (the keytab is
	// right: the refusal above is the allow-list's).
	legacyOK := newModule(t, ad.LegacyKeytab, func(c *Config) { c.Enctypes = Enctypes{"aes256-cts-hmac-sha1-96", "rc4-hmac"} }, spnADLegacy)
	tok = adGSSTokens(t, ad, cc, "spnego", spnADLegacy, 1)[0]
	if s, err := login(legacyOK, negotiateRequest(tok, time.Now())); err != nil || s.Name() != "alice@AD.EXAMPLE.TEST" {
		t.Fatalf("RC4 listed in enctypes: %v, %v", s, err)
	}

	if !*update {
		return
	}
	kt, err := os.ReadFile(ad.Keytab)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.MkdirAll(adDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(adDir, "authsvc.keytab"), kt, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(adDir, "tokens.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// aliceSIDs returns the user and group SIDs of the PAC in rec's first
// token, having checked the user SID against alice's objectSid in the
// directory.
func aliceSIDs(t *testing.T, ad *testenv.SambaAD, rec adRecording) (string, []string) {
	t.Helper()
	m := newModule(t, ad.Keytab, nil, spnAD)
	tok, _ := base64.StdEncoding.DecodeString(rec.KRB5[0])
	res, err := m.Accept(context.Background(), tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.PAC == nil {
		t.Fatal("no PAC in the AD ticket")
	}
	sid := ad.ObjectSID(t, "alice")
	if res.PAC.UserSID != sid {
		t.Fatalf("PAC user SID %s, directory objectSid %s", res.PAC.UserSID, sid)
	}
	return sid, res.PAC.GroupSIDs
}
