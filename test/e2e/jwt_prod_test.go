package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func ed25519PEM(t *testing.T) string {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

const identityConfig = `
identity:
  issuer: https://authsvc.e2e.test
  audience: [soap-backend]
  ttl: 2m
  keys:
    - {file: old.pem, kid: k1}
    - {file: new.pem, kid: k2, active_from: 2000-01-01T00:00:00Z}
    - {file: next.pem, kid: k3, active_from: 2999-01-01T00:00:00Z}
gateway: {enabled: true}
`

func jwks(t *testing.T, svc *Service) jose.JSONWebKeySet {
	t.Helper()
	resp, err := http.Get(svc.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("jwks: %v\n%s", err, b)
	}
	return set
}

// verifyAssertion checks an assertion as an upstream would: against the
// JWKS, with the expected issuer and audience.
func verifyAssertion(t *testing.T, set jose.JSONWebKeySet, tok string) map[string]any {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256})
	if err != nil {
		t.Fatalf("assertion %q: %v", tok, err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", parsed.Headers[0].KeyID)
	}
	var std jwt.Claims
	var all map[string]any
	if err := parsed.Claims(keys[0].Key, &std, &all); err != nil {
		t.Fatal(err)
	}
	if err := std.Validate(jwt.Expected{Issuer: "https://authsvc.e2e.test", AnyAudience: []string{"soap-backend"}, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	all["kid"] = parsed.Headers[0].KeyID
	return all
}

// TestJWTAssertionAndGateway checks the signed identity on proxied requests
// and in /v1/ext-authz answers, and the JWKS's rotation state.
func TestJWTAssertionAndGateway(t *testing.T) {
	up := newUpstream(t)
	cfg := baseConfig + identityConfig + "proxy:\n  upstream: " + up.URL + "\n"
	svc := StartService(t, cfg, map[string]string{"users.yaml": usersFile(t),
		"old.pem": ed25519PEM(t), "new.pem": ed25519PEM(t), "next.pem": ed25519PEM(t)})

	set := jwks(t, svc)
	var kids []string
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatal("private key in the JWKS")
		}
		kids = append(kids, k.KeyID)
	}
	// k1 was superseded by k2 long ago; k3 is published ahead of its time.
	if strings.Join(kids, ",") != "k2,k3" {
		t.Errorf("JWKS kids %v, want k2,k3", kids)
	}

	t.Run("proxy", func(t *testing.T) {
		out := zeep(t, "--user", "alice", "--password", "wonderland", "--digest", "--call", svc.URL+"/echo",
			"--header", "X-Authenticated-Assertion=forged")
		if strings.TrimSpace(string(out)) != "echo from alice" {
			t.Fatalf("zeep got %q", out)
		}
		r := up.last(t)
		if v := r.header.Values("X-Authenticated-Assertion"); len(v) != 1 {
			t.Fatalf("assertion headers %q", v)
		}
		c := verifyAssertion(t, set, r.header.Get("X-Authenticated-Assertion"))
		if c["kid"] != "k2" || c["sub"] != "alice" || c["auth_method"] != "UsernameToken" || c["token_type"] != "PasswordDigest" ||
			c["request_id"] != r.header.Get("X-Request-Id") || c["jti"] == "" {
			t.Errorf("claims %v", c)
		}
		if g, _ := c["groups"].([]any); len(g) != 2 || g[1] != "a,b" {
			t.Errorf("groups %v", c["groups"])
		}
	})

	t.Run("gateway accept (Traefik ForwardAuth)", func(t *testing.T) {
		resp, body := svc.Post(t, "/v1/ext-authz", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland"),
			"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/soap/echo", "X-Forwarded-Proto", "https")
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if resp.Header.Get("X-Authenticated-User") != "alice" || resp.Header.Get("X-Authenticated-Groups") != "soap-users,a%2Cb" {
			t.Errorf("identity headers %v", resp.Header)
		}
		if _, ok := resp.Header["X-Authenticated-Realm"]; !ok {
			t.Errorf("X-Authenticated-Realm missing (an empty value overwrites a client's)")
		}
		c := verifyAssertion(t, set, resp.Header.Get("X-Authenticated-Assertion"))
		if c["sub"] != "alice" || c["token_type"] != "PasswordText" {
			t.Errorf("claims %v", c)
		}
	})

	t.Run("gateway reject (Envoy ext_authz path prefix)", func(t *testing.T) {
		for _, v := range []string{"11", "12"} {
			resp, body := svc.Post(t, "/v1/ext-authz/soap/echo?wsdl=no", soapContentType(v),
				zeep(t, "--soap", v, "--user", "alice", "--password", "nope", "--digest"))
			want := 500
			if v == "12" {
				want = 400
			}
			if resp.StatusCode != want || faultCode(t, v, body) != "FailedAuthentication" {
				t.Errorf("SOAP %s: status %d: %s", v, resp.StatusCode, body)
			}
			if resp.Header.Get("X-Authenticated-Assertion") != "" || resp.Header.Get("X-Authenticated-User") != "" {
				t.Errorf("identity on a rejection: %v", resp.Header)
			}
		}
	})
}
