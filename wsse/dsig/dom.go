package dsig

import (
	"bytes"
	"encoding/xml"
	"errors"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/authsvc/authsvc/wsse"
)

// Limits bound the DOM of one envelope. The zero value of a field means its
// default.
type Limits struct {
	// MaxBytes bounds the whole envelope (default 4 MiB).
	MaxBytes int
	// MaxElements bounds the elements of the whole envelope (default 100,000).
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

// node is what the DOM builder learned of an element that etree does not keep.
type node struct {
	start int    // offset of the start tag's '<' in Envelope.Raw
	space string // namespace URI of the element
	id    string // wsu:Id, Id or xml:id
}

// Document is the DOM of a whole envelope, tied to what wsse.Parse found in
// it: the Body and Security elements here are the ones at the offsets the
// streaming parser reported, so the two never disagree about which element
// is which.
type Document struct {
	env     *wsse.Envelope
	lim     Limits
	root    *etree.Element
	info    map[*etree.Element]*node
	byStart map[int]*etree.Element
	ids     map[string]*etree.Element
	// dups holds every element of an Id that appears more than once
	// (ids then holds the first): see idTarget and tokenTarget.
	dups     map[string][]*etree.Element
	body     *etree.Element
	security *etree.Element
	// macOnly stops Verify once the MAC has matched (the header pass).
	macOnly bool
	// c14nBuf is canonicalize's output buffer, reused.
	c14nBuf []byte
}

var errTooDeep = errors.New("nested too deep")

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
	d := &Document{
		env:     env,
		lim:     l,
		info:    make(map[*etree.Element]*node, 64),
		byStart: make(map[int]*etree.Element, 64),
		ids:     make(map[string]*etree.Element, 8),
	}
	if err := d.build(); err != nil {
		return nil, err
	}
	return d, nil
}

type scopeBind struct{ prefix, uri string }

// builder is the DOM builder's state between tokens: the open elements
// with their names and namespace marks, the declarations in scope, and
// what has been seen so far.
type builder struct {
	d      *Document
	tz     *wsse.XMLTokenizer
	raw    []byte
	doc    *etree.Document
	stack  []*etree.Element
	names  []xml.Name
	marks  []int
	scope  []scopeBind
	elems  int
	ended  bool   // the root element has ended
	envNS  string // the SOAP envelope namespace of the parsed envelope
	bodyAt int    // offset of the Body start tag, -1 before it

	// rawStr is raw as one string: names, and values and text that need
	// no decoding, are its substrings rather than strings of their own.
	rawStr string
	text   []byte
	attrv  []xml.Attr

	// The expanded names of the attributes of the tag being read (seen).
	expanded []expandedName
	seenSet  map[expandedName]struct{}
	nodes    []node // allocated in slabs

	// The usual envelope's stacks fit here: the builder is allocated once
	// with them, instead of each stack growing from nil.
	stackBuf [builderDepth]*etree.Element
	nameBuf  [builderDepth]xml.Name
	markBuf  [builderDepth]int
	scopeBuf [builderScope]scopeBind
	attrBuf  [8]xml.Attr
}

// The depth and the namespace declarations in scope of the usual SOAP
// envelope (WSS4J's, zeep's, CXF's): the builder's stacks start with
// room for these.
const (
	builderDepth = 16
	builderScope = 16
)

// build reads the envelope with wsse's strict tokenizer, the one
// wsse.Parse reads the header with, into the DOM.
func (d *Document) build() error {
	raw := d.env.Raw
	if len(raw) > d.lim.MaxBytes {
		return errorf(wsse.InvalidSecurity, nil, "envelope of %d bytes is larger than %d", len(raw), d.lim.MaxBytes)
	}
	base := 0
	if bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) {
		base = 3
	}
	tz, err := wsse.NewXMLTokenizer(raw, base, d.lim.MaxAttributes)
	if err != nil {
		return errorf(wsse.InvalidSecurity, err, "envelope is not well-formed XML")
	}
	b := &builder{d: d, tz: tz, raw: raw, doc: etree.NewDocument(),
		envNS: d.env.Version.Namespace(), bodyAt: -1, rawStr: string(raw)}
	b.stack, b.names, b.marks, b.scope = b.stackBuf[:0], b.nameBuf[:0], b.markBuf[:0], b.scopeBuf[:0]
	for first := true; ; first = false {
		tok, err := tz.Next()
		if err != nil {
			if rest := raw[tz.Offset():]; bytes.HasPrefix(rest, []byte("<!")) && !bytes.HasPrefix(rest, []byte("<!--")) &&
				!bytes.HasPrefix(rest, []byte("<![CDATA[")) {
				return errorf(wsse.InvalidSecurity, nil, "DTDs and other directives are not accepted")
			}
			if we, ok := err.(*wsse.Error); ok && we.Reason == wsse.ReasonTooManyAttributes {
				return errorf(wsse.InvalidSecurity, nil, "an element has too many attributes, more than %d", d.lim.MaxAttributes)
			}
			return errorf(wsse.InvalidSecurity, err, "envelope is not well-formed XML")
		}
		if tok.Kind == wsse.XMLEOF {
			break
		}
		if err := b.token(&tok, first); err != nil {
			return err
		}
	}
	if !b.ended {
		return errorf(wsse.InvalidSecurity, nil, "envelope ends before the root element does")
	}
	d.root = b.doc.Root()
	return d.matchParser(b.bodyAt)
}

// token dispatches one token to the handler of its kind. first says it is
// the document's first token.
func (b *builder) token(tok *wsse.XMLToken, first bool) error {
	switch tok.Kind {
	case wsse.XMLStart:
		t, err := b.startElement(tok)
		if err != nil {
			return err
		}
		if err := b.start(t, tok.Start); err != nil {
			return err
		}
		if tok.SelfClose {
			return b.end(xml.EndElement{Name: t.Name})
		}
	case wsse.XMLEnd:
		return b.end(xml.EndElement{Name: b.qname(tok.Name)})
	case wsse.XMLText, wsse.XMLCDATA:
		var ok bool
		b.text, ok = wsse.DecodeXMLText(b.text[:0], tok.Data, false, tok.Kind == wsse.XMLCDATA)
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

// qname splits a qualified name into prefix and local name.
func (b *builder) qname(n []byte) xml.Name {
	var prefix []byte
	if i := bytes.IndexByte(n, ':'); i >= 0 {
		prefix, n = n[:i], n[i+1:]
	}
	return xml.Name{Space: b.sub(prefix), Local: b.sub(n)}
}

// sub returns s, a part of raw, as a substring of rawStr.
func (b *builder) sub(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	off := cap(b.raw) - cap(s)
	if off < 0 || off+len(s) > len(b.raw) || &b.raw[off] != &s[0] {
		return string(s) // not from raw: never with the tokenizer's tokens
	}
	return b.rawStr[off : off+len(s)]
}

// decoded returns the decoded form of raw, a part of raw: a substring of
// rawStr when decoding changed nothing.
func (b *builder) decoded(raw, dec []byte) string {
	if bytes.Equal(raw, dec) {
		return b.sub(raw)
	}
	return string(dec)
}

// startElement decodes a start tag as encoding/xml would report it:
// attribute values with references resolved and white space normalized.
// As before, when the builder read with encoding/xml, a value holding
// white space in a tag that has character references is refused (the two
// were indistinguishable then).
func (b *builder) startElement(tok *wsse.XMLToken) (xml.StartElement, error) {
	t := xml.StartElement{Name: b.qname(tok.Name)}
	if b.attrv == nil {
		b.attrv = b.attrBuf[:0]
	}
	b.attrv = b.attrv[:0]
	charRefs := -1
	for _, a := range tok.Attrs {
		var ok bool
		b.text, ok = wsse.DecodeXMLText(b.text[:0], a.Value, true, false)
		if !ok {
			return t, errorf(wsse.InvalidSecurity, nil, "envelope is not well-formed XML: unknown entity or bad character reference in attribute %s", a.Name)
		}
		if bytes.ContainsAny(a.Value, "\t\n\r") || bytes.ContainsAny(b.text, "\t\n\r") {
			if charRefs < 0 {
				charRefs = 0
				if bytes.Contains(b.raw[tok.Start:tok.End], []byte("&#")) {
					charRefs = 1
				}
			}
			if charRefs == 1 {
				return t, errorf(wsse.InvalidSecurity, nil, "attribute %s mixes literal white space and character references", b.qname(a.Name).Local)
			}
		}
		b.attrv = append(b.attrv, xml.Attr{Name: b.qname(a.Name), Value: b.decoded(a.Value, b.text)})
	}
	t.Attr = b.attrv
	return t, nil
}

// start opens the element of a start tag at offset off: within the
// limits, its namespaces declared and resolved, its attributes and Id
// recorded, attached to its parent.
func (b *builder) start(t xml.StartElement, off int) error {
	d := b.d
	if b.ended {
		return errorf(wsse.InvalidSecurity, nil, "content after the root element")
	}
	b.elems++
	if b.elems > d.lim.MaxElements {
		return errorf(wsse.InvalidSecurity, nil, "more than %d elements in the envelope", d.lim.MaxElements)
	}
	if len(b.stack) >= d.lim.MaxDepth {
		return errorf(wsse.InvalidSecurity, errTooDeep, "elements nested deeper than %d", d.lim.MaxDepth)
	}
	if len(t.Attr) > d.lim.MaxAttributes {
		return errorf(wsse.InvalidSecurity, nil, "element %s has %d attributes, more than %d", t.Name.Local, len(t.Attr), d.lim.MaxAttributes)
	}
	mark := len(b.scope)
	if err := b.declare(t); err != nil {
		return err
	}
	space, ok := lookup(b.scope, t.Name.Space)
	if !ok {
		return errorf(wsse.InvalidSecurity, nil, "undeclared namespace prefix %q", t.Name.Space)
	}
	el := etree.NewElement(t.Name.Local)
	el.Space = t.Name.Space
	n := b.newNode()
	n.start, n.space = off, space
	if err := b.attrs(el, n, t); err != nil {
		return err
	}
	if n.id != "" {
		if first, dup := d.ids[n.id]; dup {
			if d.dups == nil {
				d.dups = make(map[string][]*etree.Element, 1)
			}
			if len(d.dups[n.id]) == 0 {
				d.dups[n.id] = append(d.dups[n.id], first)
			}
			d.dups[n.id] = append(d.dups[n.id], el)
		} else {
			d.ids[n.id] = el
		}
	}
	if err := b.attach(el, t.Name.Local, off, space); err != nil {
		return err
	}
	d.info[el] = n
	if len(b.stack) <= 3 {
		// Only the Envelope, its children (the Body) and the Header's
		// children (our Security header) and theirs (the Signature) are
		// looked up by offset.
		d.byStart[off] = el
	}
	b.stack = append(b.stack, el)
	b.names = append(b.names, t.Name)
	b.marks = append(b.marks, mark)
	return nil
}

// newNode returns a zero node from a slab.
func (b *builder) newNode() *node {
	if len(b.nodes) == cap(b.nodes) {
		b.nodes = make([]node, 0, 32)
	}
	b.nodes = b.nodes[:len(b.nodes)+1]
	return &b.nodes[len(b.nodes)-1]
}

// declare adds the namespace declarations of a start tag to the scope.
func (b *builder) declare(t xml.StartElement) error {
	for _, a := range t.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			b.scope = append(b.scope, scopeBind{"", a.Value})
		case a.Name.Space == "xmlns":
			if a.Value == "" || a.Name.Local == "xmlns" || a.Name.Local == "xml" && a.Value != wsse.NSXML {
				return errorf(wsse.InvalidSecurity, nil, "malformed namespace declaration xmlns:%s", a.Name.Local)
			}
			b.scope = append(b.scope, scopeBind{a.Name.Local, a.Value})
		}
	}
	if len(b.scope) > b.d.lim.MaxNamespaces {
		return errorf(wsse.InvalidSecurity, nil, "%d namespace declarations in scope at element %s, more than %d", len(b.scope), t.Name.Local, b.d.lim.MaxNamespaces)
	}
	return nil
}

// attrs copies the attributes of a start tag onto el, refusing two with
// the same expanded name, and records the element's Id in n.
func (b *builder) attrs(el *etree.Element, n *node, t xml.StartElement) error {
	el.Attr = make([]etree.Attr, 0, len(t.Attr))
	b.expanded = b.expanded[:0]
	for _, a := range t.Attr {
		var as string
		isNS := a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns"
		if isNS {
			as = wsse.NSXMLNS
		} else if a.Name.Space != "" {
			var ok bool
			if as, ok = lookup(b.scope, a.Name.Space); !ok {
				return errorf(wsse.InvalidSecurity, nil, "undeclared namespace prefix %q", a.Name.Space)
			}
		}
		k := expandedName{as, a.Name.Local}
		if isNS && a.Name.Space == "" {
			k.local = ""
		}
		if b.seen(k) {
			return errorf(wsse.InvalidSecurity, nil, "two attributes with the same expanded name on %s", t.Name.Local)
		}
		// As el.CreateAttr("prefix:local", value) would make it, without
		// joining the name to split it again.
		el.Attr = append(el.Attr, etree.Attr{Space: a.Name.Space, Key: a.Name.Local, Value: a.Value})
		if !isNS && isIDAttr(as, a.Name.Local) {
			if n.id != "" && n.id != a.Value {
				return errorf(wsse.InvalidSecurity, nil, "element %s has two different Ids", t.Name.Local)
			}
			n.id = a.Value
		}
	}
	return nil
}

type expandedName struct{ space, local string }

// seen reports whether the start tag being read has an attribute of
// expanded name k already, and records k. A tag has at most
// Limits.MaxAttributes attributes: up to 16 are compared one by one, more
// go through a map, so that a tag of many attributes is not quadratic.
func (b *builder) seen(k expandedName) bool {
	if len(b.expanded) < 16 {
		if slices.Contains(b.expanded, k) {
			return true
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
			b.seenSet[e] = struct{}{}
		}
		b.expanded = append(b.expanded, k) // past 16: the map from now on
	}
	if _, dup := b.seenSet[k]; dup {
		return true
	}
	b.seenSet[k] = struct{}{}
	return false
}

// attach makes el the root or a child of the open element. Nothing may
// follow the Body in the Envelope, and the Body must be where the parser
// found it.
func (b *builder) attach(el *etree.Element, local string, off int, space string) error {
	if len(b.stack) == 0 {
		b.doc.SetRoot(el)
		return nil
	}
	parent := b.stack[len(b.stack)-1]
	if parent == b.doc.Root() && b.bodyAt >= 0 {
		return errorf(wsse.InvalidSecurity, nil, "element %s after the SOAP Body", local)
	}
	parent.AddChild(el)
	if parent == b.doc.Root() && off == b.d.env.BodyStart {
		if space != b.envNS || local != "Body" {
			return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Body")
		}
		b.bodyAt = off
	}
	return nil
}

// end closes the open element, which must be the end tag's.
func (b *builder) end(t xml.EndElement) error {
	n := len(b.stack)
	if n == 0 || b.names[n-1] != t.Name {
		return errorf(wsse.InvalidSecurity, nil, "end tag %s does not match its start tag", t.Name.Local)
	}
	b.scope = b.scope[:b.marks[n-1]]
	b.stack, b.names, b.marks = b.stack[:n-1], b.names[:n-1], b.marks[:n-1]
	if n == 1 {
		b.ended = true
	}
	return nil
}

// charData adds text to the open element; outside the root only white
// space may appear.
func (b *builder) charData(t string) error {
	if len(b.stack) == 0 {
		if len(strings.TrimLeft(t, " \t\r\n")) != 0 {
			return errorf(wsse.InvalidSecurity, nil, "text outside the root element")
		}
		return nil
	}
	b.stack[len(b.stack)-1].CreateText(t)
	return nil
}

// matchParser checks that the DOM's Body and Security header are the ones
// wsse.Parse found, at the same offsets, with the same Ids and children.
func (d *Document) matchParser(bodyAt int) error {
	d.body = d.byStart[d.env.BodyStart]
	if d.body == nil || bodyAt < 0 || d.body.Parent() != d.root {
		return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Body")
	}
	if d.info[d.body].id != d.env.BodyID {
		return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Body's Id")
	}
	sec := d.env.Security
	d.security = d.byStart[sec.Start]
	if d.security == nil || d.security.Parent() == nil || d.security.Parent().Parent() != d.root ||
		d.info[d.security].space != wsse.NSWSSE || d.security.Tag != "Security" {
		return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Security header")
	}
	kids := d.security.ChildElements()
	if len(kids) != len(sec.Elements) {
		return errorf(wsse.InvalidSecurity, nil, "the DOM and the parser disagree about the Security header's children")
	}
	for i, k := range kids {
		e := &sec.Elements[i]
		n := d.info[k]
		if n.start != e.Start || n.space != e.Space || k.Tag != e.Local || n.id != e.ID {
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

// inScope returns the namespace declarations in scope at el, nearest first
// wins, without the ones el itself makes.
func (d *Document) inScope(el *etree.Element) map[string]string {
	m := make(map[string]string, 8)
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			var prefix string
			switch {
			case a.Space == "xmlns":
				prefix = a.Key
			case a.Space == "" && a.Key == "xmlns":
				prefix = ""
			default:
				continue
			}
			if _, ok := m[prefix]; !ok {
				m[prefix] = a.Value
			}
		}
	}
	return m
}

// space returns the namespace URI of el.
func (d *Document) space(el *etree.Element) string {
	if n := d.info[el]; n != nil {
		return n.space
	}
	return ""
}

// is reports whether el is {space}local.
func (d *Document) is(el *etree.Element, space, local string) bool {
	return el != nil && el.Tag == local && d.space(el) == space
}

// attr returns the value of an unqualified attribute.
func attr(el *etree.Element, name string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == name {
			return a.Value, true
		}
	}
	return "", false
}

// onlyElements returns el's child elements and fails if it has text other
// than white space.
func onlyElements(el *etree.Element) ([]*etree.Element, error) {
	for _, t := range el.Child {
		if c, ok := t.(*etree.CharData); ok && strings.TrimLeft(c.Data, " \t\r\n") != "" {
			return nil, errorf(wsse.InvalidSecurity, nil, "unexpected text in %s", el.Tag)
		}
	}
	return el.ChildElements(), nil
}

// text returns el's text content; it fails if el has child elements.
func text(el *etree.Element) (string, error) {
	var b strings.Builder
	for _, t := range el.Child {
		switch c := t.(type) {
		case *etree.CharData:
			b.WriteString(c.Data)
		case *etree.Element:
			return "", errorf(wsse.InvalidSecurity, nil, "unexpected element in %s", el.Tag)
		}
	}
	return b.String(), nil
}
