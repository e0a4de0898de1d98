package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
)

// TestBruteForceRedis locks a principal after three wrong passwords, on
// both replicas sharing a Redis, with the same fault as a wrong password.
func TestBruteForceRedis(t *testing.T) {
	rds := testenv.StartRedis(t)
	cfg := baseConfig + `
replay:
  type: redis
  addrs: ["` + rds.Addr + `"]
  key_prefix: "e2e:bf-replay:"
brute_force:
  store: redis
  key_prefix: "e2e:bf:"
  principal: {max_failures: 3, window: 10m, lockout: 10m}
  address: {max_failures: 1000}
`
	files := map[string]string{"users.yaml": usersFile(t)}
	a := StartService(t, cfg, files)
	b := StartService(t, cfg, files)

	var wrong []byte
	for i := 0; i < 3; i++ {
		resp, body := a.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "guess"))
		if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "FailedAuthentication" {
			t.Fatalf("guess %d: %d %s", i, resp.StatusCode, body)
		}
		wrong = body
	}
	// The right password is now refused on the other replica too.
	resp, body := b.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland", "--digest"))
	if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "FailedAuthentication" {
		t.Fatalf("locked principal: %d %s", resp.StatusCode, body)
	}
	strip := func(b []byte) string { s := string(b); return s[:strings.Index(s, "<authsvc:RequestId")] }
	if strip(body) != strip(wrong) {
		t.Errorf("the locked fault differs from a wrong password's:\n%s\n%s", body, wrong)
	}
	if l := b.LogLine(t, resp.Header.Get("X-Request-Id")); !strings.Contains(l, "locked") {
		t.Errorf("log does not say locked: %s", l)
	}
	// Another user is not affected.
	if resp, body := b.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "bob", "--password", "looking-glass")); resp.StatusCode != 200 {
		t.Errorf("bob: %d %s", resp.StatusCode, body)
	}
	// The metrics count the lock and the locked rejection.
	mresp, err := http.Get(b.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer mresp.Body.Close()
	var m strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := mresp.Body.Read(buf)
		m.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(m.String(), `authsvc_locked_rejections_total{kind="principal"} 1`) {
		t.Errorf("metrics lack the locked rejection")
	}
}
