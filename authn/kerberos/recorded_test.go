package kerberos

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
)

var update = flag.Bool("update", false, "re-record testdata/mit from the MIT KDC and python3-gssapi")

// mitRecording is what testdata/mit holds: initial context tokens that MIT's
// GSS-API (python3-gssapi) made for alice@EXAMPLE.TEST to HTTP/localhost, the
// time they were made, and (beside it, localhost.keytab) the throwaway test
// realm's service key that accepts them.
type mitRecording struct {
	Made   time.Time `json:"made"`
	KRB5   []string  `json:"krb5"`   // Base64, 2 tokens, raw GSS Kerberos
	SPNEGO []string  `json:"spnego"` // Base64, 2 tokens, SPNEGO
}

var mitDir = filepath.Join("testdata", "mit")

// checkMIT accepts rec's tokens with keytab at the time they were made, as
// the SOAP BinarySecurityToken and as HTTP Negotiate, and checks that each is
// refused when replayed, when altered, and once the clock skew has passed.
func checkMIT(t *testing.T, keytab string, rec mitRecording) {
	t.Helper()
	now := rec.Made.Add(time.Second)
	rc := replay.NewMemory(replay.MemoryOptions{SweepInterval: -1, Now: func() time.Time { return now }})
	t.Cleanup(func() { rc.Close() })
	m, err := (&Config{Keytab: keytab, ServicePrincipals: []string{spnLocal}, KeytabReload: -1}).Build(Deps{Replay: rc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	const gssVT = NSTokenProfile + "#GSS_Kerberosv5_AP_REQ"
	for mech, b64 := range map[string][]string{"krb5": rec.KRB5, "spnego": rec.SPNEGO} {
		if len(b64) != 2 {
			t.Fatalf("%s: %d tokens recorded, want 2", mech, len(b64))
		}
		var toks [][]byte
		for _, s := range b64 {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatalf("%s: %v", mech, err)
			}
			toks = append(toks, b)
		}
		s, err := login(m, bstRequest(t, gssVT, toks[0], now))
		if err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		if s.Name() != "alice@EXAMPLE.TEST" || s.Method != "Kerberos" || s.TokenType != "GSS_Kerberosv5_AP_REQ" {
			t.Fatalf("%s: subject %+v", mech, s)
		}
		_, err = login(m, bstRequest(t, gssVT, toks[0], now))
		wantFault(t, err, wsse.InvalidSecurity, "replayed authenticator")

		late := now.Add(DefaultClockSkew + time.Minute)
		_, err = login(m, negotiateRequest(toks[1], late))
		wantFault(t, err, wsse.FailedAuthentication, "clock skew")

		bad := append([]byte{}, toks[1]...)
		bad[len(bad)-5] ^= 1 // inside the encrypted authenticator
		_, err = login(m, negotiateRequest(bad, now))
		wantFault(t, err, wsse.FailedAuthentication, "authenticator does not decrypt")

		s, err = login(m, negotiateRequest(toks[1], now))
		if err != nil {
			t.Fatalf("%s Negotiate: %v", mech, err)
		}
		want := map[string]string{"krb5": "GSS_Kerberosv5_AP_REQ", "spnego": "SPNEGO"}[mech]
		if s.Name() != "alice@EXAMPLE.TEST" || s.Method != "Negotiate" || s.TokenType != want || s.Reply == nil {
			t.Fatalf("%s Negotiate: subject %+v", mech, s)
		}
	}
}

// TestMITRecorded replays the MIT tokens recorded in testdata/mit, in both
// tiers (TestMITRecord re-records them with -update).
func TestMITRecorded(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(mitDir, "tokens.json"))
	if err != nil {
		t.Fatalf("%v (record with go test ./authn/kerberos/ -run TestMITRecord -update)", err)
	}
	var rec mitRecording
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	checkMIT(t, filepath.Join(mitDir, "localhost.keytab"), rec)
}

// TestMITRecord makes the same tokens now with the MIT KDC and
// python3-gssapi (the live tier), checks them as TestMITRecorded checks the
// recorded ones, and with -update writes them to testdata/mit.
func TestMITRecord(t *testing.T) {
	k := testenv.StartKDC(t)
	cc := k.Kinit(t, "alice", "alice-pw")
	rec := mitRecording{Made: time.Now().UTC().Truncate(time.Second)}
	for _, mech := range []string{"krb5", "spnego"} {
		for _, tok := range gssTokens(t, k, cc, mech, spnLocal, 2) {
			s := base64.StdEncoding.EncodeToString(tok)
			if mech == "krb5" {
				rec.KRB5 = append(rec.KRB5, s)
			} else {
				rec.SPNEGO = append(rec.SPNEGO, s)
			}
		}
	}
	checkMIT(t, k.LocalhostKeytab, rec)
	if !*update {
		return
	}
	kt, err := os.ReadFile(k.LocalhostKeytab)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.MkdirAll(mitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mitDir, "localhost.keytab"), kt, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mitDir, "tokens.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
