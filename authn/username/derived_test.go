package username

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
)

const dkUsersYAML = `users:
  - name: bob
    digest_secret: "security"
    groups: [soap-users]
  - name: carol
    password_hash: "$2a$04$2b3VXcl6ZVTUkPNuDVeW1OINqkKpr1nngNVMwyZZ9mkiAWiMTn.Sm"
`

func newDerivedModule(t testing.TB, mod func(*Policy)) *Module {
	t.Helper()
	return newDerivedModuleAt(t, mod, nil)
}

// newDerivedModuleAt is newDerivedModule with the replay cache on clock
// (nil: time.Now), for recorded messages whose time has passed.
func newDerivedModuleAt(t testing.TB, mod func(*Policy), clock func() time.Time) *Module {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(path, []byte(dkUsersYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rc := replay.NewMemory(replay.MemoryOptions{SweepInterval: -1, Now: clock})
	t.Cleanup(func() { rc.Close() })
	p := DefaultPolicy
	p.DerivedKey = true
	if mod != nil {
		mod(&p)
	}
	m, err := New(Options{Policy: p, Passwords: reg, Secrets: reg, Directory: reg, Replay: rc})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func wss4jEnvelope(t testing.TB, m wss4j.Message) []byte {
	t.Helper()
	if m.User == "" {
		m.User = "bob"
	}
	if m.Password == "" {
		m.Password = "security"
	}
	raw, err := wss4j.Shared(t).Envelope(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// login parses raw and runs the module at now.
func dkLogin(t testing.TB, m *Module, raw []byte, now time.Time) (*authn.Subject, error) {
	t.Helper()
	env, err := wsse.Parse(raw, nil)
	if err != nil {
		return nil, err
	}
	req := &authn.Request{Envelope: env, Now: now, ID: "test", Shared: map[string]any{}}
	s := &authn.Subject{}
	ok, err := m.Login(context.Background(), req, s)
	if ok != (err == nil) {
		t.Fatalf("Login = %v, %v", ok, err)
	}
	return s, err
}

func dkWantAccepted(t *testing.T, m *Module, raw []byte, now time.Time) {
	t.Helper()
	s, err := dkLogin(t, m, raw, now)
	if err != nil {
		t.Fatalf("rejected: %v\n%s", err, raw)
	}
	if s.Principal != "bob" || s.Method != "UsernameToken" || s.TokenType != TypeDerivedKey || len(s.Groups) != 1 {
		t.Fatalf("subject = %+v", s)
	}
}

func dkWantFault(t *testing.T, m *Module, raw []byte, now time.Time, code wsse.FaultCode, reason string) {
	t.Helper()
	_, err := dkLogin(t, m, raw, now)
	if err == nil {
		t.Fatalf("accepted, want %s\n%s", code, raw)
	}
	f := authn.AsFault(err)
	if f.Code != code || f.Temporary || !strings.Contains(f.Error(), reason) {
		t.Fatalf("fault %v, want %s with %q", err, code, reason)
	}
}

// TestDerivedKeyWSS4J: messages that WSS4J signed with a derived key are
// accepted once, and every alteration is refused with the right fault.
func TestDerivedKeyWSS4J(t *testing.T) {
	for _, soap12 := range []bool{false, true} {
		name := "SOAP11"
		if soap12 {
			name = "SOAP12"
		}
		t.Run(name, func(t *testing.T) {
			m := newDerivedModule(t, nil)
			now := time.Now()
			raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
			dkWantAccepted(t, m, raw, now)
			dkWantFault(t, m, raw, now.Add(time.Second), wsse.InvalidSecurity, "replayed signed message")

			t.Run("tampered body", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
				bad := bytes.Replace(raw, []byte("more text 1<"), []byte("more text 7<"), 1)
				m := newDerivedModule(t, nil)
				dkWantFault(t, m, bad, now, wsse.FailedCheck, "digest of #id-")
				// Its SignedInfo is genuine, so the first use spent it: sent
				// again with another Body it is a replay, refused before any
				// Body is canonicalized, and so is the original.
				worse := bytes.Replace(raw, []byte("more text 1<"), []byte("more text 8<"), 1)
				dkWantFault(t, m, worse, now, wsse.InvalidSecurity, "replayed signed message")
				dkWantFault(t, m, raw, now, wsse.InvalidSecurity, "replayed signed message")
			})
			t.Run("tampered timestamp", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
				bad := regexp.MustCompile(`(<wsu:Expires>[^<]*)\d(Z</wsu:Expires>)`).ReplaceAll(raw, []byte("${1}0$2"))
				if bytes.Equal(bad, raw) {
					bad = regexp.MustCompile(`(<wsu:Expires>[^<]*)\d(Z</wsu:Expires>)`).ReplaceAll(raw, []byte("${1}1$2"))
				}
				dkWantFault(t, newDerivedModule(t, nil), bad, now, wsse.FailedCheck, "digest of #TS-")
			})
			t.Run("stale timestamp", func(t *testing.T) {
				dkWantFault(t, newDerivedModule(t, nil), raw, now.Add(6*time.Minute), wsse.MessageExpired, "Timestamp")
			})
			t.Run("reference to nothing", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
				bad := regexp.MustCompile(`<ds:Reference URI="#id-[^"]*"`).ReplaceAll(raw, []byte(`<ds:Reference URI="#elsewhere"`))
				dkWantFault(t, newDerivedModule(t, nil), bad, now, wsse.InvalidSecurity, "names no element")
			})
			t.Run("reference into another header", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
				bad := regexp.MustCompile(`<ds:Reference URI="#id-[^"]*"`).ReplaceAll(raw, []byte(`<ds:Reference URI="#other"`))
				bad = bytes.Replace(bad, []byte("<soap:Header>"), []byte(`<soap:Header><x:Other xmlns:x="urn:x" Id="other">hi</x:Other>`), 1)
				// Another SOAP header may be signed (WS-Addressing headers
				// are), so the reference resolves; SignedInfo was altered, so
				// the MAC does not match.
				dkWantFault(t, newDerivedModule(t, nil), bad, now, wsse.FailedAuthentication, "altered SignedInfo")
			})
			t.Run("signed body moved among the headers", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
				body := regexp.MustCompile(`(?s)<soap:Body .*</soap:Body>`).Find(raw)
				evil := []byte(`<soap:Body><m:transfer xmlns:m="urn:example:echo">all the money</m:transfer></soap:Body>`)
				bad := bytes.Replace(raw, body, evil, 1)
				bad = bytes.Replace(bad, []byte("</soap:Header>"), append(append([]byte(nil), body...), []byte("</soap:Header>")...), 1)
				dkWantFault(t, newDerivedModule(t, nil), bad, now, wsse.InvalidSecurity, "neither the Body nor a child of our Security")
			})
			t.Run("reference to the UsernameToken instead of the Body", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
				ut := regexp.MustCompile(`wsu:Id="(UsernameToken-[^"]*)"`).FindSubmatch(raw)[1]
				bad := regexp.MustCompile(`<ds:Reference URI="#id-[^"]*"`).ReplaceAll(raw, []byte(`<ds:Reference URI="#`+string(ut)+`"`))
				// SignedInfo changed: the MAC no longer matches.
				dkWantFault(t, newDerivedModule(t, nil), bad, now, wsse.FailedAuthentication, "altered SignedInfo")
			})
			t.Run("signed body moved into another header", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
				body := regexp.MustCompile(`(?s)<soap:Body .*</soap:Body>`).Find(raw)
				evil := []byte(`<soap:Body><m:transfer xmlns:m="urn:example:echo">all the money</m:transfer></soap:Body>`)
				bad := bytes.Replace(raw, body, evil, 1)
				bad = bytes.Replace(bad, []byte("</soap:Header>"), append(append([]byte(`<w:Wrapper xmlns:w="urn:evil">`), body...), []byte("</w:Wrapper></soap:Header>")...), 1)
				dkWantFault(t, newDerivedModule(t, nil), bad, now, wsse.InvalidSecurity, "neither the Body nor a child of our Security")

				// The same with the Id kept on the new Body: duplicate Id.
				id := regexp.MustCompile(`wsu:Id="id-[^"]*"`).Find(body)
				evil2 := []byte(`<soap:Body xmlns:wsu="` + wsse.NSWSU + `" ` + string(id) + `><m:transfer xmlns:m="urn:example:echo">all the money</m:transfer></soap:Body>`)
				bad2 := bytes.Replace(bad, evil, evil2, 1)
				dkWantFault(t, newDerivedModule(t, nil), bad2, now, wsse.InvalidSecurity, "more than once")
			})
			t.Run("duplicate wsu:Id", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
				ts := regexp.MustCompile(`wsu:Id="(TS-[^"]*)"`).FindSubmatch(raw)[1]
				bad := bytes.Replace(raw, []byte("<soap:Header>"), []byte(`<soap:Header><x:Other xmlns:x="urn:x" xmlns:u="`+wsse.NSWSU+`" u:Id="`+string(ts)+`"/>`), 1)
				dkWantFault(t, newDerivedModule(t, nil), bad, now, wsse.InvalidSecurity, "more than once")
			})
			t.Run("two signatures", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
				sig := regexp.MustCompile(`(?s)<ds:Signature .*</ds:Signature>`).Find(raw)
				clone := regexp.MustCompile(` (wsu:)?Id="[^"]*"`).ReplaceAll(sig, nil)
				bad := bytes.Replace(raw, sig, append(append([]byte{}, sig...), clone...), 1)
				dkWantFault(t, newDerivedModule(t, nil), bad, now, wsse.InvalidSecurity, "more than one Signature")
			})
			t.Run("no signature", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12})
				bad := regexp.MustCompile(`(?s)<ds:Signature .*</ds:Signature>`).ReplaceAll(raw, nil)
				dkWantFault(t, newDerivedModule(t, nil), bad, now, wsse.InvalidSecurity, "without a Signature")
			})
			t.Run("wrong password", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12, Password: "insecurity"})
				dkWantFault(t, newDerivedModule(t, nil), raw, now, wsse.FailedAuthentication, "wrong password")
			})
			t.Run("unknown user", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12, User: "mallory"})
				dkWantFault(t, newDerivedModule(t, nil), raw, now, wsse.FailedAuthentication, "unknown user")
				// A user without a digest_secret is unknown here.
				raw = wss4jEnvelope(t, wss4j.Message{SOAP12: soap12, User: "carol"})
				dkWantFault(t, newDerivedModule(t, nil), raw, now, wsse.FailedAuthentication, "unknown user")
			})
			t.Run("fewer iterations than the minimum", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12, Iterations: 999})
				dkWantFault(t, newDerivedModule(t, nil), raw, now, wsse.FailedAuthentication, "Iteration 999 outside")
				// A lower configured minimum lets it through.
				dkWantAccepted(t, newDerivedModule(t, func(p *Policy) { p.MinIterations = 500 }), raw, now)
			})
			t.Run("more iterations than the maximum", func(t *testing.T) {
				raw := wss4jEnvelope(t, wss4j.Message{SOAP12: soap12, Iterations: 10001})
				dkWantFault(t, newDerivedModule(t, nil), raw, now, wsse.FailedAuthentication, "Iteration 10001 outside")
			})
			t.Run("derived keys switched off", func(t *testing.T) {
				dkWantFault(t, newDerivedModule(t, func(p *Policy) { p.DerivedKey = false }), raw, now, wsse.UnsupportedSecurityToken, "not enabled")
			})
		})
	}
}

func TestDerivedKeyWSS4JVariants(t *testing.T) {
	now := time.Now()
	t.Run("hmac-sha256 sha256", func(t *testing.T) {
		raw := wss4jEnvelope(t, wss4j.Message{SigAlg: "hmac-sha256", DigestAlg: "sha256"})
		dkWantAccepted(t, newDerivedModule(t, nil), raw, now)
	})
	t.Run("no timestamp, signed token with nonce and created", func(t *testing.T) {
		raw := wss4jEnvelope(t, wss4j.Message{TTL: -1, Nonce: true, Parts: []string{"body", "ut"}})
		m := newDerivedModule(t, nil)
		dkWantAccepted(t, m, raw, now)
		dkWantFault(t, m, raw, now, wsse.InvalidSecurity, "replayed")
		dkWantFault(t, newDerivedModule(t, nil), raw, now.Add(6*time.Minute), wsse.MessageExpired, "Created")
	})
	t.Run("no timestamp, unsigned token with nonce and created", func(t *testing.T) {
		raw := wss4jEnvelope(t, wss4j.Message{TTL: -1, Nonce: true, Parts: []string{"body"}})
		dkWantFault(t, newDerivedModule(t, nil), raw, now, wsse.InvalidSecurity, "makes the message fresh")
	})
	t.Run("no timestamp, no nonce", func(t *testing.T) {
		raw := wss4jEnvelope(t, wss4j.Message{TTL: -1, Parts: []string{"body"}})
		dkWantFault(t, newDerivedModule(t, nil), raw, now, wsse.InvalidSecurity, "needs a signed Timestamp")
	})
	t.Run("timestamp not signed", func(t *testing.T) {
		raw := wss4jEnvelope(t, wss4j.Message{Parts: []string{"body"}})
		dkWantFault(t, newDerivedModule(t, nil), raw, now, wsse.InvalidSecurity, "does not cover the Timestamp")
	})
	t.Run("body not signed", func(t *testing.T) {
		raw := wss4jEnvelope(t, wss4j.Message{Parts: []string{"ts"}})
		dkWantFault(t, newDerivedModule(t, nil), raw, now, wsse.InvalidSecurity, "does not cover the Body")
		// A policy that asks only for the Timestamp accepts it.
		dkWantAccepted(t, newDerivedModule(t, func(p *Policy) { p.SignedParts = []string{PartTimestamp} }), raw, now)
	})
	t.Run("policy requires the token signed", func(t *testing.T) {
		raw := wss4jEnvelope(t, wss4j.Message{})
		dkWantFault(t, newDerivedModule(t, func(p *Policy) { p.SignedParts = []string{PartBody, PartUsernameToken} }), raw, now, wsse.InvalidSecurity, "does not cover the UsernameToken")
	})
}

func TestDerivedKeyPolicyErrors(t *testing.T) {
	for _, mod := range []func(*Policy){
		func(p *Policy) { p.MinIterations, p.MaxIterations = 2000, 1000 },
		func(p *Policy) { p.MinIterations = -1 },
		func(p *Policy) { p.SignedParts = []string{} },
		func(p *Policy) { p.SignedParts = []string{"Header"} },
	} {
		p := DefaultPolicy
		p.DerivedKey = true
		mod(&p)
		rc := replay.NewMemory(replay.MemoryOptions{SweepInterval: -1})
		if _, err := New(Options{Policy: p, Secrets: dkNoSecrets{}, Passwords: dkNoPasswords{}, Replay: rc}); err == nil {
			t.Errorf("New accepted %+v", p)
		}
		rc.Close()
	}
	p := DefaultPolicy
	p.DerivedKey = true
	p.PasswordText, p.PasswordDigest = false, false
	rc := replay.NewMemory(replay.MemoryOptions{SweepInterval: -1})
	defer rc.Close()
	if _, err := New(Options{Policy: p, Replay: rc}); err == nil {
		t.Error("New accepted derived keys without a Secrets registry")
	}
}

type dkNoSecrets struct{}

func (dkNoSecrets) LookupSecret(context.Context, string) ([]byte, *registry.User, error) {
	return nil, nil, registry.ErrNotFound
}

type dkNoPasswords struct{}

func (dkNoPasswords) VerifyPassword(context.Context, string, string) (*registry.User, bool, error) {
	return nil, false, nil
}
