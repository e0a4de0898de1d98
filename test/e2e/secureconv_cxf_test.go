package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/test/cxf"
	"github.com/authsvc/authsvc/wsse"
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

// TestSecureConvCXFProxy: the same client in front of a SOAP service, with
// authsvc as the reverse proxy over TLS: CXF's RSTs (issue, cancel) go to
// the service's own address and are answered by the STS; only the call,
// byte for byte as CXF signed it, reaches the upstream.
func TestSecureConvCXFProxy(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
		now := time.Now().UTC()
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		fmt.Fprintf(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="%s" xmlns:wsu="%s"><soap:Header>`+
			`<wsse:Security soap:mustUnderstand="1"><wsu:Timestamp wsu:Id="TS-up"><wsu:Created>%s</wsu:Created><wsu:Expires>%s</wsu:Expires></wsu:Timestamp></wsse:Security>`+
			`</soap:Header><soap:Body><e:EchoResponse xmlns:e="urn:example:echo"><e:text>echo for %s</e:text></e:EchoResponse></soap:Body></soap:Envelope>`,
			wsse.NSWSSE, wsse.NSWSU, now.Format(time.RFC3339), now.Add(5*time.Minute).Format(time.RFC3339), r.Header.Get("X-Authenticated-User"))
	}))
	defer up.Close()
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
  issuer: urn:authsvc:e2e-cxf-proxy
tls: {cert_file: ` + certFile + `, key_file: ` + keyFile + `}
proxy:
  upstream: ` + up.URL + `
log: {level: debug}
`
	svc := startTLSService(t, cfg, pool)
	for _, policy := range []string{cxf.PolicyT, cxf.PolicyM} {
		t.Run(policy, func(t *testing.T) {
			mu.Lock()
			before := len(got)
			mu.Unlock()
			res, err := cxf.Run(context.Background(), cxf.Options{URL: svc.URL + "/services/Echo", Policy: policy,
				CAFile: certFile, Cancel: true, Text: "from cxf"})
			if err != nil {
				t.Fatalf("cxf: %v\n%s", err, svc.Log())
			}
			if !strings.HasPrefix(res.Reply, "echo for alice") || !strings.Contains(res.Reply, "cancelled urn:uuid:") {
				t.Fatalf("reply %q", res.Reply)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != before+1 {
				t.Fatalf("the upstream received %d requests, want the one call", len(got)-before)
			}
			var call []byte
			for _, m := range res.Messages {
				if m.Sent && bytes.Contains(m.Body, []byte("from cxf")) {
					call = m.Body
				}
			}
			if call == nil || !bytes.Equal(got[before], call) {
				t.Fatalf("the upstream did not get the call byte for byte:\n%s", got[before])
			}
			if bytes.Contains(got[before], []byte("RequestSecurityToken")) {
				t.Fatal("the upstream received an RST")
			}
		})
	}
}
