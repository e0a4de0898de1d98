package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/asynclog"
	"github.com/authsvc/authsvc/internal/testenv"
)

// The "authenticated" line is the same whether the asynchronous log's
// fast path writes it (the service's logger, asynclog.NewJSON) or slog
// does (any other logger, or a value the fast path leaves to slog): the
// same fields with the same values, time and request id aside. A principal
// with a space takes slog's path through the service's logger too.
func TestAuthenticatedLineFastPath(t *testing.T) {
	line := func(l *slog.Logger, flush func(), out *testenv.LogBuffer, user string) map[string]any {
		t.Helper()
		m := authn.ModuleFunc(func(_ context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
			ut := req.Security().UsernameTokens[0]
			s.Principal, s.Method, s.TokenType = ut.Username, authn.MethodUsernameToken, authn.TokenPasswordText
			req.MarkProcessedAt(ut.Start)
			return true, nil
		})
		chain, err := authn.NewChain(authn.Entry{Name: "users", Flag: authn.Requisite, Module: m})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := New(Options{Chain: chain, Logger: l})
		if err != nil {
			t.Fatal(err)
		}
		if w := post(srv.Handler(), "/v1/authenticate", "192.0.2.1:1000", envelope(user, "wonderland")); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		flush()
		for l := range strings.Lines(out.String()) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%v: %q", err, l)
			}
			if m["msg"] == "authenticated" {
				delete(m, "time")
				delete(m, "request_id")
				return m
			}
		}
		t.Fatalf("no authenticated line in %q", out.String())
		return nil
	}
	for _, user := range []string{"alice", "alice smith"} {
		fastOut, slowOut := &testenv.LogBuffer{}, &testenv.LogBuffer{}
		h := asynclog.NewJSON(fastOut, nil)
		got := line(slog.New(h), h.Flush, fastOut, user)
		want := line(slog.New(slog.NewJSONHandler(slowOut, nil)), func() {}, slowOut, user)
		if !maps.EqualFunc(got, want, func(a, b any) bool { return fmtAny(a) == fmtAny(b) }) {
			t.Errorf("user %q: fast path %v, slog %v", user, got, want)
		}
		if got["principal"] != user {
			t.Errorf("user %q: principal %v", user, got["principal"])
		}
	}
}

func fmtAny(v any) string { b, _ := json.Marshal(v); return string(b) }
