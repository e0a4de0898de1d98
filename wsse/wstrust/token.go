package wstrust

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/authsvc/authsvc/wsse"
)

// DefaultLabel is the Label of a DerivedKeyToken that has none.
const DefaultLabel = "WS-SecureConversationWS-SecureConversation"

// Bounds of a DerivedKeyToken.
const (
	DefaultDKLength = 32  // bytes, when Length is absent
	MinDKLength     = 16  // bytes
	MaxDKLength     = 64  // bytes
	MaxDKOffset     = 64  // bytes, also for Generation × Length
	MaxDKNonce      = 128 // bytes
	MaxDKLabel      = 128 // bytes
)

// SCT is a wsc:SecurityContextToken.
type SCT struct {
	Version *Version
	// ID is the wsu:Id, "" if none.
	ID string
	// Identifier is the wsc:Identifier, an absolute URI.
	Identifier string
	// Instance is the wsc:Instance, "" if none.
	Instance string
}

// TokenRef is a wsse:SecurityTokenReference to a SecurityContextToken,
// holding one wsse:Reference: either to the token in the same message
// (URI "#id") or to the context by its Identifier (any other URI).
type TokenRef struct {
	// URI and ValueType are the Reference's attributes as sent.
	URI, ValueType string
	// ID is the wsu:Id the URI names ("" for a reference by Identifier).
	ID string
	// Identifier is the URI when it names a context by Identifier.
	Identifier string
}

// Local reports whether the reference names a token of the same message.
func (r *TokenRef) Local() bool { return r.ID != "" }

// DerivedKeyToken is a wsc:DerivedKeyToken whose derivation is P_SHA1.
type DerivedKeyToken struct {
	Version *Version
	// ID is the wsu:Id, "" if none.
	ID string
	// Ref names the SecurityContextToken the key is derived from.
	Ref TokenRef
	// Offset is where the key starts in the P_SHA1 output: Offset as sent,
	// or Generation × Length.
	Offset int
	// Generation is the Generation as sent, -1 when absent.
	Generation int
	// Length is the key length in bytes.
	Length int
	// Label is the Label, DefaultLabel when absent; Nonce the decoded Nonce.
	Label string
	Nonce []byte
}

// Derive returns the derived key: P_SHA1(secret, Label + Nonce) from byte
// Offset to Offset + Length.
func (t *DerivedKeyToken) Derive(secret []byte) []byte {
	seed := make([]byte, 0, len(t.Label)+len(t.Nonce))
	seed = append(append(seed, t.Label...), t.Nonce...)
	return PSHA1(secret, seed, t.Offset+t.Length)[t.Offset:]
}

// wsuID returns the wsu:Id of n.
func wsuID(n *node) string {
	id, _ := n.attr(wsse.NSWSU, "Id")
	return id
}

// ParseSCT parses a wsc:SecurityContextToken of either version from its raw
// bytes, with the namespaces ns in scope (Security.Namespaces() for a
// Security header child). Errors are *Fault (BadContextToken).
func ParseSCT(raw []byte, ns map[string]string, lim *Limits) (*SCT, error) {
	n, err := parseFragment(raw, ns, lim.withDefaults())
	if err != nil {
		return nil, scFault(nil, BadContextToken, "SecurityContextToken: %v", err)
	}
	return sctFromNode(n)
}

func sctFromNode(n *node) (*SCT, error) {
	v := versionOfSC(n.space)
	if v == nil || n.local != "SecurityContextToken" {
		return nil, scFault(nil, BadContextToken, "%s is not a SecurityContextToken", n.name())
	}
	bad := func(format string, args ...any) error {
		return scFault(v, BadContextToken, "SecurityContextToken: "+format, args...)
	}
	if err := n.container(); err != nil {
		return nil, bad("%v", err)
	}
	t := &SCT{Version: v, ID: wsuID(n)}
	var haveID, haveInst bool
	for _, k := range n.kids {
		if k.space != v.SC {
			continue // extensions (WCF's dnse:Cookie, ...) are not ours to judge
		}
		switch k.local {
		case "Identifier":
			if haveID {
				return nil, bad("two Identifiers")
			}
			haveID = true
			s, err := k.leaf()
			if err != nil {
				return nil, bad("%v", err)
			}
			if err := checkAbsURI(s); err != nil {
				return nil, bad("Identifier %q: %v", s, err)
			}
			t.Identifier = s
		case "Instance":
			if haveInst {
				return nil, bad("two Instances")
			}
			haveInst = true
			s, err := k.leaf()
			if err != nil {
				return nil, bad("%v", err)
			}
			if s == "" || len(s) > 256 {
				return nil, bad("Instance is empty or longer than 256 bytes")
			}
			t.Instance = s
		default:
			return nil, bad("unexpected element %s", k.local)
		}
	}
	if !haveID {
		return nil, bad("no Identifier")
	}
	return t, nil
}

// checkAbsURI accepts an absolute URI of at most 512 bytes without white
// space.
func checkAbsURI(s string) error {
	if s == "" || len(s) > 512 || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("not an absolute URI of 1 to 512 bytes")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("not an absolute URI")
	}
	return nil
}

// tokenRefFromNode reads a wsse:SecurityTokenReference naming a
// SecurityContextToken of version v: one wsse:Reference, whose ValueType,
// when present, is v's SCT token type.
func tokenRefFromNode(n *node, v *Version) (TokenRef, error) {
	var r TokenRef
	if !n.is(wsse.NSWSSE, "SecurityTokenReference") {
		return r, fmt.Errorf("%s is not a wsse:SecurityTokenReference", n.name())
	}
	if err := n.container(); err != nil {
		return r, err
	}
	if len(n.kids) != 1 || !n.kids[0].is(wsse.NSWSSE, "Reference") {
		return r, fmt.Errorf("SecurityTokenReference does not hold exactly one wsse:Reference (KeyIdentifier and embedded forms are not supported)")
	}
	ref := n.kids[0]
	if len(ref.kids) > 0 || ref.hasText {
		return r, fmt.Errorf("wsse:Reference has content")
	}
	r.URI, _ = ref.attr("", "URI")
	r.ValueType, _ = ref.attr("", "ValueType")
	if r.ValueType != "" && r.ValueType != v.TokenTypeSCT() {
		return r, fmt.Errorf("reference ValueType %q is not %s", r.ValueType, v.TokenTypeSCT())
	}
	if id, ok := strings.CutPrefix(r.URI, "#"); ok {
		if id == "" || len(id) > 256 || strings.ContainsAny(id, "#() \t\r\n") {
			return r, fmt.Errorf("reference URI %q is not a #Id", r.URI)
		}
		r.ID = id
		return r, nil
	}
	if err := checkAbsURI(r.URI); err != nil {
		return r, fmt.Errorf("reference URI %q: %v", r.URI, err)
	}
	r.Identifier = r.URI
	return r, nil
}

// ParseDerivedKeyToken parses a wsc:DerivedKeyToken of either version from
// its raw bytes, with the namespaces ns in scope. The Algorithm, when
// present, must be P_SHA1 of the token's version; the reference must name a
// SecurityContextToken; Offset and Generation exclude each other; Length
// (default 32) is 16..64 bytes, the offset (Offset, or Generation × Length)
// at most 64 bytes, the Nonce, which is required, 1..128 bytes of Base64, the
// Label at most 128 bytes. Properties are refused. Errors are *Fault: an
// unsupported source of derivation is UnknownDerivationSource, anything
// else malformed is InvalidRequest.
func ParseDerivedKeyToken(raw []byte, ns map[string]string, lim *Limits) (*DerivedKeyToken, error) {
	n, err := parseFragment(raw, ns, lim.withDefaults())
	if err != nil {
		return nil, trustFault(nil, InvalidRequest, "DerivedKeyToken: %v", err)
	}
	v := versionOfSC(n.space)
	if v == nil || n.local != "DerivedKeyToken" {
		return nil, trustFault(nil, InvalidRequest, "%s is not a DerivedKeyToken", n.name())
	}
	bad := func(format string, args ...any) error {
		return trustFault(v, InvalidRequest, "DerivedKeyToken: "+format, args...)
	}
	if err := n.container(); err != nil {
		return nil, bad("%v", err)
	}
	t := &DerivedKeyToken{Version: v, ID: wsuID(n), Generation: -1, Length: DefaultDKLength, Label: DefaultLabel}
	if alg, ok := n.attr("", "Algorithm"); ok && alg != v.DKPSHA1() {
		return nil, scFault(v, UnknownDerivationSource, "DerivedKeyToken: Algorithm %q is not %s", alg, v.DKPSHA1())
	}
	seen := map[string]bool{}
	offset := -1
	for i, k := range n.kids {
		if k.space != v.SC && !k.is(wsse.NSWSSE, "SecurityTokenReference") {
			return nil, bad("unexpected element %s", k.name())
		}
		if seen[k.local] {
			return nil, bad("two %s elements", k.local)
		}
		seen[k.local] = true
		if k.local == "SecurityTokenReference" {
			if i != 0 {
				return nil, bad("SecurityTokenReference is not the first element")
			}
			if t.Ref, err = tokenRefFromNode(k, v); err != nil {
				return nil, scFault(v, UnknownDerivationSource, "DerivedKeyToken: %v", err)
			}
			continue
		}
		s, err := k.leaf()
		if err != nil {
			return nil, bad("%v", err)
		}
		switch k.local {
		case "Generation":
			if t.Generation, err = boundedInt(s, 0, MaxDKOffset); err != nil {
				return nil, bad("Generation: %v", err)
			}
		case "Offset":
			if offset, err = boundedInt(s, 0, MaxDKOffset); err != nil {
				return nil, bad("Offset: %v", err)
			}
		case "Length":
			if t.Length, err = boundedInt(s, MinDKLength, MaxDKLength); err != nil {
				return nil, bad("Length: %v", err)
			}
		case "Label":
			// The Label is used as sent, white space included.
			if k.text == "" || len(k.text) > MaxDKLabel {
				return nil, bad("Label is empty or longer than %d bytes", MaxDKLabel)
			}
			t.Label = k.text
		case "Nonce":
			if t.Nonce, err = decodeB64(s); err != nil || len(t.Nonce) == 0 || len(t.Nonce) > MaxDKNonce {
				return nil, bad("Nonce is not Base64 of 1 to %d bytes", MaxDKNonce)
			}
		case "Properties":
			return nil, bad("Properties are not supported")
		default:
			return nil, bad("unexpected element %s", k.local)
		}
	}
	if !seen["SecurityTokenReference"] {
		return nil, scFault(v, UnknownDerivationSource, "DerivedKeyToken without a SecurityTokenReference")
	}
	if t.Nonce == nil {
		return nil, bad("no Nonce")
	}
	switch {
	case offset >= 0 && t.Generation >= 0:
		return nil, bad("both Offset and Generation")
	case offset >= 0:
		t.Offset = offset
	case t.Generation >= 0:
		t.Offset = t.Generation * t.Length
		if t.Offset > MaxDKOffset {
			return nil, bad("Generation %d × Length %d is an offset beyond %d bytes", t.Generation, t.Length, MaxDKOffset)
		}
	}
	return t, nil
}

// boundedInt parses a decimal xsd:unsignedLong in [lo, hi].
func boundedInt(s string, lo, hi int) (int, error) {
	if s == "" || len(s) > 20 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s is outside %d..%d", s, lo, hi)
	}
	return n, nil
}

// decodeB64 decodes standard Base64 with white space (XML Schema's
// base64Binary allows it between characters).
func decodeB64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}
