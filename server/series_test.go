package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/wsse"
)

// The per-endpoint series looked up once at start (initSeries) count what
// they counted when looked up per request: accepted requests and
// decisions by method and token type (one known from the configuration,
// one that is not), the request duration, and an in-flight gauge back at
// zero; refusals still count under their own outcome. So do the chain
// entries' series, looked up once too, by outcome.
func TestEndpointSeriesCount(t *testing.T) {
	m := authn.ModuleFunc(func(_ context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
		ut := req.Security().UsernameTokens[0]
		if ut.Password != "wonderland" {
			return false, authn.Reject(wsse.FailedAuthentication, "wrong password")
		}
		s.Principal, s.Method, s.TokenType = ut.Username, authn.MethodUsernameToken, authn.TokenPasswordText
		if ut.Username == "bob" {
			s.Method, s.TokenType = "Custom", "house-token"
		}
		if strings.HasPrefix(ut.Username, "many-") {
			s.Method, s.TokenType = "Custom", ut.Username
		}
		req.MarkProcessedAt(ut.Start)
		return true, nil
	})
	none := authn.ModuleFunc(func(context.Context, *authn.Request, *authn.Subject) (bool, error) {
		return false, authn.ErrUnsupported
	})
	chain, err := authn.NewChain(authn.Entry{Name: "none", Flag: authn.Optional, Module: none},
		authn.Entry{Name: "users", Flag: authn.Requisite, Module: m})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv, err := New(Options{Chain: chain, Logger: quiet, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, c := range []struct {
		user, pw string
		code     int
	}{{"alice", "wonderland", 200}, {"alice", "wonderland", 200}, {"bob", "wonderland", 200}, {"bob", "wonderland", 200},
		{"alice", "guess", 401}} {
		if w := post(h, "/v1/authenticate", "192.0.2.1:1000", envelope(c.user, c.pw)); w.Code != c.code {
			t.Fatalf("%s/%s: %d, want %d: %s", c.user, c.pw, w.Code, c.code, w.Body)
		}
	}
	// More token types than the endpoint keeps series of: each still
	// counted, the ones kept and the ones looked up each time alike.
	for i := range maxSeenSeries + 6 {
		for range 1 + i%2 {
			user := fmt.Sprintf("many-%d", i)
			if w := post(h, "/v1/authenticate", "192.0.2.1:1000", envelope(user, "wonderland")); w.Code != 200 {
				t.Fatalf("%s: %d: %s", user, w.Code, w.Body)
			}
		}
	}
	// The kept series stop at the bound, and so does their counter.
	kept := 0
	srv.series["api"].seen.Range(func(any, any) bool { kept++; return true })
	if n := srv.series["api"].nseen.Load(); kept != maxSeenSeries || n != maxSeenSeries {
		t.Errorf("%d series kept, counter %d; want both %d", kept, n, maxSeenSeries)
	}
	for i := range maxSeenSeries + 6 {
		l := map[string]string{"endpoint": "api", "method": "Custom", "token_type": fmt.Sprintf("many-%d", i), "outcome": "accepted"}
		if got, _ := testenv.MetricValue(t, reg, "authsvc_authentications_total", l); got != float64(1+i%2) {
			t.Errorf("token type many-%d counted %v times, want %d", i, got, 1+i%2)
		}
	}
	api := map[string]string{"endpoint": "api"}
	for _, w := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"authsvc_requests_total", map[string]string{"endpoint": "api", "outcome": "accepted"}, 4 + 3*(maxSeenSeries+6)/2},
		{"authsvc_requests_total", map[string]string{"endpoint": "api", "outcome": "rejected"}, 1},
		{"authsvc_authentications_total", map[string]string{"endpoint": "api", "method": authn.MethodUsernameToken,
			"token_type": authn.TokenPasswordText, "outcome": "accepted"}, 2},
		{"authsvc_authentications_total", map[string]string{"endpoint": "api", "method": "Custom",
			"token_type": "house-token", "outcome": "accepted"}, 2},
		{"authsvc_request_duration_seconds", api, 5 + 3*(maxSeenSeries+6)/2},
		{"authsvc_in_flight_requests", api, 0},
		{"authsvc_module_logins_total", map[string]string{"module": "users", "outcome": "accepted"}, 4 + 3*(maxSeenSeries+6)/2},
		{"authsvc_module_logins_total", map[string]string{"module": "users", "outcome": "rejected"}, 1},
		{"authsvc_module_logins_total", map[string]string{"module": "users", "outcome": "ignored"}, 0},
		{"authsvc_module_logins_total", map[string]string{"module": "none", "outcome": "ignored"}, 5 + 3*(maxSeenSeries+6)/2},
		{"authsvc_module_duration_seconds", map[string]string{"module": "users"}, 5 + 3*(maxSeenSeries+6)/2},
		{"authsvc_module_duration_seconds", map[string]string{"module": "none"}, 5 + 3*(maxSeenSeries+6)/2},
	} {
		got, ok := testenv.MetricValue(t, reg, w.name, w.labels)
		if !ok || got != w.want {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.want)
		}
	}
}
