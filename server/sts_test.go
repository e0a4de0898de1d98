package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sts"
	"github.com/authsvc/authsvc/sts/ststest"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
	"github.com/authsvc/authsvc/wsseclient"
)

// stsAdapter is what app wires: *sts.Service with the package's Classify.
type stsAdapter struct{ *sts.Service }

func (stsAdapter) Classify(env *wsse.Envelope, ct, sa string) (wstrust.Kind, *wstrust.Version, error) {
	return sts.Classify(env, ct, sa)
}

// downStore is a store whose backend does not answer.
type downStore struct{ sct.Store }

func (downStore) Issue(context.Context, *sct.Context) error {
	return fmt.Errorf("sct: redis: %w", health.ErrUnavailable)
}

// stsServer is a server whose chain is a real replica's (username, then
// secure_conversation) with its STS over store.
func stsServer(t *testing.T, store sct.Store, insecure bool, o Options) (*Server, *ststest.Replica) {
	t.Helper()
	rep := ststest.NewReplica(t, "urn:authsvc:test", sct.NewMemory(0), ststest.Registry(t), ststest.Options{
		STS: func(c *sts.Config) { c.AllowInsecure = insecure }})
	svc := rep.STS
	if store != nil {
		var err error
		if svc, err = sts.New(sts.Config{Issuer: "urn:authsvc:test", AllowInsecure: insecure}, store, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	o.Chain, o.Logger, o.STS = rep.Chain, quiet, stsAdapter{svc}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s, rep
}

// issueRST is an Issue RST with a UsernameToken (text), its action in
// SOAPAction (1.1) or the Content-Type's action (1.2); pad adds an ignored
// element of that many bytes to the RST.
func issueRST(v wsse.Version, digest bool, pad int) (body []byte, hdr []string) {
	rst := ststest.RST{V: wstrust.V13, Kind: wstrust.Issue, Entropy: bytes.Repeat([]byte{1}, 32), Computed: true}
	b := rst.Body()
	if pad > 0 {
		b = strings.Replace(b, "</t:RequestSecurityToken>", `<x:pad xmlns:x="urn:pad">`+strings.Repeat("p", pad)+`</x:pad></t:RequestSecurityToken>`, 1)
	}
	body = wsseclient.Envelope(v, wsseclient.UsernameToken{Username: ststest.User, Password: ststest.Password, Digest: digest}, b)
	if v == wsse.SOAP12 {
		return body, []string{"Content-Type", `application/soap+xml; charset=utf-8; action="` + rst.Action() + `"`}
	}
	return body, []string{"SOAPAction", `"` + rst.Action() + `"`}
}

// stsFault is the fault code of w's body, its namespace written with the
// renderer's prefix ("" when the body is not a fault).
func stsFault(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	v := wsse.SOAP11
	if strings.Contains(w.Body.String(), wsse.NSSOAP12) {
		v = wsse.SOAP12
	}
	if !strings.Contains(w.Body.String(), "Fault>") {
		return ""
	}
	code, _ := faultCode(t, v, w.Body.Bytes())
	return faultPrefix(code.Space) + ":" + code.Local
}

// TestSTSIssueAtV1STS: an unsigned Issue RST with a UsernameToken is read
// whole (even when it arrives a byte at a time, its RST far past the first
// read), authenticated by the chain and answered with an RSTR in the
// caller's SOAP version and Content-Type; the key in it is usable.
func TestSTSIssueAtV1STS(t *testing.T) {
	s, _ := stsServer(t, nil, true, Options{})
	for _, v := range []wsse.Version{wsse.SOAP11, wsse.SOAP12} {
		body, hdr := issueRST(v, true, 40<<10)
		r := httptest.NewRequest(http.MethodPost, "/v1/sts", iotest.OneByteReader(bytes.NewReader(body)))
		r.RemoteAddr = "127.0.0.1:4000"
		r.Header.Set("Content-Type", contentType(v))
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != contentType(v) {
			t.Fatalf("%v: %d %s\n%s", v, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		rstr, err := wstrust.ParseRSTREnvelope(w.Body.Bytes(), nil)
		if err != nil || rstr.Token == nil || !strings.HasPrefix(rstr.Token.Identifier, "urn:uuid:") {
			t.Fatalf("%v: RSTR %+v %v\n%s", v, rstr, err, w.Body)
		}
		if _, err := rstr.Key(bytes.Repeat([]byte{1}, 32)); err != nil {
			t.Fatalf("%v: key: %v", v, err)
		}
	}
}

// TestSTSRefusals: every refusal is a fault of the caller's version with
// the WS-Trust or WS-SC code, at the binding's status.
func TestSTSRefusals(t *testing.T) {
	secure, _ := stsServer(t, nil, false, Options{})
	down, _ := stsServer(t, downStore{sct.NewMemory(0)}, true, Options{})
	open, _ := stsServer(t, nil, true, Options{})
	rst11, hdr11 := issueRST(wsse.SOAP11, true, 0)
	rst12, hdr12 := issueRST(wsse.SOAP12, true, 0)
	app := wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: ststest.User, Password: ststest.Password, Digest: true}, "<x/>")
	wrong := wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: ststest.User, Password: "wrong", Digest: true},
		ststest.RST{V: wstrust.V13, Kind: wstrust.Issue}.Body())
	cases := []struct {
		name   string
		s      *Server
		path   string
		body   []byte
		hdr    []string
		status int
		code   string
	}{
		{"plain channel", secure, "/v1/sts", rst12, hdr12, 400, "wst:InvalidRequest"},
		{"plain channel 1.1", secure, "/v1/sts", rst11, hdr11, 500, "wst:InvalidRequest"},
		{"store down", down, "/v1/sts", rst11, hdr11, 503, "wsse:SecurityTokenUnavailable"},
		{"not an RST at /v1/sts", open, "/v1/sts", app, nil, 500, "wst:InvalidRequest"},
		{"contradicting actions", open, "/v1/sts", rst11, []string{"SOAPAction", "urn:other"}, 500, ""},
		{"wrong password", open, "/v1/sts", wrong, hdr11, 500, "wsse:FailedAuthentication"},
	}
	// The contradiction needs a wsa:Action header to contradict.
	contra := ststest.RST{V: wstrust.V13, Kind: wstrust.Issue}.Envelope(false)
	for i := range cases {
		if cases[i].name == "contradicting actions" {
			cases[i].body, cases[i].code = contra, "wst:InvalidRequest"
		}
	}
	for _, tc := range cases {
		var w *httptest.ResponseRecorder
		if bytes.Equal(tc.body, rst12) {
			w = post12(tc.s.Handler(), tc.path, tc.body, tc.hdr...)
		} else {
			w = post(tc.s.Handler(), tc.path, "127.0.0.1:4000", tc.body, tc.hdr...)
		}
		if w.Code != tc.status || stsFault(t, w) != tc.code {
			t.Errorf("%s: %d %q, want %d %s\n%s", tc.name, w.Code, stsFault(t, w), tc.status, tc.code, w.Body)
		}
	}
	// At /v1/authenticate an RST gets the RSTR, not the Subject.
	rst11b, _ := issueRST(wsse.SOAP11, true, 0)
	if w := post(open.Handler(), "/v1/authenticate", "127.0.0.1:4000", rst11b, hdr11...); w.Code != 200 ||
		!strings.Contains(w.Body.String(), "RequestSecurityTokenResponse") || w.Header().Get("Content-Type") != contentType(wsse.SOAP11) {
		t.Errorf("RST at /v1/authenticate: %d %s\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	// An application message whose actions contradict, none an RST's, is
	// judged as before.
	app = wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: ststest.User, Password: ststest.Password, Digest: true}, "<x/>")
	if w := post(open.Handler(), "/v1/authenticate", "127.0.0.1:4000", app, "SOAPAction", "urn:a"); w.Code != 200 {
		t.Errorf("application message: %d\n%s", w.Code, w.Body)
	}
}

func post12(h http.Handler, path string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.RemoteAddr = "127.0.0.1:4000"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// upstream records every request it receives.
type upstream struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, b)
	u.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, "<ok/>")
}

func (u *upstream) got() [][]byte { u.mu.Lock(); defer u.mu.Unlock(); return u.bodies }

// TestSTSProxyNeverForwardsRST: in proxy mode an RST on any path is
// answered by the STS and never reaches the upstream; without an STS it is
// refused, and still never forwarded; in gateway mode it is refused, never
// allowed with identity headers.
func TestSTSProxyNeverForwardsRST(t *testing.T) {
	up := &upstream{}
	us := httptest.NewServer(up)
	defer us.Close()
	u, _ := url.Parse(us.URL)
	s, _ := stsServer(t, nil, true, Options{Proxy: &ProxyOptions{Upstream: u}, Gateway: &GatewayOptions{}})
	rst, hdr := issueRST(wsse.SOAP11, true, 0)
	w := post(s.Handler(), "/service/Echo", "127.0.0.1:4000", rst, hdr...)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "RequestSecurityTokenResponse") {
		t.Fatalf("RST through the proxy: %d\n%s", w.Code, w.Body)
	}
	if n := len(up.got()); n != 0 {
		t.Fatalf("the upstream received %d requests for an RST", n)
	}
	w = post(s.Handler(), "/v1/ext-authz/service/Echo", "127.0.0.1:4000", rst, hdr...)
	if w.Code == 200 || stsFault(t, w) != "wst:InvalidRequest" || w.Header().Get("X-Authenticated-User") != "" {
		t.Fatalf("RST at the gateway: %d %v\n%s", w.Code, w.Header(), w.Body)
	}
	// An application message still goes through.
	app := wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: ststest.User, Password: ststest.Password, Digest: true}, "<x/>")
	if w := post(s.Handler(), "/service/Echo", "127.0.0.1:4000", app); w.Code != 200 || len(up.got()) != 1 || !bytes.Equal(up.got()[0], app) {
		t.Fatalf("application message: %d, upstream got %d", w.Code, len(up.got()))
	}

	// Without secure conversation: refused, logged, not forwarded.
	logs := &bytes.Buffer{}
	plain, err := New(Options{Chain: testChain(t), Logger: slogText(logs), Proxy: &ProxyOptions{Upstream: u}})
	if err != nil {
		t.Fatal(err)
	}
	w = post(plain.Handler(), "/service/Echo", "127.0.0.1:4000", rst, hdr...)
	if w.Code != 500 || stsFault(t, w) != "wst:InvalidRequest" {
		t.Fatalf("RST without an STS: %d\n%s", w.Code, w.Body)
	}
	if n := len(up.got()); n != 1 {
		t.Fatalf("the upstream received an RST: %d requests", n)
	}
	if !strings.Contains(logs.String(), "secure_conversation is not configured") {
		t.Errorf("log does not say why:\n%s", logs)
	}
	w = post(plain.Handler(), "/v1/authenticate", "127.0.0.1:4000", rst, hdr...)
	if w.Code != 401 || stsFault(t, w) != "wst:InvalidRequest" {
		t.Fatalf("RST at /v1/authenticate without an STS: %d\n%s", w.Code, w.Body)
	}
}

func slogText(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
