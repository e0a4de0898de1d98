package authn

import (
	"encoding/json"
	"testing"
	"time"
)

// checkAppendJSON fails unless AppendJSON writes what json.Marshal writes.
func checkAppendJSON(t *testing.T, s *Subject) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	if got := s.AppendJSON(nil); string(got) != string(want) {
		t.Fatalf("AppendJSON:\n%s\njson.Marshal:\n%s", got, want)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 4, 18, 0, 0, 123456789, time.FixedZone("x", 3600))
	for _, s := range []*Subject{
		{Principal: "alice", Method: MethodUsernameToken, TokenType: TokenPasswordDigest, AuthTime: at, Modules: []string{"users"}},
		{Principal: "alice", Realm: "EXAMPLE.TEST", Method: "Negotiate", Groups: []string{"admins", "soap-users"},
			Attributes: map[string][]string{"mail": {"alice@example.test"}, "sid": {"S-1-5-21-1"}, "empty": {}, "nil": nil},
			AuthTime:   at.UTC(), Modules: []string{"krb", "ldap"}},
		{},
		{Principal: `mallory\@EVIL.TEST`, Realm: `<script>&"x"`, Method: "m\x00\x1f\b\f\n\r\t", TokenType: "é\u2028\u2029",
			Groups: []string{"\xff\xfe", ""}, Attributes: map[string][]string{"<k>": {"&"}, "k\"": {"\\"}}, AuthTime: time.Unix(0, 0)},
	} {
		checkAppendJSON(t, s)
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("alice", "EXAMPLE.TEST", "g1", "mail", "a@b", int64(1764870000), "x")
	f.Add("<&>\"\\", "\xff", "\u2028", "", "\x00", int64(-62135596800), "é")
	f.Fuzz(func(t *testing.T, principal, realm, group, key, value string, sec int64, method string) {
		at := time.Unix(sec%(1<<35), 0).UTC()
		if at.Year() < 0 || at.Year() > 9999 {
			return // json.Marshal refuses such a time
		}
		s := &Subject{Principal: principal, Realm: realm, Method: method, TokenType: value, Groups: []string{group, value},
			Attributes: map[string][]string{key: {value, group}, "z" + key: nil}, AuthTime: at, Modules: []string{key}}
		checkAppendJSON(t, s)
	})
}

func BenchmarkSubjectJSON(b *testing.B) {
	s := &Subject{Principal: "alice", Method: MethodUsernameToken, TokenType: TokenPasswordDigest,
		Groups: []string{"soap-users"}, AuthTime: time.Now(), Modules: []string{"users"}}
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = s.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(s)
		}
	})
}
