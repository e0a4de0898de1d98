package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Elements an attacker (or a misconfigured client) adds to a valid
// Security header: nothing in the chain verifies them.
const (
	garbageSignature = `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>` +
		`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
		`<ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>` +
		`<ds:Reference URI="#Body"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>` +
		`<ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>` +
		`<ds:SignatureValue>Z2FyYmFnZQ==</ds:SignatureValue></ds:Signature>`
	encryptedKey = `<xenc:EncryptedKey xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">` +
		`<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>` +
		`<xenc:CipherData><xenc:CipherValue>Z2FyYmFnZQ==</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>`
	encryptedData = `<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">` +
		`<xenc:CipherData><xenc:CipherValue>Z2FyYmFnZQ==</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>`
	unknownToken = `<x:Ticket xmlns:x="urn:example:ticket">alice:deadbeef</x:Ticket>`
	x509Token    = `<wsse:BinarySecurityToken ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3" ` +
		`EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">MIIB</wsse:BinarySecurityToken>`
)

var securityEnd = regexp.MustCompile(`</[A-Za-z0-9_-]*:?Security>`)

// inject puts extra into the Security header of a zeep message, just
// before its end tag.
func inject(t *testing.T, msg []byte, extra string) []byte {
	t.Helper()
	loc := securityEnd.FindIndex(msg)
	if loc == nil {
		t.Fatalf("no Security end tag in\n%s", msg)
	}
	return append(append(append([]byte(nil), msg[:loc[0]]...), extra...), msg[loc[0]:]...)
}

// zeepMessages makes n PasswordDigest messages for alice (each with its
// own nonce) with one zeep start-up.
func zeepMessages(t *testing.T, n int, args ...string) [][]byte {
	t.Helper()
	out := zeep(t, append([]string{"--user", "alice", "--password", "wonderland", "--digest", "--count", strconv.Itoa(n)}, args...)...)
	msgs := bytes.Split(out, []byte{0})
	if len(msgs) != n {
		t.Fatalf("zeep wrote %d messages, want %d", len(msgs), n)
	}
	return msgs
}

// TestUnprocessedSecurityElements: a valid digest UsernameToken does not
// carry an unverified signature, encryption or unknown token through. The
// chain accepted alice's token, but the Security header holds an element
// no module processed: the request is refused, unless the element's type is
// configured to pass through to an upstream that verifies it.
func TestUnprocessedSecurityElements(t *testing.T) {
	svc := StartService(t, baseConfig, map[string]string{"users.yaml": usersFile(t)})
	cases := []struct {
		name, extra, code, logPart string
	}{
		{"valid token alone", "", "", ""},
		{"garbage ds:Signature", garbageSignature, "InvalidSecurity", "{http://www.w3.org/2000/09/xmldsig#}Signature"},
		{"xenc:EncryptedKey", encryptedKey, "InvalidSecurity", "{http://www.w3.org/2001/04/xmlenc#}EncryptedKey"},
		{"xenc:EncryptedData", encryptedData, "InvalidSecurity", "{http://www.w3.org/2001/04/xmlenc#}EncryptedData"},
		{"unknown token", unknownToken, "UnsupportedSecurityToken", "{urn:example:ticket}Ticket"},
		{"X.509 token nothing verifies", x509Token, "UnsupportedSecurityToken", "BinarySecurityToken"},
		{"signature and unknown token", unknownToken + garbageSignature, "InvalidSecurity", "{urn:example:ticket}Ticket"},
	}
	for _, v := range []string{"11", "12"} {
		msgs := zeepMessages(t, len(cases), "--soap", v, "--timestamp", "300")
		for i, c := range cases {
			t.Run("soap"+v+"/"+c.name, func(t *testing.T) {
				resp, body := svc.Post(t, "/v1/authenticate", soapContentType(v), inject(t, msgs[i], c.extra))
				if c.code == "" {
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("status %d: %s\n%s", resp.StatusCode, body, svc.Log())
					}
					return
				}
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401: %s", resp.StatusCode, body)
				}
				if got := faultCode(t, v, body); got != c.code {
					t.Errorf("fault %s, want %s", got, c.code)
				}
				line := svc.LogLine(t, resp.Header.Get("X-Request-Id"))
				if !strings.Contains(line, "no module processed") || !strings.Contains(line, c.logPart) {
					t.Errorf("log line does not name the unprocessed element %s:\n%s", c.logPart, line)
				}
			})
		}
	}

	t.Run("refusals are counted", func(t *testing.T) {
		resp, err := http.Get(svc.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("\nauthsvc_unprocessed_security_elements_total %d\n", 2*(len(cases)-1)); !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	})

	t.Run("another actor's Security header is not ours", func(t *testing.T) {
		msg := zeepMessages(t, 1)[0]
		other := `<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" ` +
			`soap-env:actor="urn:example:other">` + garbageSignature + encryptedKey + `</wsse:Security>`
		msg = bytes.Replace(msg, []byte("</soap-env:Header>"), []byte(other+"</soap-env:Header>"), 1)
		if !bytes.Contains(msg, []byte("urn:example:other")) {
			t.Fatalf("no second header in\n%s", msg)
		}
		resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), msg)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})

	t.Run("a refused token does not count as processed", func(t *testing.T) {
		// A wrong password: the username module rejects, nothing else runs.
		msg := zeep(t, "--user", "alice", "--password", "nope", "--digest")
		resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), inject(t, msg, garbageSignature))
		if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "FailedAuthentication" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})

	t.Run("pass_through lets configured types reach the upstream", func(t *testing.T) {
		cfg := baseConfig + `
security:
  pass_through:
    - "{http://www.w3.org/2000/09/xmldsig#}Signature"
    - "{http://www.w3.org/2001/04/xmlenc#}EncryptedKey"
`
		pt := StartService(t, cfg, map[string]string{"users.yaml": usersFile(t)})
		msgs := zeepMessages(t, 4)
		for i, extra := range []string{garbageSignature, encryptedKey, encryptedKey + garbageSignature} {
			resp, body := pt.Post(t, "/v1/authenticate", soapContentType("11"), inject(t, msgs[i], extra))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("case %d: status %d: %s\n%s", i, resp.StatusCode, body, pt.Log())
			}
		}
		// Types not named are still refused.
		resp, body := pt.Post(t, "/v1/authenticate", soapContentType("11"), inject(t, msgs[3], encryptedData))
		if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "InvalidSecurity" {
			t.Fatalf("EncryptedData: status %d: %s", resp.StatusCode, body)
		}
	})

	t.Run("a malformed pass_through name is a config error", func(t *testing.T) {
		out := checkConfig(t, baseConfig+"security:\n  pass_through:\n    - \"http://www.w3.org/2000/09/xmldsig#Signature\"\n")
		line := fmt.Sprintf("line %d: ", strings.Count(baseConfig, "\n")+3)
		if !strings.Contains(out, line+"security.pass_through[0]") || !strings.Contains(out, "{namespace}local") {
			t.Errorf("check-config output does not name the key and line:\n%s", out)
		}
	})
}
