package username

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func testRegistry(t testing.TB) *registry.File {
	t.Helper()
	h, err := registry.HashPassword("wonderland", registry.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "users.yaml")
	doc := "users:\n  - name: alice\n    password_hash: \"" + h + "\"\n    digest_secret: wonderland\n    groups: [soap-users]\n" +
		"    attributes: {mail: [alice@example.test]}\n"
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := registry.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type fixture struct {
	m     *Module
	cache *replay.Memory
}

func newFixture(t testing.TB, mod func(*Options)) *fixture {
	t.Helper()
	reg := testRegistry(t)
	cache := replay.NewMemory(replay.MemoryOptions{Now: func() time.Time { return now }, SweepInterval: -1})
	t.Cleanup(func() { cache.Close() })
	cfg := Options{Policy: DefaultPolicy, Passwords: reg, Secrets: reg, Directory: reg, Replay: cache}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{m: m, cache: cache}
}

func (f *fixture) login(t testing.TB, msg []byte, secure bool) (*authn.Subject, error) {
	t.Helper()
	env, err := wsse.Parse(msg, nil)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, msg)
	}
	req := &authn.Request{Envelope: env, Now: now, Secure: secure, Shared: map[string]any{}}
	s := &authn.Subject{}
	ok, err := f.m.Login(context.Background(), req, s)
	if ok != (err == nil) {
		t.Fatalf("Login returned (%v, %v)", ok, err)
	}
	return s, err
}

func wantUTFault(t *testing.T, err error, code wsse.FaultCode, reason string) {
	t.Helper()
	var f *authn.Fault
	if !errors.As(err, &f) {
		t.Fatalf("err = %v, want a fault %s", err, code)
	}
	if f.Code != code || !strings.Contains(f.Reason, reason) {
		t.Fatalf("fault %s %q, want %s containing %q", f.Code, f.Reason, code, reason)
	}
}

func digestMsg(user, pw string, created time.Time, nonce []byte) []byte {
	return wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: user, Password: pw, Digest: true, Created: created, Nonce: nonce}, "")
}

// Known answer: the UsernameToken Profile's example nonce, Created and
// password, with the digest computed by Python's hashlib.
func TestDigestKnownAnswer(t *testing.T) {
	got := Digest([]byte("WScqanjCEAC4mQoBE07sAQ=="), "2003-07-16T01:24:32Z", []byte("taadtaadpstcsm"))
	if s := base64.StdEncoding.EncodeToString(got[:]); s != "AtYMdWClJo7PIuTpqmhmEEoEZyc=" {
		t.Fatalf("Digest = %s", s)
	}
}

func TestDigestAndText(t *testing.T) {
	f := newFixture(t, nil)
	s, err := f.login(t, digestMsg("alice", "wonderland", now.Add(-time.Minute), nil), false)
	if err != nil {
		t.Fatal(err)
	}
	if s.Principal != "alice" || s.TokenType != TypeDigest || s.Method != "UsernameToken" ||
		len(s.Groups) != 1 || s.Attributes["mail"][0] != "alice@example.test" {
		t.Errorf("subject %+v", s)
	}
	text := wsseclient.Envelope(wsse.SOAP12, wsseclient.UsernameToken{Username: "alice", Password: "wonderland", NoNonce: true}, "")
	if s, err = f.login(t, text, true); err != nil || s.TokenType != TypeText {
		t.Fatalf("text over TLS: %v %+v", err, s)
	}
	_, err = f.login(t, text, false)
	wantUTFault(t, err, wsse.InvalidSecurity, "without TLS")
	// Type absent means PasswordText.
	noType := []byte(strings.Replace(string(text), ` Type="`+wsse.PasswordText+`"`, "", 1))
	if s, err = f.login(t, noType, true); err != nil || s.TokenType != TypeText {
		t.Fatalf("no Type: %v", err)
	}
}

func TestRejections(t *testing.T) {
	f := newFixture(t, nil)
	nonce := []byte("0123456789abcdef")
	good := digestMsg("alice", "wonderland", now, nonce)
	cases := []struct {
		name   string
		msg    []byte
		code   wsse.FaultCode
		reason string
	}{
		{"wrong password", digestMsg("alice", "x", now, nil), wsse.FailedAuthentication, "unknown user or wrong password"},
		{"overlong digest value", []byte(strings.Replace(string(good), `#PasswordDigest">`, `#PasswordDigest">`+strings.Repeat("QUFB", 40), 1)), wsse.FailedAuthentication, "unknown user or wrong password"},
		{"unknown user", digestMsg("nobody", "wonderland", now, nil), wsse.FailedAuthentication, "unknown user or wrong password"},
		{"stale", digestMsg("alice", "wonderland", now.Add(-6*time.Minute), nil), wsse.MessageExpired, "old"},
		{"future", digestMsg("alice", "wonderland", now.Add(2*time.Minute), nil), wsse.MessageExpired, "future"},
		{"bad nonce encoding", []byte(strings.Replace(string(good), wsse.Base64Binary, "urn:hex", 1)), wsse.InvalidSecurityToken, "EncodingType"},
		{"nonce not base64", []byte(strings.Replace(string(good), base64.StdEncoding.EncodeToString(nonce), "!!!!", 1)), wsse.InvalidSecurityToken, "not Base64"},
		{"digest without nonce", []byte(cut(string(good), "<wsse:Nonce", "</wsse:Nonce>")), wsse.InvalidSecurityToken, "without a Nonce"},
		{"digest without created", []byte(cut(string(good), "<wsu:Created>", "</wsu:Created>")), wsse.InvalidSecurityToken, "without Created"},
		{"bad created", []byte(strings.Replace(string(good), now.Format("2006-01-02T15:04:05.000Z"), "yesterday", 1)), wsse.InvalidSecurityToken, "malformed Created"},
		{"unknown type", []byte(strings.Replace(string(good), wsse.PasswordDigest, "urn:x#PasswordMD5", 1)), wsse.UnsupportedSecurityToken, "unknown Password Type"},
		{"no password", []byte(cut(string(good), "<wsse:Password", "</wsse:Password>")), wsse.UnsupportedSecurityToken, "NoPassword is not accepted"},
		{"salt with password", []byte(strings.Replace(string(good), "</wsse:Username>", `</wsse:Username><wsse11:Salt xmlns:wsse11="`+wsse.NSWSSE11+`">AAAA</wsse11:Salt>`, 1)), wsse.InvalidSecurityToken, "both a Password and a Salt"},
		{"two tokens", []byte(strings.Replace(string(good), "</wsse:Security>", `<wsse:UsernameToken><wsse:Username>bob</wsse:Username></wsse:UsernameToken></wsse:Security>`, 1)), wsse.InvalidSecurity, "2 UsernameTokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.login(t, c.msg, true)
			wantUTFault(t, err, c.code, c.reason)
		})
	}
	// The good one still works afterwards (no rejected attempt recorded its nonce)...
	if _, err := f.login(t, good, false); err != nil {
		t.Fatalf("good message after rejections: %v", err)
	}
	// ...and only once.
	_, err := f.login(t, good, false)
	wantUTFault(t, err, wsse.InvalidSecurity, "replayed Nonce")
}

// cut removes the text from the start of from to the end of to.
func cut(s, from, to string) string {
	i := strings.Index(s, from)
	j := strings.Index(s[i:], to)
	return s[:i] + s[i+j+len(to):]
}

func TestPolicySwitches(t *testing.T) {
	f := newFixture(t, func(c *Options) { c.Policy.PasswordDigest = false })
	_, err := f.login(t, digestMsg("alice", "wonderland", now, nil), true)
	wantUTFault(t, err, wsse.UnsupportedSecurityToken, "PasswordDigest is not accepted")

	f = newFixture(t, func(c *Options) { c.Policy.RequireNonce, c.Policy.RequireCreated = true, true })
	text := wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: "alice", Password: "wonderland", NoNonce: true}, "")
	_, err = f.login(t, text, true)
	wantUTFault(t, err, wsse.InvalidSecurityToken, "without a Nonce")

	f = newFixture(t, func(c *Options) { c.Policy.NoPassword = true })
	np := []byte(cut(string(digestMsg("alice", "", now, nil)), "<wsse:Password", "</wsse:Password>"))
	s, err := f.login(t, np, true)
	if err != nil || s.Principal != "alice" || s.TokenType != TypeNoPassword {
		t.Fatalf("no-password token: %v %+v", err, s)
	}
	np = []byte(cut(string(digestMsg("mallory", "", now, nil)), "<wsse:Password", "</wsse:Password>"))
	_, err = f.login(t, np, true)
	wantUTFault(t, err, wsse.FailedAuthentication, "unknown user")

	if _, err := New(Options{Policy: Policy{}, Replay: f.cache}); err == nil {
		t.Error("a policy accepting nothing was accepted")
	}
	if _, err := New(Options{Policy: DefaultPolicy, Passwords: testRegistry(t), Replay: f.cache}); err == nil {
		t.Error("PasswordDigest without a secrets registry was accepted")
	}
}

// failingCache stands in for a replay cache that cannot answer: a real cache
// cannot be made to fail on demand inside a unit test (the Redis tests show
// the real outage).
type failingCache struct{ err error }

func (c failingCache) Add(context.Context, string, time.Time) error { return c.err }
func (c failingCache) Close() error                                 { return nil }

func TestReplayCacheFailureFailsClosed(t *testing.T) {
	for _, cerr := range []error{replay.ErrFull, errors.New("connection refused")} {
		f := newFixture(t, func(c *Options) { c.Replay = failingCache{cerr} })
		_, err := f.login(t, digestMsg("alice", "wonderland", now, nil), false)
		var fault *authn.Fault
		if err == nil || errors.As(err, &fault) || !errors.Is(err, cerr) {
			t.Fatalf("cache error %v: Login err = %v, want a technical error wrapping it", cerr, err)
		}
	}
}

func TestBoundedReplayCacheRefusesWhenFull(t *testing.T) {
	f := newFixture(t, nil)
	small := replay.NewMemory(replay.MemoryOptions{MaxEntries: 2, Shards: 1, Now: func() time.Time { return now }, SweepInterval: -1})
	defer small.Close()
	f.m.cfg.Replay = small
	for i := 0; i < 2; i++ {
		if _, err := f.login(t, digestMsg("alice", "wonderland", now, nil), false); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.login(t, digestMsg("alice", "wonderland", now, nil), false)
	if !errors.Is(err, replay.ErrFull) {
		t.Fatalf("third login with a full cache: %v, want ErrFull (fail closed)", err)
	}
}

func TestNoUsernameTokenIsUnsupported(t *testing.T) {
	f := newFixture(t, nil)
	env, err := wsse.Parse([]byte(`<s:Envelope xmlns:s="`+wsse.NSSOAP11+`"><s:Body/></s:Envelope>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := f.m.Login(context.Background(), &authn.Request{Envelope: env, Now: now}, &authn.Subject{})
	if ok || !errors.Is(err, authn.ErrUnsupported) {
		t.Fatalf("Login = %v, %v", ok, err)
	}
}
