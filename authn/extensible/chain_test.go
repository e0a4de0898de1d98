package extensible_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/extensible"
	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
)

// goSection is a custom Go module type with the helper's decisions:
// alice accepted, bob rejected, a Ticket token accepted, else ignored.
type goSection struct{}

func (goSection) Open(*config.Env) (authn.Module, error) {
	return authn.ModuleFunc(func(ctx context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
		if tok, err := extensible.FindOne(req, nsTicket, "Ticket"); err == nil {
			s.Principal, s.Method = "ticket-holder", "Ticket"
			extensible.MarkProcessed(req, tok)
			return true, nil
		}
		uts := extensible.UsernameTokens(req)
		if len(uts) == 0 {
			return false, authn.ErrUnsupported
		}
		switch uts[0].Username {
		case "alice":
			s.Principal = "alice"
			s.AddGroups("ext-users")
			req.MarkProcessedAt(uts[0].Start)
			return true, nil
		case "bob":
			return false, authn.Reject(wsse.FailedAuthentication, "bob is locked")
		}
		return false, authn.ErrUnsupported
	}), nil
}

type outcome int

const (
	success outcome = iota
	failure
	ignored
)

// oracle applies the chain's documented truth table to two outcomes.
func oracle(flags [2]authn.Flag, outs [2]outcome) bool {
	decisive, hasReqd, optSuccess := false, false, false
	for i, f := range flags {
		o := outs[i]
		switch f {
		case authn.Required, authn.Requisite:
			hasReqd = true
			if o != success {
				decisive = true
				if f == authn.Requisite {
					return false
				}
			}
		case authn.Sufficient:
			if o == success {
				optSuccess = true
				if !decisive {
					return true
				}
			}
		case authn.Optional:
			if o == success {
				optSuccess = true
			}
		}
	}
	return !decisive && (hasReqd || optSuccess)
}

// TestChainMixesBuiltinAndCustom builds chains from YAML of the built-in
// username module (file registry) and a custom module (Go, exec, http), in
// both orders, under every pair of control flags, and checks each result
// against the documented truth table.
func TestChainMixesBuiltinAndCustom(t *testing.T) {
	dir := t.TempDir()
	cheap := registry.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	ha, _ := registry.HashPassword("wonderland", cheap)
	hb, _ := registry.HashPassword("builder", cheap)
	users := fmt.Sprintf("users:\n  - name: alice\n    password_hash: %q\n  - name: bob\n    password_hash: %q\n", ha, hb)
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	decide := decideHTTP(t, &hits)
	var unnamed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// config.Build gives the module its chain entry's name, which goes
		// into the document.
		b, _ := io.ReadAll(r.Body)
		var d extensible.Document
		if json.Unmarshal(b, &d) != nil || d.Module != "custom" {
			unnamed.Add(1)
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		decide(w, r)
	}))
	t.Cleanup(func() {
		if n := unnamed.Load(); n > 0 {
			t.Errorf("%d documents did not name the chain entry", n)
		}
	})
	defer srv.Close()
	script, _ := filepath.Abs("testdata/helper.py")
	custom := map[string]string{
		"go":   "type: custom-go",
		"exec": fmt.Sprintf("type: exec\n    command: [%q, %q, decide, --persistent]\n    persistent: true", python(t), script),
		"http": fmt.Sprintf("type: http\n    url: %q\n    request_headers: {Authorization: Bearer svc}", srv.URL),
	}
	types := config.Builtin()
	types.Modules["custom-go"] = func() config.ModuleConfig { return goSection{} }

	// Requests and what each module makes of them.
	type req struct {
		name       string
		body       []byte
		user, cust outcome
		principal  string
	}
	reqs := []req{
		{"alice", envelope("alice", "wonderland", ""), success, success, "alice"},
		{"alice-wrong-password", envelope("alice", "nope", ""), failure, success, "alice"},
		{"bob", envelope("bob", "builder", ""), success, failure, "bob"},
		{"ticket-only", envelope("", "", `<x:Ticket>t</x:Ticket>`), ignored, success, "ticket-holder"},
		{"nobody", envelope("", "", ""), ignored, ignored, ""},
	}
	flags := []authn.Flag{authn.Required, authn.Requisite, authn.Sufficient, authn.Optional}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	checked := 0
	for kind, section := range custom {
		for _, customFirst := range []bool{false, true} {
			for _, fu := range flags {
				for _, fc := range flags {
					entries := []string{
						fmt.Sprintf("  - name: users\n    type: username\n    flag: %s\n    registry: users\n    text_over_plain_http: true\n    password_digest: false", fu),
						fmt.Sprintf("  - name: custom\n    flag: %s\n    %s", fc, section),
					}
					fl := [2]authn.Flag{fu, fc}
					if customFirst {
						entries[0], entries[1] = entries[1], entries[0]
						fl = [2]authn.Flag{fc, fu}
					}
					yml := "registries:\n  users: {type: file, path: users.yaml}\nchain:\n" + strings.Join(entries, "\n") + "\n"
					cfg, err := config.Parse([]byte(yml), types)
					if err != nil {
						t.Fatalf("%s\n%s", err, yml)
					}
					cfg.Path = filepath.Join(dir, "authsvc.yaml")
					rt, err := cfg.Build(logger)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range reqs {
						outs := [2]outcome{r.user, r.cust}
						if customFirst {
							outs = [2]outcome{r.cust, r.user}
						}
						want := oracle(fl, outs)
						s, err := rt.Chain.Authenticate(context.Background(), request(t, r.body))
						checked++
						name := fmt.Sprintf("%s custom-first=%v users=%s custom=%s %s", kind, customFirst, fu, fc, r.name)
						if want != (err == nil) {
							t.Errorf("%s: got %v, want success %v", name, err, want)
							continue
						}
						var f *authn.Fault
						if err != nil && (!errors.As(err, &f) || f.Temporary) {
							t.Errorf("%s: a technical failure: %v", name, err)
						}
						if err == nil && s.Principal != r.principal {
							// Both modules may set the principal; they agree here
							// except for bob, whom only the username module accepts.
							t.Errorf("%s: principal %q, want %q", name, s.Principal, r.principal)
						}
					}
					rt.Close()
				}
			}
		}
	}
	if checked != 3*2*16*len(reqs) {
		t.Fatalf("checked %d cases", checked)
	}
	if hits.Load() == 0 {
		t.Fatal("the http service was never asked")
	}
}
