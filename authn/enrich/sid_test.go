package enrich_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/enrich"
	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/health"
	"github.com/authsvc/authsvc/registry"
)

// sidDirectory is the file registry plus a SID table: a stand-in for an AD
// LDAP registry (the live tests use the real one) to reach the branches a
// real directory does not show on demand (a failure mid-resolution).
type sidDirectory struct {
	*registry.File
	names map[string]string
	err   error
	calls int
}

func (d *sidDirectory) ResolveSIDs(_ context.Context, sids []string) (map[string]string, error) {
	d.calls++
	if d.err != nil {
		return nil, d.err
	}
	out := map[string]string{}
	for _, s := range sids {
		if n, ok := d.names[s]; ok {
			out[s] = n
		}
	}
	return out, nil
}

func (d *sidDirectory) ResolvesSIDs() bool { return d.names != nil }

const (
	sidDev   = "S-1-5-21-1-2-3-1110"
	sidUsers = "S-1-5-21-1-2-3-513"
	sidWorld = "S-1-1-0"
)

// pacUser is what the Kerberos module makes of an AD ticket.
func pacUser() authn.Module {
	return authn.ModuleFunc(func(_ context.Context, _ *authn.Request, s *authn.Subject) (bool, error) {
		s.Principal, s.Realm, s.Method = "alice", "AD.EXAMPLE.TEST", "Kerberos"
		s.AddGroups(sidUsers, sidDev, sidWorld)
		s.AddAttribute("group_sids", sidUsers, sidDev, sidWorld)
		return true, nil
	})
}

func TestSIDModes(t *testing.T) {
	dir := &sidDirectory{File: fileRegistry(t), names: map[string]string{sidDev: "SOAP Developers", sidUsers: "Domain Users"}}
	run := func(mode enrich.SIDMode) (*authn.Subject, error) {
		c, err := authn.NewChain(
			authn.Entry{Name: "kerberos", Flag: authn.Required, Module: pacUser()},
			authn.Entry{Name: "groups", Flag: authn.Required, Module: enrich.New(dir, enrich.StripRealm("AD.EXAMPLE.TEST"), enrich.SIDGroups(dir, mode))},
		)
		if err != nil {
			t.Fatal(err)
		}
		return c.Authenticate(context.Background(), request())
	}
	for mode, want := range map[enrich.SIDMode][]string{
		// The unknown (well-known) SID has no name and leaves the groups;
		// the directory's own groups of alice follow.
		enrich.SIDNames: {"Domain Users", "SOAP Developers", "soap-users", "admins"},
		enrich.SIDBoth:  {sidUsers, sidDev, sidWorld, "Domain Users", "SOAP Developers", "soap-users", "admins"},
		enrich.SIDsOnly: {sidUsers, sidDev, sidWorld, "soap-users", "admins"},
	} {
		s, err := run(mode)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if !slices.Equal(s.Groups, want) {
			t.Errorf("%s: groups %v, want %v", mode, s.Groups, want)
		}
		if !slices.Equal(s.Attributes["group_sids"], []string{sidUsers, sidDev, sidWorld}) {
			t.Errorf("%s: group_sids %v", mode, s.Attributes["group_sids"])
		}
	}

	// The directory fails while resolving: a technical failure (a
	// retryable fault), not a rejection, and never the SIDs as if resolved.
	dir.err = errors.Join(errors.New("ldap: connection reset"), health.ErrUnavailable)
	_, err := run(enrich.SIDNames)
	var f *authn.Fault
	if !errors.As(err, &f) || !f.Temporary {
		t.Errorf("resolver down: %v, want a temporary fault", err)
	}
	calls := dir.calls
	if _, err := run(enrich.SIDsOnly); err != nil || dir.calls != calls {
		t.Errorf("sids mode asked the resolver (%d calls) or failed: %v", dir.calls-calls, err)
	}
}

func TestSIDGroupsConfig(t *testing.T) {
	if err := (&enrich.Config{Registry: "d", SIDGroups: "name"}).Validate(); err == nil || !strings.Contains(err.Error(), `sid_groups: "name": want names, sids or both`) {
		t.Errorf("a bad sid_groups: %v", err)
	}
	ad := &sidDirectory{File: fileRegistry(t), names: map[string]string{}}
	plain := &sidDirectory{File: fileRegistry(t)}
	env := &modenv.Env{Registries: map[string]registry.Set{
		"ad":    {Directory: ad},
		"plain": {Directory: plain},
	}}
	for _, tc := range []struct {
		reg, mode, err string
	}{
		{"ad", "", ""}, {"ad", "both", ""}, {"plain", "", ""}, {"plain", "sids", ""},
		{"plain", "names", `sid_groups: names: registry "plain" cannot resolve SIDs`},
		{"plain", "both", `sid_groups: both: registry "plain" cannot resolve SIDs`},
	} {
		c := &enrich.Config{Registry: tc.reg, SIDGroups: tc.mode}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		_, err := c.Open(env)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s/%q: %v, want %q", tc.reg, tc.mode, err, tc.err)
		}
	}
}

// BenchmarkSIDNames: the enricher naming an Active Directory user's group
// SIDs (n of them, from the PAC, all known to the directory) in SIDNames
// mode, then adding the directory's groups: the work is the Subject's
// group list, the stand-in directory answers from a map.
func BenchmarkSIDNames(b *testing.B) {
	for _, n := range []int{10, 300, 3000} {
		b.Run(fmt.Sprintf("sids=%d", n), func(b *testing.B) {
			sids := make([]string, n)
			names := make(map[string]string, n)
			for i := range sids {
				sids[i] = fmt.Sprintf("S-1-5-21-3623811015-3361044348-30300820-%d", 1000+i)
				names[sids[i]] = fmt.Sprintf("Group %d", i)
			}
			dir := &sidDirectory{File: fileRegistry(b), names: names}
			m := enrich.New(dir, enrich.StripRealm("AD.EXAMPLE.TEST"), enrich.SIDGroups(dir, enrich.SIDNames))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				s := &authn.Subject{Principal: "alice", Realm: "AD.EXAMPLE.TEST", Method: "Kerberos"}
				s.AddGroups(sids...)
				s.AddAttribute("group_sids", sids...)
				if ok, err := m.Login(ctx, request(), s); !ok || err != nil || len(s.Groups) != n+2 {
					b.Fatalf("%v %v, %d groups", ok, err, len(s.Groups))
				}
			}
		})
	}
}
