// Package registrytest is the conformance suite every user registry must
// pass (the file registry and LDAP run it): the same questions, the same
// answers, whatever the store.
package registrytest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/registry"
)

// Fixture names what the store under test holds.
type Fixture struct {
	// User has Password and belongs to Group.
	User, Password, Group string
	// Other is a second user with OtherPassword.
	Other, OtherPassword string
}

// Run checks r against the fixture. r must implement registry.Passwords
// and registry.Directory.
func Run(t *testing.T, r any, fx Fixture) {
	pw, ok := r.(registry.Passwords)
	if !ok {
		t.Fatalf("%T does not verify passwords", r)
	}
	dir, ok := r.(registry.Directory)
	if !ok {
		t.Fatalf("%T does not look users up", r)
	}
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		return c
	}
	verify := func(t *testing.T, name, password string) (*registry.User, bool) {
		t.Helper()
		u, ok, err := pw.VerifyPassword(ctx(t), name, password)
		if err != nil {
			t.Fatalf("VerifyPassword(%q): technical error %v", name, err)
		}
		if ok != (u != nil) {
			t.Fatalf("VerifyPassword(%q) = %v, %v: a user exactly when accepted", name, u, ok)
		}
		return u, ok
	}

	t.Run("right password", func(t *testing.T) {
		u, ok := verify(t, fx.User, fx.Password)
		if !ok || u.Name != fx.User || !slices.Contains(u.Groups, fx.Group) {
			t.Fatalf("got %+v, %v; want %s in group %s", u, ok, fx.User, fx.Group)
		}
		if u, ok := verify(t, fx.Other, fx.OtherPassword); !ok || u.Name != fx.Other {
			t.Fatalf("other user: %+v %v", u, ok)
		}
	})
	t.Run("wrong, empty, swapped and unknown are refused alike", func(t *testing.T) {
		for _, c := range [][2]string{
			{fx.User, fx.Password + "x"}, {fx.User, ""}, {fx.User, fx.OtherPassword},
			{fx.Other, fx.Password}, {"no-such-user-here", fx.Password}, {"", fx.Password},
		} {
			if _, ok := verify(t, c[0], c[1]); ok {
				t.Errorf("VerifyPassword(%q, %q) accepted", c[0], c[1])
			}
		}
	})
	t.Run("names that are patterns elsewhere", func(t *testing.T) {
		for _, n := range []string{"*", fx.User + "*", "*)(uid=*", fx.User + ")(|(uid=*", fx.User + "\x00"} {
			if _, ok := verify(t, n, fx.Password); ok {
				t.Errorf("VerifyPassword(%q) accepted %s's password", n, fx.User)
			}
		}
	})
	t.Run("spellings the store folds come back canonical", func(t *testing.T) {
		// A directory's matching rules may ignore case and surrounding
		// spaces; a store may accept such a spelling only as the user's own
		// name, never as a second identity.
		for _, n := range []string{" " + fx.User, strings.ToUpper(fx.User)} {
			if u, ok := verify(t, n, fx.Password); ok && u.Name != fx.User {
				t.Errorf("VerifyPassword(%q) accepted as %q, not as %q", n, u.Name, fx.User)
			}
		}
	})
	t.Run("lookup", func(t *testing.T) {
		u, err := dir.LookupUser(ctx(t), fx.User)
		if err != nil || u.Name != fx.User || !slices.Contains(u.Groups, fx.Group) {
			t.Fatalf("LookupUser(%q) = %+v, %v", fx.User, u, err)
		}
		if _, err := dir.LookupUser(ctx(t), "no-such-user-here"); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("LookupUser(unknown) = %v, want ErrNotFound", err)
		}
	})
	t.Run("returned users are copies", func(t *testing.T) {
		u, _ := verify(t, fx.User, fx.Password)
		u.Groups = append(u.Groups[:0], "tampered")
		u2, err := dir.LookupUser(ctx(t), fx.User)
		if err != nil || slices.Contains(u2.Groups, "tampered") {
			t.Fatalf("a caller's change reached the registry: %+v %v", u2, err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan string, 32)
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				good := i%2 == 0
				p := fx.Password
				if !good {
					p += "wrong"
				}
				_, ok, err := pw.VerifyPassword(ctx(t), fx.User, p)
				if err != nil || ok != good {
					errs <- "concurrent VerifyPassword gave the wrong answer"
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	})
}
