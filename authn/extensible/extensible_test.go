package extensible_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/extensible"
	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/wsse"
)

const nsTicket = "urn:example:ticket"

// envelope returns a SOAP 1.1 envelope with a UsernameToken for user (none
// when user is empty) and the extra header children.
func envelope(user, password string, extra string) []byte {
	var b strings.Builder
	b.WriteString(`<soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `" xmlns:x="` + nsTicket + `"><soap:Header>`)
	b.WriteString(`<wsse:Security xmlns:wsse="` + wsse.NSWSSE + `" xmlns:wsu="` + wsse.NSWSU + `">`)
	if user != "" {
		b.WriteString(`<wsse:UsernameToken wsu:Id="UT-1"><wsse:Username>` + user + `</wsse:Username>` +
			`<wsse:Password Type="` + wsse.PasswordText + `">` + password + `</wsse:Password></wsse:UsernameToken>`)
	}
	b.WriteString(extra)
	b.WriteString(`</wsse:Security></soap:Header><soap:Body><ping/></soap:Body></soap:Envelope>`)
	return []byte(b.String())
}

func request(t testing.TB, body []byte) *authn.Request {
	t.Helper()
	env, err := wsse.Parse(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"X-Tenant": {"blue"}, "X-Secret-Stuff": {"no"}}
	return &authn.Request{Envelope: env, Peer: netip.MustParseAddrPort("192.0.2.7:4444"),
		ID: "req-" + strings.ReplaceAll(t.Name(), "/", "-"), Now: time.Now(), Header: hdr.Get,
		Shared: map[string]any{}}
}

func TestAccessors(t *testing.T) {
	ticket := `<x:Ticket wsu:Id="T-1">abc&amp;def</x:Ticket>`
	req := request(t, envelope("alice", "s3cret", ticket))
	if got := string(extensible.SecurityXML(req)); !strings.HasPrefix(got, "<wsse:Security") || !strings.HasSuffix(got, "</wsse:Security>") {
		t.Fatalf("SecurityXML = %q", got)
	}
	if n := len(extensible.Tokens(req)); n != 2 {
		t.Fatalf("%d tokens, want 2", n)
	}
	tok, err := extensible.FindOne(req, nsTicket, "Ticket")
	if err != nil {
		t.Fatal(err)
	}
	if string(tok.XML) != ticket || tok.ID != "T-1" {
		t.Fatalf("token %q id %q", tok.XML, tok.ID)
	}
	if tok.Namespaces["x"] != nsTicket || tok.Namespaces["wsu"] != wsse.NSWSU {
		t.Fatalf("namespaces %v", tok.Namespaces)
	}
	el, err := tok.Element()
	if err != nil {
		t.Fatal(err)
	}
	if el.NamespaceURI() != nsTicket || el.Text() != "abc&def" || el.Parent() != nil {
		t.Fatalf("element %s %q", el.NamespaceURI(), el.Text())
	}
	if _, err := extensible.FindOne(req, nsTicket, "Missing"); !errors.Is(err, authn.ErrUnsupported) {
		t.Fatalf("missing token: %v", err)
	}
	two := request(t, envelope("", "", ticket+ticket))
	if _, err := extensible.FindOne(two, nsTicket, "Ticket"); !errors.Is(err, extensible.ErrMultiple) {
		t.Fatalf("two tokens: %v", err)
	}
	if uts := extensible.UsernameTokens(req); len(uts) != 1 || uts[0].Username != "alice" {
		t.Fatalf("username tokens %v", uts)
	}
	if extensible.Header(req, "x-tenant") != "blue" || extensible.Peer(req).Port() != 4444 || extensible.ClientCertificate(req) != nil {
		t.Fatal("metadata")
	}
	extensible.Set(req, "test.n", 42)
	if v, ok := extensible.Get[int](req, "test.n"); !ok || v != 42 {
		t.Fatal("shared state")
	}
	if _, ok := extensible.Get[string](req, "test.n"); ok {
		t.Fatal("shared state of the wrong type")
	}
}

func TestDocumentWithoutPasswords(t *testing.T) {
	req := request(t, envelope("alice", "s3cret", ""))
	d := extensible.NewDocument(req, extensible.DocumentOptions{Module: "m", Headers: []string{"x-tenant", "X-Absent"}})
	b, _ := json.Marshal(d)
	if bytes.Contains(b, []byte("s3cret")) {
		t.Fatalf("password in the document: %s", b)
	}
	if d.Headers["X-Tenant"] != "blue" || len(d.Headers) != 1 || d.Peer.Address != "192.0.2.7" || d.Version != 1 {
		t.Fatalf("document %s", b)
	}
	if !strings.Contains(d.Security.XML, `PasswordText"></wsse:Password>`) {
		t.Fatalf("raw header without an empty Password: %s", d.Security.XML)
	}
	d = extensible.NewDocument(req, extensible.DocumentOptions{SendPasswords: true})
	if d.Security.UsernameTokens[0].Password != "s3cret" || !strings.Contains(d.Security.Tokens[0].XML, "s3cret") {
		t.Fatal("send_passwords did not send the password")
	}
}

func python(t testing.TB) string {
	t.Helper()
	return testenv.Python(t)
}

func helper(t testing.TB, args ...string) []string {
	script, err := filepath.Abs("testdata/helper.py")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{python(t), script}, args...)
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// checkDecisions runs the accept / reject / ignore cases against a module.
func checkDecisions(t *testing.T, m authn.Module) {
	t.Helper()
	req := request(t, envelope("alice", "s3cret", ""))
	var s authn.Subject
	ok, err := m.Login(context.Background(), req, &s)
	if !ok || err != nil {
		t.Fatalf("alice: %v %v", ok, err)
	}
	want := map[string]string{"peer": "192.0.2.7", "password_sent": "False", "raw_has_secret": "False",
		"header": "blue", "ns_wsse": wsse.NSWSSE}
	for k, v := range want {
		if got := s.Attributes[k]; len(got) != 1 || got[0] != v {
			t.Errorf("attribute %s = %v, want %s", k, got, v)
		}
	}
	if s.Principal != "alice" || s.Realm != "EXT" || len(s.Groups) != 1 || s.Attributes["locals"][0] != "UsernameToken" {
		t.Errorf("subject %+v", s)
	}

	s = authn.Subject{}
	ok, err = m.Login(context.Background(), request(t, envelope("bob", "x", "")), &s)
	var f *authn.Fault
	if ok || !errors.As(err, &f) || f.Code != wsse.FailedAuthentication || !strings.Contains(f.Reason, "bob is locked") || f.Temporary {
		t.Fatalf("bob: %v %v", ok, err)
	}
	ok, err = m.Login(context.Background(), request(t, envelope("", "", "")), &s)
	if ok || !errors.Is(err, authn.ErrUnsupported) {
		t.Fatalf("no token: %v %v", ok, err)
	}
}

// checkFailure expects a technical failure (not a rejection) and a log line.
func checkFailure(t *testing.T, m authn.Module, logs *logBuffer, want string) {
	t.Helper()
	req := request(t, envelope("alice", "s3cret", ""))
	ok, err := m.Login(context.Background(), req, &authn.Subject{})
	var f *authn.Fault
	if ok || err == nil || errors.As(err, &f) || errors.Is(err, authn.ErrUnsupported) || !errors.Is(err, authn.ErrUnavailable) {
		t.Fatalf("want a technical failure, got %v %v", ok, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if fault := authn.AsFault(err); !fault.Temporary {
		t.Errorf("fault not temporary: %v", fault)
	}
	if l := logs.String(); !strings.Contains(l, "failing closed") || !strings.Contains(l, req.ID) {
		t.Errorf("no log line for %s:\n%s", req.ID, l)
	}
}

func TestExecPerRequest(t *testing.T) {
	m, err := extensible.NewExec(extensible.ExecConfig{Command: helper(t, "decide"),
		Document: extensible.DocumentOptions{Headers: []string{"X-Tenant"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkDecisions(t, m)
}

func TestExecPersistent(t *testing.T) {
	m, err := extensible.NewExec(extensible.ExecConfig{Command: helper(t, "decide", "--persistent"), Persistent: true,
		Document: extensible.DocumentOptions{Headers: []string{"X-Tenant"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkDecisions(t, m)
	checkDecisions(t, m)
}

func TestExecPersistentRestartsAfterExit(t *testing.T) {
	logs := &logBuffer{}
	m, err := extensible.NewExec(extensible.ExecConfig{Command: helper(t, "exit1", "--persistent"), Persistent: true,
		Timeout: 3 * time.Second, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range 3 {
		var s authn.Subject
		if ok, err := m.Login(context.Background(), request(t, envelope("alice", "s3cret", "")), &s); !ok || err != nil {
			t.Fatalf("request %d: %v %v", i, ok, err)
		}
		// Wait until the process has exited, so the next request restarts it.
		deadline := time.Now().Add(3 * time.Second)
		for strings.Count(logs.String(), "exec program exited") <= i && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if n := strings.Count(logs.String(), "exec program started"); n < 2 {
		t.Fatalf("program started %d times:\n%s", n, logs)
	}
}

func TestExecFailuresFailClosed(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		persistent bool
		want       string
	}{
		{"crash", []string{"crash"}, false, "exit status 3"},
		{"crash-persistent", []string{"crash", "--persistent"}, true, "exited"},
		{"hang", []string{"hang"}, false, "no answer within"},
		{"hang-persistent", []string{"hang", "--persistent"}, true, "no answer within"},
		{"garbled", []string{"garbled"}, false, "contract"},
		{"garbled-persistent", []string{"garbled", "--persistent"}, true, "contract"},
		{"big", []string{"big"}, false, "larger than"},
		{"big-persistent", []string{"big", "--persistent"}, true, "longer than"},
		{"exit1", []string{"exit1"}, false, "exit status 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			logs := &logBuffer{}
			m, err := extensible.NewExec(extensible.ExecConfig{Command: helper(t, c.args...), Persistent: c.persistent,
				Timeout: 3 * time.Second, MaxOutputBytes: 4096, Logger: logs.logger()})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			checkFailure(t, m, logs, c.want)
		})
	}
	t.Run("missing-program", func(t *testing.T) {
		logs := &logBuffer{}
		m, err := extensible.NewExec(extensible.ExecConfig{Command: []string{"/nonexistent/authsvc-helper"}, Logger: logs.logger()})
		if err != nil {
			t.Fatal(err)
		}
		checkFailure(t, m, logs, "start")
	})
}

// TestExecNoShell: the request travels on stdin only; shell syntax in a
// token is data, and the argv is passed as is.
func TestExecNoShell(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	m, err := extensible.NewExec(extensible.ExecConfig{Command: helper(t, "decide", "; touch "+marker)})
	if err != nil {
		t.Fatal(err)
	}
	user := "$(touch " + marker + ")`touch " + marker + "`"
	m.Login(context.Background(), request(t, envelope(user, "x", "")), &authn.Subject{})
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a shell ran")
	}
}

func TestExecConcurrencyLimit(t *testing.T) {
	logs := &logBuffer{}
	m, err := extensible.NewExec(extensible.ExecConfig{Command: helper(t, "hang"), MaxConcurrency: 1,
		Timeout: 600 * time.Millisecond, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			ctx := context.Background()
			if i > 0 { // the first holds the only slot until its timeout
				time.Sleep(100 * time.Millisecond)
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
			}
			_, errs[i] = m.Login(ctx, request(t, envelope("alice", "x", "")), &authn.Subject{})
		})
	}
	wg.Wait()
	if n := strings.Count(logs.String(), "no free slot"); n != 2 {
		t.Fatalf("%d requests found no slot, want 2:\n%s", n, logs)
	}
	for _, err := range errs {
		if !errors.Is(err, authn.ErrUnavailable) {
			t.Fatalf("want failures, got %v", err)
		}
	}
}

// decideHTTP is the loopback service: the same decisions as helper.py.
func decideHTTP(t *testing.T, hits *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		var d extensible.Document
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer svc" {
			http.Error(w, "bad request", 400)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		a := extensible.Answer{Version: 1, Decision: "ignore", RequestID: d.RequestID}
		if d.Security != nil {
			for i, tk := range d.Security.Tokens {
				if tk.Namespace == nsTicket && tk.Local == "Ticket" {
					a = extensible.Answer{Version: 1, Decision: "accept", Subject: &extensible.AnswerSubject{Principal: "ticket-holder"},
						Processed: []int{i}}
				}
			}
		}
		if a.Decision == "ignore" && d.Security != nil && len(d.Security.UsernameTokens) > 0 {
			ut := d.Security.UsernameTokens[0]
			switch ut.Username {
			case "alice":
				locals := []string{}
				var processed []int
				for i, tk := range d.Security.Tokens {
					locals = append(locals, tk.Local)
					if tk.Local == "UsernameToken" && processed == nil {
						processed = []int{i}
					}
				}
				a = extensible.Answer{Version: 1, Decision: "accept", Subject: &extensible.AnswerSubject{
					Principal: "alice", Realm: "EXT", Groups: []string{"ext-users"}, Attributes: map[string][]string{
						"peer": {d.Peer.Address}, "password_sent": {map[bool]string{true: "True", false: "False"}[ut.Password != ""]},
						"raw_has_secret": {map[bool]string{true: "True", false: "False"}[strings.Contains(d.Security.XML, "s3cret")]},
						"locals":         locals, "header": {d.Headers["X-Tenant"]}, "ns_wsse": {d.Security.Namespaces["wsse"]},
					}}, Processed: processed}
			case "bob":
				a = extensible.Answer{Version: 1, Decision: "reject", Reason: "bob is locked"}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(a)
	}
}

func TestHTTP(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(decideHTTP(t, &hits))
	defer srv.Close()
	m, err := extensible.NewHTTP(extensible.HTTPConfig{URL: srv.URL, Client: srv.Client(),
		RequestHeaders: map[string]string{"Authorization": "Bearer svc"},
		Document:       extensible.DocumentOptions{Headers: []string{"X-Tenant"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkDecisions(t, m)
}

func TestHTTPFailures(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/garbled", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"version":1,"decision":"maybe"}`) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(bytes.Repeat([]byte(" "), 100000)) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	var closes atomic.Int32
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		closes.Add(1)
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, c := range []struct{ path, want string }{
		{"/500", "status 500"}, {"/redirect", "status 307"}, {"/garbled", "contract"},
		{"/big", "larger than"}, {"/slow", "deadline"}, {"/close", "EOF"},
	} {
		t.Run(c.path, func(t *testing.T) {
			logs := &logBuffer{}
			m, err := extensible.NewHTTP(extensible.HTTPConfig{URL: srv.URL + c.path, Timeout: 500 * time.Millisecond,
				Retries: 3, MaxResponseBytes: 4096, Logger: logs.logger()})
			if err != nil {
				t.Fatal(err)
			}
			checkFailure(t, m, logs, c.want)
		})
	}
	if n := closes.Load(); n != 1 {
		t.Errorf("a request that reached the service was sent %d times", n)
	}

	// A connection error before anything was sent is retried.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := &logBuffer{}
	m, _ := extensible.NewHTTP(extensible.HTTPConfig{URL: "http://" + addr + "/", Retries: 2, Timeout: 2 * time.Second, Logger: logs.logger()})
	checkFailure(t, m, logs, "refused")
	if n := strings.Count(logs.String(), "retrying"); n != 2 {
		t.Errorf("%d retries, want 2:\n%s", n, logs)
	}
}

// TestAnswerProcessed: an accepting answer's "processed" indexes mark the
// Security children; an index that names no child is off the contract.
func TestAnswerProcessed(t *testing.T) {
	req := request(t, envelope("alice", "s3cret", `<x:Ticket>t</x:Ticket>`))
	tok, _ := extensible.FindOne(req, nsTicket, "Ticket")
	if tok.Index != 1 {
		t.Fatalf("ticket index %d, want 1", tok.Index)
	}
	a, err := extensible.ParseAnswer([]byte(`{"version":1,"decision":"accept","subject":{"principal":"t"},"processed":[1]}`), req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.MarkProcessed(req); err != nil || !req.Processed(1) || req.Processed(0) {
		t.Fatalf("MarkProcessed: %v; processed 0:%v 1:%v", err, req.Processed(0), req.Processed(1))
	}
	a, err = extensible.ParseAnswer([]byte(`{"version":1,"decision":"accept","subject":{"principal":"t"},"processed":[2]}`), req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.MarkProcessed(request(t, envelope("alice", "s3cret", ""))); !errors.Is(err, extensible.ErrBadAnswer) {
		t.Fatalf("index out of range: %v", err)
	}
	if _, err := extensible.ParseAnswer([]byte(`{"version":1,"decision":"accept","subject":{"principal":"t"},"processed":[-1]}`), req.ID); !errors.Is(err, extensible.ErrBadAnswer) {
		t.Fatalf("negative index: %v", err)
	}
	// A rejecting answer marks nothing.
	req = request(t, envelope("alice", "s3cret", ""))
	a, _ = extensible.ParseAnswer([]byte(`{"version":1,"decision":"reject","processed":[0]}`), req.ID)
	if err := a.MarkProcessed(req); err != nil || req.Processed(0) {
		t.Fatalf("reject marked: %v", err)
	}
}
