package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/test/cxf"
)

// TestSecureConvCXF: Apache CXF 4.2.3, a real WS-SecureConversation client,
// against the binary over TLS at /v1/authenticate: it asks for a context
// with a UsernameToken, calls the service signed with it (policy T: the
// context's key signs the Timestamp; policy M: derived keys sign Body and
// Timestamp) and cancels it.
func TestSecureConvCXF(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	cfg := `
registries:
  users: {type: file, path: users.yaml}
chain:
  - name: users
    type: username
    flag: sufficient
    registry: users
  - name: contexts
    type: secure_conversation
    flag: sufficient
secure_conversation:
  issuer: urn:authsvc:e2e-cxf
tls: {cert_file: ` + certFile + `, key_file: ` + keyFile + `}
log: {level: debug}
`
	svc := startTLSService(t, cfg, pool)
	for _, policy := range []string{cxf.PolicyT, cxf.PolicyM} {
		t.Run(policy, func(t *testing.T) {
			res, err := cxf.Run(context.Background(), cxf.Options{URL: svc.URL + "/v1/authenticate", Policy: policy,
				CAFile: certFile, API: true, Cancel: true})
			if err != nil {
				if res != nil {
					for _, m := range res.Messages {
						t.Logf("%s\n%s", m.Line, m.Body)
					}
				}
				t.Fatalf("cxf: %v\n%s", err, svc.Log())
			}
			reply, cancelled, _ := strings.Cut(res.Reply, "\n")
			if !strings.Contains(reply, `"principal":"alice"`) || !strings.Contains(reply, `"method":"SecureConversation"`) ||
				!strings.HasPrefix(strings.TrimSpace(cancelled), "cancelled urn:uuid:") {
				t.Fatalf("reply %q", res.Reply)
			}
			id := strings.TrimPrefix(strings.TrimSpace(cancelled), "cancelled ")
			svc.WaitLog(t, `"msg":"sts: security context cancelled"`)
			if !strings.Contains(svc.Log(), `"context":"`+id+`"`) {
				t.Fatalf("no log line for context %s", id)
			}
		})
	}
}
