package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"sort"
	"strings"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/logsafe"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

type ctxKey struct{}

// proxyState travels from the handler to the rewrite hook in the context.
type proxyState struct {
	res       *result
	body      io.Reader
	n         int64  // content length of the forwarded body, -1 if unknown
	assertion string // the signed identity, if configured
}

// proxyHandler authenticates a SOAP request and forwards it upstream with
// the Subject in identity headers.
func (s *Server) proxyHandler(w http.ResponseWriter, r *http.Request) {
	res, done := s.judge(w, r, "proxy", s.proxyStatus)
	if res == nil {
		return
	}
	defer done()
	if res.rst != wstrust.NotRST {
		// The STS answers; an RST never reaches the upstream.
		writeRSTR(w, res)
		return
	}
	head := res.head
	n := r.ContentLength
	if s.o.Proxy.ScrubPassword {
		head, n = scrubPassword(res, n)
	}
	assertion, ok := s.accept(w, res, false)
	if !ok {
		return
	}
	st := &proxyState{res: res, n: n, assertion: assertion}
	var rest io.Reader // the part of the body not read yet
	if res.eof {
		st.body = bytes.NewReader(head)
		st.n = int64(len(head))
	} else {
		// Past max_body_bytes the read fails (not a silent cut), the
		// upstream request is abandoned and the client gets a 413.
		rest = http.MaxBytesReader(nil, r.Body, s.o.MaxBodyBytes-int64(len(res.head)))
		st.body = io.MultiReader(bytes.NewReader(head), rest)
	}
	if s.o.Proxy.StrictEnvelope && res.env != nil {
		st.body = s.strictBody(res, head, rest)
	}
	s.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, st)))
}

// readOnlyBody is the forwarded body with only Read (and a Close that
// does nothing). It hides io.MultiReader's WriteTo, which allocates a
// 32 KiB buffer on every call, and the transport calls it once or twice a
// request; the transport's own copy buffers are pooled.
type readOnlyBody struct{ r io.Reader }

func (b readOnlyBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (readOnlyBody) Close() error                 { return nil }

// proxyStatus is the HTTP status of a fault in proxy mode: what the SOAP
// HTTP bindings say (500 for SOAP 1.1 per WS-I BP R1126; 400 for a SOAP 1.2
// Sender fault), 503 when a dependency is down, 413 for an oversized body.
func (s *Server) proxyStatus(res *result) int {
	return bindingStatus(res, s.o.Proxy.SOAP11FaultStatus)
}

// bindingStatus is the status the SOAP HTTP bindings give a fault, with
// soap11 for SOAP 1.1 faults.
func bindingStatus(res *result, soap11 int) int {
	switch {
	case res.status == http.StatusRequestEntityTooLarge:
		return res.status
	case res.fault.Temporary:
		return http.StatusServiceUnavailable
	case res.version == wsse.SOAP12:
		return http.StatusBadRequest
	}
	return soap11
}

// scrubPassword removes the cleartext password's value from the forwarded
// head, when the chain accepted it as such.
func scrubPassword(res *result, n int64) ([]byte, int64) {
	if res.subject.TokenType != authn.TokenPasswordText {
		return res.head, n
	}
	a, b, ok := authn.CleartextPassword(res.env.Security)
	if !ok || b > len(res.head) {
		return res.head, n
	}
	out := make([]byte, 0, len(res.head)-(b-a))
	out = append(out, res.head[:a]...)
	out = append(out, res.head[b:]...)
	if n >= 0 {
		n -= int64(b - a)
	}
	return out, n
}

func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	st := pr.In.Context().Value(ctxKey{}).(*proxyState)
	pr.SetURL(s.o.Proxy.Upstream)
	pr.Out.Host = s.o.Proxy.Upstream.Host
	// X-Forwarded-For and friends: our view of the client, replacing what
	// the client said unless it came through a trusted proxy.
	if !s.trusted(st.res.peer()) {
		delete(pr.Out.Header, "X-Forwarded-For")
		delete(pr.Out.Header, "X-Forwarded-Proto")
		delete(pr.Out.Header, "X-Forwarded-Host")
	} else {
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	}
	pr.SetXForwarded()
	if s.trusted(st.res.peer()) {
		// SetXForwarded describes our own inbound hop; behind a trusted
		// TLS-terminating proxy the client's scheme and host are what it said.
		if p := pr.In.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			pr.Out.Header.Set("X-Forwarded-Proto", p)
		}
		if h := pr.In.Header.Get("X-Forwarded-Host"); h != "" {
			pr.Out.Header.Set("X-Forwarded-Host", h)
		}
	}
	prefix := s.o.Proxy.HeaderPrefix
	for k := range pr.Out.Header {
		// Every header we set, in any spelling a CGI-style upstream takes
		// for the same: a client's own is never passed on.
		if spoofsIdentity(k, prefix) || sameHeader(k, "X-Request-Id") || s.id != nil && sameHeader(k, s.id.o.Header) {
			delete(pr.Out.Header, k)
		}
	}
	delete(pr.Out.Header, "Authorization") // the credential stays here
	setIdentity(pr.Out.Header, s.proxyNames, st.res.subject)
	if s.id != nil {
		if st.assertion != "" {
			pr.Out.Header.Set(s.id.o.Header, st.assertion)
		}
	}
	pr.Out.Header["X-Request-Id"] = []string{st.res.id}
	// HTTP trailers are headers too, and many upstreams merge them into
	// the headers (CGI-style ones always do). None of a client's trailers
	// is passed on, nor their announcement: the client cannot add to or
	// override what authsvc says about it after the body either. In
	// pr.In.Trailer only the announced names are known at this point.
	if len(pr.In.Trailer) > 0 {
		s.m.trailersDropped.Inc()
		names := make([]string, 0, len(pr.In.Trailer))
		for k := range pr.In.Trailer {
			names = append(names, k)
		}
		sort.Strings(names)
		s.log.Info("proxy: client trailers are not forwarded", "request_id", st.res.id,
			"trailers", logsafe.Clip(strings.Join(names, ","), logsafe.MaxText))
	}
	pr.Out.Trailer = nil
	pr.Out.Body = readOnlyBody{st.body}
	pr.Out.ContentLength = st.n
	if st.n < 0 {
		pr.Out.Header.Del("Content-Length")
	}
}

// identityNames are the canonical names of the identity headers for one
// prefix, worked out once so that a request does not canonicalize (or
// concatenate) them again.
type identityNames struct {
	user, realm, principal, method, tokenType, groups string
}

func newIdentityNames(prefix string) *identityNames {
	c := textproto.CanonicalMIMEHeaderKey
	return &identityNames{user: c(prefix + "User"), realm: c(prefix + "Realm"),
		principal: c(prefix + "Principal"), method: c(prefix + "Method"),
		tokenType: c(prefix + "Token-Type"), groups: c(prefix + "Groups")}
}

// all lists the names in the order setIdentity writes them.
func (n *identityNames) all() [6]string {
	return [6]string{n.user, n.realm, n.principal, n.method, n.tokenType, n.groups}
}

// setIdentity writes the Subject as headers (names for the default prefix):
//
//	X-Authenticated-User:       principal (without realm)
//	X-Authenticated-Realm:      realm, if any
//	X-Authenticated-Principal:  principal@realm
//	X-Authenticated-Method:     UsernameToken, Kerberos, ...
//	X-Authenticated-Token-Type: PasswordDigest, ...
//	X-Authenticated-Groups:     comma-separated groups
//
// Values are percent-encoded where they hold characters outside printable
// ASCII, '%' or ',' (so a group name cannot split into two). Each header's
// value slice is cut from one array: one allocation rather than six.
func setIdentity(h http.Header, n *identityNames, s *authn.Subject) {
	v := make([]string, 6)
	set := func(i int, name, value string) {
		v[i] = value
		h[name] = v[i : i+1 : i+1]
	}
	set(0, n.user, headerValue(s.Principal))
	if s.Realm != "" {
		set(1, n.realm, headerValue(s.Realm))
	}
	set(2, n.principal, headerValue(s.Name()))
	set(3, n.method, headerValue(s.Method))
	if s.TokenType != "" {
		set(4, n.tokenType, headerValue(s.TokenType))
	}
	if len(s.Groups) > 0 {
		g := make([]string, len(s.Groups))
		for i, v := range s.Groups {
			g[i] = headerValue(v)
		}
		set(5, n.groups, strings.Join(g, ","))
	}
}

func headerValue(v string) string {
	const hex = "0123456789ABCDEF"
	clean := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '%' || c == ',' {
			clean = false
			break
		}
	}
	if clean {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c >= 0x7f || c == '%' || c == ',' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// upstreamError answers when the upstream cannot be reached.
func (s *Server) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	st, _ := r.Context().Value(ctxKey{}).(*proxyState)
	id, v := "", wsse.SOAP11
	if st != nil {
		id, v = st.res.id, st.res.version
	}
	var bad *envelopeError
	if errors.As(err, &bad) {
		// Logged and counted where it was found; the upstream request was
		// cut off before the end of the message.
		status := s.o.Proxy.SOAP11FaultStatus
		if v == wsse.SOAP12 {
			status = http.StatusBadRequest
		}
		writeFault(w, v, authn.AsFault(bad.err), id, status)
		return
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.log.Warn("authentication refused", "request_id", id, "fault", string(wsse.InvalidSecurity),
			"reason", fmt.Sprintf("message is larger than max_body_bytes %d (found while forwarding)", s.o.MaxBodyBytes))
		writeFault(w, v, authn.Reject(wsse.InvalidSecurity, "message too large"), id, http.StatusRequestEntityTooLarge)
		return
	}
	s.m.upstreamErrors.Inc()
	s.log.Error("upstream request failed", "request_id", id, "error", err.Error())
	writeServerFault(w, v, id, http.StatusBadGateway, "The upstream service is unavailable")
}

// sameHeader reports whether a client's header name is name for a
// CGI-style upstream: equal without regard to case, '_' taken as '-'.
func sameHeader(k, name string) bool {
	return len(k) == len(name) && spoofsIdentity(k, name)
}

// spoofsIdentity reports whether a client's header could pass for one of
// the identity headers: the prefix matched without regard to case, and with
// '_' taken as '-', because CGI-style upstreams (PHP, WSGI, Rack) turn both
// X-Authenticated-User and X_Authenticated_User into HTTP_X_AUTHENTICATED_USER.
func spoofsIdentity(name, prefix string) bool {
	if len(name) < len(prefix) {
		return false
	}
	fold := func(c byte) byte {
		switch {
		case c == '_':
			return '-'
		case 'A' <= c && c <= 'Z':
			return c + 'a' - 'A'
		}
		return c
	}
	for i := 0; i < len(prefix); i++ {
		if fold(name[i]) != fold(prefix[i]) {
			return false
		}
	}
	return true
}
