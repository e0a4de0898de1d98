package authn

import (
	"strings"

	"github.com/authsvc/authsvc/wsse"
)

// Names of credentials, as Subject.Method and Subject.TokenType carry them
// and as metrics and the audit record name a refused request's credential.
const (
	MethodUsernameToken       = "UsernameToken"
	MethodBinarySecurityToken = "BinarySecurityToken"
	MethodNegotiate           = "Negotiate"
	// MethodOther is an Authorization header of another scheme; MethodNone
	// a request without any credential.
	MethodOther = "other"
	MethodNone  = "none"

	TokenPasswordText   = "PasswordText"
	TokenPasswordDigest = "PasswordDigest"
)

// Claim names the credential a request carries before any module verified
// it: for the metrics, log and audit record of a refusal.
type Claim struct {
	// Method is MethodUsernameToken, MethodBinarySecurityToken,
	// MethodNegotiate, MethodOther or MethodNone.
	Method string
	// TokenType is TokenPasswordDigest or TokenPasswordText for a
	// UsernameToken with a password of that type, "" otherwise.
	TokenType string
}

// Claimed describes the credential of a request whose envelope is env (nil
// when there is none, or it did not parse) and whose Authorization header
// is authorization. The first UsernameToken, else the first
// BinarySecurityToken of the Security header (a pre-OASIS header's too),
// else the header's scheme.
func Claimed(env *wsse.Envelope, authorization string) Claim {
	if env != nil && env.Security != nil {
		sec := env.Security
		if len(sec.UsernameTokens) > 0 {
			c := Claim{Method: MethodUsernameToken}
			switch ut := &sec.UsernameTokens[0]; {
			case ut.PasswordType == wsse.PasswordDigest:
				c.TokenType = TokenPasswordDigest
			case isPasswordText(ut):
				c.TokenType = TokenPasswordText
			}
			return c
		}
		if len(sec.BinaryTokens) > 0 || len(sec.LegacyBinaryTokens) > 0 {
			return Claim{Method: MethodBinarySecurityToken}
		}
	}
	if authorization != "" {
		scheme, _, _ := strings.Cut(authorization, " ")
		if strings.EqualFold(scheme, "Negotiate") {
			return Claim{Method: MethodNegotiate}
		}
		return Claim{Method: MethodOther}
	}
	return Claim{Method: MethodNone}
}

// isPasswordText reports whether a UsernameToken carries a cleartext
// password (Type PasswordText, or no Type, which means the same).
func isPasswordText(ut *wsse.UsernameToken) bool {
	return ut.HasPassword && (ut.PasswordType == wsse.PasswordText || ut.PasswordType == "")
}

// CleartextPassword returns where, in the raw message, the value of the
// cleartext password of a Security header's only UsernameToken lies:
// raw[start:end]. ok is false when the header holds no such password (none,
// a digest, or more than one UsernameToken), or its place is not known.
func CleartextPassword(sec *wsse.Security) (start, end int, ok bool) {
	if sec == nil || len(sec.UsernameTokens) != 1 {
		return 0, 0, false
	}
	ut := &sec.UsernameTokens[0]
	if !isPasswordText(ut) || ut.PasswordValueStart <= 0 || ut.PasswordValueEnd <= ut.PasswordValueStart {
		return 0, 0, false
	}
	return ut.PasswordValueStart, ut.PasswordValueEnd, true
}
