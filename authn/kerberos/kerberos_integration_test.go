package kerberos

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
)

const (
	spnLocal = "HTTP/localhost@EXAMPLE.TEST"
	spnOther = "HTTP/other.example.test@EXAMPLE.TEST"
)

func gssClient(t testing.TB) string {
	return filepath.Join(testenv.Root(), "authn", "kerberos", "testdata", "gss_client.py")
}

// gssTokens has python3-gssapi (MIT) make n initial context tokens, each
// from a new security context with the same cached service ticket.
func gssTokens(t testing.TB, k *testenv.KDC, cc, mech, spn string, n int) [][]byte {
	t.Helper()
	return gssTokensEnv(t, k.Env(cc), mech, spn, n)
}

// gssTokensEnv is gssTokens with the client's environment env (its
// KRB5_CONFIG and KRB5CCNAME: an MIT realm's or an AD domain's).
func gssTokensEnv(t testing.TB, env []string, mech, spn string, n int) [][]byte {
	t.Helper()
	return testenv.GSSTokens(t, env, mech, spn, n)
}

func newModule(t testing.TB, keytab string, mod func(*Config), spns ...string) *Module {
	t.Helper()
	rc := replay.NewMemory(replay.MemoryOptions{MaxEntries: 4 << 20, SweepInterval: -1})
	t.Cleanup(func() { rc.Close() })
	c := &Config{Keytab: keytab, ServicePrincipals: spns, KeytabReload: -1}
	if mod != nil {
		mod(c)
	}
	m, err := c.Build(Deps{Replay: rc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func envelope(valueType string, tok []byte) string {
	return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>` +
		`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
		`<wsse:BinarySecurityToken ValueType="` + valueType + `" EncodingType="` + wsse.Base64Binary + `">` +
		base64.StdEncoding.EncodeToString(tok) +
		`</wsse:BinarySecurityToken></wsse:Security></s:Header><s:Body><ping/></s:Body></s:Envelope>`
}

func bstRequest(t testing.TB, valueType string, tok []byte, now time.Time) *authn.Request {
	t.Helper()
	env, err := wsse.Parse([]byte(envelope(valueType, tok)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &authn.Request{Envelope: env, Now: now, Shared: map[string]any{}}
}

func negotiateRequest(tok []byte, now time.Time) *authn.Request {
	return &authn.Request{Authorization: "Negotiate " + base64.StdEncoding.EncodeToString(tok), Now: now, Shared: map[string]any{}}
}

func login(m *Module, req *authn.Request) (*authn.Subject, error) {
	s := &authn.Subject{}
	ok, err := m.Login(context.Background(), req, s)
	if ok && err == nil {
		return s, nil
	}
	if err == nil {
		err = errors.New("rejected without a fault")
	}
	return nil, err
}

func wantFault(t *testing.T, err error, code wsse.FaultCode, reason string) *authn.Fault {
	t.Helper()
	var f *authn.Fault
	if !errors.As(err, &f) {
		t.Fatalf("want a %s fault with %q, got %v", code, reason, err)
	}
	if f.Code != code || !strings.Contains(f.Reason, reason) {
		t.Fatalf("want a %s fault with %q, got %s: %s", code, reason, f.Code, f.Reason)
	}
	return f
}

func TestMITClients(t *testing.T) {
	k := testenv.StartKDC(t)
	cc := k.Kinit(t, "alice", "alice-pw")
	m := newModule(t, k.LocalhostKeytab, nil, spnLocal)
	now := time.Now()
	const gssVT = NSTokenProfile + "#GSS_Kerberosv5_AP_REQ"

	for _, mech := range []string{"krb5", "spnego"} {
		t.Run(mech, func(t *testing.T) {
			toks := gssTokens(t, k, cc, mech, spnLocal, 3)

			// (1) in a SOAP envelope's BinarySecurityToken
			s, err := login(m, bstRequest(t, gssVT, toks[0], now))
			if err != nil {
				t.Fatal(err)
			}
			if s.Name() != "alice@EXAMPLE.TEST" || s.Principal != "alice" || s.Method != "Kerberos" || s.TokenType != "GSS_Kerberosv5_AP_REQ" {
				t.Fatalf("subject %+v", s)
			}
			if s.Reply != nil {
				t.Errorf("a reply on a SOAP token: %+v", s.Reply)
			}
			// the same token again
			_, err = login(m, bstRequest(t, gssVT, toks[0], now))
			wantFault(t, err, wsse.InvalidSecurity, "replayed authenticator")

			// (2) as HTTP Negotiate: a fresh authenticator of the same ticket
			s, err = login(m, negotiateRequest(toks[1], now))
			if err != nil {
				t.Fatal(err)
			}
			wantType := map[string]string{"krb5": "GSS_Kerberosv5_AP_REQ", "spnego": "SPNEGO"}[mech]
			if s.Name() != "alice@EXAMPLE.TEST" || s.Method != "Negotiate" || s.TokenType != wantType {
				t.Fatalf("subject %+v", s)
			}
			if s.Reply == nil || len(s.Reply.Negotiate) == 0 {
				t.Fatalf("no mutual-authentication reply: %+v", s.Reply)
			}
			_, err = login(m, negotiateRequest(toks[1], now))
			if f := wantFault(t, err, wsse.InvalidSecurity, "replayed"); f.Challenge != "Negotiate" {
				t.Errorf("Negotiate rejection without a challenge")
			}

			// (3) the raw AP-REQ under the non-GSS value types
			tok, err := Unwrap(toks[2])
			if err != nil {
				t.Fatal(err)
			}
			s, err = login(m, bstRequest(t, NSTokenProfile+"#Kerberosv5_AP_REQ", tok.APReq, now))
			if err != nil || s.Name() != "alice@EXAMPLE.TEST" {
				t.Fatalf("raw AP-REQ: %v", err)
			}
		})
	}
	// Six authenticators, one ticket: decrypted once.
	if n := m.tickets.len(); n != 1 {
		t.Errorf("ticket cache holds %d tickets, want 1", n)
	}

	t.Run("mutual", func(t *testing.T) {
		for _, mech := range []string{"krb5", "spnego"} {
			mutual(t, k, cc, m, mech)
		}
	})

	t.Run("wrong SPN", func(t *testing.T) {
		// The keytab has both keys; only HTTP/localhost is configured.
		m := newModule(t, k.Keytab, nil, spnLocal)
		tok := gssTokens(t, k, cc, "spnego", spnOther, 1)[0]
		_, err := login(m, bstRequest(t, gssVT, tok, now))
		wantFault(t, err, wsse.FailedAuthentication, "wrong SPN: the ticket is for HTTP/other.example.test@EXAMPLE.TEST")
		// and accepted where it is configured
		m2 := newModule(t, k.Keytab, nil, spnLocal, spnOther)
		if _, err := login(m2, negotiateRequest(tok, now)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		m := newModule(t, k.WrongKeytab, nil, spnLocal)
		tok := gssTokens(t, k, cc, "krb5", spnLocal, 1)[0]
		_, err := login(m, bstRequest(t, gssVT, tok, now))
		wantFault(t, err, wsse.FailedAuthentication, "does not decrypt with the keytab's key (kvno 2, aes256-cts-hmac-sha1-96)")
	})

	t.Run("unsupported enctype", func(t *testing.T) {
		m := newModule(t, k.CamelliaKeytab, nil, "HTTP/camellia.example.test@EXAMPLE.TEST")
		tok := gssTokens(t, k, cc, "krb5", "HTTP/camellia.example.test@EXAMPLE.TEST", 1)[0]
		_, err := login(m, negotiateRequest(tok, now))
		wantFault(t, err, wsse.InvalidSecurityToken, "unsupported enctype: the ticket for HTTP/camellia.example.test@EXAMPLE.TEST is encrypted with camellia256-cts-cmac")
	})

	t.Run("clock", func(t *testing.T) {
		m := newModule(t, k.LocalhostKeytab, nil, spnLocal)
		toks := gssTokens(t, k, cc, "krb5", spnLocal, 2)
		_, err := login(m, bstRequest(t, gssVT, toks[0], now.Add(6*time.Minute)))
		wantFault(t, err, wsse.FailedAuthentication, "clock skew")
		_, err = login(m, bstRequest(t, gssVT, toks[1], now.Add(-6*time.Minute)))
		wantFault(t, err, wsse.FailedAuthentication, "not yet valid")
	})

	t.Run("expired ticket", func(t *testing.T) {
		short := k.Kinit(t, "bob", "bob-pw", "-l", "1m")
		m := newModule(t, k.LocalhostKeytab, func(c *Config) { c.ClockSkew = 10 * time.Second }, spnLocal)
		tok := gssTokens(t, k, short, "krb5", spnLocal, 1)[0]
		// Judged with the injectable clock after the ticket's end.
		_, err := login(m, bstRequest(t, gssVT, tok, time.Now().Add(2*time.Minute)))
		wantFault(t, err, wsse.FailedAuthentication, "expired ticket: the ticket of bob@EXAMPLE.TEST")
	})

	t.Run("principal mapping", func(t *testing.T) {
		m := newModule(t, k.LocalhostKeytab, func(c *Config) {
			c.PrincipalMap = []MapRule{{Match: `bob@EXAMPLE\.TEST`, Principal: "robert"}}
			f := false
			c.StripRealm = &f
		}, spnLocal)
		toks := gssTokens(t, k, cc, "krb5", spnLocal, 1)
		s, err := login(m, negotiateRequest(toks[0], now))
		if err != nil || s.Principal != "alice@EXAMPLE.TEST" || s.Realm != "EXAMPLE.TEST" {
			t.Fatalf("keep realm: %+v %v", s, err)
		}
		bcc := k.Kinit(t, "bob", "bob-pw")
		s, err = login(m, negotiateRequest(gssTokens(t, k, bcc, "krb5", spnLocal, 1)[0], now))
		if err != nil || s.Principal != "robert" || s.Realm != "EXAMPLE.TEST" || s.Attributes["kerberos_principal"][0] != "bob@EXAMPLE.TEST" {
			t.Fatalf("rule: %+v %v", s, err)
		}
		m2 := newModule(t, k.LocalhostKeytab, func(c *Config) { c.Realms = []string{"OTHER.TEST"} }, spnLocal)
		_, err = login(m2, negotiateRequest(gssTokens(t, k, cc, "krb5", spnLocal, 1)[0], now))
		wantFault(t, err, wsse.FailedAuthentication, "realm EXAMPLE.TEST is not accepted")
	})

	t.Run("garbage", func(t *testing.T) {
		m := newModule(t, k.LocalhostKeytab, nil, spnLocal)
		for _, mech := range []string{"krb5", "spnego"} {
			good := gssTokens(t, k, cc, mech, spnLocal, 1)[0]
			for n := 0; n < len(good); n += 7 {
				if _, err := m.Accept(context.Background(), good[:n], now); err == nil {
					t.Fatalf("%s truncated to %d bytes accepted", mech, n)
				}
			}
			// A flipped byte in the parts Kerberos does not protect (AP
			// options, version numbers, name types) may go through, but it
			// must never change who is authenticated; the replay cache then
			// stops the second one.
			accepted := 0
			for i := 0; i < len(good); i++ {
				b := append([]byte(nil), good...)
				b[i] ^= 0x5a
				res, err := m.Accept(context.Background(), b, now)
				if err == nil {
					accepted++
					if res.ClientName != "alice" || res.ClientRealm != "EXAMPLE.TEST" || res.Service != spnLocal {
						t.Fatalf("%s with byte %d flipped accepted as %+v", mech, i, res)
					}
				}
			}
			if accepted > 1 {
				t.Fatalf("%s: %d tampered copies of one authenticator accepted", mech, accepted)
			}
		}
		for _, h := range []string{"Negotiate", "Negotiate !!!", "Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw=="} {
			_, err := login(m, &authn.Request{Authorization: h, Now: now, Shared: map[string]any{}})
			wantFault(t, err, wsse.InvalidSecurityToken, "")
		}
		if _, err := login(m, &authn.Request{Authorization: "Basic YTpi", Now: now, Shared: map[string]any{}}); !errors.Is(err, authn.ErrUnsupported) {
			t.Fatalf("Basic: %v", err)
		}
		if _, err := login(m, &authn.Request{Now: now, Shared: map[string]any{}}); !errors.Is(err, authn.ErrUnsupported) {
			t.Fatalf("nothing: %v", err)
		}
	})
}

// mutual has the MIT client check our AP-REP.
func mutual(t *testing.T, k *testenv.KDC, cc string, m *Module, mech string) {
	t.Helper()
	cmd := exec.Command(testenv.PythonWith(t, "gssapi"), gssClient(t), mech, spnLocal, "mutual")
	cmd.Env = k.Env(cc)
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	r := bufio.NewReader(outp)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("%v %s", err, stderr.String())
	}
	tok, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(line))
	s, err := login(m, negotiateRequest(tok, time.Now()))
	if err != nil {
		in.Close()
		t.Fatal(err)
	}
	if s.Reply == nil {
		in.Close()
		t.Fatalf("%s: no mutual-authentication reply", mech)
	}
	reply := base64.StdEncoding.EncodeToString(s.Reply.Negotiate)
	io.WriteString(in, reply+"\n")
	in.Close()
	res, _ := io.ReadAll(r)
	if strings.TrimSpace(string(res)) != "complete" {
		t.Fatalf("%s: the MIT initiator did not accept our AP-REP: %q %s", mech, res, stderr.String())
	}
}

func TestKeyRotation(t *testing.T) {
	k := testenv.StartKDC(t)
	m := newModule(t, k.LocalhostKeytab, nil, spnLocal)
	cc := k.Kinit(t, "alice", "alice-pw")
	old := gssTokens(t, k, cc, "krb5", spnLocal, 2)
	// New key on the KDC (kvno 3); the keytab still has kvno 2 only.
	cmd := exec.Command(testenv.LookPath(t, "kadmin.local"), "-r", k.Realm, "-q", "cpw -randkey "+spnLocal)
	cmd.Env = append(k.Env(""), "KRB5_KDC_PROFILE="+filepath.Join(k.Dir, "kdc.conf"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	cc2 := k.Kinit(t, "alice", "alice-pw")
	tok := gssTokens(t, k, cc2, "krb5", spnLocal, 1)[0]
	_, err := login(m, negotiateRequest(tok, time.Now()))
	wantFault(t, err, wsse.FailedAuthentication, "unknown kvno: keytabs: no key for HTTP/localhost@EXAMPLE.TEST with kvno 3 (the keytab has kvno 2)")
	// Tickets issued before the rotation still work.
	if _, err := login(m, negotiateRequest(old[0], time.Now())); err != nil {
		t.Fatal(err)
	}
}
