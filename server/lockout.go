package server

import (
	"context"
	"slices"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/lockout"
)

// newGuard builds the brute-force guard of o.Lockout, reporting to the
// server's metrics: the store's latency and errors under the dependency
// "lockout_store", and the keys locked by kind.
func (s *Server) newGuard(o lockout.Options) (*lockout.Guard, error) {
	return lockout.New(o, lockout.Hooks{
		StoreCall: func(d time.Duration, err error) {
			if d >= 0 {
				s.m.depDuration.WithLabelValues("lockout_store").Observe(d.Seconds())
			}
			if err != nil {
				s.m.depErrorsTotal.WithLabelValues("lockout_store").Inc()
			}
		},
		Locked: func(kind string) { s.m.lockouts.WithLabelValues(kind).Inc() },
	}, s.log)
}

// decoyLogin runs the chain for a request refused because its principal or
// address is locked, and discards the outcome. Refusing at once would answer
// a locked principal in a fraction of a millisecond against the tens of
// milliseconds a wrong password costs (a directory bind, a password hash):
// the lock, and so that a guess had counted, would show in the latency.
//
// The request's UsernameTokens are checked under a decoy name
// (lockout.DecoyName) rather than the claimed one: the registries spend what
// an unknown user costs, which they already make cost what a wrong password
// does (a bind to a DN that does not exist, a hash of a dummy password),
// while
//   - the user's own account in the directory sees no bind, so guesses made
//     while authsvc holds the lock do not count toward the directory's own
//     password-policy lockout, nor reset it on a right password;
//   - a right password cannot succeed, so nothing learns it was right: no
//     counter is reset, no credential cache remembers it, no nonce goes
//     into the replay cache (the username module records nonces only after
//     a password checked out).
//
// Credentials without a user name (Kerberos, HTTP Negotiate, custom
// tokens), refused because the client address is locked, are verified as
// they are: a valid Kerberos authenticator is then recorded in the replay
// cache, which only spends it. Custom modules see the request as usual.
// Modules' metrics count these runs (rejected, or success for a credential
// that was valid); the request itself is logged and counted as locked.
func (s *Server) decoyLogin(ctx context.Context, req *authn.Request) {
	d := *req
	d.Shared = nil
	if env := req.Envelope; env != nil && env.Security != nil && len(env.Security.UsernameTokens) > 0 {
		e, sec := *env, *env.Security
		sec.UsernameTokens = slices.Clone(sec.UsernameTokens)
		for i := range sec.UsernameTokens {
			sec.UsernameTokens[i].Username = lockout.DecoyName(sec.UsernameTokens[i].Username)
		}
		e.Security = &sec
		d.Envelope = &e
	}
	_, _ = s.o.Chain.Authenticate(ctx, &d)
}
