// Command authsvc-bench measures authsvc's throughput for PasswordDigest
// UsernameTokens against a bare Go net/http handler on the same machine in
// the same run (and proxy mode against a bare httputil.ReverseProxy in
// front of that handler), so that the result is a ratio rather than a number that
// only means something on one machine.
//
// By default it starts everything itself on loopback: the bare handler
// (baseline, and the upstream of proxy mode) and authsvc in process (the
// app package, with a generated configuration: a file registry, the memory
// replay cache, proxy mode to the bare handler, log level -log-level, info
// by default as in a default configuration; the log goes to stderr). Each
// request carries a fresh token (new nonce, current Created), made by the
// load generator. Connections are kept alive; -conns of them run for
// -duration per target.
//
//	go run ./cmd/authsvc-bench -duration 10s -conns 16
//
// To measure a running authsvc instead, give -api-url and/or -proxy-url
// (loopback only) and -user/-password of a user with a digest secret.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/authsvc/authsvc/app"
	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/internal/bufpool"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsseclient"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "measuring time per target (at most 2m)")
	warmup := flag.Duration("warmup", time.Second, "unmeasured load before each target")
	conns := flag.Int("conns", 16, "concurrent keep-alive connections")
	apiURL := flag.String("api-url", "", "a running authsvc's /v1/authenticate URL (loopback); default: start one")
	proxyURL := flag.String("proxy-url", "", "a running authsvc's proxied URL (loopback); default: start one")
	user := flag.String("user", "bench", "user name (external authsvc)")
	password := flag.String("password", "bench-secret", "password (external authsvc)")
	bodySize := flag.Int("body", 150, "bytes of SOAP Body text (150: an envelope of about 1.1 KB)")
	logLevel := flag.String("log-level", "info", "log level of the in-process authsvc (debug, info, warn, error)")
	rounds := flag.Int("rounds", 1, "rounds; each measures every target once, in turn (interleaved)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole process (load generator, baselines and the in-process authsvc) to this file")
	only := flag.String("only", "", "measure only these targets (comma-separated keys: bare, api, bareproxy, proxy)")
	flag.Parse()
	if *rounds < 1 || *rounds > 100 {
		fatal(errors.New("-rounds must be in [1, 100]"))
	}
	if *duration <= 0 || *duration > 2*time.Minute || *conns < 1 || *conns > 1024 {
		fatal(errors.New("-duration must be in (0, 2m] and -conns in [1, 1024]"))
	}
	for _, u := range []string{*apiURL, *proxyURL} {
		if err := loopbackOnly(u); err != nil {
			fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	bare, err := startBare()
	if err != nil {
		fatal(err)
	}
	floorURL := ""
	if *apiURL == "" && *proxyURL == "" {
		base, err := startAuthsvc(ctx, bare, *user, *password, *logLevel)
		if err != nil {
			fatal(err)
		}
		*apiURL, *proxyURL = base+"/v1/authenticate", base+"/soap/echo"
		if floorURL, err = startFloor(ctx, bare, *user, *password); err != nil {
			fatal(err)
		}
	}

	content := "<e:Echo xmlns:e=\"urn:example:echo\"><e:text>" + string(bytes.Repeat([]byte("x"), *bodySize)) + "</e:text></e:Echo>"
	mk := func() []byte {
		return wsseclient.Envelope(wsse.SOAP11, wsseclient.UsernameToken{Username: *user, Password: *password, Digest: true}, content)
	}
	fmt.Printf("authsvc-bench: %s/%s, GOMAXPROCS %d, %d CPUs, %d connections, %s per target, envelope %d bytes\n",
		runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), *conns, *duration, len(mk()))
	bareProxy, err := startBareProxy(bare)
	if err != nil {
		fatal(err)
	}
	targets := allTargets(bare, *apiURL, floorURL, bareProxy, *proxyURL)
	if *only != "" {
		targets = onlyTargets(targets, *only)
	}
	if *cpuProfile != "" {
		defer startProfile(*cpuProfile)()
	}
	for round := 1; round <= *rounds; round++ {
		fmt.Printf("round %d\n%-26s %9s %10s %9s %9s %9s %9s %7s %7s\n", round, "target", "requests", "req/s", "p50", "p90", "p99", "max", "errors", "ratio")
		var baseRate float64
		for i, tg := range targets {
			run(tg.url, *conns, *warmup, mk) // warm-up: connections, caches, JIT of nothing
			cpu0 := processCPU()
			r := run(tg.url, *conns, *duration, mk)
			cpu := processCPU() - cpu0
			rate := float64(r.n) / r.elapsed.Seconds()
			if i == 0 {
				baseRate = rate
			}
			fmt.Printf("%-26s %9d %10.0f %9s %9s %9s %9s %7d %6.0f%%\n", tg.name, r.n, rate,
				r.pct(50), r.pct(90), r.pct(99), r.pct(100), r.errors, 100*rate/baseRate)
			if r.firstErr != "" {
				fmt.Printf("  first error: %s\n", r.firstErr)
			}
			// For scripts (bench/rows/http.sh): one line per measurement.
			// cpu_us: the process's CPU time (load generator, baselines and
			// the in-process authsvc) per request of this target, which other
			// load on the machine inflates less than it does the rate.
			fmt.Printf("RATE round=%d target=%s rps=%.0f errors=%d cpu_us=%.1f\n", round, tg.key, rate, r.errors,
				float64(cpu.Microseconds())/float64(max(r.n, 1)))
		}
	}
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// target is one server the load generator measures.
type target struct{ name, key, url string }

// allTargets lists the targets in the order each round measures them; an
// empty URL leaves its target out. The floor targets (floor.go: authsvc's
// mandatory work alone) are informational; each follows the authsvc target
// it is the floor of.
func allTargets(bare, api, floor, bareProxy, proxy string) []target {
	targets := []target{{"bare net/http handler", "bare", bare + "/"}}
	if api != "" {
		targets = append(targets, target{"authsvc /v1/authenticate", "api", api})
	}
	if floor != "" {
		targets = append(targets, target{"floor: auth + JSON", "floor", floor + "/v1/authenticate"})
	}
	targets = append(targets, target{"bare httputil.ReverseProxy", "bareproxy", bareProxy + "/"})
	if proxy != "" {
		targets = append(targets, target{"authsvc proxy mode", "proxy", proxy})
	}
	if floor != "" {
		targets = append(targets, target{"floor: auth + ReverseProxy", "floorproxy", floor + "/soap/echo"})
	}
	return targets
}

// onlyTargets keeps the targets whose keys the comma-separated list names.
func onlyTargets(targets []target, list string) []target {
	keep := map[string]bool{}
	for _, k := range strings.Split(list, ",") {
		keep[strings.TrimSpace(k)] = true
	}
	var kept []target
	for _, tg := range targets {
		if keep[tg.key] {
			kept = append(kept, tg)
		}
	}
	if len(kept) == 0 {
		fatal(fmt.Errorf("-only %q names no target", list))
	}
	return kept
}

// startProfile starts a CPU profile of the process to path and returns
// the function that stops it.
func startProfile(path string) func() {
	f, err := os.Create(path)
	if err != nil {
		fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "authsvc-bench:", err)
	os.Exit(1)
}

func loopbackOnly(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: only loopback addresses are allowed", raw)
	}
	return nil
}

// startBare serves the baseline: read the whole body, answer a small SOAP
// response. It is also proxy mode's upstream.
func startBare() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	resp := []byte(`<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><EchoResponse/></s:Body></s:Envelope>`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write(resp)
	})
	go (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// startBareProxy is the baseline for proxy mode: a plain
// httputil.ReverseProxy in front of the bare handler.
func startBareProxy(upstream string) (string, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256 // as authsvc's proxy transport
	rp.Transport = tr
	rp.BufferPool = &bufpool.Pool{} // as authsvc's proxy: no 32 KiB allocation per response
	go (&http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// benchConfig writes the generated configuration (and its users file) into
// a new temporary directory and loads it; the caller removes dir.
func benchConfig(upstream, user, password, level string) (cfg *config.Config, dir string, err error) {
	dir, err = os.MkdirTemp("", "authsvc-bench")
	if err != nil {
		return nil, "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	hash, err := registry.HashPassword(password, registry.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		return nil, "", err
	}
	users := fmt.Sprintf("users:\n  - name: %s\n    password_hash: %q\n    digest_secret: %q\n    groups: [bench]\n", user, hash, password)
	// The replay cache is the default (memory, 8,000,000 entries) but for
	// its quota limits: the default share, max_entries/10 per 5 minutes,
	// is used up by one user from one address at this rate within a few
	// rounds, after which every request would be refused as throttled (a
	// cheaper path). Raised to max_entries, every nonce is still charged
	// to the principal's and the address's counters, and none is refused.
	cfgText := `
listen: 127.0.0.1:0
registries:
  users: {type: file, path: users.yaml}
replay: {type: memory, quota: {principal: 8000000, address: 8000000}}
chain:
  - {name: users, type: username, flag: requisite, registry: users}
proxy:
  upstream: ` + upstream + `
log: {level: ` + level + `}
`
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(users), 0o600); err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "authsvc.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		return nil, "", err
	}
	cfg, err = config.Load(path, nil)
	return cfg, dir, err
}

// startAuthsvc runs authsvc in process with the generated configuration.
func startAuthsvc(ctx context.Context, upstream, user, password, level string) (string, error) {
	cfg, dir, err := benchConfig(upstream, user, password, level)
	if err != nil {
		return "", err
	}
	logger := app.NewLogger(cfg.Log) // as cmd/authsvc: JSON to stderr
	addr := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- app.Serve(ctx, cfg, "127.0.0.1:0", logger, func(a net.Addr) { addr <- a.String() })
		os.RemoveAll(dir)
	}()
	select {
	case a := <-addr:
		return "http://" + a, nil
	case err := <-errc:
		return "", err
	case <-time.After(30 * time.Second):
		return "", errors.New("authsvc did not start")
	}
}

type result struct {
	n, errors int
	elapsed   time.Duration
	lat       []time.Duration
	firstErr  string
}

func (r *result) pct(p float64) string {
	if len(r.lat) == 0 {
		return "-"
	}
	i := int(float64(len(r.lat)-1) * p / 100)
	return r.lat[i].Round(time.Microsecond).String()
}

// run drives url with conns workers for d.
func run(target string, conns int, d time.Duration, mk func() []byte) *result {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var stop atomic.Bool
	var mu sync.Mutex
	res := &result{}
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<14)
			n, errs := 0, 0
			first := ""
			for !stop.Load() {
				body := mk()
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
				req.Header.Set("Content-Type", "text/xml; charset=utf-8")
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat = append(lat, time.Since(t0))
				n++
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
				}
			}
			mu.Lock()
			res.n += n
			res.errors += errs
			res.lat = append(res.lat, lat...)
			if res.firstErr == "" {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res
}
