package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

// TestLockoutLookAlikeNamesLDAP: slapd's caseIgnoreMatch folds Unicode
// compatibility forms and case, so fullwidth and mathematical spellings of
// alice bind as alice. They must count against alice and be locked with
// her, in both lockout stores, through the binary. A locked request still
// runs the chain, against the directory, under a decoy name.
func TestLockoutLookAlikeNamesLDAP(t *testing.T) {
	dir := testenv.StartLDAP(t)
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			cfg := ldapRegistryYAML(dir) + `
chain:
  - name: directory
    type: username
    flag: requisite
    registry: directory
    password_text: true
    password_digest: false
    text_over_plain_http: true
log: {level: debug}
brute_force:
  store: ` + store + `
  principal: {max_failures: 3, window: 10m, lockout: 10m}
  address: {max_failures: 1000}
`
			if store == "redis" {
				rds := testenv.StartRedis(t)
				cfg += `
replay:
  type: redis
  addrs: ["` + rds.Addr + `"]
  key_prefix: "e2e:lookalike-replay:"
`
			}
			svc := StartService(t, cfg, nil)
			post := func(user, password string) (*http.Response, []byte) {
				return svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", user, "--password", password))
			}

			// The premise: the directory takes a look-alike for alice.
			resp, body := post("ａｌｉｃｅ", "wonderland")
			var s subject
			json.Unmarshal(body, &s)
			if resp.StatusCode != http.StatusOK || s.Principal != "alice" {
				t.Fatalf("fullwidth alice: %d %s", resp.StatusCode, body)
			}

			// Three wrong guesses, each under another spelling.
			for _, u := range []string{"ａlice", "𝐚lice", "ALİCE"} {
				resp, body := post(u, "guess")
				if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "FailedAuthentication" {
					t.Fatalf("guess as %q: %d %s", u, resp.StatusCode, body)
				}
			}
			// alice is locked, under every spelling, right password or not.
			// The refusal costs what a wrong password does: the module ran
			// and the directory was asked, under a decoy name, not alice's.
			runs := moduleRuns(t, svc, "directory")
			for _, u := range []string{"alice", "alicｅ", "\u00a0Alice"} {
				resp, body := post(u, "wonderland")
				if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "FailedAuthentication" {
					t.Fatalf("%q with the right password while alice is locked: %d %s", u, resp.StatusCode, body)
				}
				if l := svc.LogLine(t, resp.Header.Get("X-Request-Id")); !strings.Contains(l, `"locked":"principal"`) {
					t.Errorf("%q: the log does not say locked: %s", u, l)
				}
			}
			if n := moduleRuns(t, svc, "directory") - runs; n != 3 {
				t.Errorf("the module ran %d times for 3 locked requests", n)
			}
			// The registry's lines are routine (info) records, which the
			// log writes in batches: they may arrive after the answer.
			decoy := `"msg":"ldap: password rejected","registry":"directory","user":"authsvc-locked-`
			for deadline := time.Now().Add(5 * time.Second); strings.Count(svc.Log(), decoy) < 3 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if n := strings.Count(svc.Log(), decoy); n != 3 {
				t.Errorf("the directory was asked %d times under a decoy name for 3 locked requests:\n%s", n, svc.Log())
			}
			// bob is not affected.
			if resp, body := post("bob", "builder"); resp.StatusCode != http.StatusOK {
				t.Errorf("bob: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// TestLockoutCountsTheDirectorysUser: with a filter that matches uid or
// mail, alice and alice@example.test are one user with two names the fold
// cannot join. Failures count against the user the directory resolved, and
// a lock on her holds under either name.
func TestLockoutCountsTheDirectorysUser(t *testing.T) {
	dir := testenv.StartLDAP(t)
	reg := strings.Replace(ldapRegistryYAML(dir), "(uid=%s)", "(|(uid=%s)(mail=%s))", 1)
	svc := StartService(t, reg+`
chain:
  - name: directory
    type: username
    flag: requisite
    registry: directory
    password_text: true
    password_digest: false
    text_over_plain_http: true
log: {level: debug}
brute_force:
  principal: {max_failures: 3, window: 10m, lockout: 10m}
  address: {max_failures: 1000}
`, nil)
	post := func(user, password string) (*http.Response, []byte) {
		return svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", user, "--password", password))
	}
	if resp, body := post("alice@example.test", "wonderland"); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice by mail: %d %s", resp.StatusCode, body)
	}
	for _, u := range []string{"alice@example.test", "alice", "ALICE@example.test"} {
		if resp, body := post(u, "guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess as %q: %d %s", u, resp.StatusCode, body)
		}
	}
	// alice@example.test has two failures of its own, alice three as the
	// directory's user: both names are refused, as locked.
	for _, u := range []string{"alice", "alice@example.test"} {
		resp, body := post(u, "wonderland")
		if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "FailedAuthentication" {
			t.Fatalf("%q while alice is locked: %d %s", u, resp.StatusCode, body)
		}
		if l := svc.LogLine(t, resp.Header.Get("X-Request-Id")); !strings.Contains(l, `"locked":"principal"`) {
			t.Errorf("%q: the log does not say locked: %s", u, l)
		}
	}
	if resp, body := post("bob", "builder"); resp.StatusCode != http.StatusOK {
		t.Errorf("bob: %d %s", resp.StatusCode, body)
	}
}

// moduleRuns reads authsvc_module_duration_seconds_count of a chain entry
// from /metrics.
func moduleRuns(t *testing.T, svc *Service, entry string) int {
	t.Helper()
	resp, err := http.Get(svc.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	prefix := `authsvc_module_duration_seconds_count{module="` + entry + `"} `
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("metric line %q", l)
			}
			return n
		}
	}
	return 0
}
