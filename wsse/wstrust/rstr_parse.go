package wstrust

import (
	"errors"
	"fmt"
	"time"
)

// RSTR is a parsed wst:RequestSecurityTokenResponse, as a client reads it:
// the tests read BuildResponse's output back with it, and a client of
// authsvc can use it.
type RSTR struct {
	Version *Version
	// Collection says the RSTR came in a RequestSecurityTokenResponseCollection.
	Collection bool
	Context    string
	TokenType  string
	// Token is the SCT in RequestedSecurityToken.
	Token *SCT
	// Attached and Unattached are the references to it.
	Attached, Unattached *TokenRef
	// ComputedKey is the ComputedKey algorithm of RequestedProofToken;
	// ProofSecret its BinarySecret.
	ComputedKey string
	ProofSecret []byte
	// ServerEntropy is the BinarySecret of Entropy.
	ServerEntropy []byte
	// Created and Expires are the Lifetime.
	Created, Expires time.Time
	KeySize          int
	// Cancelled says RequestedTokenCancelled is present.
	Cancelled bool
}

// ParseRSTREnvelope parses the RSTR in the Body of a response envelope.
func ParseRSTREnvelope(raw []byte, lim *Limits) (*RSTR, error) {
	var r *RSTR
	err := scanEnvelope(raw, lim.withDefaults(), func(*node) error { return nil }, func(start, end int, ns map[string]string) error {
		var err error
		r, err = ParseRSTR(raw[start:end], ns, lim)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("wstrust: response: %w", err)
	}
	return r, nil
}

// ParseRSTR parses a RequestSecurityTokenResponse, or a
// RequestSecurityTokenResponseCollection holding exactly one, of either
// version, from its raw bytes with the namespaces ns in scope. Unknown
// elements are refused: the parser is as strict as what it checks.
func ParseRSTR(raw []byte, ns map[string]string, lim *Limits) (*RSTR, error) {
	n, err := parseFragment(raw, ns, lim.withDefaults())
	if err != nil {
		return nil, err
	}
	v := versionOfTrust(n.space)
	if v == nil {
		return nil, fmt.Errorf("%s is not a WS-Trust response", n.name())
	}
	r := &RSTR{Version: v}
	if n.local == "RequestSecurityTokenResponseCollection" {
		if err := n.container(); err != nil {
			return nil, err
		}
		if len(n.kids) != 1 {
			return nil, fmt.Errorf("a collection of %d responses", len(n.kids))
		}
		r.Collection, n = true, n.kids[0]
	}
	if !n.is(v.Trust, "RequestSecurityTokenResponse") {
		return nil, fmt.Errorf("%s is not a RequestSecurityTokenResponse", n.name())
	}
	if err := n.container(); err != nil {
		return nil, err
	}
	r.Context, _ = n.attr("", "Context")
	seen := map[string]bool{}
	for _, k := range n.kids {
		if k.space != v.Trust {
			return nil, fmt.Errorf("unexpected %s", k.name())
		}
		if seen[k.local] {
			return nil, fmt.Errorf("two %s", k.local)
		}
		seen[k.local] = true
		if err := r.child(k); err != nil {
			return nil, fmt.Errorf("%s: %w", k.local, err)
		}
	}
	return r, nil
}

func (r *RSTR) child(k *node) error {
	v := r.Version
	var err error
	one := func() (*node, error) {
		if err := k.container(); err != nil {
			return nil, err
		}
		if len(k.kids) != 1 {
			return nil, fmt.Errorf("holds %d elements, not one", len(k.kids))
		}
		return k.kids[0], nil
	}
	secret := func(n *node) ([]byte, error) {
		if !n.is(v.Trust, "BinarySecret") {
			return nil, fmt.Errorf("%s is not a BinarySecret", n.name())
		}
		s, err := n.leaf()
		if err != nil {
			return nil, err
		}
		return decodeB64(s)
	}
	switch k.local {
	case "TokenType":
		r.TokenType, err = uriLeaf(k)
	case "RequestedSecurityToken":
		var c *node
		if c, err = one(); err == nil {
			r.Token, err = sctFromNode(c)
		}
	case "RequestedAttachedReference", "RequestedUnattachedReference":
		var c *node
		if c, err = one(); err == nil {
			var ref TokenRef
			if ref, err = tokenRefFromNode(c, v); err == nil {
				if k.local == "RequestedAttachedReference" {
					r.Attached = &ref
				} else {
					r.Unattached = &ref
				}
			}
		}
	case "RequestedProofToken":
		var c *node
		if c, err = one(); err == nil {
			if c.is(v.Trust, "ComputedKey") {
				r.ComputedKey, err = uriLeaf(c)
			} else {
				r.ProofSecret, err = secret(c)
			}
		}
	case "Entropy":
		var c *node
		if c, err = one(); err == nil {
			r.ServerEntropy, err = secret(c)
		}
	case "Lifetime":
		rst := &RST{Version: v}
		if err = rst.lifetime(k); err == nil {
			r.Created, r.Expires = rst.Created, rst.Expires
		}
	case "KeySize":
		var s string
		if s, err = k.leaf(); err == nil {
			r.KeySize, err = boundedInt(s, MinKeySize, MaxKeySize)
		}
	case "RequestedTokenCancelled":
		if len(k.kids) > 0 || k.hasText {
			err = errors.New("has content")
		}
		r.Cancelled = true
	default:
		err = errors.New("unexpected element")
	}
	return err
}

// Key returns the key a client derives from the response, given the entropy
// it sent (nil if none): P_SHA1(client entropy, server entropy) for a
// ComputedKey, the BinarySecret of RequestedProofToken, or the client's own
// entropy when the response has no proof token.
func (r *RSTR) Key(clientEntropy []byte) ([]byte, error) {
	switch {
	case r.ComputedKey != "":
		if r.ComputedKey != r.Version.CKPSHA1() || clientEntropy == nil || r.ServerEntropy == nil || r.KeySize == 0 {
			return nil, errors.New("wstrust: a ComputedKey needs P_SHA1, both entropies and a KeySize")
		}
		return PSHA1(clientEntropy, r.ServerEntropy, r.KeySize/8), nil
	case r.ProofSecret != nil:
		return r.ProofSecret, nil
	case clientEntropy != nil:
		return clientEntropy, nil
	}
	return nil, errors.New("wstrust: the response conveys no key")
}
