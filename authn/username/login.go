package username

import (
	"context"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/wsse"
)

// passwordType classifies a token without Salt or Iteration by its Password
// (TypeText, TypeDigest or TypeNoPassword) and refuses a type the policy
// does not accept.
func (m *Module) passwordType(ut *wsse.UsernameToken) (string, error) {
	p := &m.cfg.Policy
	var typ string
	switch {
	case !ut.HasPassword:
		typ = TypeNoPassword
	case ut.PasswordType == "" || ut.PasswordType == wsse.PasswordText:
		typ = TypeText
	case ut.PasswordType == wsse.PasswordDigest:
		typ = TypeDigest
	default:
		return "", authn.Reject(wsse.UnsupportedSecurityToken, "user %q: unknown Password Type %q", ut.Username, ut.PasswordType)
	}
	switch {
	case typ == TypeText && !p.PasswordText,
		typ == TypeDigest && !p.PasswordDigest,
		typ == TypeNoPassword && !p.NoPassword:
		return "", authn.Reject(wsse.UnsupportedSecurityToken, "user %q: %s is not accepted by policy", ut.Username, typ)
	}
	return typ, nil
}

// verifyPassword checks the token's password of type typ (from
// passwordType) and returns its user; nonce is the decoded Nonce a digest
// covers.
func (m *Module) verifyPassword(ctx context.Context, ut *wsse.UsernameToken, typ string, nonce []byte) (*registry.User, error) {
	switch typ {
	case TypeText:
		return m.verifyText(ctx, ut)
	case TypeDigest:
		return m.verifyDigest(ctx, ut, nonce)
	}
	return m.lookupOnly(ctx, ut)
}
