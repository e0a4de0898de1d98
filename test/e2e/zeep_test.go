package e2e

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
)

// usersFile holds alice (PasswordText and PasswordDigest) and bob (text only).
func usersFile(t testing.TB) string {
	t.Helper()
	ha, err := registry.HashPassword("wonderland", registry.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	hb, err := registry.HashPassword("looking-glass", registry.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`users:
  - name: alice
    password_hash: %q
    digest_secret: wonderland
    groups: [soap-users, "a,b"]
  - name: bob
    password_hash: %q
`, ha, hb)
}

const baseConfig = `
registries:
  users: {type: file, path: users.yaml}
chain:
  - name: users
    type: username
    flag: requisite
    registry: users
    text_over_plain_http: true
log: {level: debug}
`

// zeep runs test/interop/zeep_client.py with Debian's python3-zeep.
func zeep(t testing.TB, args ...string) []byte {
	t.Helper()
	py := testenv.PythonWith(t, "zeep")
	script := filepath.Join(testenv.Root(), "test", "interop", "zeep_client.py")
	cmd := exec.Command(py, append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zeep_client.py %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func soapContentType(v string) string {
	if v == "12" {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// faultCode checks that body is a well-formed SOAP fault of the version and
// returns its WS-Security code (the local part after "wsse:").
func faultCode(t testing.TB, version string, body []byte) string {
	t.Helper()
	var f struct {
		XMLName xml.Name
		Body    struct {
			Fault struct {
				FaultCode string `xml:"faultcode"`
				Code      struct {
					Value   string `xml:"Value"`
					Subcode struct {
						Value string `xml:"Value"`
					} `xml:"Subcode"`
				} `xml:"Code"`
				Detail struct {
					RequestID string `xml:"RequestId"`
				} `xml:"detail"`
				Detail12 struct {
					RequestID string `xml:"RequestId"`
				} `xml:"Detail"`
			} `xml:"Fault"`
		} `xml:"Body"`
	}
	if err := xml.Unmarshal(body, &f); err != nil {
		t.Fatalf("fault is not well-formed XML: %v\n%s", err, body)
	}
	wantNS := wsse.NSSOAP11
	code := f.Body.Fault.FaultCode
	rid := f.Body.Fault.Detail.RequestID
	if version == "12" {
		wantNS = wsse.NSSOAP12
		code = f.Body.Fault.Code.Subcode.Value
		rid = f.Body.Fault.Detail12.RequestID
		if v := f.Body.Fault.Code.Value; v != "env:Sender" && v != "env:Receiver" {
			t.Errorf("SOAP 1.2 fault Code/Value = %q", v)
		}
	}
	if f.XMLName.Space != wantNS {
		t.Fatalf("fault envelope namespace %q, want %q\n%s", f.XMLName.Space, wantNS, body)
	}
	if !bytes.Contains(body, []byte(`xmlns:wsse="`+wsse.NSWSSE+`"`)) || !strings.HasPrefix(code, "wsse:") {
		t.Fatalf("fault code %q is not a wsse QName\n%s", code, body)
	}
	if rid == "" {
		t.Errorf("fault carries no request id\n%s", body)
	}
	return strings.TrimPrefix(code, "wsse:")
}

type subject struct {
	Principal string   `json:"principal"`
	Method    string   `json:"method"`
	TokenType string   `json:"token_type"`
	Groups    []string `json:"groups"`
}

func TestZeepUsernameToken(t *testing.T) {
	svc := StartService(t, baseConfig, map[string]string{"users.yaml": usersFile(t)})
	for _, v := range []string{"11", "12"} {
		for _, digest := range []bool{false, true} {
			name := "soap" + v + "/text"
			args := []string{"--soap", v, "--user", "alice", "--password", "wonderland"}
			want := "PasswordText"
			if digest {
				name = "soap" + v + "/digest"
				args = append(args, "--digest")
				want = "PasswordDigest"
			}
			t.Run(name, func(t *testing.T) {
				msg := zeep(t, args...)
				resp, body := svc.Post(t, "/v1/authenticate", soapContentType(v), msg)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s\n%s", resp.StatusCode, body, svc.Log())
				}
				var s subject
				if err := json.Unmarshal(body, &s); err != nil {
					t.Fatal(err)
				}
				if s.Principal != "alice" || s.Method != "UsernameToken" || s.TokenType != want ||
					strings.Join(s.Groups, "|") != "soap-users|a,b" {
					t.Errorf("subject = %+v", s)
				}
				if !digest {
					return
				}
				// The same message again is a replay.
				resp, body = svc.Post(t, "/v1/authenticate", soapContentType(v), msg)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("replay: status %d", resp.StatusCode)
				}
				if c := faultCode(t, v, body); c != "InvalidSecurity" {
					t.Errorf("replay fault %s", c)
				}
				if !strings.Contains(svc.LogLine(t, resp.Header.Get("X-Request-Id")), "replayed Nonce") {
					t.Errorf("log does not say why the replay was refused")
				}
			})
		}
	}

	t.Run("replays are counted", func(t *testing.T) {
		resp, err := http.Get(svc.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "\nauthsvc_replay_hits_total 2\n") {
			t.Errorf("metrics do not count the two replays:\n%s", b)
		}
		// Six logins so far (four accepted, two replays), each timed.
		if !strings.Contains(string(b), "\nauthsvc_module_duration_seconds_count{module=\"users\"} 6\n") {
			t.Errorf("metrics do not time the module's logins:\n%s", b)
		}
	})

	t.Run("zeep timestamp", func(t *testing.T) {
		msg := zeep(t, "--user", "alice", "--password", "wonderland", "--digest", "--timestamp", "300")
		resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), msg)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})

	rejects := []struct {
		name, version string
		args          []string
		code          string
		logPart       string
	}{
		{"wrong password text", "11", []string{"--user", "alice", "--password", "nope"}, "FailedAuthentication", "wrong password"},
		{"wrong password digest", "12", []string{"--soap", "12", "--user", "alice", "--password", "nope", "--digest"}, "FailedAuthentication", "wrong password"},
		{"unknown user text", "11", []string{"--user", "mallory", "--password", "wonderland"}, "FailedAuthentication", "unknown user or wrong password"},
		{"unknown user digest", "11", []string{"--user", "mallory", "--password", "wonderland", "--digest"}, "FailedAuthentication", "unknown user or wrong password"},
		{"digest for text-only user", "11", []string{"--user", "bob", "--password", "looking-glass", "--digest"}, "FailedAuthentication", "unknown user or wrong password"},
		{"stale Created", "11", []string{"--user", "alice", "--password", "wonderland", "--digest", "--created-offset", "-600"}, "MessageExpired", "old, more than 5m0s"},
		{"future Created", "12", []string{"--soap", "12", "--user", "alice", "--password", "wonderland", "--digest", "--created-offset", "600"}, "MessageExpired", "in the future"},
	}
	for _, c := range rejects {
		t.Run(c.name, func(t *testing.T) {
			msg := zeep(t, c.args...)
			resp, body := svc.Post(t, "/v1/authenticate", soapContentType(c.version), msg)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got := faultCode(t, c.version, body); got != c.code {
				t.Errorf("fault %s, want %s", got, c.code)
			}
			if l := svc.LogLine(t, resp.Header.Get("X-Request-Id")); !strings.Contains(l, c.logPart) {
				t.Errorf("log line lacks %q: %s", c.logPart, l)
			}
			if bytes.Contains(body, []byte("alice")) || bytes.Contains(body, []byte("mallory")) {
				t.Errorf("fault names the user: %s", body)
			}
		})
	}

	// A wrong password and an unknown user must look the same to the client.
	t.Run("no user enumeration", func(t *testing.T) {
		_, b1 := svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "x"))
		_, b2 := svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "nobody-here", "--password", "x"))
		strip := func(b []byte) string {
			s := string(b)
			i := strings.Index(s, "<authsvc:RequestId")
			return s[:i]
		}
		if strip(b1) != strip(b2) {
			t.Errorf("faults differ:\n%s\n%s", b1, b2)
		}
	})

	bad := []struct {
		name, version string
		body          string
		status        int
		code          string
	}{
		{"malformed XML", "11", `<soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `"><soap:Header><x></soap:Header>`, 400, "InvalidSecurity"},
		{"DOCTYPE", "11", `<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]><soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `"><soap:Body/></soap:Envelope>`, 400, "InvalidSecurity"},
		{"DOCTYPE soap12", "12", `<!DOCTYPE x SYSTEM "file:///etc/passwd"><e:Envelope xmlns:e="` + wsse.NSSOAP12 + `"><e:Body/></e:Envelope>`, 400, "InvalidSecurity"},
		{"not SOAP", "11", `{"user":"alice"}`, 400, "InvalidSecurity"},
		{"no security header", "11", `<soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `"><soap:Body/></soap:Envelope>`, 401, "InvalidSecurity"},
		{"huge body", "11", `<soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `"><soap:Body>` + strings.Repeat("x", 11<<20) + `</soap:Body></soap:Envelope>`, 413, "InvalidSecurity"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			resp, body := svc.Post(t, "/v1/authenticate", soapContentType(c.version), []byte(c.body))
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if got := faultCode(t, c.version, body); got != c.code {
				t.Errorf("fault %s, want %s", got, c.code)
			}
			svc.Healthy(t)
		})
	}
}

func TestZeepPlainHTTPRefusesPasswordText(t *testing.T) {
	cfg := strings.Replace(baseConfig, "text_over_plain_http: true", "text_over_plain_http: false", 1)
	svc := StartService(t, cfg, map[string]string{"users.yaml": usersFile(t)})
	resp, body := svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland"))
	if resp.StatusCode != http.StatusUnauthorized || faultCode(t, "11", body) != "InvalidSecurity" {
		t.Fatalf("PasswordText over plain HTTP: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(svc.LogLine(t, resp.Header.Get("X-Request-Id")), "PasswordText over a connection without TLS") {
		t.Errorf("log does not say why")
	}
	// Digest is fine without TLS.
	resp, body = svc.Post(t, "/v1/authenticate", soapContentType("11"), zeep(t, "--user", "alice", "--password", "wonderland", "--digest"))
	if resp.StatusCode != 200 {
		t.Fatalf("digest: %d %s", resp.StatusCode, body)
	}
}

// upstream is a real HTTP server standing in for the SOAP endpoint: it
// records what it received and answers with an EchoResponse.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	header http.Header
	body   []byte
	path   string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, recorded{header: r.Header.Clone(), body: b, path: r.URL.Path})
		u.mu.Unlock()
		ns, ct := wsse.NSSOAP11, "text/xml; charset=utf-8"
		if bytes.Contains(b, []byte(wsse.NSSOAP12)) {
			ns, ct = wsse.NSSOAP12, "application/soap+xml; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		fmt.Fprintf(w, `<?xml version="1.0"?><s:Envelope xmlns:s="%s"><s:Body><e:EchoResponse xmlns:e="urn:example:echo"><e:text>echo from %s</e:text></e:EchoResponse></s:Body></s:Envelope>`,
			ns, r.Header.Get("X-Authenticated-User"))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t *testing.T) recorded {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream received nothing")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func TestZeepThroughProxy(t *testing.T) {
	up := newUpstream(t)
	cfg := baseConfig + "proxy:\n  upstream: " + up.URL + "\n"
	svc := StartService(t, cfg, map[string]string{"users.yaml": usersFile(t)})

	for _, v := range []string{"11", "12"} {
		t.Run("zeep call soap"+v, func(t *testing.T) {
			// zeep sends, through authsvc, with a spoofed identity header.
			out := zeep(t, "--soap", v, "--user", "alice", "--password", "wonderland", "--digest",
				"--call", svc.URL+"/echo", "--header", "X-Authenticated-User=mallory", "--header", "X-Authenticated-Groups=admins",
				"--header", "X_Authenticated_Groups=admins")
			if got := strings.TrimSpace(string(out)); got != "echo from alice" {
				t.Errorf("zeep got %q", got)
			}
			r := up.last(t)
			if r.path != "/echo" {
				t.Errorf("upstream path %q", r.path)
			}
			if g := r.header.Values("X-Authenticated-User"); len(g) != 1 || g[0] != "alice" {
				t.Errorf("X-Authenticated-User = %q", g)
			}
			if g := r.header.Get("X-Authenticated-Groups"); g != "soap-users,a%2Cb" {
				t.Errorf("X-Authenticated-Groups = %q (the spoofed value must be gone)", g)
			}
			if g, ok := r.header["X_authenticated_groups"]; ok {
				t.Errorf("the underscore spelling of an identity header reached the upstream: %q", g)
			}
			if r.header.Get("X-Authenticated-Method") != "UsernameToken" || r.header.Get("X-Request-Id") == "" {
				t.Errorf("identity headers: %v", r.header)
			}
		})
	}

	t.Run("body forwarded byte for byte", func(t *testing.T) {
		msg := zeep(t, "--user", "alice", "--password", "wonderland", "--digest", "--text", "z", "--text-repeat", "307200")
		resp, body := svc.Post(t, "/svc", soapContentType("11"), msg)
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("echo from alice")) {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if r := up.last(t); !bytes.Equal(r.body, msg) {
			t.Errorf("upstream got %d bytes, sent %d; they differ", len(r.body), len(msg))
		}
	})

	t.Run("rejected never reaches upstream", func(t *testing.T) {
		before := up.count()
		for _, v := range []string{"11", "12"} {
			msg := zeep(t, "--soap", v, "--user", "alice", "--password", "wrong", "--digest")
			resp, body := svc.Post(t, "/svc", soapContentType(v), msg)
			want := 500 // SOAP 1.1 faults travel with 500 (WS-I BP R1126)
			if v == "12" {
				want = 400 // SOAP 1.2 Sender fault
			}
			if resp.StatusCode != want {
				t.Errorf("SOAP %s fault status %d, want %d", v, resp.StatusCode, want)
			}
			if c := faultCode(t, v, body); c != "FailedAuthentication" {
				t.Errorf("fault %s", c)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, strings.Split(soapContentType(v), ";")[0]) {
				t.Errorf("fault content type %q", ct)
			}
		}
		if up.count() != before {
			t.Errorf("a rejected request reached the upstream")
		}
	})
}

func TestProxyScrubsPassword(t *testing.T) {
	up := newUpstream(t)
	cfg := baseConfig + "proxy:\n  upstream: " + up.URL + "\n  scrub_password: true\n"
	svc := StartService(t, cfg, map[string]string{"users.yaml": usersFile(t)})
	msg := zeep(t, "--user", "alice", "--password", "wonderland")
	resp, body := svc.Post(t, "/svc", soapContentType("11"), msg)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	r := up.last(t)
	if bytes.Contains(r.body, []byte("wonderland")) {
		t.Errorf("password forwarded: %s", r.body)
	}
	if want := bytes.Replace(msg, []byte("wonderland"), nil, 1); !bytes.Equal(r.body, want) {
		t.Errorf("forwarded body differs from the message minus the password:\n%s", r.body)
	}
}

// TestProxyOversizedChunkedBody: a body without Content-Length that grows
// past max_body_bytes after authentication is not cut silently: the
// upstream request is abandoned and the client gets a 413 fault.
func TestProxyOversizedChunkedBody(t *testing.T) {
	up := newUpstream(t)
	cfg := baseConfig + "limits: {max_body_bytes: 200000}\nproxy:\n  upstream: " + up.URL + "\n"
	svc := StartService(t, cfg, map[string]string{"users.yaml": usersFile(t)})
	msg := zeep(t, "--user", "alice", "--password", "wonderland", "--digest", "--text", "z", "--text-repeat", "300000")
	// An io.Reader that is not a *bytes.Reader makes the client send chunks.
	req, _ := http.NewRequest(http.MethodPost, svc.URL+"/svc", io.MultiReader(bytes.NewReader(msg)))
	req.Header.Set("Content-Type", soapContentType("11"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || faultCode(t, "11", body) != "InvalidSecurity" {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	up.mu.Lock()
	for _, r := range up.reqs {
		if len(r.body) >= len(msg) {
			t.Errorf("upstream received the whole oversized body")
		}
	}
	up.mu.Unlock()
	svc.Healthy(t)
}
