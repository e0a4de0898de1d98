package username

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
)

// checkFresh checks the token's Nonce and Created: cheap checks, done before
// any registry, hash or signature work. needBoth says the token type needs
// both elements whatever the policy (PasswordDigest); typ names the type in
// the rejection. It returns the decoded nonce (nil when the token has none)
// and the instant of Created (zero when it has none). The nonce is decoded
// into buf when it fits, so that the usual token costs no allocation.
//
// The two results are separate values, not one struct: the instant holds a
// pointer that reaches the replay cache, and a struct holding both would
// make buf escape to the heap with it.
func (m *Module) checkFresh(req *authn.Request, ut *wsse.UsernameToken, typ string, needBoth bool, buf *[256]byte) (nonce []byte, created time.Time, err error) {
	p := &m.cfg.Policy
	if ut.HasNonce {
		if ut.NonceEncType != "" && ut.NonceEncType != wsse.Base64Binary {
			return nil, time.Time{}, authn.Reject(wsse.InvalidSecurityToken, "user %q: Nonce EncodingType %q is not Base64Binary", ut.Username, ut.NonceEncType)
		}
		if base64.StdEncoding.DecodedLen(len(ut.Nonce)) <= len(buf) {
			var n int
			n, err = base64.StdEncoding.Decode(buf[:], []byte(ut.Nonce))
			nonce = buf[:n]
		} else {
			nonce, err = base64.StdEncoding.DecodeString(ut.Nonce)
		}
		if err != nil || len(nonce) == 0 || len(nonce) > p.MaxNonceBytes {
			return nil, time.Time{}, authn.Reject(wsse.InvalidSecurityToken, "user %q: Nonce is not Base64 of 1 to %d bytes", ut.Username, p.MaxNonceBytes)
		}
	} else if p.RequireNonce || needBoth {
		return nil, time.Time{}, authn.Reject(wsse.InvalidSecurityToken, "user %q: %s without a Nonce", ut.Username, typ)
	}
	if ut.HasCreated {
		created, err = wsse.ParseTime(ut.Created)
		if err != nil {
			return nil, time.Time{}, authn.Reject(wsse.InvalidSecurityToken, "user %q: malformed Created %q", ut.Username, ut.Created)
		}
		if age := req.Now.Sub(created); age > p.MaxAge {
			return nil, time.Time{}, authn.Reject(wsse.MessageExpired, "user %q: Created %s is %s old, more than %s", ut.Username, ut.Created, age.Round(time.Second), p.MaxAge)
		} else if -age > p.FutureSkew {
			return nil, time.Time{}, authn.Reject(wsse.MessageExpired, "user %q: Created %s is %s in the future, more than %s", ut.Username, ut.Created, (-age).Round(time.Second), p.FutureSkew)
		}
	} else if p.RequireCreated || needBoth {
		return nil, time.Time{}, authn.Reject(wsse.InvalidSecurityToken, "user %q: %s without Created", ut.Username, typ)
	}
	return nonce, created, nil
}

// spendNonce records the token's nonce (from checkFresh), if it has one, in
// the replay cache for as long as the token could stay acceptable. Call it only once the
// token authenticated: unauthenticated traffic must not be able to fill the
// replay cache.
func (m *Module) spendNonce(ctx context.Context, req *authn.Request, ut *wsse.UsernameToken, nonce []byte, created time.Time, user *registry.User) error {
	if nonce == nil {
		return nil
	}
	from := req.Now
	if ut.HasCreated && created.After(from) {
		from = created
	}
	owner := replay.Owner{Principal: user.Name, Address: req.Client}
	if err := replay.AddFor(ctx, m.cfg.Replay, "ut-nonce:"+string(nonce), from.Add(m.cfg.Policy.MaxAge), owner); err != nil {
		if errors.Is(err, replay.ErrReplay) {
			return authn.Reject(wsse.InvalidSecurity, "user %q: replayed Nonce %s", ut.Username, ut.Nonce).Wrap(err)
		}
		return fmt.Errorf("username: replay cache: %w", err)
	}
	return nil
}
