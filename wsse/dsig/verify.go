// Package dsig verifies XML Signatures in a WS-Security header made with a
// symmetric key: HMAC-SHA1 or HMAC-SHA256 over exclusive-C14N SignedInfo,
// with detached same-document references to the SOAP Body and to elements
// of the Security header. The key comes from a KeyResolver, so that
// UsernameToken-derived keys, SecurityContextToken-derived keys and
// Kerberos session keys plug in the same way.
//
// The package verifies the tree it then reports on: a Document is the DOM
// of the whole envelope tied to the offsets wsse.Parse found, and a Result
// says whether THE Body and THE Timestamp of our Security header were
// signed, not merely some elements with their Ids. To resist signature
// wrapping it refuses duplicate Ids anywhere in the document, references to
// anything but the Body and the direct children of our Security header,
// transforms other than exclusive C14N, and more than one Signature in the
// header. Exclusive canonicalization (c14n.go), the MAC, the references and
// the comparisons (constant time) are ours; goxmldsig's canonicalizer is the
// reference the tests hold ours to.
package dsig

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"
	"slices"
	"strings"

	"github.com/authsvc/authsvc/wsse"
)

// Algorithm URIs.
const (
	ExcC14N    = "http://www.w3.org/2001/10/xml-exc-c14n#"
	HMACSHA1   = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
	HMACSHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
	SHA1       = "http://www.w3.org/2000/09/xmldsig#sha1"
	SHA256     = "http://www.w3.org/2001/04/xmlenc#sha256"

	// STRReference is the ValueType of a reference to a UsernameToken.
	UsernameTokenValueType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#UsernameToken"
)

// HasSignature reports whether the Security header holds a ds:Signature,
// without building a DOM: the hot path for unsigned tokens asks this.
func HasSignature(sec *wsse.Security) bool { return sec.Signed() }

// KeyInfo is what a Signature's KeyInfo says about its key: a
// wsse:SecurityTokenReference with a wsse:Reference to a token in the
// Security header.
type KeyInfo struct {
	// URI and ValueType are the wsse:Reference's attributes as sent.
	URI, ValueType string
	// Token is the Security header child that URI names, or nil when URI
	// is an absolute URI naming a token that is not in the message (a
	// SecurityContextToken by its Identifier): the resolver then decides.
	Token *wsse.Element
	// Algorithm is the SignatureMethod the key will be used with.
	Algorithm string
}

// KeyResolver gives the key a KeyInfo refers to.
type KeyResolver interface {
	// ResolveKey returns the MAC key. Errors are returned by Verify as they
	// are, so a resolver decides their fault code.
	ResolveKey(ctx context.Context, ki *KeyInfo) ([]byte, error)
}

// MACVerifiedHook is an optional interface of a KeyResolver: Verify calls
// MACVerified with the SignatureValue as soon as it matched SignedInfo under
// the resolved key, before any Reference is canonicalized and digested, and
// returns its error as it is. Digesting the references costs time that
// grows with the message; a caller that records the signature value in a
// replay cache here spends a genuine signature on its first use, so that a
// captured SignedInfo sent again with a different Body is refused before
// that work, not after it.
type MACVerifiedHook interface {
	MACVerified(ctx context.Context, signatureValue []byte) error
}

// KeyResolverFunc adapts a function to KeyResolver.
type KeyResolverFunc func(ctx context.Context, ki *KeyInfo) ([]byte, error)

// ResolveKey calls f.
func (f KeyResolverFunc) ResolveKey(ctx context.Context, ki *KeyInfo) ([]byte, error) {
	return f(ctx, ki)
}

// Reference is one verified ds:Reference.
type Reference struct {
	URI          string
	DigestMethod string
	// Body says the reference covers the envelope's Body; otherwise
	// Element is the Security header child it covers, or Header names
	// (in Clark notation, {namespace}local) the other SOAP header, a
	// direct child of the SOAP Header, that it covers.
	Body    bool
	Element *wsse.Element
	Header  string
}

// Result is a verified signature.
type Result struct {
	// Method is the SignatureMethod algorithm.
	Method string
	// Value is the SignatureValue (the MAC), e.g. for a replay cache.
	Value   []byte
	KeyInfo KeyInfo
	// Signature is the ds:Signature element among the Security children.
	Signature  *wsse.Element
	References []Reference
	// BodySigned and TimestampSigned say whether the envelope's Body and
	// the Security header's Timestamp are covered.
	BodySigned, TimestampSigned bool
}

// Covers reports whether the Security header child e is signed.
func (r *Result) Covers(e *wsse.Element) bool {
	for _, ref := range r.References {
		if ref.Element != nil && e != nil && ref.Element.Start == e.Start {
			return true
		}
	}
	return false
}

// Verify builds the DOM of env and verifies the Signature in its Security
// header. See Document.Verify.
//
// When the Body is large, the SignatureValue is first checked against
// SignedInfo on a DOM of the header alone: a message whose MAC does not match
// (a wrong password, an unknown user, a forged or altered SignedInfo) is
// refused without building the DOM of its Body, so that sending a large
// Body with any signature costs the sender more than it costs us. The key
// is resolved once for both passes.
func Verify(ctx context.Context, env *wsse.Envelope, keys KeyResolver, lim *Limits) (*Result, error) {
	if env != nil && env.Security != nil && len(env.Raw)-env.BodyStart >= prefilterMinBody {
		once := &keyOnce{inner: keys}
		if err := headerPass(ctx, env, once, lim); err != nil {
			return nil, err
		}
		keys = once
	}
	d, err := NewDocument(env, lim)
	if err != nil {
		return nil, err
	}
	defer d.release()
	return d.Verify(ctx, keys)
}

type parsedRef struct {
	uri, digestMethod, prefixList string
	digest                        []byte
	target                        int32
	ref                           Reference
}

// Verify verifies the one ds:Signature of the Security header. Errors are
// *Error values, except the resolver's, which are returned as they are.
func (d *Document) Verify(ctx context.Context, keys KeyResolver) (*Result, error) {
	sigElem, err := d.signatureElement()
	if err != nil {
		return nil, err
	}
	sig := d.at(sigElem.Start)
	if sig < 0 || d.parent(sig) != d.security {
		return nil, errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Signature")
	}
	kids, err := d.onlyElements(sig)
	if err != nil {
		return nil, err
	}
	if len(kids) != 3 || !d.is(kids[0], wsse.NSDSig, "SignedInfo") || !d.is(kids[1], wsse.NSDSig, "SignatureValue") ||
		!d.is(kids[2], wsse.NSDSig, "KeyInfo") {
		return nil, errorf(wsse.InvalidSecurity, nil, "Signature is not SignedInfo, SignatureValue, KeyInfo")
	}
	signedInfoEl, sigValueEl, keyInfoEl := kids[0], kids[1], kids[2]
	si, err := d.parseSignedInfo(signedInfoEl, sig)
	if err != nil {
		return nil, err
	}
	sigValue, err := d.signatureValue(sigValueEl)
	if err != nil {
		return nil, err
	}
	ki, err := d.parseKeyInfo(keyInfoEl)
	if err != nil {
		return nil, err
	}
	ki.Algorithm = si.method
	key, err := keys.ResolveKey(ctx, ki)
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, errorf(wsse.SecurityTokenUnavailable, nil, "no key for %s", ki.URI)
	}

	// The MAC over SignedInfo first: with a wrong key nothing else matters.
	if err := d.checkMAC(signedInfoEl, &si, key, sigValue); err != nil {
		return nil, err
	}
	if d.macOnly {
		return nil, errMACMatched
	}
	if h, ok := keys.(MACVerifiedHook); ok {
		if err := h.MACVerified(ctx, sigValue); err != nil {
			return nil, err
		}
	}
	res := &Result{Method: si.method, Value: sigValue, KeyInfo: *ki, Signature: sigElem}
	if err := d.digestReferences(si.refs, res); err != nil {
		return nil, err
	}
	return res, nil
}

// signatureElement returns the one ds:Signature among the Security
// header's children.
func (d *Document) signatureElement() (*wsse.Element, error) {
	sec := d.env.Security
	var sigElem *wsse.Element
	for i := range sec.Elements {
		e := &sec.Elements[i]
		if e.Space == wsse.NSDSig && e.Local == "Signature" {
			if sigElem != nil {
				return nil, errorf(wsse.InvalidSecurity, nil, "more than one Signature in the Security header")
			}
			sigElem = e
		}
	}
	if sigElem == nil {
		return nil, &Error{Code: wsse.InvalidSecurity, Reason: "no Signature in the Security header", Err: ErrNoSignature}
	}
	return sigElem, nil
}

// signedInfo is what a SignedInfo says: its canonicalization's
// PrefixList, its SignatureMethod and the References, parsed.
type signedInfo struct {
	prefixList string
	method     string
	newHash    func() hash.Hash
	refs       []parsedRef
}

// parseSignedInfo checks the SignedInfo of Signature sig: exclusive C14N,
// an HMAC SignatureMethod without parameters, at most MaxReferences
// References to distinct elements.
func (d *Document) parseSignedInfo(el, sig int32) (signedInfo, error) {
	var si signedInfo
	kids, err := d.onlyElements(el)
	if err != nil {
		return si, err
	}
	if len(kids) < 3 || !d.is(kids[0], wsse.NSDSig, "CanonicalizationMethod") || !d.is(kids[1], wsse.NSDSig, "SignatureMethod") {
		return si, errorf(wsse.InvalidSecurity, nil, "SignedInfo is not CanonicalizationMethod, SignatureMethod, Reference+")
	}
	if si.prefixList, err = d.excC14NMethod(kids[0]); err != nil {
		return si, err
	}
	si.method, _ = d.attr(kids[1], "Algorithm")
	switch si.method {
	case HMACSHA1:
		si.newHash = sha1.New
	case HMACSHA256:
		si.newHash = sha256.New
	default:
		return si, errorf(wsse.UnsupportedAlgorithm, nil, "SignatureMethod %q", si.method)
	}
	if d.nodes[kids[1]].first >= 0 {
		if k, err := d.onlyElements(kids[1]); err != nil || len(k) > 0 {
			// HMACOutputLength truncates the MAC (CVE-2009-0217): never.
			return si, errorf(wsse.UnsupportedAlgorithm, nil, "SignatureMethod with parameters (HMACOutputLength)")
		}
	}
	refEls := kids[2:]
	if len(refEls) > d.lim.MaxReferences {
		return si, errorf(wsse.InvalidSecurity, nil, "%d References, more than %d", len(refEls), d.lim.MaxReferences)
	}
	si.refs = make([]parsedRef, 0, len(refEls))
	seen := make(map[int32]bool, len(refEls))
	for _, r := range refEls {
		pr, err := d.parseReference(r, sig)
		if err != nil {
			return si, err
		}
		if seen[pr.target] {
			return si, errorf(wsse.InvalidSecurity, nil, "two References to %s", pr.uri)
		}
		seen[pr.target] = true
		si.refs = append(si.refs, pr)
	}
	return si, nil
}

// signatureValue returns the decoded content of a SignatureValue.
func (d *Document) signatureValue(el int32) ([]byte, error) {
	t, err := d.text(el)
	if err != nil {
		return nil, err
	}
	v, err := decodeB64(t)
	if err != nil || len(v) == 0 {
		return nil, errorf(wsse.InvalidSecurity, err, "SignatureValue is not Base64")
	}
	return v, nil
}

// checkMAC checks sigValue against the MAC of the canonical SignedInfo el
// under key.
func (d *Document) checkMAC(el int32, si *signedInfo, key, sigValue []byte) error {
	mac := hmac.New(si.newHash, key)
	if err := d.canonicalize(el, si.prefixList, mac); err != nil {
		return err
	}
	if !hmac.Equal(mac.Sum(nil), sigValue) {
		return &Error{Code: wsse.FailedCheck, Reason: "SignatureValue does not match SignedInfo under the referenced key", Err: ErrSignatureMismatch}
	}
	return nil
}

// digestReferences checks the digest of each reference and records in res
// what they cover.
func (d *Document) digestReferences(refs []parsedRef, res *Result) error {
	ts := d.env.Security.Timestamp
	for _, pr := range refs {
		var h hash.Hash
		if pr.digestMethod == SHA256 {
			h = sha256.New()
		} else {
			h = sha1.New()
		}
		if err := d.canonicalize(pr.target, pr.prefixList, h); err != nil {
			return err
		}
		if !hmac.Equal(h.Sum(nil), pr.digest) {
			return &Error{Code: wsse.FailedCheck, Reason: "digest of " + pr.uri + " does not match", Err: ErrDigestMismatch}
		}
		res.References = append(res.References, pr.ref)
		if pr.ref.Body {
			res.BodySigned = true
		}
		if ts != nil && pr.ref.Element != nil && pr.ref.Element.Start == ts.Start {
			res.TimestampSigned = true
		}
	}
	return nil
}

// excC14NMethod checks a CanonicalizationMethod or Transform element for
// exclusive C14N without comments and returns its PrefixList.
func (d *Document) excC14NMethod(el int32) (string, error) {
	alg, _ := d.attr(el, "Algorithm")
	if alg != ExcC14N {
		return "", errorf(wsse.UnsupportedAlgorithm, nil, "%s %q is not exclusive C14N", d.tag(el), alg)
	}
	kids, err := d.onlyElements(el)
	if err != nil {
		return "", err
	}
	switch {
	case len(kids) == 0:
		return "", nil
	case len(kids) == 1 && d.is(kids[0], ExcC14N, "InclusiveNamespaces"):
		pl, _ := d.attr(kids[0], "PrefixList")
		if k, err := d.onlyElements(kids[0]); err != nil || len(k) > 0 {
			return "", errorf(wsse.InvalidSecurity, nil, "unexpected content in InclusiveNamespaces")
		}
		return pl, nil
	}
	return "", errorf(wsse.InvalidSecurity, nil, "unexpected parameters of %s", d.tag(el))
}

func (d *Document) parseReference(r, sig int32) (parsedRef, error) {
	var pr parsedRef
	if !d.is(r, wsse.NSDSig, "Reference") {
		return pr, errorf(wsse.InvalidSecurity, nil, "unexpected %s in SignedInfo", d.tag(r))
	}
	pr.uri, _ = d.attr(r, "URI")
	kids, err := d.onlyElements(r)
	if err != nil {
		return pr, err
	}
	if len(kids) != 3 || !d.is(kids[0], wsse.NSDSig, "Transforms") || !d.is(kids[1], wsse.NSDSig, "DigestMethod") ||
		!d.is(kids[2], wsse.NSDSig, "DigestValue") {
		return pr, errorf(wsse.InvalidSecurity, nil, "Reference %q is not Transforms, DigestMethod, DigestValue", pr.uri)
	}
	tr, err := d.onlyElements(kids[0])
	if err != nil {
		return pr, err
	}
	if len(tr) != 1 || !d.is(tr[0], wsse.NSDSig, "Transform") {
		return pr, errorf(wsse.UnsupportedAlgorithm, nil, "Reference %q: transforms other than one exclusive C14N", pr.uri)
	}
	if pr.prefixList, err = d.excC14NMethod(tr[0]); err != nil {
		return pr, err
	}
	pr.digestMethod, _ = d.attr(kids[1], "Algorithm")
	if pr.digestMethod != SHA1 && pr.digestMethod != SHA256 {
		return pr, errorf(wsse.UnsupportedAlgorithm, nil, "DigestMethod %q", pr.digestMethod)
	}
	if k, err := d.onlyElements(kids[1]); err != nil || len(k) > 0 {
		return pr, errorf(wsse.InvalidSecurity, nil, "unexpected content in DigestMethod")
	}
	dv, err := d.text(kids[2])
	if err != nil {
		return pr, err
	}
	if pr.digest, err = decodeB64(dv); err != nil || len(pr.digest) == 0 {
		return pr, errorf(wsse.InvalidSecurity, err, "DigestValue of %q is not Base64", pr.uri)
	}
	pr.ref.URI, pr.ref.DigestMethod = pr.uri, pr.digestMethod

	id, ok := strings.CutPrefix(pr.uri, "#")
	if !ok || id == "" || strings.ContainsAny(id, "#()") {
		return pr, errorf(wsse.InvalidSecurity, nil, "Reference URI %q is not a same-document #Id", pr.uri)
	}
	if len(d.dups[id]) > 0 {
		// Which of them the signer meant is anybody's guess: the
		// classic wrapping attack.
		return pr, errorf(wsse.InvalidSecurity, nil, "Reference URI %q names an Id that appears more than once in the envelope", pr.uri)
	}
	target, ok := d.ids[id]
	switch {
	case !ok:
		return pr, errorf(wsse.InvalidSecurity, nil, "Reference URI %q names no element", pr.uri)
	case target == d.body:
		pr.ref.Body = true
	case d.parent(target) == d.security && target != sig:
		el := d.securityChild(target)
		if el == nil {
			return pr, errorf(wsse.InvalidSecurity, nil, "internal: Security child of %q not found", pr.uri)
		}
		pr.ref.Element = el
	case target != d.security && d.parent(target) >= 0 && d.parent(target) == d.parent(d.security) && !d.soapElement(target):
		// Another SOAP header, a direct child of the Header (WS-Addressing's
		// To, Action, MessageID, as CXF and WCF sign them). Nothing here
		// relies on it, but a signature that covers it is not refused.
		n := &d.nodes[target]
		pr.ref.Header = "{" + d.s(n.space) + "}" + d.s(n.local)
	default:
		// Inside the Body, in another header, under an ignored element, the
		// Signature itself: a wrapping attempt or nothing we can vouch for.
		return pr, errorf(wsse.InvalidSecurity, nil, "Reference URI %q names an element that is neither the Body nor a child of our Security header or of the SOAP Header", pr.uri)
	}
	pr.target = target
	return pr, nil
}

// soapElement reports whether el is in a SOAP envelope namespace: a Body or
// Header moved among the headers is never a header a signature may cover.
func (d *Document) soapElement(el int32) bool {
	n := &d.nodes[el]
	space := d.s(n.space)
	return space == wsse.NSSOAP11 || space == wsse.NSSOAP12
}

// tokenTarget resolves a KeyInfo token reference's Id. An Id that appears
// more than once resolves to its one occurrence that is a direct child of
// our Security header (the token; copies elsewhere, such as the SCT that
// Apache CXF repeats in a CancelTarget, are content, which a signature
// reference cannot name); two such occurrences are refused.
func (d *Document) tokenTarget(id string) (int32, error) {
	dups := d.dups[id]
	if len(dups) == 0 {
		if el, ok := d.ids[id]; ok {
			return el, nil
		}
		return -1, nil
	}
	token := int32(-1)
	for _, el := range dups {
		if d.parent(el) != d.security {
			continue
		}
		if token >= 0 {
			return -1, errorf(wsse.InvalidSecurity, nil, "token reference %q: two tokens of our Security header have that Id", "#"+id)
		}
		token = el
	}
	return token, nil
}

func (d *Document) securityChild(el int32) *wsse.Element {
	start := int(d.nodes[el].start)
	sec := d.env.Security
	for i := range sec.Elements {
		if sec.Elements[i].Start == start {
			return &sec.Elements[i]
		}
	}
	return nil
}

func (d *Document) parseKeyInfo(el int32) (*KeyInfo, error) {
	kids, err := d.onlyElements(el)
	if err != nil {
		return nil, err
	}
	if len(kids) != 1 || !d.is(kids[0], wsse.NSWSSE, "SecurityTokenReference") {
		return nil, errorf(wsse.UnsupportedSecurityToken, nil, "KeyInfo is not one SecurityTokenReference")
	}
	refs, err := d.onlyElements(kids[0])
	if err != nil {
		return nil, err
	}
	if len(refs) != 1 || !d.is(refs[0], wsse.NSWSSE, "Reference") {
		return nil, errorf(wsse.UnsupportedSecurityToken, nil, "SecurityTokenReference is not one direct Reference")
	}
	ki := &KeyInfo{}
	ki.URI, _ = d.attr(refs[0], "URI")
	ki.ValueType, _ = d.attr(refs[0], "ValueType")
	id, ok := strings.CutPrefix(ki.URI, "#")
	if !ok && externalURI(ki.URI) {
		// A token not in the message, named by an absolute URI (a
		// SecurityContextToken's Identifier): Token stays nil and the
		// resolver decides whether it knows it.
		return ki, nil
	}
	if !ok || id == "" {
		return nil, errorf(wsse.SecurityTokenUnavailable, nil, "token reference %q is not a same-document #Id", ki.URI)
	}
	target, err := d.tokenTarget(id)
	if err != nil {
		return nil, err
	}
	if target < 0 || d.parent(target) != d.security {
		return nil, errorf(wsse.SecurityTokenUnavailable, nil, "token reference %q names no token in our Security header", ki.URI)
	}
	ki.Token = d.securityChild(target)
	if ki.Token == nil {
		return nil, errorf(wsse.SecurityTokenUnavailable, nil, "token reference %q names no token in our Security header", ki.URI)
	}
	return ki, nil
}

// externalURI reports whether a token reference is an absolute URI
// (scheme ":" ...) of a sane length, without white space or a fragment.
func externalURI(u string) bool {
	i := strings.IndexByte(u, ':')
	if i < 1 || len(u) > 1024 || strings.ContainsAny(u, " \t\r\n#<>\"") {
		return false
	}
	for j, c := range u[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// canonicalize writes to sink the exclusive C14N (without comments) of
// the subtree at el, with the namespaces in scope at el available for
// PrefixList.
func (d *Document) canonicalize(el int32, prefixList string, sink io.Writer) error {
	if strings.Contains(prefixList, "#default") && slices.Contains(strings.Fields(prefixList), "#default") {
		// Refused since goxmldsig canonicalized here, which cannot take the
		// default namespace in PrefixList; it only matters when one is in
		// scope and not redeclared.
		if uri := d.defaultInScope(el); uri != "" {
			if _, own := d.attr(el, "xmlns"); !own {
				return errorf(wsse.UnsupportedAlgorithm, nil, "#default in InclusiveNamespaces with a default namespace in scope")
			}
		}
	}
	n := &d.nodes[el]
	if want := min(int(n.end-n.start), c14nFlush) + 512; cap(d.c14nBuf) < want {
		d.c14nBuf = make([]byte, 0, want)
	}
	out, err := excC14N(d.c14nBuf[:0], d, el, prefixList, sink)
	if err != nil {
		return errorf(wsse.InvalidSecurity, err, "canonicalizing %s", d.s(n.local))
	}
	sink.Write(out)
	d.c14nBuf = out[:0]
	return nil
}

func decodeB64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}
