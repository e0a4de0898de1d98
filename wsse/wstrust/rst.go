package wstrust

import (
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/wsse"
)

// Bounds of an RST.
const (
	MinEntropy     = 16  // bytes
	MaxEntropy     = 128 // bytes
	MinKeySize     = 128 // bits
	MaxKeySize     = 512 // bits
	DefaultKeySize = 256 // bits, when the RST names none
	maxContext     = 512 // bytes of the Context attribute
	maxURIText     = 512 // bytes of a TokenType, RequestType, ...
)

// RST is a wst:RequestSecurityToken.
type RST struct {
	Version *Version
	// Context is the Context attribute, echoed in the response ("" if none).
	Context string
	// RequestType is the RequestType URI; Kind what it asks for.
	RequestType string
	Kind        Kind
	// TokenType is the TokenType URI, "" if absent.
	TokenType string
	// Entropy is the client's entropy (decoded BinarySecret), nil if none;
	// EntropyType its Type attribute ("" when absent).
	Entropy     []byte
	EntropyType string
	// KeySize is the requested key size in bits, 0 when absent.
	KeySize int
	// ComputedKeyAlgorithm is as sent, "" if absent.
	ComputedKeyAlgorithm string
	// Created and Expires are the requested Lifetime, zero when absent.
	Created, Expires time.Time
	// Target is the CancelTarget or RenewTarget, nil for an issue.
	Target *Target
}

// Target is a CancelTarget or RenewTarget: a reference to the context, or
// the SecurityContextToken itself.
type Target struct {
	// Ref is set when the target is a SecurityTokenReference: by #Id (the
	// SCT is in the Security header: FindSCT) or by Identifier.
	Ref *TokenRef
	// SCT is set when the target embeds the token.
	SCT *SCT
}

// Identifier is the context's Identifier when the target says it (an
// embedded SCT or a reference by Identifier), "" for a reference by #Id.
func (t *Target) Identifier() string {
	switch {
	case t.SCT != nil:
		return t.SCT.Identifier
	case t.Ref != nil:
		return t.Ref.Identifier
	}
	return ""
}

// ParseRSTEnvelope finds the one child of the SOAP Body of env (env.Raw
// must be the whole envelope) and parses it as an RST of version v (nil:
// either). See ParseRST.
func ParseRSTEnvelope(env *wsse.Envelope, v *Version, lim *Limits) (*RST, error) {
	if env == nil {
		return nil, trustFault(v, InvalidRequest, "no envelope")
	}
	var rst *RST
	err := scanEnvelope(env.Raw, lim.withDefaults(), func(*node) error { return nil }, func(start, end int, ns map[string]string) error {
		var err error
		rst, err = ParseRST(env.Raw[start:end], ns, v, lim)
		return err
	})
	var f *Fault
	switch {
	case errors.As(err, &f):
		return nil, err
	case err != nil:
		return nil, trustFault(v, InvalidRequest, "SOAP Body: %v", err)
	}
	return rst, nil
}

// ParseRST parses a wst:RequestSecurityToken of version v (nil: either)
// from its raw bytes, with the namespaces ns in scope (those of the Body
// and its ancestors).
//
// It reads Context, RequestType (required: Issue, Renew or Cancel of the
// version), TokenType, Entropy (one BinarySecret of 16..128 bytes, Type
// Nonce or SymmetricKey; an encrypted one is refused), KeySize (128..512
// bits, a multiple of 8), ComputedKeyAlgorithm (must be the version's
// CK/PSHA1 when present), Lifetime (strict xsd:dateTime, Expires after
// Created), KeyType (must be the version's SymmetricKey when present), and
// CancelTarget / RenewTarget. Other elements (AppliesTo, Claims,
// SecondaryParameters, algorithm preferences, extensions) are ignored. A
// known element twice is refused. Errors are *Fault (wst:InvalidRequest).
func ParseRST(raw []byte, ns map[string]string, v *Version, lim *Limits) (*RST, error) {
	n, err := parseFragment(raw, ns, lim.withDefaults())
	if err != nil {
		return nil, trustFault(v, InvalidRequest, "RequestSecurityToken: %v", err)
	}
	nv := versionOfTrust(n.space)
	if nv == nil || n.local != "RequestSecurityToken" {
		return nil, trustFault(v, InvalidRequest, "the Body holds %s, not a RequestSecurityToken", n.name())
	}
	if v != nil && nv != v {
		return nil, trustFault(v, InvalidRequest, "a RequestSecurityToken of WS-Trust %s under an action of WS-Trust %s", nv, v)
	}
	v = nv
	bad := func(format string, args ...any) error {
		return trustFault(v, InvalidRequest, "RequestSecurityToken: "+format, args...)
	}
	if err := n.container(); err != nil {
		return nil, bad("%v", err)
	}
	r := &RST{Version: v}
	if c, ok := n.attr("", "Context"); ok {
		if c == "" || len(c) > maxContext {
			return nil, bad("Context attribute is empty or longer than %d bytes", maxContext)
		}
		r.Context = c
	}
	target, err := r.children(n, v)
	if err != nil {
		return nil, bad("%v", err)
	}
	if err := r.kindAndTarget(target, v); err != nil {
		return nil, bad("%v", err)
	}
	return r, nil
}

// children reads the RST's children of WS-Trust v that authsvc looks at
// (others are ignored), each at most once, and returns the CancelTarget or
// RenewTarget, if any.
func (r *RST) children(n *node, v *Version) (target *node, err error) {
	seen := map[string]bool{}
	for _, k := range n.kids {
		if k.space != v.Trust {
			continue
		}
		switch k.local {
		case "RequestType", "TokenType", "Entropy", "KeySize", "ComputedKeyAlgorithm", "Lifetime", "KeyType", "CancelTarget", "RenewTarget":
		default:
			continue
		}
		if seen[k.local] {
			return nil, fmt.Errorf("two %s elements", k.local)
		}
		seen[k.local] = true
		switch k.local {
		case "CancelTarget", "RenewTarget":
			if target != nil {
				return nil, errors.New("both CancelTarget and RenewTarget")
			}
			target = k
		default:
			if err := r.child(k, v); err != nil {
				return nil, err
			}
		}
	}
	return target, nil
}

// child reads one of the RST's parameters.
func (r *RST) child(k *node, v *Version) (err error) {
	switch k.local {
	case "RequestType":
		r.RequestType, err = uriLeaf(k)
	case "TokenType":
		r.TokenType, err = uriLeaf(k)
	case "ComputedKeyAlgorithm":
		if r.ComputedKeyAlgorithm, err = uriLeaf(k); err == nil && r.ComputedKeyAlgorithm != v.CKPSHA1() {
			err = fmt.Errorf("ComputedKeyAlgorithm %q is not %s", r.ComputedKeyAlgorithm, v.CKPSHA1())
		}
	case "KeyType":
		var kt string
		if kt, err = uriLeaf(k); err == nil && kt != v.SymmetricKey() {
			err = fmt.Errorf("KeyType %q: only %s keys are issued", kt, v.SymmetricKey())
		}
	case "KeySize":
		var s string
		if s, err = k.leaf(); err != nil {
			return err
		}
		if r.KeySize, err = boundedInt(s, MinKeySize, MaxKeySize); err != nil {
			return fmt.Errorf("KeySize (bits): %v", err)
		}
		if r.KeySize%8 != 0 {
			err = fmt.Errorf("KeySize %d is not a multiple of 8 bits", r.KeySize)
		}
	case "Entropy":
		err = r.entropy(k)
	case "Lifetime":
		err = r.lifetime(k)
	}
	return err
}

// kindAndTarget sets the request's Kind from its RequestType, checks its
// TokenType, and parses the target a Renew or Cancel must have and an Issue
// must not.
func (r *RST) kindAndTarget(target *node, v *Version) (err error) {
	switch r.RequestType {
	case v.RequestIssue():
		r.Kind = Issue
	case v.RequestRenew():
		r.Kind = Renew
	case v.RequestCancel():
		r.Kind = Cancel
	case "":
		return errors.New("no RequestType")
	default:
		return fmt.Errorf("RequestType %q is not Issue, Renew or Cancel of WS-Trust %s", r.RequestType, v)
	}
	if r.TokenType != "" && r.TokenType != v.TokenTypeSCT() {
		return fmt.Errorf("TokenType %q: only %s is issued", r.TokenType, v.TokenTypeSCT())
	}
	want := map[Kind]string{Renew: "RenewTarget", Cancel: "CancelTarget"}[r.Kind]
	switch {
	case want == "" && target != nil:
		return fmt.Errorf("%s in an Issue request", target.local)
	case want != "" && (target == nil || target.local != want):
		return fmt.Errorf("a %s request without a %s", r.Kind, want)
	case target != nil:
		if r.Target, err = parseTarget(target, v); err != nil {
			return fmt.Errorf("%s: %v", target.local, err)
		}
	}
	return nil
}

func uriLeaf(k *node) (string, error) {
	s, err := k.leaf()
	if err != nil {
		return "", err
	}
	if s == "" || len(s) > maxURIText {
		return "", fmt.Errorf("%s is empty or longer than %d bytes", k.local, maxURIText)
	}
	return s, nil
}

func (r *RST) entropy(k *node) error {
	v := r.Version
	if err := k.container(); err != nil {
		return err
	}
	if len(k.kids) != 1 {
		return fmt.Errorf("the Entropy holds %d elements, not one BinarySecret", len(k.kids))
	}
	bs := k.kids[0]
	if !bs.is(v.Trust, "BinarySecret") {
		return fmt.Errorf("the Entropy holds %s, not a BinarySecret (encrypted entropy is not supported)", bs.name())
	}
	r.EntropyType, _ = bs.attr("", "Type")
	if r.EntropyType != "" && r.EntropyType != v.Nonce() && r.EntropyType != v.SymmetricKey() {
		return fmt.Errorf("BinarySecret Type %q is not %s or %s", r.EntropyType, v.Nonce(), v.SymmetricKey())
	}
	s, err := bs.leaf()
	if err != nil {
		return err
	}
	b, err := decodeB64(s)
	if err != nil || len(b) < MinEntropy || len(b) > MaxEntropy {
		return fmt.Errorf("BinarySecret is not Base64 of %d to %d bytes", MinEntropy, MaxEntropy)
	}
	r.Entropy = b
	return nil
}

func (r *RST) lifetime(k *node) error {
	if err := k.container(); err != nil {
		return err
	}
	var haveC, haveE bool
	for _, c := range k.kids {
		if c.space != wsse.NSWSU || c.local != "Created" && c.local != "Expires" {
			return fmt.Errorf("unexpected %s in Lifetime", c.name())
		}
		s, err := c.leaf()
		if err != nil {
			return err
		}
		t, err := wsse.ParseTime(s)
		if err != nil {
			return fmt.Errorf("the Lifetime %s: malformed xsd:dateTime %q", c.local, s)
		}
		if c.local == "Created" {
			if haveC {
				return errors.New("two Created in Lifetime")
			}
			haveC, r.Created = true, t
		} else {
			if haveE {
				return errors.New("two Expires in Lifetime")
			}
			haveE, r.Expires = true, t
		}
	}
	if haveC && haveE && !r.Expires.After(r.Created) {
		return errors.New("the Lifetime Expires is not after Created")
	}
	return nil
}

func parseTarget(n *node, v *Version) (*Target, error) {
	if err := n.container(); err != nil {
		return nil, err
	}
	if len(n.kids) != 1 {
		return nil, fmt.Errorf("holds %d elements, not one", len(n.kids))
	}
	k := n.kids[0]
	if k.is(wsse.NSWSSE, "SecurityTokenReference") {
		ref, err := tokenRefFromNode(k, v)
		if err != nil {
			return nil, err
		}
		return &Target{Ref: &ref}, nil
	}
	if k.is(v.SC, "SecurityContextToken") {
		t, err := sctFromNode(k)
		if err != nil {
			var f *Fault
			if errors.As(err, &f) {
				return nil, errors.New(f.Reason)
			}
			return nil, err
		}
		return &Target{SCT: t}, nil
	}
	return nil, fmt.Errorf("holds %s, not a SecurityTokenReference or a SecurityContextToken of WS-SC %s", k.name(), v)
}
