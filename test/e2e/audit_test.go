package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAudit checks the audit stream: one JSON line per decision, in its own
// file, never holding a password.
func TestAudit(t *testing.T) {
	svc := StartService(t, baseConfig+"audit: {output: audit.jsonl}\n", map[string]string{"users.yaml": usersFile(t)})

	ok, _ := svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland"))
	bad, _ := svc.Post(t, "/v1/authenticate", soapContentType("12"),
		zeep(t, "--soap", "12", "--user", "alice", "--password", "Secret-Guess-42"))
	dig, _ := svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland", "--digest"))
	if ok.StatusCode != 200 || bad.StatusCode != 401 || dig.StatusCode != 200 {
		t.Fatalf("statuses %d %d %d", ok.StatusCode, bad.StatusCode, dig.StatusCode)
	}

	type record struct {
		Time, RequestID, Endpoint, Peer, Client, Principal, Method, TokenType, Outcome, Fault, Reason string
	}
	path := filepath.Join(svc.Dir, "audit.jsonl")
	var raw []byte
	records := map[string]record{}
	deadline := time.Now().Add(5 * time.Second)
	for len(records) < 3 && time.Now().Before(deadline) {
		raw, _ = os.ReadFile(path)
		records = map[string]record{}
		for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			if l == "" {
				continue
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("audit line is not a JSON object of strings: %v\n%s", err, l)
			}
			records[m["request_id"]] = record{Time: m["time"], RequestID: m["request_id"], Endpoint: m["endpoint"],
				Peer: m["peer"], Client: m["client"], Principal: m["principal"], Method: m["method"],
				TokenType: m["token_type"], Outcome: m["outcome"], Fault: m["fault"], Reason: m["reason"]}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(records) != 3 {
		t.Fatalf("want 3 audit records:\n%s", raw)
	}
	for _, secret := range []string{"wonderland", "Secret-Guess-42", "PasswordDigest\">", "Nonce"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("audit log holds %q:\n%s", secret, raw)
		}
	}
	a := records[ok.Header.Get("X-Request-Id")]
	if a.Outcome != "accepted" || a.Principal != "alice" || a.Method != "UsernameToken" || a.TokenType != "PasswordText" ||
		a.Endpoint != "api" || a.Client != "127.0.0.1" || !strings.HasPrefix(a.Peer, "127.0.0.1:") || a.Fault != "" {
		t.Errorf("accept record %+v", a)
	}
	if _, err := time.Parse(time.RFC3339Nano, a.Time); err != nil {
		t.Errorf("time %q: %v", a.Time, err)
	}
	r := records[bad.Header.Get("X-Request-Id")]
	if r.Outcome != "rejected" || r.Principal != "alice" || r.Fault != "FailedAuthentication" || r.Reason == "" ||
		r.TokenType != "PasswordText" {
		t.Errorf("reject record %+v", r)
	}
	if d := records[dig.Header.Get("X-Request-Id")]; d.TokenType != "PasswordDigest" || d.Outcome != "accepted" {
		t.Errorf("digest record %+v", d)
	}
	// The audit stream is separate from the service log.
	if strings.Contains(svc.Log(), `"outcome":"accepted"`) {
		t.Error("audit records in the service log")
	}
}
