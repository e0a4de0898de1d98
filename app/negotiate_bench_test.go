package app

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn/kerberos"
	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/internal/asynclog"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/server"
)

// BenchmarkNegotiate is HTTP Negotiate in process, with the SPNEGO tokens
// MIT's GSS-API makes (mutual authentication, one cached ticket), through
// the service as bench/rows/negotiate.sh configures it (one kerberos chain
// entry, the memory replay cache, log level info as text, written by the
// asynchronous log to io.Discard). "module" is the floor's handler: the
// chain entry's module alone (AcceptFrom and the AP-REP in the
// WWW-Authenticate header); "service" is authsvc's whole handler (router,
// request id, chain, metrics, the log line, the JSON answer). Both run
// through the same httptest request and recorder, so their difference is
// what the service adds to the module, without the network.
func BenchmarkNegotiate(b *testing.B) {
	k := testenv.StartKDC(b)
	cc := k.Kinit(b, "alice", "alice-pw")
	const n = 20000
	toks := testenv.GSSTokens(b, k.Env(cc), "spnego", "HTTP/localhost@EXAMPLE.TEST", n)
	auth := make([]string, n)
	for i, t := range toks {
		auth[i] = "Negotiate " + base64.StdEncoding.EncodeToString(t)
	}
	dir := b.TempDir()
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
replay: {type: memory, max_entries: 1000000}
chain:
  - name: sso
    type: kerberos
    flag: sufficient
    keytab: %s
    service_principals: [HTTP/localhost@EXAMPLE.TEST]
log: {level: info, format: text}
`, k.LocalhostKeytab)
	if err := os.WriteFile(filepath.Join(dir, "authsvc.yaml"), []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"module", "service"} {
		b.Run(mode, func(b *testing.B) {
			var h http.Handler
			var done func()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%n == 0 {
					// Each token is accepted once: a new service (new
					// replay cache) for each pass over them.
					b.StopTimer()
					if done != nil {
						done()
					}
					h, done = negotiateHandler(b, filepath.Join(dir, "authsvc.yaml"), mode)
					b.StartTimer()
				}
				r := httptest.NewRequest(http.MethodGet, "/v1/authenticate", nil)
				r.RemoteAddr = "127.0.0.1:40000"
				r.Header.Set("Authorization", auth[i%n])
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Negotiate ") {
					b.Fatalf("token %d: %d %s", i%n, w.Code, w.Body)
				}
			}
			b.StopTimer()
			done()
		})
	}
}

// negotiateHandler builds the configuration at path as the service does
// and returns mode's handler and what closes it.
func negotiateHandler(b *testing.B, path, mode string) (http.Handler, func()) {
	cfg, err := config.Load(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	lh := asynclog.NewText(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}) // as NewLogger, to io.Discard
	logger := slog.New(lh)
	rt, err := cfg.Build(logger)
	if err != nil {
		b.Fatal(err)
	}
	done := func() { lh.Close(); rt.Close() }
	if mode == "module" {
		return moduleHandler(b, rt.Chain.Entries()[0].Module.(*kerberos.Module)), done
	}
	opts, err := serverOptions(cfg, rt, logger)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return srv.Handler(), done
}

// moduleHandler is bench/negotiate's floor: the module behind a trivial
// handler.
func moduleHandler(b *testing.B, m *kerberos.Module) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, val, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		raw, err := base64.StdEncoding.DecodeString(val)
		if err != nil {
			b.Fatal(err)
		}
		peer, _ := netip.ParseAddrPort(r.RemoteAddr)
		res, err := m.AcceptFrom(context.Background(), raw, time.Now(), peer.Addr())
		if err != nil {
			b.Fatal(err)
		}
		rep, err := res.Reply()
		if err != nil {
			b.Fatal(err)
		}
		w.Header().Set("WWW-Authenticate", "Negotiate "+base64.StdEncoding.EncodeToString(rep))
		io.WriteString(w, "ok\n")
	})
}
