package kerberos

import (
	"os"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"path/filepath"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/authsvc/authsvc/replay"
)

// minter makes AP-REQs in Go, without a KDC: a test keytab holds the
// service's keys, tickets are encrypted with them, and every time comes from
// the test's clock.
type minter struct {
	kt     *keytab.Keytab
	path   string
	now    time.Time
	sname  string // service/host
	srealm string
}

// mintSPN is the service the minted tickets are for.
const mintSPN = "HTTP/soap.example.test@EXAMPLE.TEST"

func newMinter(t testing.TB, etypes ...int32) *minter {
	t.Helper()
	if len(etypes) == 0 {
		etypes = []int32{18, 17, 23}
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	kt := keytab.New()
	for _, et := range etypes {
		if err := kt.AddEntry("HTTP/soap.example.test", "EXAMPLE.TEST", "service-password", now, 3, et); err != nil {
			t.Fatal(err)
		}
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "http.keytab")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return &minter{kt: kt, path: path, now: now, sname: "HTTP/soap.example.test", srealm: "EXAMPLE.TEST"}
}

// ticketOpts describe a minted ticket and its authenticator; zero values
// give a valid one for alice@EXAMPLE.TEST.
type ticketOpts struct {
	etype      int32 // ticket enctype (default 18)
	kvno       int   // default 3
	client     []string
	realm      string
	authClient []string // the authenticator's client (default: the ticket's)
	authRealm  string
	authTime   time.Time // authenticator ctime (default now)
	start, end time.Time // ticket times (default now-1m, now+10h)
	sname      string
	transited  *messages.TransitedEncoding
	authzData  types.AuthorizationData
	flags      []int
	keyEtype   int32                // session key enctype (default: the ticket's)
	subkey     *types.EncryptionKey // the authenticator's subkey
	seq        int64                // the authenticator's sequence number
	// patch, if set, alters the AP-REQ before it is encoded; sk is the
	// ticket's session key.
	patch func(ap *messages.APReq, sk types.EncryptionKey)
}

func (mt *minter) apReq(t testing.TB, o ticketOpts) []byte {
	t.Helper()
	if o.etype == 0 {
		o.etype = 18
	}
	if o.kvno == 0 {
		o.kvno = 3
	}
	if o.client == nil {
		o.client = []string{"alice"}
	}
	if o.realm == "" {
		o.realm = "EXAMPLE.TEST"
	}
	if o.authClient == nil {
		o.authClient = o.client
	}
	if o.authRealm == "" {
		o.authRealm = o.realm
	}
	if o.authTime.IsZero() {
		o.authTime = mt.now
	}
	if o.start.IsZero() {
		o.start = mt.now.Add(-time.Minute)
	}
	if o.end.IsZero() {
		o.end = mt.now.Add(10 * time.Hour)
	}
	if o.sname == "" {
		o.sname = mt.sname
	}
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "x")
	cname.NameString = o.client
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, o.sname)
	fl := types.NewKrbFlags()
	types.SetFlag(&fl, flags.Initial)
	for _, f := range o.flags {
		types.SetFlag(&fl, f)
	}
	if o.keyEtype == 0 {
		o.keyEtype = o.etype
	}
	tkt, key, err := newTicket(mt.kt, cname, o.realm, sname, mt.srealm, fl, o.etype, o.keyEtype, o.kvno, o.start, o.end, o.transited, o.authzData)
	if err != nil {
		t.Fatal(err)
	}
	acname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "x")
	acname.NameString = o.authClient
	auth, err := types.NewAuthenticator(o.authRealm, acname)
	if err != nil {
		t.Fatal(err)
	}
	auth.CTime, auth.Cusec = o.authTime.Truncate(time.Second), o.authTime.Nanosecond()/1000
	auth.SeqNumber = o.seq
	if o.subkey != nil {
		auth.SubKey = *o.subkey
	}
	ap, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		t.Fatal(err)
	}
	if o.patch != nil {
		o.patch(&ap, key)
	}
	raw, err := ap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// module builds the module on the minter's keytab and clock.
func (mt *minter) module(t testing.TB, mod func(*Config)) *Module {
	t.Helper()
	now := func() time.Time { return mt.now }
	rc := replay.NewMemory(replay.MemoryOptions{MaxEntries: 1000, SweepInterval: -1, Now: now})
	t.Cleanup(func() { rc.Close() })
	c := &Config{Keytab: mt.path, ServicePrincipals: []string{mintSPN}, KeytabReload: -1}
	if mod != nil {
		mod(c)
	}
	m, err := c.Build(Deps{Replay: rc, Now: now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// newTicket is gokrb5's messages.NewTicket with a transited field and
// authorization data (a PAC) in the encrypted part.
func newTicket(kt *keytab.Keytab, cname types.PrincipalName, crealm string, sname types.PrincipalName, srealm string, fl asn1.BitString,
	etypeID, keyEtype int32, kvno int, start, end time.Time, tr *messages.TransitedEncoding, ad types.AuthorizationData) (messages.Ticket, types.EncryptionKey, error) {
	et, err := crypto.GetEtype(keyEtype)
	if err != nil {
		return messages.Ticket{}, types.EncryptionKey{}, err
	}
	sk, err := types.GenerateEncryptionKey(et)
	if err != nil {
		return messages.Ticket{}, types.EncryptionKey{}, err
	}
	etp := messages.EncTicketPart{Flags: fl, Key: sk, CRealm: crealm, CName: cname, AuthTime: start, StartTime: start, EndTime: end, AuthorizationData: ad}
	if tr != nil {
		etp.Transited = *tr
	}
	b, err := asn1.Marshal(etp)
	if err != nil {
		return messages.Ticket{}, types.EncryptionKey{}, err
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncTicketPart)
	key, _, err := kt.GetEncryptionKey(sname, srealm, kvno, etypeID)
	if err != nil {
		return messages.Ticket{}, types.EncryptionKey{}, err
	}
	ed, err := crypto.GetEncryptedData(b, key, keyusage.KDC_REP_TICKET, kvno)
	if err != nil {
		return messages.Ticket{}, types.EncryptionKey{}, err
	}
	return messages.Ticket{TktVNO: iana.PVNO, Realm: srealm, SName: sname, EncPart: ed}, sk, nil
}

const vtAPREQ = NSTokenProfile + "#Kerberosv5_AP_REQ"
