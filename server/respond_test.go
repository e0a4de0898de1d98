package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
)

// faultCode reads a rendered fault and returns the expanded name of its
// code (the SOAP 1.1 faultcode, or the SOAP 1.2 Subcode, else Code value),
// resolving the prefix against the declarations in scope, and the reason.
// It fails the test unless the document is well-formed XML.
func faultCode(t *testing.T, v wsse.Version, body []byte) (code xml.Name, reason string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(body))
	type scope map[string]string
	stack := []scope{{}}
	lookup := func(p string) string {
		for i := len(stack) - 1; i >= 0; i-- {
			if ns, ok := stack[i][p]; ok {
				return ns
			}
		}
		return ""
	}
	var path []string
	var text strings.Builder
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, body)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			sc := scope{}
			for _, a := range tok.Attr {
				if a.Name.Space == "xmlns" {
					sc[a.Name.Local] = a.Value
				}
			}
			stack = append(stack, sc)
			path = append(path, tok.Name.Local)
			text.Reset()
		case xml.CharData:
			text.Write(tok)
		case xml.EndElement:
			p := strings.Join(path, "/")
			val := strings.TrimSpace(text.String())
			switch {
			case v == wsse.SOAP11 && strings.HasSuffix(p, "Fault/faultcode"),
				v == wsse.SOAP12 && (strings.HasSuffix(p, "Code/Subcode/Value") || strings.HasSuffix(p, "Fault/Code/Value") && code.Local == ""):
				prefix, local, _ := strings.Cut(val, ":")
				code = xml.Name{Space: lookup(prefix), Local: local}
			case strings.HasSuffix(p, "Fault/faultstring"), strings.HasSuffix(p, "Reason/Text"):
				reason = val
			}
			stack = stack[:len(stack)-1]
			path = path[:len(path)-1]
			text.Reset()
		}
	}
	if len(path) != 0 {
		t.Fatalf("unclosed elements %v", path)
	}
	return code, reason
}

// TestFaultOtherNamespaces: the one fault renderer renders codes of other
// protocols than WS-Security, in SOAP 1.1 and 1.2, as well-formed faults
// whose code resolves to its own namespace.
func TestFaultOtherNamespaces(t *testing.T) {
	cases := []struct {
		ns, code, reason string
	}{
		{"http://schemas.xmlsoap.org/ws/2005/02/sc", "BadContextToken", "The requested context elements are insufficient or unsupported"},
		{"http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512", "BadContextToken", "The requested context elements are insufficient or unsupported"},
		{"http://docs.oasis-open.org/ws-sx/ws-trust/200512", "InvalidRequest", "The request was invalid or malformed"},
		{"http://schemas.xmlsoap.org/ws/2005/02/trust", "RequestFailed", "The specified request failed"},
		{"urn:example:faults?a=1&b=\"2\"", "Odd", "The request could not be processed"},
		{"", string(wsse.FailedAuthentication), wsse.FailedAuthentication.Reason()},
	}
	for _, v := range []wsse.Version{wsse.SOAP11, wsse.SOAP12} {
		for _, c := range cases {
			f := &authn.Fault{Namespace: c.ns, Code: wsse.FaultCode(c.code), Reason: "detail for the log only"}
			w := httptest.NewRecorder()
			writeFault(w, v, f, "req<&>1", http.StatusBadRequest)
			got, reason := faultCode(t, v, w.Body.Bytes())
			want := xml.Name{Space: c.ns, Local: c.code}
			if c.ns == "" {
				want.Space = wsse.NSWSSE
			}
			if got != want || reason != c.reason {
				t.Errorf("%v %s: code %v reason %q, want %v %q\n%s", v, c.code, got, reason, want, c.reason, w.Body)
			}
			if strings.Contains(w.Body.String(), "detail for the log only") || !strings.Contains(w.Body.String(), "req&lt;&amp;&gt;1") {
				t.Errorf("%v: the reason leaked or the request id is missing:\n%s", v, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != contentType(v) {
				t.Errorf("%v: Content-Type %q", v, ct)
			}
		}
		// A temporary fault of another namespace is the receiver's.
		w := httptest.NewRecorder()
		writeFault(w, v, &authn.Fault{Namespace: "http://docs.oasis-open.org/ws-sx/ws-trust/200512", Code: "RequestFailed", Temporary: true}, "1", http.StatusServiceUnavailable)
		faultCode(t, v, w.Body.Bytes())
		want := "<faultcode xmlns:wst="
		if v == wsse.SOAP12 {
			want = "<env:Value>env:Receiver</env:Value><env:Subcode><env:Value xmlns:wst="
		}
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("%v temporary: %s", v, w.Body)
		}
	}
}

// TestServerFaultWellFormed: the faults that are not about security (a
// panic, the upstream down) are Server/Receiver faults with no subcode.
func TestServerFaultWellFormed(t *testing.T) {
	for v, want := range map[wsse.Version]xml.Name{
		wsse.SOAP11: {Space: wsse.NSSOAP11, Local: "Server"},
		wsse.SOAP12: {Space: wsse.NSSOAP12, Local: "Receiver"},
	} {
		w := httptest.NewRecorder()
		writeServerFault(w, v, "id-1", http.StatusBadGateway, "The upstream service is unavailable")
		code, reason := faultCode(t, v, w.Body.Bytes())
		if code != want || reason != "The upstream service is unavailable" || w.Code != http.StatusBadGateway {
			t.Errorf("%v: %d %v %q", v, w.Code, code, reason)
		}
	}
}

// negotiateChain accepts "Authorization: Negotiate good" and asks for the
// mutual-authentication reply, as the Kerberos module does.
func negotiateChain(t *testing.T) *authn.Chain {
	t.Helper()
	m := authn.ModuleFunc(func(_ context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
		if req.Authorization != "Negotiate Z29vZA==" {
			return false, authn.ErrUnsupported
		}
		s.Principal, s.Method, s.TokenType = "alice", "Negotiate", "SPNEGO"
		s.Reply = &authn.Reply{Negotiate: []byte("ap-rep")}
		return true, nil
	})
	c, err := authn.NewChain(authn.Entry{Name: "krb", Flag: authn.Requisite, Module: m})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNegotiateReplyRendered: the module's typed reply becomes
// WWW-Authenticate: Negotiate <Base64> on the API's, the gateway's and the
// proxy's answer.
func TestNegotiateReplyRendered(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream "+r.Header.Get("X-Authenticated-User"))
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	srv, err := New(Options{Chain: negotiateChain(t), Logger: quiet, Proxy: &ProxyOptions{Upstream: u},
		Gateway: &GatewayOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	want := "Negotiate " + base64.StdEncoding.EncodeToString([]byte("ap-rep"))
	for _, path := range []string{"/v1/authenticate", "/v1/ext-authz", "/service"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Negotiate Z29vZA==")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Header().Get("WWW-Authenticate") != want {
			t.Errorf("%s: %d WWW-Authenticate %q, want %q\n%s", path, w.Code, w.Header().Get("WWW-Authenticate"), want, w.Body)
		}
		if path == "/service" && w.Body.String() != "upstream alice" {
			t.Errorf("proxy: %s", w.Body)
		}
		// authsvc's own answers: the request id, never cached; the API's
		// is the Subject in JSON.
		if path != "/service" && (len(w.Header().Values("X-Request-Id")) != 1 || w.Header().Get("Cache-Control") != "no-store") {
			t.Errorf("%s: X-Request-Id %q, Cache-Control %q", path, w.Header().Values("X-Request-Id"), w.Header().Values("Cache-Control"))
		}
		if path == "/v1/authenticate" && w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("API answer Content-Type %q", w.Header().Get("Content-Type"))
		}
	}
	// The shared header values are not changed by an answer.
	if noStore[0] != "no-store" || contentTypeJSON[0] != "application/json" || len(noStore) != cap(noStore) {
		t.Errorf("shared header values changed: %q %q", noStore, contentTypeJSON)
	}
}

// TestProxyScrubPasswordNegotiate: with scrub_password on, a request that
// carries no SOAP message (HTTP Negotiate on a bare GET) is forwarded. It
// used to dereference the missing envelope looking for a password, and the
// client got a 500.
func TestProxyScrubPasswordNegotiate(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream "+r.Header.Get("X-Authenticated-User"))
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	srv, err := New(Options{Chain: negotiateChain(t), Logger: quiet, Proxy: &ProxyOptions{Upstream: u, ScrubPassword: true}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/service", nil)
	r.Header.Set("Authorization", "Negotiate Z29vZA==")
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Body.String() != "upstream alice" {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

// The fast path of versionFromContentType agrees with the full parse.
func TestVersionFromContentTypeFastPath(t *testing.T) {
	for _, ct := range []string{"text/xml; charset=utf-8", "text/xml;charset=UTF-8", "text/xml; charset=UTF-8", "text/xml",
		"application/soap+xml; charset=utf-8", "application/soap+xml;charset=UTF-8", "application/soap+xml; charset=UTF-8", "application/soap+xml"} {
		want := wsse.SOAP11
		if mt, _, err := mime.ParseMediaType(ct); err == nil && strings.EqualFold(mt, "application/soap+xml") {
			want = wsse.SOAP12
		}
		if got := versionFromContentType(ct); got != want {
			t.Errorf("%q: fast path says %v, mime.ParseMediaType %v", ct, got, want)
		}
	}
	if got := versionFromContentType(`Application/SOAP+XML; action="urn:x"`); got != wsse.SOAP12 {
		t.Errorf("the full parse path: got %v, want SOAP 1.2", got)
	}
}
