package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

// TestLockoutLookAlikeNamesLDAP: slapd's caseIgnoreMatch folds Unicode
// compatibility forms and case, so fullwidth and mathematical spellings of
// alice bind as alice. They must count against alice and be locked with
// her, in both lockout stores, through the binary.
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
			for _, u := range []string{"alice", "alicｅ", "\u00a0Alice"} {
				resp, body := post(u, "wonderland")
				if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "FailedAuthentication" {
					t.Fatalf("%q with the right password while alice is locked: %d %s", u, resp.StatusCode, body)
				}
				if l := svc.LogLine(t, resp.Header.Get("X-Request-Id")); !strings.Contains(l, `"locked":"principal"`) {
					t.Errorf("%q: the log does not say locked: %s", u, l)
				}
			}
			// bob is not affected.
			if resp, body := post("bob", "builder"); resp.StatusCode != http.StatusOK {
				t.Errorf("bob: %d %s", resp.StatusCode, body)
			}
		})
	}
}
