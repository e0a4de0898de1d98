package kerberos

import (
	"context"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/authsvc/authsvc/internal/testenv"
)

// apReqMaker mints fresh authenticators for one real service ticket from the
// test KDC, as an SSO client does for each request.
type apReqMaker struct {
	tkt   messages.Ticket
	key   types.EncryptionKey
	cname types.PrincipalName
	realm string
	base  time.Time
}

func newAPReqMaker(t testing.TB) (*apReqMaker, *testenv.KDC) {
	k := testenv.StartKDC(t)
	cc := k.Kinit(t, "alice", "alice-pw")
	gssTokens(t, k, cc, "krb5", spnLocal, 1) // puts the service ticket in the cache
	c, err := credentials.LoadCCache(cc)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c.GetEntries() {
		if e.Server.PrincipalName.PrincipalNameString() != "HTTP/localhost" {
			continue
		}
		var tkt messages.Ticket
		if err := tkt.Unmarshal(e.Ticket); err != nil {
			t.Fatal(err)
		}
		return &apReqMaker{tkt: tkt, key: e.Key, cname: e.Client.PrincipalName, realm: e.Client.Realm, base: time.Now().UTC()}, k
	}
	t.Fatal("no service ticket in the cache")
	return nil, nil
}

// make returns the i-th AP-REQ: a new authenticator, distinct ctime/cusec.
func (a *apReqMaker) make(t testing.TB, i int) *messages.APReq {
	auth, err := types.NewAuthenticator(a.realm, a.cname)
	if err != nil {
		t.Fatal(err)
	}
	ts := a.base.Add(-time.Duration(i) * time.Microsecond)
	auth.CTime = ts.Truncate(time.Second)
	auth.Cusec = int(ts.Sub(auth.CTime) / time.Microsecond)
	ap, err := messages.NewAPReq(a.tkt, a.key, auth)
	if err != nil {
		t.Fatal(err)
	}
	return &ap
}

func (a *apReqMaker) tokens(b *testing.B, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		raw, err := a.make(b, i).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		out[i] = raw
	}
	return out
}

// BenchmarkAccept: our module's whole verification (unwrap, decode, SPN,
// key, ticket, authenticator, replay cache) of fresh authenticators from
// one ticket, with and without the decrypted-ticket cache.
func BenchmarkAccept(b *testing.B) {
	a, k := newAPReqMaker(b)
	for _, bc := range []struct {
		name  string
		cache int
	}{{"ticket-cache", 0}, {"no-ticket-cache", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			m := newModule(b, k.LocalhostKeytab, func(c *Config) { c.TicketCacheSize = bc.cache }, spnLocal)
			toks := a.tokens(b, b.N)
			now := a.base
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := m.Accept(ctx, toks[i], now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGokrb5VerifyAPREQ is the baseline: gokrb5's VerifyAPREQ alone on
// already decoded AP-REQs (it decrypts the ticket every time).
func BenchmarkGokrb5VerifyAPREQ(b *testing.B) {
	a, k := newAPReqMaker(b)
	kt, err := keytab.Load(k.LocalhostKeytab)
	if err != nil {
		b.Fatal(err)
	}
	// MIT's PAC has no logon info: gokrb5 fails on it unless told not to decode.
	s := service.NewSettings(kt, service.DecodePAC(false))
	reqs := make([]*messages.APReq, b.N)
	for i := range reqs {
		raw, err := a.make(b, i).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = new(messages.APReq)
		if err := reqs[i].Unmarshal(raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if ok, _, err := service.VerifyAPREQ(reqs[i], s); !ok || err != nil {
			b.Fatal(err)
		}
	}
}
