package dsig

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"sync"

	"github.com/authsvc/authsvc/wsse"
)

// Limits bound the DOM of one envelope. The zero value of a field means its
// default.
type Limits struct {
	// MaxBytes bounds the whole envelope (default 4 MiB).
	MaxBytes int
	// MaxElements bounds the elements of the whole envelope (default
	// 100,000, or as many per byte of a MaxBytes above 4 MiB: 200,000 for
	// 8 MiB, so that a larger limit admits messages of the same shape).
	MaxElements int
	// MaxDepth bounds element nesting (default 128).
	MaxDepth int
	// MaxReferences bounds the References of one SignedInfo (default 16).
	MaxReferences int
	// MaxAttributes bounds the attributes of one element, namespace
	// declarations included (default 64).
	MaxAttributes int
	// MaxNamespaces bounds the namespace declarations in scope at any
	// element, those of its ancestors included, redeclarations counted
	// (default 64). Exclusive C14N copies the namespace context at every
	// element of the canonicalized subtree, so without this bound its cost
	// grows as elements times declarations: a 90 KB Body declaring 4,000
	// prefixes over 4,000 empty elements took seconds of CPU.
	MaxNamespaces int
}

// DefaultLimits are used where a field of Limits is zero.
var DefaultLimits = Limits{MaxBytes: 4 << 20, MaxElements: 100_000, MaxDepth: 128, MaxReferences: 16,
	MaxAttributes: 64, MaxNamespaces: 64}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
		if l.MaxBytes > DefaultLimits.MaxBytes {
			l.MaxElements = int(int64(DefaultLimits.MaxElements) * int64(l.MaxBytes) / int64(DefaultLimits.MaxBytes))
		}
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxReferences <= 0 {
		l.MaxReferences = DefaultLimits.MaxReferences
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = DefaultLimits.MaxAttributes
	}
	if l.MaxNamespaces <= 0 {
		l.MaxNamespaces = DefaultLimits.MaxNamespaces
	}
	return l
}

// node is an element or a text node of a Document. The nodes of a
// document live in one slice and refer to each other by index, -1 for
// none, so that building the DOM allocates per document rather than per
// element. Names, and values and text that need no decoding, are
// substrings of the envelope.
//
// Nodes and attributes hold no pointers (their strings are str offsets),
// so that the garbage collector neither scans them nor takes write
// barriers as they are appended.
type node struct {
	parent, first, next int32 // parent, first child, next sibling
	attr0, nattr        int32 // an element's attributes: Document.attrs[attr0:attr0+nattr]
	start, end          int32 // an element's offsets: its start tag's '<', past its end tag
	prefix, local       str
	space               str  // an element's namespace URI
	id                  str  // an element's wsu:Id, Id or xml:id
	data                str  // a text node's text, decoded
	text                bool // a text node, whose text is data
}

// str is a string of a Document without a pointer: raw[off:off+n] of the
// envelope, or, when off is negative, of the decoded text (Document.dec)
// from -off-1.
type str struct{ off, n int32 }

// s returns r as a string: a substring of the envelope's or of the
// decoded text's, never a copy.
func (d *Document) s(r str) string {
	if r.off >= 0 {
		return d.rawStr[r.off : r.off+r.n]
	}
	o := -r.off - 1
	return d.dec.String()[o : o+r.n]
}

// xmlNS and xmlnsNS are the xml and xmlns prefixes' namespace URIs, the
// start of Document.dec.
var (
	xmlNS   = str{-1, int32(len(wsse.NSXML))}
	xmlnsNS = str{int32(-1 - len(wsse.NSXML)), int32(len(wsse.NSXMLNS))}
)

// dattr is an attribute of an element as written, namespace declarations
// included: xmlns:p is prefix "xmlns" and local "p", xmlns is prefix ""
// and local "xmlns" (as etree keeps them).
type dattr struct {
	prefix, local, value str
	space                str // the namespace URI of a qualified attribute that is no declaration
	decl                 bool
}

// Document is the DOM of a whole envelope, tied to what wsse.Parse found in
// it: the Body and Security elements here are the ones at the offsets the
// streaming parser reported, so the two never disagree about which element
// is which.
type Document struct {
	env *wsse.Envelope
	lim Limits
	// rawStr is the envelope as one string, dec the decoded text and
	// values that differ from what the envelope says: a node's str is in
	// one or the other.
	rawStr string
	dec    strings.Builder
	nodes  []node
	attrs  []dattr
	root   int32
	// shallow holds the elements at depth 3 or less, the only ones looked
	// up by offset (see at).
	shallow []int32
	ids     map[string]int32
	// dups holds every element of an Id that appears more than once
	// (ids then holds the first): see idTarget and tokenTarget.
	dups     map[string][]int32
	body     int32
	security int32
	// macOnly stops Verify once the MAC has matched (the header pass).
	macOnly bool
	// wsRefs lets white space character references in attribute values
	// through (see decodeAttrs): only the tests of the canonicalizer set it,
	// to hold it to goxmldsig on such values too.
	wsRefs bool
	// c14nBuf is canonicalize's output buffer, and w its writer, reused.
	c14nBuf []byte
	// bufs is where nodes, attrs and c14nBuf came from (see release).
	bufs *domBuffers
	w    c14nWriter
}

var errTooDeep = errors.New("nested too deep")

// domBuffers are the slices of a Document that Verify hands on from one
// Document to the next: they hold no pointers, and nothing a Document
// returns refers to them. Without them each verification of a large Body
// allocated its nodes anew, and the garbage collector, running the more
// often, made every pointer write of the builder pay for a write barrier.
type domBuffers struct {
	nodes []node
	attrs []dattr
	c14n  []byte
}

var domPool = sync.Pool{New: func() any { return new(domBuffers) }}

// maxPooledNodes bounds the nodes of the buffers kept for reuse (about
// 9 MB, a Body of some 2 MiB).
const maxPooledNodes = 1 << 17

// release hands d's buffers on to the next Document; d must not be used
// afterwards.
func (d *Document) release() {
	b := d.bufs
	if b == nil {
		return
	}
	d.bufs = nil
	if cap(d.nodes) > maxPooledNodes {
		return
	}
	b.nodes, b.attrs, b.c14n = d.nodes[:0], d.attrs[:0], d.c14nBuf[:0]
	d.nodes, d.attrs, d.c14nBuf = nil, nil, nil
	domPool.Put(b)
}

// NewDocument builds the DOM of env.Raw. It accepts no DTD, no entity other
// than XML's five, no processing instruction but the XML declaration, and no
// element after the Body. An Id (wsu:Id, Id, xml:id) may appear more than
// once in the document, but a ds:Reference never resolves such an Id, and a
// KeyInfo token reference resolves it only to its one occurrence that is a
// direct child of our Security header (Apache CXF's cancel carries a copy of
// the SecurityContextToken, Id and all, in the Body's CancelTarget).
func NewDocument(env *wsse.Envelope, lim *Limits) (*Document, error) {
	if env == nil || env.Security == nil {
		return nil, errorf(wsse.InvalidSecurity, nil, "no Security header to verify a signature in")
	}
	l := DefaultLimits
	if lim != nil {
		l = lim.withDefaults()
	}
	d := &Document{env: env, lim: l}
	bodyAt, err := d.build(env.Raw, env.Version.Namespace(), env.BodyStart)
	if err != nil {
		return nil, err
	}
	if err := d.matchParser(bodyAt); err != nil {
		return nil, err
	}
	return d, nil
}

type scopeBind struct{ prefix, uri string }

// builder is the DOM builder's state between tokens: the open elements
// with their names, last children and namespace marks, the declarations
// in scope, and what has been seen so far.
type builder struct {
	d         *Document
	raw       []byte
	open      []int32 // the open elements
	last      []int32 // the last child of each, -1 for none
	names     []str   // the qualified name of each
	marks     []int
	scope     []str // the prefixes declared, in scope
	scopeRef  []str // the URIs of scope
	elems     int
	ended     bool   // the root element has ended
	envNS     string // the SOAP envelope namespace of the parsed envelope
	bodyStart int    // where the parser found the Body, -1 for none
	bodyAt    int    // offset of the Body start tag, -1 before it

	text []byte
	vals []str // the decoded attribute values of the tag being read

	// The expanded names of the attributes of the tag being read (seen).
	expanded []expandedRef
	seenSet  map[expandedName]struct{}

	// The usual envelope's stacks fit here: the builder is allocated once
	// with them, instead of each stack growing from nil.
	openBuf  [builderDepth]int32
	lastBuf  [builderDepth]int32
	nameBuf  [builderDepth]str
	markBuf  [builderDepth]int
	scopeBuf [builderScope]str
	srefBuf  [builderScope]str
	valBuf   [8]str
}

// The depth and the namespace declarations in scope of the usual SOAP
// envelope (WSS4J's, zeep's, CXF's): the builder's stacks start with
// room for these.
const (
	builderDepth = 16
	builderScope = 16
)

// build reads raw with wsse's strict tokenizer, the one wsse.Parse reads
// the header with, into the DOM. envNS and bodyStart are the SOAP
// namespace and the offset of the Body the parser found (-1: none, for
// tests); it returns the offset of the Body it found, -1 for none.
func (d *Document) build(raw []byte, envNS string, bodyStart int) (int, error) {
	if len(raw) > d.lim.MaxBytes || len(raw) > math.MaxInt32/2 { // strs are int32 offsets
		return -1, errorf(wsse.InvalidSecurity, nil, "envelope of %d bytes is larger than %d", len(raw), d.lim.MaxBytes)
	}
	base := 0
	if bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) {
		base = 3
	}
	tz, err := wsse.NewXMLTokenizer(raw, base, d.lim.MaxAttributes)
	if err != nil {
		return -1, errorf(wsse.InvalidSecurity, err, "envelope is not well-formed XML")
	}
	// Every element and every text node but the last follows a '<':
	// room for them all, so that the slice is not copied as it grows.
	d.bufs = domPool.Get().(*domBuffers)
	if need := min(2*bytes.Count(raw, []byte("<"))+1, 2*d.lim.MaxElements+1); cap(d.bufs.nodes) < need {
		d.bufs.nodes = make([]node, 0, need)
	}
	d.nodes, d.attrs, d.c14nBuf = d.bufs.nodes[:0], d.bufs.attrs[:0], d.bufs.c14n[:0]
	d.ids = make(map[string]int32, 8)
	d.root, d.body, d.security = -1, -1, -1
	d.rawStr = string(raw)
	d.dec.WriteString(wsse.NSXML) // xmlNS
	d.dec.WriteString(wsse.NSXMLNS)
	b := &builder{d: d, raw: raw, envNS: envNS, bodyStart: bodyStart, bodyAt: -1}
	b.open, b.last, b.names, b.marks = b.openBuf[:0], b.lastBuf[:0], b.nameBuf[:0], b.markBuf[:0]
	b.scope, b.scopeRef, b.vals = b.scopeBuf[:0], b.srefBuf[:0], b.valBuf[:0]
	var tok wsse.XMLToken
	for first := true; ; first = false {
		if err := tz.Read(&tok); err != nil {
			if rest := raw[tz.Offset():]; bytes.HasPrefix(rest, []byte("<!")) && !bytes.HasPrefix(rest, []byte("<!--")) &&
				!bytes.HasPrefix(rest, []byte("<![CDATA[")) {
				return -1, errorf(wsse.InvalidSecurity, nil, "DTDs and other directives are not accepted")
			}
			if we, ok := err.(*wsse.Error); ok && we.Reason == wsse.ReasonTooManyAttributes {
				return -1, errorf(wsse.InvalidSecurity, nil, "an element has too many attributes, more than %d", d.lim.MaxAttributes)
			}
			return -1, errorf(wsse.InvalidSecurity, err, "envelope is not well-formed XML")
		}
		if tok.Kind == wsse.XMLEOF {
			break
		}
		if err := b.token(&tok, first); err != nil {
			return -1, err
		}
	}
	if !b.ended {
		return -1, errorf(wsse.InvalidSecurity, nil, "envelope ends before the root element does")
	}
	return b.bodyAt, nil
}

// token dispatches one token to the handler of its kind. first says it is
// the document's first token.
func (b *builder) token(tok *wsse.XMLToken, first bool) error {
	switch tok.Kind {
	case wsse.XMLStart:
		return b.start(tok)
	case wsse.XMLEnd:
		_, local := b.qname(tok.Name)
		return b.end(b.d.s(b.sub(tok.Name)), b.d.s(local), tok.End)
	case wsse.XMLText, wsse.XMLCDATA:
		cdata := tok.Kind == wsse.XMLCDATA
		if bytes.IndexByte(tok.Data, '\r') < 0 && (cdata || bytes.IndexByte(tok.Data, '&') < 0) {
			return b.charData(b.sub(tok.Data)) // nothing to decode
		}
		var ok bool
		b.text, ok = wsse.DecodeXMLText(b.text[:0], tok.Data, false, cdata)
		if !ok {
			return errorf(wsse.InvalidSecurity, nil, "envelope is not well-formed XML: unknown entity or bad character reference at byte %d", tok.Start)
		}
		return b.charData(b.decoded(tok.Data, b.text))
	case wsse.XMLComment:
		// Exclusive C14N without comments drops them.
	case wsse.XMLPI:
		if !first || string(tok.Name) != "xml" {
			return errorf(wsse.InvalidSecurity, nil, "processing instruction %q in the envelope", tok.Name)
		}
	}
	return nil
}

// qname splits a qualified name, a part of raw, into prefix and local name.
func (b *builder) qname(n []byte) (prefix, local str) {
	if i := bytes.IndexByte(n, ':'); i >= 0 {
		return b.sub(n[:i]), b.sub(n[i+1:])
	}
	return str{}, b.sub(n)
}

// sub returns s, a part of raw, as a str.
func (b *builder) sub(s []byte) str {
	if len(s) == 0 {
		return str{}
	}
	off := cap(b.raw) - cap(s)
	if off < 0 || off+len(s) > len(b.raw) || &b.raw[off] != &s[0] {
		return b.store(s) // not from raw: never with the tokenizer's tokens
	}
	return str{int32(off), int32(len(s))}
}

// store adds s to the decoded text.
func (b *builder) store(s []byte) str {
	o := b.d.dec.Len()
	b.d.dec.Write(s)
	return str{int32(-o - 1), int32(len(s))}
}

// decoded returns the decoded form of raw, a part of raw: raw itself when
// decoding changed nothing.
func (b *builder) decoded(raw, dec []byte) str {
	if bytes.Equal(raw, dec) {
		return b.sub(raw)
	}
	return b.store(dec)
}

// plainAttr reports whether an attribute value as written is its decoded
// value: no reference, no white space other than spaces to normalize.
func plainAttr(v []byte) bool {
	for _, c := range v {
		if c == '&' || c == '\t' || c == '\n' || c == '\r' {
			return false
		}
	}
	return true
}

// decodeAttrs sets b.vals to the values of a start tag's attributes as
// encoding/xml would report them: references resolved and white space
// normalized. As before, when the builder read with encoding/xml, a value
// holding white space in a tag that has character references is refused
// (the two were indistinguishable then).
func (b *builder) decodeAttrs(tok *wsse.XMLToken) error {
	b.vals = b.vals[:0]
	charRefs := -1
	for _, a := range tok.Attrs {
		if plainAttr(a.Value) {
			b.vals = append(b.vals, b.sub(a.Value))
			continue
		}
		var ok bool
		b.text, ok = wsse.DecodeXMLText(b.text[:0], a.Value, true, false)
		if !ok {
			return errorf(wsse.InvalidSecurity, nil, "envelope is not well-formed XML: unknown entity or bad character reference in attribute %s", a.Name)
		}
		if bytes.ContainsAny(a.Value, "\t\n\r") || bytes.ContainsAny(b.text, "\t\n\r") {
			if charRefs < 0 {
				charRefs = 0
				if bytes.Contains(b.raw[tok.Start:tok.End], []byte("&#")) {
					charRefs = 1
				}
			}
			if charRefs == 1 && !b.d.wsRefs {
				_, local := b.qname(a.Name)
				return errorf(wsse.InvalidSecurity, nil, "attribute %s mixes literal white space and character references", b.d.s(local))
			}
		}
		b.vals = append(b.vals, b.decoded(a.Value, b.text))
	}
	return nil
}

// start opens the element of a start tag: within the limits, its
// namespaces declared and resolved, its attributes and Id recorded,
// attached to its parent.
func (b *builder) start(tok *wsse.XMLToken) error {
	d := b.d
	prefixRef, localRef := b.qname(tok.Name)
	prefix, local := d.s(prefixRef), d.s(localRef)
	if err := b.decodeAttrs(tok); err != nil {
		return err
	}
	if b.ended {
		return errorf(wsse.InvalidSecurity, nil, "content after the root element")
	}
	b.elems++
	if b.elems > d.lim.MaxElements {
		return errorf(wsse.InvalidSecurity, nil, "more than %d elements in the envelope", d.lim.MaxElements)
	}
	if len(b.open) >= d.lim.MaxDepth {
		return errorf(wsse.InvalidSecurity, errTooDeep, "elements nested deeper than %d", d.lim.MaxDepth)
	}
	if len(tok.Attrs) > d.lim.MaxAttributes {
		return errorf(wsse.InvalidSecurity, nil, "element %s has %d attributes, more than %d", local, len(tok.Attrs), d.lim.MaxAttributes)
	}
	mark := len(b.scope)
	if err := b.declare(tok, local); err != nil {
		return err
	}
	space, ok := b.lookupRef(prefix)
	if !ok {
		return errorf(wsse.InvalidSecurity, nil, "undeclared namespace prefix %q", prefix)
	}
	el := int32(len(d.nodes))
	d.nodes = append(d.nodes, node{parent: -1, first: -1, next: -1, attr0: int32(len(d.attrs)),
		start: int32(tok.Start), prefix: prefixRef, local: localRef, space: space})
	n := &d.nodes[el]
	if err := b.attrs(n, tok, local); err != nil {
		return err
	}
	if n.id.n > 0 {
		b.recordID(d.s(n.id), el)
	}
	if err := b.attach(el, local, tok.Start, d.s(space)); err != nil {
		return err
	}
	if len(b.open) <= 3 {
		// Only the Envelope, its children (the Body) and the Header's
		// children (our Security header) and theirs (the Signature) are
		// looked up by offset.
		d.shallow = append(d.shallow, el)
	}
	b.open = append(b.open, el)
	b.last = append(b.last, -1)
	b.names = append(b.names, b.sub(tok.Name))
	b.marks = append(b.marks, mark)
	if tok.SelfClose {
		return b.end(d.s(b.names[len(b.names)-1]), local, tok.End)
	}
	return nil
}

// recordID records that element el has Id id.
func (b *builder) recordID(id string, el int32) {
	d := b.d
	first, dup := d.ids[id]
	if !dup {
		d.ids[id] = el
		return
	}
	if d.dups == nil {
		d.dups = make(map[string][]int32, 1)
	}
	if len(d.dups[id]) == 0 {
		d.dups[id] = append(d.dups[id], first)
	}
	d.dups[id] = append(d.dups[id], el)
}

// lookupRef is lookup in the builder's scope, with the URI as a str.
func (b *builder) lookupRef(prefix string) (str, bool) {
	if prefix == "xml" {
		return xmlNS, true
	}
	for i := len(b.scope) - 1; i >= 0; i-- {
		if b.d.s(b.scope[i]) == prefix {
			return b.scopeRef[i], true
		}
	}
	return str{}, prefix == ""
}

// declare adds the namespace declarations of a start tag to the scope.
func (b *builder) declare(tok *wsse.XMLToken, local string) error {
	for i := range tok.Attrs {
		pRef, lRef := b.qname(tok.Attrs[i].Name)
		p, l := b.d.s(pRef), b.d.s(lRef)
		switch {
		case p == "" && l == "xmlns":
			b.scope = append(b.scope, str{})
			b.scopeRef = append(b.scopeRef, b.vals[i])
		case p == "xmlns":
			v := b.d.s(b.vals[i])
			if v == "" || l == "xmlns" || l == "xml" && v != wsse.NSXML {
				return errorf(wsse.InvalidSecurity, nil, "malformed namespace declaration xmlns:%s", l)
			}
			b.scope = append(b.scope, lRef)
			b.scopeRef = append(b.scopeRef, b.vals[i])
		}
	}
	if len(b.scope) > b.d.lim.MaxNamespaces {
		return errorf(wsse.InvalidSecurity, nil, "%d namespace declarations in scope at element %s, more than %d", len(b.scope), local, b.d.lim.MaxNamespaces)
	}
	return nil
}

// attrs appends the attributes of a start tag to the document's, for the
// element n, refusing two with the same expanded name, and records the
// element's Id in n.
func (b *builder) attrs(n *node, tok *wsse.XMLToken, local string) error {
	d := b.d
	b.expanded = b.expanded[:0]
	for i := range tok.Attrs {
		prefixRef, nameRef := b.qname(tok.Attrs[i].Name)
		prefix, name := d.s(prefixRef), d.s(nameRef)
		value := d.s(b.vals[i])
		var as string
		var asRef str
		isNS := prefix == "xmlns" || prefix == "" && name == "xmlns"
		if isNS {
			as, asRef = wsse.NSXMLNS, xmlnsNS
		} else if prefix != "" {
			var ok bool
			if asRef, ok = b.lookupRef(prefix); !ok {
				return errorf(wsse.InvalidSecurity, nil, "undeclared namespace prefix %q", prefix)
			}
			as = d.s(asRef)
		}
		k := expandedRef{asRef, nameRef}
		if isNS && prefix == "" {
			k.local = str{}
		}
		if b.seen(k) {
			return errorf(wsse.InvalidSecurity, nil, "two attributes with the same expanded name on %s", local)
		}
		if isNS {
			asRef = str{}
		}
		d.attrs = append(d.attrs, dattr{prefix: prefixRef, local: nameRef, value: b.vals[i], space: asRef, decl: isNS})
		n.nattr++
		if !isNS && isIDAttr(as, name) {
			if n.id.n > 0 && d.s(n.id) != value {
				return errorf(wsse.InvalidSecurity, nil, "element %s has two different Ids", local)
			}
			n.id = b.vals[i]
		}
	}
	return nil
}

type expandedName struct{ space, local string }

// expandedRef is an expanded name as strs (no pointers: the builder
// records one per attribute).
type expandedRef struct{ space, local str }

func (b *builder) expand(k expandedRef) expandedName {
	return expandedName{b.d.s(k.space), b.d.s(k.local)}
}

// seen reports whether the start tag being read has an attribute of
// expanded name k already, and records k. A tag has at most
// Limits.MaxAttributes attributes: up to 16 are compared one by one, more
// go through a map, so that a tag of many attributes is not quadratic.
func (b *builder) seen(k expandedRef) bool {
	if len(b.expanded) < 16 {
		d := b.d
		for _, e := range b.expanded {
			if d.s(e.local) == d.s(k.local) && d.s(e.space) == d.s(k.space) {
				return true
			}
		}
		b.expanded = append(b.expanded, k)
		return false
	}
	if len(b.expanded) == 16 {
		clear(b.seenSet)
		if b.seenSet == nil {
			b.seenSet = make(map[expandedName]struct{}, 64)
		}
		for _, e := range b.expanded {
			b.seenSet[b.expand(e)] = struct{}{}
		}
		b.expanded = append(b.expanded, k) // past 16: the map from now on
	}
	if _, dup := b.seenSet[b.expand(k)]; dup {
		return true
	}
	b.seenSet[b.expand(k)] = struct{}{}
	return false
}

// link makes n, a new node, the last child of the open element.
func (b *builder) link(n int32) {
	top := len(b.open) - 1
	parent := b.open[top]
	d := b.d
	d.nodes[n].parent = parent
	if prev := b.last[top]; prev < 0 {
		d.nodes[parent].first = n
	} else {
		d.nodes[prev].next = n
	}
	b.last[top] = n
}

// attach makes el the root or a child of the open element. Nothing may
// follow the Body in the Envelope, and the Body must be where the parser
// found it.
func (b *builder) attach(el int32, local string, off int, space string) error {
	if len(b.open) == 0 {
		b.d.root = el
		return nil
	}
	atRoot := len(b.open) == 1
	if atRoot && b.bodyAt >= 0 {
		return errorf(wsse.InvalidSecurity, nil, "element %s after the SOAP Body", local)
	}
	b.link(el)
	if atRoot && off == b.bodyStart {
		if space != b.envNS || local != "Body" {
			return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Body")
		}
		b.bodyAt = off
	}
	return nil
}

// end closes the open element, which must be the end tag's (of qualified
// name qname) ending at offset off.
func (b *builder) end(qname, local string, off int) error {
	n := len(b.open)
	if n == 0 || b.d.s(b.names[n-1]) != qname {
		return errorf(wsse.InvalidSecurity, nil, "end tag %s does not match its start tag", local)
	}
	b.d.nodes[b.open[n-1]].end = int32(off)
	b.scope, b.scopeRef = b.scope[:b.marks[n-1]], b.scopeRef[:b.marks[n-1]]
	b.open, b.last, b.names, b.marks = b.open[:n-1], b.last[:n-1], b.names[:n-1], b.marks[:n-1]
	if n == 1 {
		b.ended = true
	}
	return nil
}

// charData adds text to the open element; outside the root only white
// space may appear.
func (b *builder) charData(t str) error {
	if len(b.open) == 0 {
		if len(strings.TrimLeft(b.d.s(t), " \t\r\n")) != 0 {
			return errorf(wsse.InvalidSecurity, nil, "text outside the root element")
		}
		return nil
	}
	d := b.d
	n := int32(len(d.nodes))
	d.nodes = append(d.nodes, node{parent: -1, first: -1, next: -1, text: true, data: t})
	b.link(n)
	return nil
}

// at returns the element at depth 3 or less whose start tag is at offset
// off, or -1.
func (d *Document) at(off int) int32 {
	for _, el := range d.shallow {
		if int(d.nodes[el].start) == off {
			return el
		}
	}
	return -1
}

// parent returns el's parent, -1 for none or when el is -1.
func (d *Document) parent(el int32) int32 {
	if el < 0 {
		return -1
	}
	return d.nodes[el].parent
}

// matchParser checks that the DOM's Body and Security header are the ones
// wsse.Parse found, at the same offsets, with the same Ids and children.
func (d *Document) matchParser(bodyAt int) error {
	d.body = d.at(d.env.BodyStart)
	if d.body < 0 || bodyAt < 0 || d.parent(d.body) != d.root {
		return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Body")
	}
	if d.s(d.nodes[d.body].id) != d.env.BodyID {
		return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Body's Id")
	}
	sec := d.env.Security
	d.security = d.at(sec.Start)
	if d.security < 0 || d.parent(d.security) < 0 || d.parent(d.parent(d.security)) != d.root ||
		!d.is(d.security, wsse.NSWSSE, "Security") {
		return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Security header")
	}
	kids := d.childElements(d.security)
	if len(kids) != len(sec.Elements) {
		return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Security header's children")
	}
	for i, k := range kids {
		e := &sec.Elements[i]
		n := &d.nodes[k]
		if int(n.start) != e.Start || d.s(n.space) != e.Space || d.s(n.local) != e.Local || d.s(n.id) != e.ID {
			return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about Security child %d", i)
		}
	}
	return nil
}

func lookup(scope []scopeBind, prefix string) (string, bool) {
	if prefix == "xml" {
		return wsse.NSXML, true
	}
	for i := len(scope) - 1; i >= 0; i-- {
		if scope[i].prefix == prefix {
			return scope[i].uri, true
		}
	}
	return "", prefix == ""
}

// isIDAttr matches the parser's notion of an Id attribute: wsu:Id, an
// unqualified Id, or xml:id.
func isIDAttr(space, local string) bool {
	switch space {
	case wsse.NSWSU:
		return local == "Id" || local == "id"
	case "":
		return local == "Id"
	case wsse.NSXML:
		return local == "id" || local == "Id"
	}
	return false
}

// attrsOf returns el's attributes.
func (d *Document) attrsOf(el int32) []dattr {
	n := &d.nodes[el]
	return d.attrs[n.attr0 : n.attr0+n.nattr]
}

// defaultInScope returns the default namespace declared by el's nearest
// ancestor that declares one, without el's own declaration.
func (d *Document) defaultInScope(el int32) string {
	for p := d.parent(el); p >= 0; p = d.parent(p) {
		for _, a := range d.attrsOf(p) {
			if a.decl && a.prefix.n == 0 {
				return d.s(a.value)
			}
		}
	}
	return ""
}

// is reports whether el is the element {space}local.
func (d *Document) is(el int32, space, local string) bool {
	if el < 0 {
		return false
	}
	n := &d.nodes[el]
	return !n.text && d.s(n.local) == local && d.s(n.space) == space
}

// tag returns el's local name, for messages.
func (d *Document) tag(el int32) string { return d.s(d.nodes[el].local) }

// attr returns the value of an unqualified attribute of el.
func (d *Document) attr(el int32, name string) (string, bool) {
	for _, a := range d.attrsOf(el) {
		if a.prefix.n == 0 && d.s(a.local) == name {
			return d.s(a.value), true
		}
	}
	return "", false
}

// childElements returns el's child elements.
func (d *Document) childElements(el int32) []int32 {
	var kids []int32
	for c := d.nodes[el].first; c >= 0; c = d.nodes[c].next {
		if !d.nodes[c].text {
			kids = append(kids, c)
		}
	}
	return kids
}

// onlyElements returns el's child elements and fails if it has text other
// than white space.
func (d *Document) onlyElements(el int32) ([]int32, error) {
	for c := d.nodes[el].first; c >= 0; c = d.nodes[c].next {
		if n := &d.nodes[c]; n.text && strings.TrimLeft(d.s(n.data), " \t\r\n") != "" {
			return nil, errorf(wsse.InvalidSecurity, nil, "unexpected text in %s", d.tag(el))
		}
	}
	return d.childElements(el), nil
}

// text returns el's text content; it fails if el has child elements.
func (d *Document) text(el int32) (string, error) {
	var b strings.Builder
	for c := d.nodes[el].first; c >= 0; c = d.nodes[c].next {
		n := &d.nodes[c]
		if !n.text {
			return "", errorf(wsse.InvalidSecurity, nil, "unexpected element in %s", d.tag(el))
		}
		b.WriteString(d.s(n.data))
	}
	return b.String(), nil
}
