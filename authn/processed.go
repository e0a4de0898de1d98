package authn

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/authsvc/authsvc/wsse"
)

// Processed elements of the Security header.
//
// Every child element of the Security header addressed to this service must
// have been processed by someone before a request is accepted: a token
// verified by the module that accepted it, a signature verified by the
// module whose key made it, the Timestamp checked by the chain's pre-step. A header
// that carries anything else (a ds:Signature nobody verified, an
// xenc:EncryptedKey, a second token, a token of a kind no module knows) is
// refused after the chain succeeded, as WSS4J refuses a signature or an
// encryption it cannot verify: an element a message relies on but this
// service ignored would otherwise pass as if it had been checked. Configuration may name element types that are passed
// through unverified to an upstream that verifies them itself
// (Chain.WithPassThrough).
//
// The fault for an unprocessed element is
//
//   - InvalidSecurity for signatures and encryption (the XML Signature and
//     XML Encryption namespaces, wsse11:EncryptedHeader and
//     wsse11:SignatureConfirmation): the message claims a protection that
//     nothing checked;
//   - UnsupportedSecurityToken for anything else (a token of an unknown
//     type, or one that no module of the chain looked at).
//
// When several elements are left, the fault is InvalidSecurity if any of
// them is a signature or encryption; the log names them all.
//
// Modules mark what they processed with MarkProcessed or MarkProcessedAt,
// and only when they accept: the chain forgets the marks of a module whose
// login did not succeed (an optional module that rejected its token has
// not processed it).

// NSXEnc and NSXEnc11 are the XML Encryption namespaces.
const (
	NSXEnc   = "http://www.w3.org/2001/04/xmlenc#"
	NSXEnc11 = "http://www.w3.org/2009/xmlenc11#"
)

// QName is an element's expanded name.
type QName struct {
	Space, Local string
}

// String writes the name in Clark notation, {space}local.
func (q QName) String() string { return "{" + q.Space + "}" + q.Local }

// ParseQName parses an element name in Clark notation, {namespace}local:
// the namespace a non-empty URI without braces or white space, the local
// name an XML NCName (no prefix, no colon).
func ParseQName(s string) (QName, error) {
	bad := func(why string) (QName, error) {
		return QName{}, fmt.Errorf("%q is not {namespace}local: %s", s, why)
	}
	if !strings.HasPrefix(s, "{") {
		return bad("it must start with '{'")
	}
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return bad("no '}'")
	}
	q := QName{Space: s[1:end], Local: s[end+1:]}
	if q.Space == "" {
		return bad("empty namespace")
	}
	if strings.ContainsAny(q.Space, "{} \t\r\n") {
		return bad("braces or white space in the namespace")
	}
	if !isNCName(q.Local) {
		return bad("the local name is not an XML NCName")
	}
	return q, nil
}

// isNCName checks an XML NCName (ASCII strictly; any non-ASCII letter is
// allowed, as XML's name characters are).
func isNCName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r >= 0x80 && r != 0xFFFD:
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// MarkProcessed records that the caller processed the Security header child
// Security().Elements[i]: verified it (a token it accepted, a signature it
// checked) or checked it and relies on it (the Timestamp). It does nothing
// for an index out of range. A module marks elements only on the way to
// accepting; the chain discards the marks of a module that did not succeed.
func (r *Request) MarkProcessed(i int) {
	sec := r.Security()
	if sec == nil || i < 0 || i >= len(sec.Elements) {
		return
	}
	if r.processed == nil {
		r.processed = r.processedBuf[:0]
	}
	r.processed = append(r.processed, int32(i))
}

// MarkProcessedAt marks the Security header child that starts at offset
// start of Envelope.Raw: the Start of a wsse.UsernameToken,
// wsse.BinarySecurityToken, wsse.Timestamp or wsse.Element. It reports
// whether there is such a child.
func (r *Request) MarkProcessedAt(start int) bool {
	i := r.ElementAt(start)
	if i < 0 {
		return false
	}
	r.MarkProcessed(i)
	return true
}

// ElementAt returns the index in Security().Elements of the child that
// starts at offset start, or -1.
func (r *Request) ElementAt(start int) int {
	sec := r.Security()
	if sec == nil {
		return -1
	}
	els := sec.Elements
	i := sort.Search(len(els), func(i int) bool { return els[i].Start >= start })
	if i < len(els) && els[i].Start == start {
		return i
	}
	return -1
}

// Processed reports whether Security().Elements[i] has been marked.
func (r *Request) Processed(i int) bool {
	for _, p := range r.processed {
		if int(p) == i {
			return true
		}
	}
	return false
}

// isProtection reports whether an element is a signature or encryption.
func isProtection(e *wsse.Element) bool {
	switch e.Space {
	case wsse.NSDSig, NSXEnc, NSXEnc11:
		return true
	case wsse.NSWSSE11:
		return e.Local == "EncryptedHeader" || e.Local == "SignatureConfirmation"
	}
	return false
}

// ErrUnprocessed marks the fault for a Security header element that
// nothing processed.
var ErrUnprocessed = errors.New("authn: unprocessed Security header element")

// maxNamed bounds the elements one fault reason names.
const maxNamed = 8

// checkProcessed returns a fault when a child of the request's Security
// header was neither marked processed nor is of a type in pass.
func checkProcessed(req *Request, pass []QName) *Fault {
	sec := req.Security()
	if sec == nil || len(sec.Elements) == 0 {
		return nil
	}
	var (
		small uint64 // marks for the first 64 elements, without allocating
		big   []bool
	)
	if len(sec.Elements) > 64 {
		big = make([]bool, len(sec.Elements))
	}
	for _, p := range req.processed {
		if big != nil {
			big[p] = true
		} else {
			small |= 1 << uint(p)
		}
	}
	var (
		names      []string
		protection bool
		left       int
	)
outer:
	for i := range sec.Elements {
		if big != nil && big[i] || big == nil && small&(1<<uint(i)) != 0 {
			continue
		}
		e := &sec.Elements[i]
		for _, q := range pass {
			if q.Space == e.Space && q.Local == e.Local {
				continue outer
			}
		}
		left++
		protection = protection || isProtection(e)
		if len(names) < maxNamed {
			names = append(names, fmt.Sprintf("%s at index %d", QName{e.Space, e.Local}, i))
		}
	}
	if left == 0 {
		return nil
	}
	what := strings.Join(names, ", ")
	if left > len(names) {
		what += fmt.Sprintf(" and %d more", left-len(names))
	}
	f := &Fault{Code: wsse.UnsupportedSecurityToken, Err: ErrUnprocessed,
		Reason: "Security header element(s) that no module processed: " + what}
	if protection {
		f.Code = wsse.InvalidSecurity
		f.Reason = "signature or encryption that no module verified; " + f.Reason
	}
	return f
}
