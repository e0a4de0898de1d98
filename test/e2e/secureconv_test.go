package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/sts/ststest"
	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// scConfig is authsvc with UsernameToken (text and digest) and the
// secure_conversation module, the STS over store (its YAML, "" for the
// memory default), in proxy mode in front of upstream.
func scConfig(upstream, store string) string {
	return `
registries:
  users: {type: file, path: users.yaml}
chain:
  - name: users
    type: username
    flag: sufficient
    registry: users
    password_text: true
    password_digest: true
    text_over_plain_http: true
  - name: contexts
    type: secure_conversation
    flag: sufficient
secure_conversation:
  issuer: urn:authsvc:e2e
  allow_insecure: true
` + store + `
limits:
  max_body_bytes: 4194304
proxy:
  upstream: ` + upstream + `
log: {level: debug}
`
}

func scEntropy(t *testing.T) []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func soapType(soap12 bool) string {
	if soap12 {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// wantRSTR checks a 200 RSTR in the caller's SOAP version.
func wantRSTR(t *testing.T, what string, resp *http.Response, body []byte, soap12 bool) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != soapType(soap12) ||
		!bytes.Contains(body, []byte("RequestSecurityTokenResponse")) {
		t.Fatalf("%s: %d %s\n%s", what, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// wantSCFault checks a SOAP fault of the caller's version with code
// prefix:local in namespace ns.
func wantSCFault(t *testing.T, what string, resp *http.Response, body []byte, soap12 bool, status int, ns, code string) {
	t.Helper()
	env := wsse.NSSOAP11
	if soap12 {
		env = wsse.NSSOAP12
	}
	if resp.StatusCode != status || !bytes.Contains(body, []byte(env)) || !bytes.Contains(body, []byte(`"`+ns+`">`+code+`<`)) {
		t.Fatalf("%s: %d, want %d and %s in %s\n%s", what, resp.StatusCode, status, code, ns, body)
	}
}

// TestSecureConvEndToEnd: through the real binary, a UsernameToken (text
// and digest) obtains a context at /v1/sts, WSS4J signs messages with it
// (profile M, a 1 MiB Body too) that /v1/authenticate accepts and the proxy
// forwards byte for byte, the context is renewed and cancelled (the cancel
// sent to a proxied path), and then refused with wsc:BadContextToken in a
// fault of the caller's SOAP version. The upstream never receives an RST.
func TestSecureConvEndToEnd(t *testing.T) {
	g := wss4j.SharedSC(t)
	up := newUpstream(t)
	svc := StartService(t, scConfig(up.URL, ""), map[string]string{"users.yaml": usersFile(t)})
	for _, tc := range []struct {
		name   string
		v      *wstrust.Version
		soap12 bool
		digest bool
	}{
		{"1.3/SOAP12/digest", wstrust.V13, true, true},
		{"1.3/SOAP11/text", wstrust.V13, false, false},
		{"2005/SOAP11/digest", wstrust.Feb2005, false, true},
		{"2005/SOAP12/text", wstrust.Feb2005, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := soapType(tc.soap12)
			ce := scEntropy(t)
			issue := ststest.Bootstrap(t, g, ststest.RST{V: tc.v, Kind: wstrust.Issue, Entropy: ce, Computed: true}, tc.soap12, tc.digest, ststest.Password)
			resp, body := svc.Post(t, "/v1/sts", ct, issue)
			wantRSTR(t, "issue", resp, body, tc.soap12)
			c := ststest.Accept(t, g, body, tc.soap12, ce)

			// Use: the API answers with the context's Subject.
			resp, body = svc.Post(t, "/v1/authenticate", ct, c.App(t, 1<<20, wss4j.SC{}))
			var subj struct {
				Principal  string              `json:"principal"`
				Method     string              `json:"method"`
				Attributes map[string][]string `json:"attributes"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(body, &subj) != nil || subj.Principal != "alice" || subj.Method != "SecureConversation" ||
				len(subj.Attributes["bootstrap_method"]) != 1 || subj.Attributes["bootstrap_method"][0] != "UsernameToken" {
				t.Fatalf("use at /v1/authenticate: %d\n%.2000s", resp.StatusCode, body)
			}
			// Use through the proxy: forwarded byte for byte.
			for _, n := range []int{200, 1 << 20} {
				app := c.App(t, n, wss4j.SC{ByIdentifier: true})
				resp, body = svc.Post(t, "/service/Echo", ct, app)
				if resp.StatusCode != 200 || !bytes.Equal(up.last(t).body, app) {
					t.Fatalf("use through the proxy (%d bytes): %d, upstream got %d bytes\n%.2000s", n, resp.StatusCode, len(up.last(t).body), body)
				}
			}

			// Renew at /v1/sts with new entropy: same Identifier, new key.
			ce2 := scEntropy(t)
			resp, body = svc.Post(t, "/v1/sts", ct, c.RST(t, wstrust.Renew, ce2, wss4j.SC{}))
			wantRSTR(t, "renew", resp, body, tc.soap12)
			c2 := ststest.Accept(t, g, body, tc.soap12, ce2)
			if c2.Identifier != c.Identifier || bytes.Equal(c2.Key, c.Key) {
				t.Fatalf("renewal: %s -> %s", c.Identifier, c2.Identifier)
			}
			if resp, body := svc.Post(t, "/v1/authenticate", ct, c2.App(t, 100, wss4j.SC{})); resp.StatusCode != 200 {
				t.Fatalf("use after renewal: %d\n%s", resp.StatusCode, body)
			}

			// Cancel, sent to a proxied path: the STS answers, not the upstream.
			before := up.count()
			resp, body = svc.Post(t, "/service/Echo", ct, c2.RST(t, wstrust.Cancel, nil, wss4j.SC{}))
			wantRSTR(t, "cancel", resp, body, tc.soap12)
			if !bytes.Contains(body, []byte("RequestedTokenCancelled")) || up.count() != before {
				t.Fatalf("cancel through the proxy: upstream %d -> %d\n%s", before, up.count(), body)
			}

			// Refused from then on, in the caller's version.
			resp, body = svc.Post(t, "/v1/authenticate", ct, c2.App(t, 100, wss4j.SC{}))
			wantSCFault(t, "use after cancel (API)", resp, body, tc.soap12, 401, tc.v.SC, "wsc:BadContextToken")
			status := 500
			if tc.soap12 {
				status = 400
			}
			resp, body = svc.Post(t, "/service/Echo", ct, c2.App(t, 100, wss4j.SC{}))
			wantSCFault(t, "use after cancel (proxy)", resp, body, tc.soap12, status, tc.v.SC, "wsc:BadContextToken")
			if up.count() != before {
				t.Fatal("a refused message reached the upstream")
			}
		})
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	for i, r := range up.reqs {
		if bytes.Contains(r.body, []byte("RequestSecurityToken")) {
			t.Fatalf("the upstream received an RST (request %d)", i)
		}
	}
	// An info line, which the log may write after the answer: wait for it.
	svc.WaitLog(t, "sts: security context cancelled")
}

// TestSecureConvRedisReplicas: two authsvc processes sharing a real Redis
// (store: redis, encrypted records) serve one context: issued on A, used
// and cancelled on B, then refused by A.
func TestSecureConvRedisReplicas(t *testing.T) {
	g := wss4j.SharedSC(t)
	rds := testenv.StartRedis(t)
	up := newUpstream(t)
	store := `  store: redis
  redis:
    addrs: ["` + rds.Addr + `"]
    key_prefix: "e2e-sct:"
    keys: [{id: k1, file: sct.key}]
    write_key: k1`
	files := map[string]string{"users.yaml": usersFile(t), "sct.key": strings.Repeat("5a", 32) + "\n"}
	a := StartService(t, scConfig(up.URL, store), files)
	b := StartService(t, scConfig(up.URL, store), files)
	ct := soapType(false)
	ce := scEntropy(t)
	resp, body := a.Post(t, "/v1/sts", ct, ststest.Bootstrap(t, g, ststest.RST{V: wstrust.V13, Kind: wstrust.Issue, Entropy: ce, Computed: true}, false, true, ststest.Password))
	wantRSTR(t, "issue on A", resp, body, false)
	c := ststest.Accept(t, g, body, false, ce)
	if resp, body := b.Post(t, "/v1/authenticate", ct, c.App(t, 100, wss4j.SC{})); resp.StatusCode != 200 {
		t.Fatalf("use on B: %d\n%s", resp.StatusCode, body)
	}
	resp, body = b.Post(t, "/v1/sts", ct, c.RST(t, wstrust.Cancel, nil, wss4j.SC{}))
	wantRSTR(t, "cancel on B", resp, body, false)
	resp, body = a.Post(t, "/v1/authenticate", ct, c.App(t, 100, wss4j.SC{}))
	wantSCFault(t, "use on A after cancel on B", resp, body, false, 401, wstrust.V13.SC, "wsc:BadContextToken")
}

// TestSecureConvCheckConfig: check-config accepts the quickstart's
// secure_conversation section and refuses mistakes naming the key.
func TestSecureConvCheckConfig(t *testing.T) {
	out, err := exec.Command(binary(t), "check-config", "-config", filepath.Join("..", "..", "examples", "quickstart.yaml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	chain := `
registries:
  users: {type: file, path: users.yaml}
chain:
  - {name: users, type: username, flag: sufficient, registry: users}
  - {name: contexts, type: secure_conversation, flag: sufficient}
`
	for _, c := range []struct{ cfg, want string }{
		{chain, "chain[1] (contexts): type secure_conversation needs the top-level secure_conversation section"},
		{chain + "secure_conversation: {issuer: urn:x, store: redis}\n", "store: redis needs a redis: section"},
		{chain + "secure_conversation: {issuer: urn:x, lifetime: 30s}\n", "secure_conversation: lifetime: 30s is shorter than a minute"},
		{chain + "secure_conversation: {issuer: urn:x, stroe: memory}\n", "stroe"},
		{chain + "secure_conversation: {lifetime: 10m}\n", "secure_conversation: issuer: is required"},
	} {
		if out := checkConfig(t, c.cfg); !strings.Contains(out, c.want) {
			t.Errorf("check-config output lacks %q:\n%s", c.want, out)
		}
	}
}
