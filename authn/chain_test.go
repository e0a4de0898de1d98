package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/wsse"
)

// result of a scripted module.
type res int

const (
	ok   res = iota // success
	no              // rejection
	tech            // technical error
	ign             // ignored (no credential)
)

func (r res) String() string { return [...]string{"ok", "no", "tech", "ign"}[r] }

// scripted returns a module with a fixed result that records its calls.
func scripted(name string, r res, calls *[]string) Module {
	return ModuleFunc(func(_ context.Context, _ *Request, s *Subject) (bool, error) {
		*calls = append(*calls, name)
		switch r {
		case ok:
			if s.Principal == "" {
				s.Principal = name
			}
			s.AddGroups("g-" + name)
			return true, nil
		case no:
			s.AddGroups("must-not-stick-" + name) // discarded by the chain
			return false, Reject(wsse.FailedAuthentication, "%s says no", name)
		case tech:
			return false, fmt.Errorf("%s: directory down: %w", name, ErrUnavailable)
		}
		return false, ErrUnsupported
	})
}

type step struct {
	flag Flag
	r    res
}

// TestChainTruthTable walks the JAAS truth table of the package doc case by
// case: the overall outcome, which modules ran, and which fault came back.
func TestChainTruthTable(t *testing.T) {
	cases := []struct {
		steps   []step
		success bool
		ran     int            // how many modules ran
		fault   string         // module whose fault is returned ("" on success)
		code    wsse.FaultCode // expected code of the fault
		temp    bool           // fault is temporary
	}{
		// required
		{[]step{{Required, ok}}, true, 1, "", "", false},
		{[]step{{Required, no}}, false, 1, "m0", wsse.FailedAuthentication, false},
		{[]step{{Required, no}, {Required, ok}}, false, 2, "m0", wsse.FailedAuthentication, false}, // continues after failure
		{[]step{{Required, ok}, {Required, no}}, false, 2, "m1", wsse.FailedAuthentication, false},
		{[]step{{Required, ign}}, false, 1, "m0", wsse.InvalidSecurity, false}, // ignored required = failure (no Security header)
		{[]step{{Required, tech}}, false, 1, "m0", wsse.SecurityTokenUnavailable, true},
		{[]step{{Required, tech}, {Sufficient, ok}}, false, 2, "m0", wsse.SecurityTokenUnavailable, true},
		// requisite
		{[]step{{Requisite, ok}, {Required, ok}}, true, 2, "", "", false},
		{[]step{{Requisite, no}, {Required, ok}}, false, 1, "m0", wsse.FailedAuthentication, false}, // stops at once
		{[]step{{Requisite, ign}, {Sufficient, ok}}, false, 1, "m0", wsse.InvalidSecurity, false},
		{[]step{{Required, no}, {Requisite, no}, {Required, ok}}, false, 2, "m0", wsse.FailedAuthentication, false},
		// sufficient
		{[]step{{Sufficient, ok}, {Required, no}}, true, 1, "", "", false}, // stops at once with success
		{[]step{{Sufficient, no}, {Sufficient, ok}}, true, 2, "", "", false},
		{[]step{{Sufficient, no}, {Sufficient, no}}, false, 2, "m0", wsse.FailedAuthentication, false},
		{[]step{{Sufficient, ign}, {Sufficient, ign}}, false, 2, "", wsse.InvalidSecurity, false},                    // nothing found, no header
		{[]step{{Required, no}, {Sufficient, ok}, {Required, ok}}, false, 3, "m0", wsse.FailedAuthentication, false}, // earlier required failure: continue
		{[]step{{Sufficient, tech}, {Sufficient, ok}}, true, 2, "", "", false},
		{[]step{{Sufficient, tech}, {Sufficient, no}}, false, 2, "m0", wsse.SecurityTokenUnavailable, true}, // technical beats rejection
		{[]step{{Sufficient, no}, {Required, ok}}, true, 2, "", "", false},
		// optional
		{[]step{{Optional, ok}}, true, 1, "", "", false},
		{[]step{{Optional, no}}, false, 1, "m0", wsse.FailedAuthentication, false},
		{[]step{{Optional, no}, {Optional, ok}}, true, 2, "", "", false},
		{[]step{{Required, ok}, {Optional, no}}, true, 2, "", "", false},
		{[]step{{Required, ok}, {Optional, tech}}, true, 2, "", "", false},
		{[]step{{Optional, ign}, {Optional, ign}}, false, 2, "", wsse.InvalidSecurity, false},
		{[]step{{Sufficient, ign}, {Optional, ok}}, true, 2, "", "", false},
	}
	for _, c := range cases {
		var name []string
		for _, s := range c.steps {
			name = append(name, s.flag.String()+"="+s.r.String())
		}
		t.Run(strings.Join(name, ","), func(t *testing.T) {
			var calls []string
			var entries []Entry
			for i, s := range c.steps {
				n := fmt.Sprintf("m%d", i)
				entries = append(entries, Entry{Name: n, Flag: s.flag, Module: scripted(n, s.r, &calls)})
			}
			ch, err := NewChain(entries...)
			if err != nil {
				t.Fatal(err)
			}
			subj, err := ch.Authenticate(context.Background(), &Request{})
			if len(calls) != c.ran {
				t.Errorf("ran %v, want %d modules", calls, c.ran)
			}
			if c.success {
				if err != nil {
					t.Fatalf("failed: %v", err)
				}
				for _, g := range subj.Groups {
					if strings.HasPrefix(g, "must-not-stick") {
						t.Errorf("a failed module's change stayed in the subject: %v", subj.Groups)
					}
				}
				return
			}
			var f *Fault
			if !errors.As(err, &f) {
				t.Fatalf("err = %v (subject %+v), want a *Fault", err, subj)
			}
			if f.Module != c.fault || f.Code != c.code || f.Temporary != c.temp {
				t.Errorf("fault from %q code %s temporary %v, want %q %s %v (%v)", f.Module, f.Code, f.Temporary, c.fault, c.code, c.temp, f)
			}
		})
	}
}

func TestChainSharedStateAndEnrichment(t *testing.T) {
	first := ModuleFunc(func(_ context.Context, r *Request, s *Subject) (bool, error) {
		s.Principal = "alice"
		r.SetShared("seen", "first")
		return true, nil
	})
	enrich := ModuleFunc(func(_ context.Context, r *Request, s *Subject) (bool, error) {
		if s.Principal == "" {
			return false, ErrUnsupported
		}
		if r.Shared["seen"] != "first" {
			return false, errors.New("shared state lost")
		}
		s.AddGroups("admins")
		s.AddAttribute("mail", "alice@example.test")
		return true, nil
	})
	ch, err := NewChain(Entry{"pw", Required, first}, Entry{"groups", Optional, enrich})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ch.Authenticate(context.Background(), &Request{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Principal != "alice" || len(s.Groups) != 1 || s.Attributes["mail"][0] != "alice@example.test" ||
		strings.Join(s.Modules, ",") != "pw,groups" {
		t.Errorf("subject = %+v", s)
	}
}

func TestChainNeedsPrincipal(t *testing.T) {
	enrichOnly := ModuleFunc(func(context.Context, *Request, *Subject) (bool, error) { return true, nil })
	ch, _ := NewChain(Entry{"e", Optional, enrichOnly})
	if _, err := ch.Authenticate(context.Background(), &Request{}); err == nil {
		t.Fatal("a chain whose modules set no principal succeeded")
	}
}

func TestNewChainChecks(t *testing.T) {
	m := ModuleFunc(func(context.Context, *Request, *Subject) (bool, error) { return true, nil })
	for _, bad := range [][]Entry{
		nil,
		{{Name: "", Flag: Required, Module: m}},
		{{Name: "a", Flag: 0, Module: m}},
		{{Name: "a", Flag: Required}},
		{{Name: "a", Flag: Required, Module: m}, {Name: "a", Flag: Optional, Module: m}},
	} {
		if _, err := NewChain(bad...); err == nil {
			t.Errorf("NewChain(%+v) accepted", bad)
		}
	}
	if _, err := ParseFlag("mandatory"); err == nil {
		t.Error("ParseFlag accepted an unknown flag")
	}
}

type challenger struct{ ModuleFunc }

func (challenger) Challenge() string { return "Negotiate" }

func TestChainChallenge(t *testing.T) {
	c := challenger{func(context.Context, *Request, *Subject) (bool, error) { return false, ErrUnsupported }}
	ch, _ := NewChain(Entry{"krb", Sufficient, c})
	_, err := ch.Authenticate(context.Background(), &Request{})
	var f *Fault
	if !errors.As(err, &f) || f.Challenge != "Negotiate" {
		t.Fatalf("err = %v, want a fault with the Negotiate challenge", err)
	}
}

func TestChainContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var calls []string
	ch, _ := NewChain(Entry{"a", Required, scripted("a", ok, &calls)})
	_, err := ch.Authenticate(ctx, &Request{})
	var f *Fault
	if !errors.As(err, &f) || !f.Temporary || len(calls) != 0 {
		t.Fatalf("err = %v calls %v", err, calls)
	}
}
