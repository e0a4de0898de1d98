// Package wsse extracts the WS-Security header of SOAP 1.1 and 1.2 envelopes
// into typed tokens (UsernameToken, BinarySecurityToken, Timestamp) plus the
// raw child elements of the header. It applies no policy and does no I/O:
// deciding whether a token is acceptable is the login modules' job.
//
// Parse reads the envelope only as far as the start tag of the Body. The
// Security header is all that token authentication needs, so the cost of an
// authentication does not grow with the payload; the body is neither read nor
// checked for well-formedness (the upstream endpoint parses it anyway).
package wsse

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"time"
)

// Limits bound the work and memory one envelope can cost. The zero value of
// a field means its default.
type Limits struct {
	// MaxHeaderBytes bounds the bytes before the Body start tag (default 256 KiB).
	MaxHeaderBytes int
	// MaxDepth bounds element nesting (default 32).
	MaxDepth int
	// MaxElements bounds the number of elements before the Body (default 1024).
	MaxElements int
	// MaxAttributes bounds the attributes of one element, namespace
	// declarations included (default 32).
	MaxAttributes int
}

// DefaultLimits are the limits used where a field of Limits is zero.
var DefaultLimits = Limits{MaxHeaderBytes: 256 << 10, MaxDepth: 32, MaxElements: 1024, MaxAttributes: 32}

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultLimits.MaxHeaderBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = DefaultLimits.MaxAttributes
	}
	return l
}

// Options control Parse.
type Options struct {
	Limits Limits
	// Actor is the SOAP 1.1 actor / SOAP 1.2 role URI that addresses this
	// service, in addition to the default (no actor, "next", and the SOAP 1.2
	// ultimateReceiver role). Security headers for other actors are ignored.
	Actor string
}

// Envelope is what Parse found in a SOAP envelope.
type Envelope struct {
	Version Version
	// Raw is the input Parse was given. Offsets in the envelope's types index it.
	Raw []byte
	// HasHeader reports whether the envelope has a SOAP Header.
	HasHeader bool
	// Security is the Security header addressed to this service, nil if none.
	Security *Security
	// OtherSecurityHeaders counts Security headers addressed to other actors.
	OtherSecurityHeaders int
	// BodyStart is the offset of the '<' of the Body start tag; HeaderEnd the
	// offset just past the Header end tag (0 without a Header).
	BodyStart, HeaderEnd int
	// BodyID is the wsu:Id of the Body element, if any.
	BodyID string

	// parsed: Parse made the envelope (so wsaHeaders is known); wsaHeaders:
	// a direct child of the Header is in a WS-Addressing namespace.
	parsed, wsaHeaders bool

	envName   []byte   // the Envelope's qualified name, in Raw
	bodyScope []nsBind // namespace bindings in scope at the Body start tag (the Envelope's)
}

// Security is a wsse:Security header.
type Security struct {
	// Start and End delimit the element in Envelope.Raw.
	Start, End int
	// Actor is the actor (SOAP 1.1) or role (SOAP 1.2) attribute, if any.
	Actor string
	// MustUnderstand is the header's mustUnderstand attribute.
	MustUnderstand bool
	Timestamp      *Timestamp
	UsernameTokens []UsernameToken
	BinaryTokens   []BinarySecurityToken
	// Space is the header's namespace: NSWSSE, or for a pre-OASIS header
	// NSWSSE0207 or NSWSSE0212. A pre-OASIS header's BinarySecurityTokens
	// (in its own namespace) are in LegacyBinaryTokens, not BinaryTokens,
	// and nothing else in it is typed: only a module that asks for them
	// (the Kerberos module, for WSE's tokens) sees them.
	Space              string
	LegacyBinaryTokens []BinarySecurityToken
	// Elements are all child elements of the header, in document order,
	// including the ones also parsed into typed fields above.
	Elements []Element

	scope []nsBind // namespace bindings in scope at the Security start tag
}

// Namespaces returns the namespace declarations in scope at the Security
// element (prefix to URI; "" is the default namespace): those of its
// ancestors and its own. With the declarations inside a child's own raw
// bytes, that is all a custom module needs to parse the child on its own.
func (s *Security) Namespaces() map[string]string {
	m := make(map[string]string, len(s.scope))
	for _, b := range s.scope {
		m[string(b.prefix)] = string(b.uri)
	}
	return m
}

// Signed reports whether the header holds a ds:Signature among its
// children. A signature's references may cover the Body, so verifying it
// needs the whole envelope, not just the part up to the Body start tag that
// Parse reads: a reader that stops early must read the rest first (and set
// Envelope.Raw to all of it) when this is true.
func (s *Security) Signed() bool {
	if s == nil {
		return false
	}
	for i := range s.Elements {
		if s.Elements[i].Space == NSDSig && s.Elements[i].Local == "Signature" {
			return true
		}
	}
	return false
}

// NeedsWhole reports whether judging this envelope needs every byte of it,
// not only the bytes up to the Body start tag: true when the Security
// header addressed to us is signed (see Security.Signed). Offsets found by
// Parse stay valid when Raw is replaced by a longer buffer with the same
// prefix.
func (e *Envelope) NeedsWhole() bool {
	return e != nil && e.Security.Signed()
}

// Element is a child element of the Security header, kept raw.
type Element struct {
	Space, Local string
	// ID is the element's wsu:Id (or plain Id / xml:id), if any.
	ID string
	// Start and End delimit the element in Envelope.Raw.
	Start, End int
}

// Timestamp is a wsu:Timestamp.
type Timestamp struct {
	ID               string
	Created, Expires string // as sent
	Start, End       int
}

// UsernameToken is a wsse:UsernameToken.
type UsernameToken struct {
	ID       string
	Username string
	// Password is the Password element's text; HasPassword whether there is one.
	Password     string
	PasswordType string // the Type attribute, "" when absent
	HasPassword  bool
	Nonce        string // as sent (Base64)
	NonceEncType string
	HasNonce     bool
	Created      string // as sent
	HasCreated   bool
	// Salt and Iteration are the WS-Security 1.1 key-derivation elements.
	Salt         string
	HasSalt      bool
	Iteration    string
	HasIteration bool
	Start, End   int
	// PasswordValueStart and PasswordValueEnd delimit the Password
	// element's content in Envelope.Raw (for scrubbing it before forwarding).
	PasswordValueStart, PasswordValueEnd int
}

// BinarySecurityToken is a wsse:BinarySecurityToken.
type BinarySecurityToken struct {
	ID           string
	ValueType    string
	EncodingType string
	Value        string // as sent (usually Base64, possibly with white space)
	Start, End   int

	// ValueTypeSpace and EncodingTypeSpace are set when the attribute is a
	// QName whose prefix is declared at the token (pre-OASIS tokens write
	// ValueType="wsse:Kerberosv5ST"): the namespace the prefix stands for.
	// ValueType and EncodingType stay as sent.
	ValueTypeSpace, EncodingTypeSpace string
}

type nsBind struct {
	prefix, uri []byte
	id          nsID
}

// nsID names the namespaces the parser looks for, so that each URI is
// compared once, at its declaration, instead of at every element.
type nsID uint8

const (
	nsOther nsID = iota
	nsNone       // no namespace
	nsSOAP11
	nsSOAP12
	nsWSSE
	nsWSSE11
	nsWSU
	nsXML
	nsWSSELegacy // NSWSSE0207, NSWSSE0212
	nsWSA        // NSWSA, NSWSA2004
)

func classifyNS(uri []byte) nsID {
	switch string(uri) {
	case "":
		return nsNone
	case NSSOAP11:
		return nsSOAP11
	case NSSOAP12:
		return nsSOAP12
	case NSWSSE:
		return nsWSSE
	case NSWSSE11:
		return nsWSSE11
	case NSWSU:
		return nsWSU
	case NSXML:
		return nsXML
	case NSWSSE0207, NSWSSE0212:
		return nsWSSELegacy
	case NSWSA, NSWSA2004:
		return nsWSA
	}
	return nsOther
}

// openElem is an open element: its qualified name as offsets into the
// input (no pointer: no write barrier when pushed into the pooled array)
// and the length of parser.ns before its declarations.
type openElem struct {
	q0, q1 int
	nsMark int
}

// parser states, by what the current element is.
const (
	inProlog = iota
	inEnvelope
	inHeader
	inOtherHeaderBlock
	inSecurity
	inSecurityChild // an element of Security that is not typed
	inUT
	inUTChild
	inBST
	inTS
	inTSChild
)

// arena holds a parse's usual result in one allocation.
type arena struct {
	env   Envelope
	sec   Security
	ut    [1]UsernameToken
	el    [4]Element
	scope [6]nsBind // Security.scope, or Envelope.bodyScope without a Security
}

// scratch is the arrays of a parser's working state. It never ends up in
// the result, so it is reused from parse to parse (scratchPool) instead of
// being allocated and zeroed each time (about 1.5 KB). The parser itself
// is on Parse's stack (its writes carry no GC write barrier); p only keeps
// its text buffers from parse to parse, and is otherwise zero.
type scratch struct {
	p     parser
	ns    [8]nsBind
	stack [10]openElem
	state [10]uint8
	attrs [6]rawAttr
	utBuf [192]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxPooledText bounds the text buffers a pooled scratch keeps.
const maxPooledText = 4 << 10

// release wipes what the parse p left in s (pointers into its input, the
// token's texts, a password among them), keeps p's text buffers in s, and
// returns s to the pool.
func (s *scratch) release(p *parser) {
	text, sc := p.text, p.scratch
	clear(text[:cap(text)])
	clear(sc[:cap(sc)])
	if cap(text) > maxPooledText {
		text = nil
	}
	if cap(sc) > maxPooledText {
		sc = nil
	}
	// Only the parts of the arrays this parse wrote: high-water marks, and
	// the lengths at the end for what was appended after the last mark
	// (a start tag the lexer refused halfway, a token left open).
	clear(s.ns[:min(max(p.nsHigh, len(p.ns)), len(s.ns))])
	clear(s.stack[:min(max(p.stackHigh, len(p.stack)), len(s.stack))])
	clear(s.attrs[:min(max(p.attrsHigh, len(p.lex.attrs)), len(s.attrs))])
	clear(s.utBuf[:min(max(p.utHigh, len(p.utText)), len(s.utBuf))])
	s.p.text, s.p.scratch = text[:0], sc[:0]
	scratchPool.Put(s)
}

type parser struct {
	arena    *arena
	lex      lexer
	opts     *Options
	lim      Limits
	env      *Envelope
	ns       []nsBind
	stack    []openElem
	elems    int
	state    []uint8 // per open element
	text     []byte  // collected character data of a leaf
	textRef  []byte  // single text chunk, not copied
	textMany bool
	sec      *Security
	ut       *UsernameToken
	utField  *string
	bst      *BinarySecurityToken
	ts       *Timestamp
	tsField  *string
	curChild int // index in sec.Elements of the open child

	lastContentEnd int    // offset of the last end tag's '<'
	scratch        []byte // for checking references in text that is not kept

	// The open UsernameToken's texts, turned into strings at its end.
	utText   []byte
	spans    [6]utSpan
	nSpans   int
	haveUser bool

	// High-water marks of ns, stack, lex.attrs and utText, for release.
	nsHigh, stackHigh, attrsHigh, utHigh int
}

type utSpan struct {
	dst  *string
	a, b int
}

var (
	bNSXML = []byte(NSXML)
	bXMLNS = []byte("xmlns")
	bXML   = []byte("xml")
)

// noOptions stands for nil Options; the parser never writes to its Options.
var noOptions Options

// Parse extracts the Security header of a SOAP envelope. Errors are *Error
// values carrying the WS-Security fault code for the client and the exact
// reason for the log.
func Parse(b []byte, opts *Options) (*Envelope, error) {
	if opts == nil {
		opts = &noOptions // read only: no allocation per call
	}
	// One allocation holds the typical result; the parser's state is
	// reused.
	a := &arena{}
	sc := scratchPool.Get().(*scratch)
	var ps parser
	p := &ps
	p.text, p.scratch = sc.p.text, sc.p.scratch
	defer sc.release(p)
	p.arena = a
	p.opts, p.lim = opts, opts.Limits.withDefaults()
	p.lex.b = b
	p.lex.maxAttrs = p.lim.MaxAttributes
	p.lex.attrs = sc.attrs[:0]
	p.utText = sc.utBuf[:0]
	a.env.Raw = b
	p.env = &a.env
	p.ns = sc.ns[:0]
	p.stack = sc.stack[:0]
	p.state = sc.state[:0]
	if err := p.run(); err != nil {
		if e, ok := err.(*Error); ok && e.Version == 0 {
			e.Version = p.env.Version
		}
		return nil, err
	}
	p.env.parsed = true
	return p.env, nil
}

// AddressingHeaders reports whether a direct child of the SOAP Header is in
// a WS-Addressing namespace (NSWSA or NSWSA2004). known is false for an
// Envelope that Parse did not make: the header must then be read to tell.
func (e *Envelope) AddressingHeaders() (has, known bool) { return e.wsaHeaders, e.parsed }

func (p *parser) run() error {
	b := p.lex.b
	if bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
		p.lex.pos = 3
	}
	limit := len(b)
	if limit > p.lim.MaxHeaderBytes {
		limit = p.lim.MaxHeaderBytes
	}
	checked := p.lex.pos
	first := true
	var tok token
	t := &tok // read in place and passed on by pointer: no copies of the token
	for {
		if err := p.lex.nextInto(t); err != nil {
			return err
		}
		if t.kind == tokEOF {
			if len(b) >= p.lim.MaxHeaderBytes {
				return errorf(InvalidSecurity, "more than %d bytes before the SOAP Body", p.lim.MaxHeaderBytes)
			}
			if len(p.stack) == 0 && p.env.Version == 0 {
				return &Error{Code: InvalidSecurity, Reason: "no SOAP envelope in the message"}
			}
			return &Error{Code: InvalidSecurity, Reason: "the message ends before the SOAP Body", truncated: true}
		}
		if t.end > limit && len(b) > p.lim.MaxHeaderBytes {
			return errorf(InvalidSecurity, "more than %d bytes before the SOAP Body", p.lim.MaxHeaderBytes)
		}
		if !validText(b[checked:t.end]) {
			return errorf(InvalidSecurity, "character not allowed in XML before byte %d", t.end)
		}
		checked = t.end
		switch t.kind {
		case tokPI:
			if !first || !bytes.Equal(t.name(b), bXML) {
				return &Error{Code: InvalidSecurity, Reason: "processing instructions are not allowed in a SOAP message"}
			}
			if err := checkXMLDecl(t.data(b)); err != nil {
				return err
			}
		case tokComment:
		case tokText, tokCDATA:
			if err := p.onText(t); err != nil {
				return err
			}
		case tokEnd:
			if err := p.onEnd(t); err != nil {
				return err
			}
			if len(p.stack) == 0 {
				return &Error{Code: InvalidSecurity, Reason: "the Envelope has no Body"}
			}
		case tokStart:
			done, err := p.onStart(t)
			if err != nil || done {
				return err
			}
		}
		first = false
	}
}

func (p *parser) lookupNS(prefix []byte) ([]byte, nsID, bool) {
	for i := len(p.ns) - 1; i >= 0; i-- {
		if bytes.Equal(p.ns[i].prefix, prefix) {
			return p.ns[i].uri, p.ns[i].id, true
		}
	}
	if len(prefix) == 0 {
		return nil, nsNone, true // no default namespace declared
	}
	if bytes.Equal(prefix, bXML) {
		return bNSXML, nsXML, true
	}
	return nil, nsOther, false
}

// splitAt splits a name the lexer read at its colon (token.colon,
// rawAttr.colon), as splitQName would.
func splitAt(n []byte, colon int) (prefix, local []byte) {
	if colon >= 0 {
		return n[:colon], n[colon+1:]
	}
	return nil, n
}

func splitQName(n []byte) (prefix, local []byte) {
	if i := bytes.IndexByte(n, ':'); i >= 0 {
		return n[:i], n[i+1:]
	}
	return nil, n
}

type resolvedAttr struct {
	space, local, value []byte
	sid                 nsID
	escape              bool
}

// elemName is the resolved name of a start tag's element.
type elemName struct {
	space, local []byte
	sid          nsID
}

// onStart takes a start tag: its namespace declarations and attributes,
// then what the element is, by the handler of its parent's state; then the
// element is pushed. done is true at the Body start tag.
func (p *parser) onStart(t *token) (done bool, err error) {
	p.elems++
	if p.elems > p.lim.MaxElements {
		return false, errorf(InvalidSecurity, "more than %d elements before the SOAP Body", p.lim.MaxElements)
	}
	if len(p.stack) >= p.lim.MaxDepth {
		return false, errorf(InvalidSecurity, "elements nested deeper than %d", p.lim.MaxDepth)
	}
	mark := len(p.ns)
	p.attrsHigh = max(p.attrsHigh, len(p.lex.attrs))
	// Most elements of a header have no attributes, or only namespace
	// declarations: then there is nothing to resolve.
	others := false
	if len(p.lex.attrs) > 0 {
		if others, err = p.declareNS(); err != nil {
			return false, err
		}
	}
	qname := t.name(p.lex.b)
	prefix, local := splitAt(qname, t.colon)
	space, sid, ok := p.lookupNS(prefix)
	if !ok {
		return false, errorf(InvalidSecurity, "undeclared namespace prefix %q", prefix)
	}
	var ra []resolvedAttr
	if others {
		var attrs [8]resolvedAttr // zeroed only for the elements that use it
		if ra, err = p.resolveAttrs(attrs[:0]); err != nil {
			return false, err
		}
	}
	// What the element is depends on its parent's state: one handler per
	// state.
	parent := uint8(inProlog)
	if k := len(p.state); k > 0 {
		parent = p.state[k-1]
	}
	name := elemName{space: space, local: local, sid: sid}
	var st uint8
	switch parent {
	case inProlog:
		st, err = p.startRoot(t, &name)
	case inEnvelope:
		st, done, err = p.startEnvelopeChild(t, &name, ra, mark)
	case inHeader:
		st = inOtherHeaderBlock
		if sid == nsWSA {
			p.env.wsaHeaders = true
		}
		if (sid == nsWSSE || sid == nsWSSELegacy) && bytes.Equal(local, []byte("Security")) {
			st, err = p.securityStart(t, ra, space)
		}
	case inSecurity:
		st, err = p.securityChild(t, space, sid, local, ra)
	case inUT:
		st, err = p.utChild(sid, local, ra)
	case inTS:
		st, err = inTSChild, p.tsChild(sid, local)
	case inOtherHeaderBlock, inSecurityChild:
		st = parent // their descendants are not looked at
	case inUTChild, inTSChild, inBST:
		err = errorf(InvalidSecurityToken, "element %s inside a token field", local)
	default:
		err = &Error{Code: InvalidSecurity, Reason: "internal parser state"}
	}
	if err != nil || done {
		return done, err
	}

	// Push the element; close it at once if the tag is self-closing.
	if st == inUTChild && p.utField == &p.ut.Password {
		p.ut.PasswordValueStart, p.ut.PasswordValueEnd = t.end, t.end
	}
	if t.selfClose {
		p.ns = p.ns[:mark]
	}
	// A start tag's name begins just after its '<'.
	p.stack = append(p.stack, openElem{q0: t.n0, q1: t.n1, nsMark: mark})
	p.state = append(p.state, st)
	p.stackHigh = max(p.stackHigh, len(p.stack))
	p.resetText()
	if t.selfClose {
		p.lastContentEnd = t.end
		return false, p.closeElement(t.end)
	}
	return false, nil
}

// declareNS pushes the namespace declarations of the current start tag.
// others reports whether the tag has attributes that are not namespace
// declarations (for resolveAttrs).
func (p *parser) declareNS() (others bool, err error) {
	b := p.lex.b
	for i := range p.lex.attrs {
		a := &p.lex.attrs[i]
		name := b[a.n0:a.n1]
		switch {
		case bytes.Equal(name, bXMLNS):
			if a.escape {
				return false, &Error{Code: InvalidSecurity, Reason: "entity reference in a namespace name"}
			}
			p.pushNS(nil, b[a.v0:a.v1])
		case len(name) > 6 && bytes.HasPrefix(name, []byte("xmlns:")):
			value := b[a.v0:a.v1]
			if a.escape || len(value) == 0 {
				return false, &Error{Code: InvalidSecurity, Reason: "malformed namespace declaration"}
			}
			pf := name[6:]
			if bytes.Equal(pf, bXMLNS) || bytes.Equal(pf, bXML) && !bytes.Equal(value, bNSXML) {
				return false, &Error{Code: InvalidSecurity, Reason: "reserved namespace prefix redeclared"}
			}
			p.pushNS(pf, value)
		default:
			others = true
		}
	}
	p.nsHigh = max(p.nsHigh, len(p.ns))
	return others, nil
}

// pushNS pushes a namespace declaration: field by field where there is
// room, not by copying a whole nsBind into the pooled array.
func (p *parser) pushNS(prefix, uri []byte) {
	id := classifyNS(uri)
	if n := len(p.ns); n < cap(p.ns) {
		p.ns = p.ns[:n+1]
		b := &p.ns[n]
		b.prefix, b.uri, b.id = prefix, uri, id
		return
	}
	p.ns = append(p.ns, nsBind{prefix: prefix, uri: uri, id: id})
}

// resolveAttrs checks the references in the current start tag's attribute
// values and appends its attributes, namespace declarations left out, to
// ra with their namespaces resolved; two attributes may not share an
// expanded name.
func (p *parser) resolveAttrs(ra []resolvedAttr) ([]resolvedAttr, error) {
	b := p.lex.b
	for i := range p.lex.attrs {
		if a := &p.lex.attrs[i]; a.escape {
			var ok bool
			if p.scratch, ok = appendDecoded(p.scratch[:0], b[a.v0:a.v1], true); !ok {
				return nil, &Error{Code: InvalidSecurity, Reason: "undefined entity reference in an attribute value"}
			}
		}
	}
	for i := range p.lex.attrs {
		a := &p.lex.attrs[i]
		name := b[a.n0:a.n1]
		if bytes.Equal(name, bXMLNS) || bytes.HasPrefix(name, []byte("xmlns:")) {
			continue
		}
		ap, al := splitAt(name, a.colon)
		var as []byte
		aid := nsNone
		if len(ap) > 0 {
			var ok bool
			if as, aid, ok = p.lookupNS(ap); !ok {
				return nil, errorf(InvalidSecurity, "undeclared namespace prefix %q", ap)
			}
		}
		for _, o := range ra {
			if bytes.Equal(o.local, al) && bytes.Equal(o.space, as) {
				return nil, &Error{Code: InvalidSecurity, Reason: "two attributes with the same expanded name"}
			}
		}
		ra = append(ra, resolvedAttr{space: as, sid: aid, local: al, value: b[a.v0:a.v1], escape: a.escape})
	}
	return ra, nil
}

// startRoot takes the root element, which must be a SOAP 1.1 or 1.2 Envelope.
func (p *parser) startRoot(t *token, n *elemName) (uint8, error) {
	if len(p.stack) > 0 {
		return 0, &Error{Code: InvalidSecurity, Reason: "internal parser state"}
	}
	if !bytes.Equal(n.local, []byte("Envelope")) {
		return 0, errorf(InvalidSecurity, "the root element is %q, not a SOAP Envelope", n.local)
	}
	switch n.sid {
	case nsSOAP11:
		p.env.Version = SOAP11
	case nsSOAP12:
		p.env.Version = SOAP12
	default:
		return 0, errorf(InvalidSecurity, "unknown SOAP envelope namespace %q", n.space)
	}
	p.env.envName = t.name(p.lex.b)
	return inEnvelope, nil
}

// startEnvelopeChild takes a child of the Envelope: the Header, or the Body,
// where parsing stops (done).
func (p *parser) startEnvelopeChild(t *token, n *elemName, ra []resolvedAttr, mark int) (st uint8, done bool, err error) {
	if n.sid != p.envID() {
		return 0, false, errorf(InvalidSecurity, "unexpected element {%s}%s in the Envelope", n.space, n.local)
	}
	switch {
	case bytes.Equal(n.local, []byte("Header")) && !p.env.HasHeader:
		p.env.HasHeader = true
		return inHeader, false, nil
	case bytes.Equal(n.local, []byte("Body")):
		p.env.BodyStart = t.start
		p.env.bodyScope = p.bodyScope(mark)
		for _, a := range ra {
			if isIDAttr(a) {
				v, err := attrString(a)
				if err != nil {
					return 0, false, err
				}
				p.env.BodyID = v
			}
		}
		return 0, true, nil
	}
	return 0, false, errorf(InvalidSecurity, "unexpected element %s in the Envelope before the Body", n.local)
}

// bodyScope returns the namespace bindings in scope at the Body start tag,
// the first mark of p.ns (the Envelope's). They are the first mark of the
// Security's scope, which are copies of the same bindings: shared, when
// there is a Security. Else a copy (p.ns is the pooled scratch's).
func (p *parser) bodyScope(mark int) []nsBind {
	if s := p.env.Security; s != nil && len(s.scope) >= mark {
		return s.scope[:mark:mark]
	}
	return slices.Clip(append(p.arena.scope[:0], p.ns[:mark]...))
}

func (p *parser) resetText() {
	p.text = p.text[:0]
	// Most elements have no text: skip the pointer write (a write
	// barrier while the GC marks) when there is nothing to drop.
	if p.textRef != nil {
		p.textRef = nil
	}
	p.textMany = false
}

func isIDAttr(a resolvedAttr) bool {
	if !bytes.Equal(a.local, []byte("Id")) && !bytes.Equal(a.local, []byte("id")) {
		return false
	}
	return a.sid == nsWSU || a.sid == nsNone && bytes.Equal(a.local, []byte("Id")) || a.sid == nsXML
}

func attrString(a resolvedAttr) (string, error) {
	if !a.escape {
		return internString(a.value), nil
	}
	d, ok := appendDecoded(nil, a.value, true)
	if !ok {
		return "", &Error{Code: InvalidSecurity, Reason: "undefined entity in an attribute value"}
	}
	return string(d), nil
}

// internString returns well-known URIs without allocating.
func internString(b []byte) string {
	switch string(b) {
	case PasswordText:
		return PasswordText
	case PasswordDigest:
		return PasswordDigest
	case Base64Binary:
		return Base64Binary
	case NSWSSE:
		return NSWSSE
	case NSWSSE11:
		return NSWSSE11
	case NSWSU:
		return NSWSU
	case NSDSig:
		return NSDSig
	case NSWSSE0207:
		return NSWSSE0207
	case NSWSSE0212:
		return NSWSSE0212
	}
	return string(b)
}

func internLocal(b []byte) string {
	switch string(b) {
	case "UsernameToken":
		return "UsernameToken"
	case "BinarySecurityToken":
		return "BinarySecurityToken"
	case "Timestamp":
		return "Timestamp"
	case "Signature":
		return "Signature"
	case "SecurityTokenReference":
		return "SecurityTokenReference"
	}
	return string(b)
}

func (p *parser) securityStart(t *token, ra []resolvedAttr, space []byte) (uint8, error) {
	envID := p.envID()
	var actor string
	mu := false
	for _, a := range ra {
		if a.sid != envID {
			continue
		}
		v, err := attrString(a)
		if err != nil {
			return 0, err
		}
		switch {
		case p.env.Version == SOAP11 && bytes.Equal(a.local, []byte("actor")),
			p.env.Version == SOAP12 && bytes.Equal(a.local, []byte("role")):
			actor = v
		case bytes.Equal(a.local, []byte("mustUnderstand")):
			switch {
			case v == "1" || p.env.Version == SOAP12 && v == "true":
				mu = true
			case v == "0" || p.env.Version == SOAP12 && v == "false":
			default:
				return 0, errorf(InvalidSecurity, "mustUnderstand=%q is not a valid SOAP %s value", v, p.env.Version)
			}
		}
	}
	if !p.forUs(actor) {
		p.env.OtherSecurityHeaders++
		return inOtherHeaderBlock, nil
	}
	if p.env.Security != nil {
		return 0, &Error{Code: InvalidSecurity, Reason: "more than one Security header addressed to this service"}
	}
	// a.sec is still zero (one Security per envelope): set its fields one
	// by one rather than copy a whole Security into the heap arena.
	a := p.arena
	a.sec.Start, a.sec.Actor, a.sec.MustUnderstand, a.sec.Space = t.start, actor, mu, internString(space)
	a.sec.UsernameTokens, a.sec.Elements = a.ut[:0], a.el[:0]
	p.sec = &a.sec
	p.sec.scope = append(a.scope[:0], p.ns...)
	p.env.Security = p.sec
	return inSecurity, nil
}

func (p *parser) envID() nsID {
	if p.env.Version == SOAP12 {
		return nsSOAP12
	}
	return nsSOAP11
}

func (p *parser) forUs(actor string) bool {
	switch actor {
	case "", ActorNext11, RoleNext12, RoleUltimateRecv12:
		return actor != RoleNext12 || p.env.Version == SOAP12
	}
	return p.opts.Actor != "" && actor == p.opts.Actor
}

func (p *parser) securityChild(t *token, space []byte, sid nsID, local []byte, ra []resolvedAttr) (uint8, error) {
	el := Element{Space: internString(space), Local: internLocal(local), Start: t.start}
	for _, a := range ra {
		if isIDAttr(a) {
			v, err := attrString(a)
			if err != nil {
				return 0, err
			}
			el.ID = v
		}
	}
	p.appendElement(&el)
	p.curChild = len(p.sec.Elements) - 1
	switch {
	case p.sec.Space != NSWSSE:
		// A pre-OASIS header: its own BinarySecurityTokens only.
		if sid == nsWSSELegacy && string(space) == p.sec.Space && bytes.Equal(local, []byte("BinarySecurityToken")) {
			return p.startBST(t.start, el.ID, ra, &p.sec.LegacyBinaryTokens)
		}
		return inSecurityChild, nil
	case sid == nsWSSE && bytes.Equal(local, []byte("UsernameToken")):
		if uts := p.sec.UsernameTokens; len(uts) < cap(uts) {
			// The arena's zero token: no copy of a whole token into the heap.
			p.sec.UsernameTokens = uts[:len(uts)+1]
		} else {
			p.sec.UsernameTokens = append(uts, UsernameToken{})
		}
		p.ut = &p.sec.UsernameTokens[len(p.sec.UsernameTokens)-1]
		p.ut.ID, p.ut.Start = el.ID, t.start
		return inUT, nil
	case sid == nsWSSE && bytes.Equal(local, []byte("BinarySecurityToken")):
		return p.startBST(t.start, el.ID, ra, &p.sec.BinaryTokens)
	case sid == nsWSU && bytes.Equal(local, []byte("Timestamp")):
		if p.sec.Timestamp != nil {
			return 0, &Error{Code: InvalidSecurity, Reason: "more than one Timestamp in the Security header"}
		}
		p.ts = &Timestamp{ID: el.ID, Start: t.start}
		p.sec.Timestamp = p.ts
		return inTS, nil
	}
	return inSecurityChild, nil
}

// appendElement appends el to the Security's Elements; into the arena's
// zeroed room by field, when there is room, rather than by copying a whole
// Element into the heap.
func (p *parser) appendElement(el *Element) {
	els := p.sec.Elements
	if len(els) == cap(els) {
		p.sec.Elements = append(els, *el)
		return
	}
	els = els[:len(els)+1]
	e := &els[len(els)-1]
	e.Space, e.Local, e.ID, e.Start = el.Space, el.Local, el.ID, el.Start
	p.sec.Elements = els
}

// startBST opens a BinarySecurityToken, appended to list.
func (p *parser) startBST(start int, id string, ra []resolvedAttr, list *[]BinarySecurityToken) (uint8, error) {
	bst := BinarySecurityToken{ID: id, Start: start}
	for _, a := range ra {
		if a.sid != nsNone {
			continue
		}
		v, err := attrString(a)
		if err != nil {
			return 0, err
		}
		switch string(a.local) {
		case "ValueType":
			bst.ValueType, bst.ValueTypeSpace = v, p.qnameSpace(v)
		case "EncodingType":
			bst.EncodingType, bst.EncodingTypeSpace = v, p.qnameSpace(v)
		}
	}
	*list = append(*list, bst)
	p.bst = &(*list)[len(*list)-1]
	return inBST, nil
}

// qnameSpace returns the namespace of the prefix of an attribute value
// that is a QName (prefix:local, no '/') with a prefix declared in scope,
// else "". A URI value ("http://...") has a '/' and is not resolved.
func (p *parser) qnameSpace(v string) string {
	i := strings.IndexByte(v, ':')
	if i <= 0 || i == len(v)-1 || strings.ContainsAny(v, "/#") {
		return ""
	}
	uri, _, ok := p.lookupNS([]byte(v[:i]))
	if !ok {
		return ""
	}
	return internString(uri)
}

func (p *parser) utChild(sid nsID, local []byte, ra []resolvedAttr) (uint8, error) {
	if p.utField != nil || p.ut == nil {
		return 0, &Error{Code: InvalidSecurityToken, Reason: "unexpected element in UsernameToken"}
	}
	ut := p.ut
	dup := func(name string) (uint8, error) {
		return 0, errorf(InvalidSecurityToken, "UsernameToken has more than one %s", name)
	}
	switch {
	case sid == nsWSSE && bytes.Equal(local, []byte("Username")):
		if p.haveUser {
			return dup("Username")
		}
		p.haveUser = true
		p.utField = &ut.Username
	case sid == nsWSSE && bytes.Equal(local, []byte("Password")):
		if ut.HasPassword {
			return dup("Password")
		}
		ut.HasPassword = true
		for _, a := range ra {
			if a.sid == nsNone && bytes.Equal(a.local, []byte("Type")) {
				v, err := attrString(a)
				if err != nil {
					return 0, err
				}
				ut.PasswordType = v
			}
		}
		p.utField = &ut.Password
	case sid == nsWSSE && bytes.Equal(local, []byte("Nonce")):
		if ut.HasNonce {
			return dup("Nonce")
		}
		ut.HasNonce = true
		for _, a := range ra {
			if a.sid == nsNone && bytes.Equal(a.local, []byte("EncodingType")) {
				v, err := attrString(a)
				if err != nil {
					return 0, err
				}
				ut.NonceEncType = v
			}
		}
		p.utField = &ut.Nonce
	case sid == nsWSU && bytes.Equal(local, []byte("Created")):
		if ut.HasCreated {
			return dup("Created")
		}
		ut.HasCreated = true
		p.utField = &ut.Created
	case sid == nsWSSE11 && bytes.Equal(local, []byte("Salt")):
		if ut.HasSalt {
			return dup("Salt")
		}
		ut.HasSalt = true
		p.utField = &ut.Salt
	case sid == nsWSSE11 && bytes.Equal(local, []byte("Iteration")):
		if ut.HasIteration {
			return dup("Iteration")
		}
		ut.HasIteration = true
		p.utField = &ut.Iteration
	default:
		return inOtherHeaderBlock, nil // extension elements are allowed and ignored
	}
	return inUTChild, nil
}

func (p *parser) tsChild(sid nsID, local []byte) error {
	if sid != nsWSU {
		return nil // extension elements are ignored
	}
	switch {
	case bytes.Equal(local, []byte("Created")):
		if p.ts.Created != "" {
			return &Error{Code: InvalidSecurity, Reason: "Timestamp has more than one Created"}
		}
		p.tsField = &p.ts.Created
	case bytes.Equal(local, []byte("Expires")):
		if p.ts.Expires != "" {
			return &Error{Code: InvalidSecurity, Reason: "Timestamp has more than one Expires"}
		}
		p.tsField = &p.ts.Expires
	}
	return nil
}

func (p *parser) onText(t *token) error {
	n := len(p.state)
	if n == 0 {
		if t.kind == tokText && isAllSpace(t.data(p.lex.b)) {
			return nil
		}
		return &Error{Code: InvalidSecurity, Reason: "text outside the root element"}
	}
	switch p.state[n-1] {
	case inUTChild, inTSChild, inBST:
	default:
		// Text between structural elements is not used, but its
		// references must still be well-formed.
		if t.kind == tokText && t.escape {
			var ok bool
			if p.scratch, ok = appendDecoded(p.scratch[:0], t.data(p.lex.b), false); !ok {
				return &Error{Code: InvalidSecurity, Reason: "undefined entity reference in text"}
			}
		}
		return nil
	}
	data := t.data(p.lex.b)
	if t.kind == tokText && t.escape {
		if p.textRef != nil {
			p.text = append(p.text, p.textRef...)
			p.textRef = nil
		}
		var ok bool
		p.text, ok = appendDecoded(p.text, data, false)
		if !ok {
			return &Error{Code: InvalidSecurity, Reason: "undefined entity reference in text"}
		}
		p.textMany = true
		return nil
	}
	switch {
	case !p.textMany && p.textRef == nil:
		p.textRef = data
	default:
		if p.textRef != nil {
			p.text = append(p.text, p.textRef...)
			p.textRef = nil
		}
		p.text = append(p.text, data...)
		p.textMany = true
	}
	return nil
}

func (p *parser) collected() string {
	if p.textMany {
		return string(p.text)
	}
	return string(p.textRef)
}

func isAllSpace(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

func (p *parser) onEnd(t *token) error {
	p.lastContentEnd = t.start
	n := len(p.stack)
	if n == 0 {
		return &Error{Code: InvalidSecurity, Reason: "end tag without a start tag"}
	}
	if q, name := p.lex.b[p.stack[n-1].q0:p.stack[n-1].q1], t.name(p.lex.b); !bytes.Equal(q, name) {
		return errorf(InvalidSecurity, "end tag %q does not match start tag %q", name, q)
	}
	return p.closeElement(t.end)
}

func (p *parser) closeElement(end int) error {
	n := len(p.stack)
	st := p.state[n-1]
	p.ns = p.ns[:p.stack[n-1].nsMark]
	p.stack = p.stack[:n-1]
	p.state = p.state[:n-1]
	switch st {
	case inHeader:
		p.env.HeaderEnd = end
	case inSecurity:
		p.sec.End = end
		p.sec = nil
	case inUT:
		all := string(p.utText)
		for _, sp := range p.spans[:p.nSpans] {
			*sp.dst = all[sp.a:sp.b]
		}
		p.utHigh = max(p.utHigh, len(p.utText))
		p.utText, p.nSpans, p.haveUser = p.utText[:0], 0, false
		p.ut.End = end
		p.sec.Elements[p.curChild].End = end
		p.ut = nil
	case inUTChild:
		if p.utField == &p.ut.Password {
			p.ut.PasswordValueEnd = p.lastContentEnd
		}
		if p.utField != nil {
			// The token's texts go into one buffer that becomes one
			// string when the token ends (one allocation, not six).
			v := p.textRef
			if p.textMany {
				v = p.text
			}
			if p.utField == &p.ut.Username && len(v) == 0 {
				return &Error{Code: InvalidSecurityToken, Reason: "UsernameToken has an empty Username"}
			}
			if p.nSpans < len(p.spans) {
				p.spans[p.nSpans] = utSpan{dst: p.utField, a: len(p.utText), b: len(p.utText) + len(v)}
				p.nSpans++
				p.utText = append(p.utText, v...)
			} else {
				*p.utField = string(v)
			}
		}
		p.utField = nil
	case inBST:
		p.bst.Value = p.collected()
		p.bst.End = end
		p.sec.Elements[p.curChild].End = end
		p.bst = nil
	case inTS:
		p.ts.End = end
		p.sec.Elements[p.curChild].End = end
		p.ts = nil
	case inTSChild:
		if p.tsField != nil {
			*p.tsField = p.collected()
			if *p.tsField == "" {
				return &Error{Code: InvalidSecurity, Reason: "empty Created or Expires in the Timestamp"}
			}
		}
		p.tsField = nil
	case inSecurityChild:
		if len(p.state) > 0 && p.state[len(p.state)-1] == inSecurity {
			p.sec.Elements[p.curChild].End = end
		}
	}
	p.resetText()
	return nil
}

// ParseTime parses an xsd:dateTime as WS-Security uses it, exactly in the
// form YYYY-MM-DDThh:mm:ss(.s+)?(Z|(+|-)hh:mm): four-digit year 0001-9999,
// two-digit fields, hh 00-23 or 24:00:00 (the end of the day, that is 00:00:00
// of the next), seconds 00-59 (no leap second), a fraction of any length after
// a '.' (digits beyond nanoseconds are dropped), and an offset of at most
// ±14:00. A time without a zone is refused: xsd:dateTime allows it, but its
// instant is unknown (Java's XMLGregorianCalendar leaves the zone undefined
// and WSS4J 1.6 then reads it in the JVM's zone), and WS-Security requires UTC.
// A ',' separator, one-digit fields and offsets such as +23:59, which Go's
// RFC 3339 parser or WSS4J 1.6 let through, are refused. The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	if t, ok := parseDateTime(s); ok {
		return t, nil
	}
	return time.Time{}, errorf(InvalidSecurity, "malformed xsd:dateTime %q", s)
}

// digits2 reads the two ASCII digits at s[i:i+2]; ok is false if either is not one.
func digits2(s string, i int) (int, bool) {
	a, b := s[i]-'0', s[i+1]-'0'
	if a > 9 || b > 9 {
		return 0, false
	}
	return int(a)*10 + int(b), true
}

func parseDateTime(s string) (time.Time, bool) {
	// YYYY-MM-DDThh:mm:ss is 19 bytes; a zone makes at least 20.
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	y1, ok1 := digits2(s, 0)
	y2, ok2 := digits2(s, 2)
	mo, ok3 := digits2(s, 5)
	d, ok4 := digits2(s, 8)
	h, ok5 := digits2(s, 11)
	mi, ok6 := digits2(s, 14)
	sec, ok7 := digits2(s, 17)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return time.Time{}, false
	}
	y := y1*100 + y2
	i, ns := 19, 0
	if s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i]-'0' <= 9 {
			if i-start < 9 {
				ns = ns*10 + int(s[i]-'0')
			}
			i++
		}
		if i == start {
			return time.Time{}, false
		}
		for n := i - start; n < 9; n++ {
			ns *= 10
		}
	}
	if y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || mi > 59 || sec > 59 ||
		h > 24 || h == 24 && (mi != 0 || sec != 0 || ns != 0) {
		return time.Time{}, false
	}
	off := 0
	switch {
	case i == len(s)-1 && s[i] == 'Z':
	case i == len(s)-6 && (s[i] == '+' || s[i] == '-') && s[i+3] == ':':
		oh, okh := digits2(s, i+1)
		om, okm := digits2(s, i+4)
		if !okh || !okm || om > 59 || oh > 14 || oh == 14 && om != 0 {
			return time.Time{}, false
		}
		off = oh*3600 + om*60
		if s[i] == '-' {
			off = -off
		}
	default:
		return time.Time{}, false
	}
	// time.Date carries hour 24 over into the next day.
	return time.Date(y, time.Month(mo), d, h, mi, sec-off, ns, time.UTC), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// checkXMLDecl accepts the XML declaration of an XML 1.0 document in UTF-8:
// version="1.0", an optional encoding that is UTF-8 (the only one read
// here), an optional standalone.
func checkXMLDecl(d []byte) *Error {
	if commonXMLDecl(d) {
		return nil
	}
	return readXMLDecl(d)
}

// readXMLDecl is checkXMLDecl for any declaration.
func readXMLDecl(d []byte) *Error {
	bad := func(why string) *Error {
		return errorf(InvalidSecurity, "unsupported XML declaration: %s", why)
	}
	l := lexer{b: d}
	seen := 0
	for {
		l.skipSpace()
		if l.pos >= len(d) {
			break
		}
		n, err := l.name()
		if err != nil {
			return bad("malformed")
		}
		l.skipSpace()
		if l.pos >= len(d) || d[l.pos] != '=' {
			return bad("malformed")
		}
		l.pos++
		l.skipSpace()
		if l.pos >= len(d) || d[l.pos] != '"' && d[l.pos] != '\'' {
			return bad("malformed")
		}
		q := d[l.pos]
		end := bytes.IndexByte(d[l.pos+1:], q)
		if end < 0 {
			return bad("malformed")
		}
		v := string(d[l.pos+1 : l.pos+1+end])
		l.pos += end + 2
		switch string(n) {
		case "version":
			if seen != 0 || v != "1.0" {
				return bad("version must come first and be 1.0")
			}
			seen = 1
		case "encoding":
			if seen != 1 || !strings.EqualFold(v, "utf-8") {
				return bad("only UTF-8 is accepted")
			}
			seen = 2
		case "standalone":
			if seen == 0 || seen == 3 || v != "yes" && v != "no" {
				return bad("malformed standalone")
			}
			seen = 3
		default:
			return bad("unknown pseudo-attribute")
		}
	}
	if seen == 0 {
		return bad("no version")
	}
	return nil
}

// commonXMLDecl reports whether d is one of the declarations clients
// usually send, which checkXMLDecl accepts: version 1.0 and optionally an
// encoding of UTF-8, each preceded by one space, quoted alike, nothing
// else. Anything else goes through checkXMLDecl's general reading.
func commonXMLDecl(d []byte) bool {
	const version, encoding = " version=", " encoding="
	if len(d) < len(version)+5 || string(d[:len(version)]) != version {
		return false
	}
	q := d[len(version)]
	if q != '"' && q != '\'' || string(d[len(version)+1:len(version)+4]) != "1.0" || d[len(version)+4] != q {
		return false
	}
	rest := d[len(version)+5:]
	if len(rest) == 0 {
		return true
	}
	return len(rest) == len(encoding)+7 && string(rest[:len(encoding)]) == encoding &&
		rest[len(encoding)] == q && rest[len(rest)-1] == q &&
		bytes.EqualFold(rest[len(encoding)+1:len(rest)-1], []byte("utf-8"))
}
