package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testenv"
)

// TestNginx runs Debian's nginx (TLS termination) in front of authsvc in
// proxy mode in front of a recording upstream, as docs/gateways.md
// describes.
func TestNginx(t *testing.T) {
	up := newUpstream(t)
	cfg := strings.Replace(baseConfig, "text_over_plain_http: true", "text_over_plain_http: false", 1) +
		"trusted_proxies: [127.0.0.1/32]\nproxy:\n  upstream: " + up.URL + "\n"
	svc := StartService(t, cfg, map[string]string{"users.yaml": usersFile(t)})
	ngx := testenv.StartNginx(t, testenv.NginxOptions{Upstream: strings.TrimPrefix(svc.URL, "http://")})
	t.Setenv("REQUESTS_CA_BUNDLE", ngx.CAFile) // python-requests (zeep) trusts nginx's certificate

	for _, v := range []string{"11", "12"} {
		t.Run("zeep PasswordText over HTTPS soap"+v, func(t *testing.T) {
			// PasswordText is refused over plain HTTP by this config; TLS at the
			// trusted proxy makes it acceptable. The client also tries to spoof
			// its identity and its address.
			out := zeep(t, "--soap", v, "--user", "alice", "--password", "wonderland", "--call", ngx.URL+"/echo",
				"--header", "X-Authenticated-User=mallory", "--header", "X-Authenticated-Groups=admins",
				"--header", "X-Forwarded-For=203.0.113.66")
			if got := strings.TrimSpace(string(out)); got != "echo from alice" {
				t.Fatalf("zeep got %q\n%s", got, svc.Log())
			}
			r := up.last(t)
			if g := r.header.Values("X-Authenticated-User"); len(g) != 1 || g[0] != "alice" {
				t.Errorf("X-Authenticated-User = %q", g)
			}
			if g := r.header.Get("X-Authenticated-Groups"); g != "soap-users,a%2Cb" {
				t.Errorf("X-Authenticated-Groups = %q (the spoofed value must be gone)", g)
			}
			if g := r.header.Get("X-Authenticated-Token-Type"); g != "PasswordText" {
				t.Errorf("token type %q", g)
			}
			if g := r.header.Get("X-Forwarded-Proto"); g != "https" {
				t.Errorf("upstream X-Forwarded-Proto = %q", g)
			}
			if g := r.header.Get("X-Forwarded-For"); strings.Contains(g, "203.0.113.66") {
				t.Errorf("the client's own X-Forwarded-For reached the upstream: %q", g)
			}
			// nginx's $request_id is the request id end to end.
			rid := r.header.Get("X-Request-Id")
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(rid) {
				t.Errorf("upstream X-Request-Id %q is not nginx's $request_id", rid)
			}
			if l := svc.LogLine(t, rid); !strings.Contains(l, `"authenticated"`) {
				t.Errorf("log line: %s", l)
			}
		})
	}

	t.Run("wrong password: the fault passes through nginx", func(t *testing.T) {
		before := up.count()
		msg := zeep(t, "--user", "alice", "--password", "nope")
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: ngx.TLS}}
		resp, err := client.Post(ngx.URL+"/echo", soapContentType("11"), bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		if resp.StatusCode != 500 || faultCode(t, "11", body.Bytes()) != "FailedAuthentication" {
			t.Errorf("status %d: %s", resp.StatusCode, body.String())
		}
		if up.count() != before {
			t.Error("a rejected request reached the upstream")
		}
	})

	t.Run("X-Forwarded-Proto from an untrusted address is not believed", func(t *testing.T) {
		// Straight to authsvc from 127.0.0.2, which is not in trusted_proxies.
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		}}}
		msg := zeep(t, "--user", "alice", "--password", "wonderland")
		req, _ := http.NewRequest(http.MethodPost, svc.URL+"/echo", bytes.NewReader(msg))
		req.Header.Set("Content-Type", soapContentType("11"))
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		if resp.StatusCode != 500 || faultCode(t, "11", body.Bytes()) != "InvalidSecurity" {
			t.Fatalf("status %d: %s", resp.StatusCode, body.String())
		}
		if l := svc.LogLine(t, resp.Header.Get("X-Request-Id")); !strings.Contains(l, "PasswordText over a connection without TLS") || !strings.Contains(l, "127.0.0.2") {
			t.Errorf("log line: %s", l)
		}
	})
}
