package kerberos

import (
	"strings"

	"github.com/authsvc/authsvc/wsse"
)

// Pre-OASIS token shapes. Microsoft WSE 1.0 and 2.0 and FileNet clients
// send the Security header in the secext namespace of the 2002 drafts
// (wsse.NSWSSE0207, wsse.NSWSSE0212), and write ValueType and EncodingType
// as QNames: ValueType="wsse:Kerberosv5ST" EncodingType="wsse:Base64Binary",
// with wsse bound to that namespace. The parser keeps such a header's
// tokens apart (Security.LegacyBinaryTokens) and resolves QName attributes
// (ValueTypeSpace); only this module takes them, and only as Kerberos
// tokens.

// legacyNS reports whether uri is a pre-OASIS secext namespace.
func legacyNS(uri string) bool { return uri == wsse.NSWSSE0207 || uri == wsse.NSWSSE0212 }

// qnameIs reports whether the QName value, whose prefix resolved to space,
// names {a pre-OASIS secext namespace}local.
func qnameIs(value, space, local string) bool {
	_, l, ok := strings.Cut(value, ":")
	return ok && legacyNS(space) && l == local
}

// tokenType returns the token type of a Kerberos BinarySecurityToken (the
// Token Profile's or WSE's URI, or the pre-OASIS QName wsse:Kerberosv5ST),
// ok false for any other token.
func tokenType(b *wsse.BinarySecurityToken) (string, bool) {
	if b.ValueTypeSpace != "" {
		if qnameIs(b.ValueType, b.ValueTypeSpace, "Kerberosv5ST") {
			return "Kerberosv5ST", true
		}
		return "", false
	}
	t, ok := valueTypes[b.ValueType]
	return t, ok
}

// base64Encoded reports whether a token's EncodingType says Base64: absent,
// the OASIS URI, or the pre-OASIS QName wsse:Base64Binary.
func base64Encoded(b *wsse.BinarySecurityToken) bool {
	switch {
	case b.EncodingType == "" || b.EncodingType == wsse.Base64Binary:
		return b.EncodingTypeSpace == ""
	case b.EncodingTypeSpace != "":
		return qnameIs(b.EncodingType, b.EncodingTypeSpace, "Base64Binary")
	}
	return false
}

// kerberosToken finds the one Kerberos BinarySecurityToken of a Security
// header, among its OASIS tokens and its pre-OASIS ones.
func kerberosToken(sec *wsse.Security) (bst *wsse.BinarySecurityToken, typ string, err error) {
	for _, list := range [2][]wsse.BinarySecurityToken{sec.BinaryTokens, sec.LegacyBinaryTokens} {
		for i := range list {
			t, ok := tokenType(&list[i])
			if !ok {
				continue
			}
			if bst != nil {
				return nil, "", reject(wsse.InvalidSecurity, "more than one Kerberos BinarySecurityToken")
			}
			bst, typ = &list[i], t
		}
	}
	return bst, typ, nil
}
