package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

// TestLogsBoundClientStrings: a claimed user name of 200 KB (a wrong
// password, and a stale Created that the reason quotes) costs a log line and
// an audit record of bounded size, not 200 KB each.
func TestLogsBoundClientStrings(t *testing.T) {
	svc := StartService(t, baseConfig+"audit: {output: audit.jsonl}\n", map[string]string{"users.yaml": usersFile(t)})
	name := strings.Repeat("ａ", 70000) // 210,000 bytes of fullwidth a
	for _, ut := range []wsseclient.UsernameToken{
		{Username: name, Password: "guess", Digest: true},
		{Username: name, Password: "guess", Digest: true, Created: time.Now().Add(-time.Hour)},
	} {
		resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), wsseclient.Envelope(wsse.SOAP11, ut, "<e/>"))
		if resp.StatusCode != 401 {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		id := resp.Header.Get("X-Request-Id")
		if l := svc.LogLine(t, id); len(l) > 4096 || !strings.Contains(l, "ａａａ") {
			t.Errorf("log line of %d bytes for a %d-byte user name: %.300s", len(l), len(name), l)
		}
		var rec string
		deadline := time.Now().Add(5 * time.Second)
		for rec == "" && time.Now().Before(deadline) {
			raw, _ := os.ReadFile(filepath.Join(svc.Dir, "audit.jsonl"))
			for _, l := range strings.Split(string(raw), "\n") {
				if strings.Contains(l, id) {
					rec = l
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		if rec == "" || len(rec) > 4096 {
			t.Errorf("audit record of %d bytes: %.300s", len(rec), rec)
		}
	}
}
