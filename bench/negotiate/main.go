// Command negotiate is the peer server and load generator of
// bench/rows/negotiate.sh (issue 14). It is a benchmark tool, not part of
// authsvc.
//
//	negotiate -mode gokrb5 -keytab F   gokrb5's SPNEGO middleware around a trivial handler
//	negotiate -mode bare               the trivial handler alone
//	negotiate -mode floor -keytab F [-spn S]
//	                                   authsvc's Kerberos module alone
//	                                   (authn/kerberos, its Go API) around the
//	                                   trivial handler: the floor under
//	                                   authsvc's Negotiate path (floor.go)
//	negotiate -mode load -url U -tokens F -conns C
//	                                   sends every token of F (Base64, one a
//	                                   line) once as "Authorization: Negotiate",
//	                                   over C keep-alive connections, and
//	                                   prints "rps=<n> ok=<n> failed=<n>"
//
// The servers listen on 127.0.0.1:0 and print their address on stdout.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

func main() {
	mode := flag.String("mode", "", "gokrb5, bare, floor or load")
	kt := flag.String("keytab", "", "service keytab (gokrb5, floor)")
	spn := flag.String("spn", "HTTP/localhost@EXAMPLE.TEST", "service principal whose tickets are accepted (floor)")
	url := flag.String("url", "", "target URL (load)")
	tokens := flag.String("tokens", "", "token file (load)")
	conns := flag.Int("conns", 16, "concurrent connections (load)")
	flag.Parse()
	switch *mode {
	case "gokrb5", "bare", "floor":
		serve(*mode, *kt, *spn)
	case "load":
		load(*url, *tokens, *conns)
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
}

func trivial(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "ok\n")
}

func serve(mode, ktPath, spn string) {
	var h http.Handler = http.HandlerFunc(trivial)
	if mode == "floor" {
		f, err := newFloor(ktPath, spn)
		if err != nil {
			log.Fatal(err)
		}
		h = f
	}
	if mode == "gokrb5" {
		kt, err := keytab.Load(ktPath)
		if err != nil {
			log.Fatal(err)
		}
		// MIT's PAC carries no logon information: gokrb5 refuses it unless
		// told not to decode PACs. Its logger stays nil (no per-request log).
		h = spnego.SPNEGOKRB5Authenticate(h, kt, service.DecodePAC(false))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	log.Fatal(http.Serve(ln, h))
}

func load(url, path string, conns int) {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	var toks []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			toks = append(toks, "Negotiate "+t)
		}
	}
	if err := sc.Err(); err != nil || len(toks) == 0 {
		log.Fatalf("%s: %d tokens, %v", path, len(toks), err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	cl := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next, ok, failed atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(toks)) {
					return
				}
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Authorization", toks[i])
				resp, err := cl.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.Do(func() { log.Printf("first failure: %v", err) })
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
					firstErr.Do(func() { log.Printf("first failure: status %d", resp.StatusCode) })
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	fmt.Printf("rps=%.0f ok=%d failed=%d\n", float64(ok.Load())/d.Seconds(), ok.Load(), failed.Load())
}
