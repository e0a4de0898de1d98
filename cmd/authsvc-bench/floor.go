package main

// The floor targets: what authsvc must do per request and nothing else, to
// tell how much of the gap to the bare handler is the authentication itself
// and how much is authsvc's service around it (routing, limits, metrics,
// logging, faults). Issue 14 asks authsvc for 0.9 of the bare handler's
// rate; if the floor is below that, no implementation of the same work
// reaches it in this harness.
//
// The floor runs the chain that authsvc's configuration builds (the same
// UsernameToken module and options, its own in-memory replay cache with the
// configured defaults), on an envelope parsed with wsse.Parse's defaults,
// and answers with the same JSON (Subject.AppendJSON). It leaves out what
// the server adds: the router and recoverer, the request id, the
// Content-Type and size checks, incremental reading that stops at the Body
// start tag, the Timestamp pre-step, brute-force counting, metrics, the log
// line and the audit, SOAP faults (a refusal is a bare 401).

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/internal/bufpool"
	"github.com/authsvc/authsvc/wsse"
)

// floorMaxBody bounds the body the floor reads, as max_body_bytes does.
const floorMaxBody = 10 << 20

// floor authenticates requests with the chain of the generated
// configuration.
type floor struct {
	chain *authn.Chain
	bufs  sync.Pool
}

// newFloor builds the chain (and its replay cache) of the same generated
// configuration authsvc runs with; the log of the build is discarded.
func newFloor(upstream, user, password string) (*floor, error) {
	cfg, dir, err := benchConfig(upstream, user, password, "info")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rt, err := cfg.Build(slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return &floor{chain: rt.Chain, bufs: sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}}, nil
}

// authenticate reads the whole body into a pooled buffer, parses it and
// runs the chain. The returned release puts the buffer back; body is valid
// until then.
func (f *floor) authenticate(r *http.Request) (s *authn.Subject, body []byte, release func(), ok bool) {
	bp := f.bufs.Get().(*[]byte)
	release = func() {
		*bp = (*bp)[:0]
		f.bufs.Put(bp)
	}
	buf := bytes.NewBuffer((*bp)[:0])
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, floorMaxBody)); err != nil {
		return nil, nil, release, false
	}
	*bp = buf.Bytes()
	env, err := wsse.Parse(*bp, nil)
	if err != nil {
		return nil, nil, release, false
	}
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	s, err = f.chain.Authenticate(r.Context(), &authn.Request{Envelope: env, Peer: peer, Client: peer.Addr().Unmap(), Now: time.Now()})
	if err != nil {
		return nil, nil, release, false
	}
	return s, *bp, release, true
}

// api answers as /v1/authenticate does: the Subject as JSON.
func (f *floor) api(w http.ResponseWriter, r *http.Request) {
	s, _, release, ok := f.authenticate(r)
	defer release()
	if !ok {
		http.Error(w, "refused", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(s.AppendJSON(make([]byte, 0, 512)), '\n'))
}

// proxy authenticates, then forwards the bytes read to the upstream with the
// principal in a header, through rp.
func (f *floor) proxy(rp *httputil.ReverseProxy) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, body, release, ok := f.authenticate(r)
		defer release()
		if !ok {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("X-Authenticated-Principal", s.Principal)
		rp.ServeHTTP(w, r)
	}
}

// startFloor serves the floor's API at /v1/authenticate and its proxy (to
// upstream, configured as startBareProxy's) at every other path.
func startFloor(ctx context.Context, upstream, user, password string) (string, error) {
	f, err := newFloor(upstream, user, password)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(upstream)
	if err != nil {
		return "", err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	rp.Transport = tr
	rp.BufferPool = &bufpool.Pool{}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/authenticate", f.api)
	mux.HandleFunc("/", f.proxy(rp))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() { <-ctx.Done(); srv.Close() }()
	return "http://" + ln.Addr().String(), nil
}
