package wstrust

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/authsvc/authsvc/wsse"
)

// Limits bound the work one fragment (an RST, a token) can cost. The zero
// value of a field means its default.
type Limits struct {
	// MaxBytes bounds the raw bytes of the fragment (default 64 KiB).
	MaxBytes int
	// MaxDepth bounds element nesting inside it (default 16).
	MaxDepth int
	// MaxElements bounds its elements (default 256).
	MaxElements int
	// MaxAttributes bounds the attributes of one element, namespace
	// declarations included (default 32).
	MaxAttributes int
}

// DefaultLimits are used where a field of Limits is zero.
var DefaultLimits = Limits{MaxBytes: 64 << 10, MaxDepth: 16, MaxElements: 256, MaxAttributes: 32}

func (l *Limits) withDefaults() Limits {
	var r Limits
	if l != nil {
		r = *l
	}
	if r.MaxBytes <= 0 {
		r.MaxBytes = DefaultLimits.MaxBytes
	}
	if r.MaxDepth <= 0 {
		r.MaxDepth = DefaultLimits.MaxDepth
	}
	if r.MaxElements <= 0 {
		r.MaxElements = DefaultLimits.MaxElements
	}
	if r.MaxAttributes <= 0 {
		r.MaxAttributes = DefaultLimits.MaxAttributes
	}
	return r
}

// maxEnvelopeElements bounds the elements of a whole envelope scanned for its
// addressing headers or its Body child (those not kept count too).
const maxEnvelopeElements = 100_000

// maxEnvelopeDepth bounds the nesting of the elements not kept, so that a
// deeply nested Body cannot make the recursive reader use much stack.
const maxEnvelopeDepth = 256

// node is an element of a parsed fragment, with namespaces resolved.
type node struct {
	space, local string
	attrs        []nattr
	kids         []*node
	text         string // the character data directly inside, concatenated
	hasText      bool   // some of it is not white space
	start, end   int    // offsets of the element in the input
}

type nattr struct{ space, local, value string }

type bind struct{ prefix, uri string }

// attr returns the value of the attribute {space}local.
func (n *node) attr(space, local string) (string, bool) {
	for _, a := range n.attrs {
		if a.space == space && a.local == local {
			return a.value, true
		}
	}
	return "", false
}

func (n *node) is(space, local string) bool { return n.space == space && n.local == local }

func (n *node) name() string {
	if n.space == "" {
		return n.local
	}
	return "{" + n.space + "}" + n.local
}

// leaf returns the text of an element that must hold text only, trimmed of
// surrounding white space.
func (n *node) leaf() (string, error) {
	if len(n.kids) > 0 {
		return "", fmt.Errorf("%s holds an element, not only text", n.local)
	}
	return strings.TrimSpace(n.text), nil
}

// container checks that an element holds elements and white space only.
func (n *node) container() error {
	if n.hasText {
		return fmt.Errorf("%s holds text among its elements", n.local)
	}
	return nil
}

type builder struct {
	dec   *xml.Decoder
	lim   Limits
	base  int // offset of the decoder's input in the caller's buffer
	scope []bind
	elems int // elements kept
	seen  int // elements read
}

func newBuilder(raw []byte, base int, ns map[string]string, lim Limits) *builder {
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Strict = true
	dec.Entity = nil // only the five predefined entities
	dec.CharsetReader = func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q is not UTF-8", charset)
	}
	b := &builder{dec: dec, lim: lim, base: base, scope: make([]bind, 0, len(ns)+8)}
	for p, u := range ns {
		b.scope = append(b.scope, bind{p, u})
	}
	return b
}

func (b *builder) lookup(prefix string) (string, bool) {
	if prefix == "xml" {
		return wsse.NSXML, true
	}
	for i := len(b.scope) - 1; i >= 0; i-- {
		if b.scope[i].prefix == prefix {
			return b.scope[i].uri, true
		}
	}
	if prefix == "" {
		return "", true
	}
	return "", false
}

// token reads the next token that matters: it skips comments, refuses
// directives (DTDs) and processing instructions, and reports the offset of
// the token's first byte.
func (b *builder) token() (xml.Token, int, error) {
	for {
		off := b.base + int(b.dec.InputOffset())
		t, err := b.dec.RawToken()
		if err != nil {
			return nil, off, err
		}
		switch t := t.(type) {
		case xml.Comment:
			continue
		case xml.Directive:
			return nil, off, errors.New("a DTD or other directive is not accepted")
		case xml.ProcInst:
			return nil, off, fmt.Errorf("processing instruction <?%s?> is not accepted here", t.Target)
		}
		return t, off, nil
	}
}

// open pushes the namespace declarations of start and resolves its name and
// attributes. It returns the scope mark to pop to at its end.
func (b *builder) open(start xml.StartElement, off int, keep bool) (*node, int, error) {
	mark := len(b.scope)
	if len(start.Attr) > b.lim.MaxAttributes {
		return nil, mark, fmt.Errorf("element %s has %d attributes, more than %d", start.Name.Local, len(start.Attr), b.lim.MaxAttributes)
	}
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			b.scope = append(b.scope, bind{"", a.Value})
		case a.Name.Space == "xmlns":
			if a.Value == "" {
				return nil, mark, fmt.Errorf("element %s undeclares prefix %q (XML 1.0 namespaces do not allow it)", start.Name.Local, a.Name.Local)
			}
			b.scope = append(b.scope, bind{a.Name.Local, a.Value})
		}
	}
	space, ok := b.lookup(start.Name.Space)
	if !ok {
		return nil, mark, fmt.Errorf("element %s:%s uses an undeclared prefix", start.Name.Space, start.Name.Local)
	}
	if !keep {
		return nil, mark, nil
	}
	n := &node{space: space, local: start.Name.Local, start: off}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		as := ""
		if a.Name.Space != "" {
			if as, ok = b.lookup(a.Name.Space); !ok {
				return nil, mark, fmt.Errorf("attribute %s:%s of %s uses an undeclared prefix", a.Name.Space, a.Name.Local, start.Name.Local)
			}
		}
		for _, o := range n.attrs {
			if o.space == as && o.local == a.Name.Local {
				return nil, mark, fmt.Errorf("element %s has attribute %s twice", start.Name.Local, a.Name.Local)
			}
		}
		n.attrs = append(n.attrs, nattr{as, a.Name.Local, a.Value})
	}
	return n, mark, nil
}

// element reads the element whose start tag was just read, up to its end
// tag; it builds its node when keep is true, and otherwise only checks it
// and counts it.
func (b *builder) element(start xml.StartElement, off, depth int, keep bool) (*node, error) {
	b.seen++
	if b.seen > maxEnvelopeElements {
		return nil, fmt.Errorf("more than %d elements", maxEnvelopeElements)
	}
	if depth > maxEnvelopeDepth {
		return nil, fmt.Errorf("elements nested deeper than %d", maxEnvelopeDepth)
	}
	if keep {
		b.elems++
		if b.elems > b.lim.MaxElements {
			return nil, fmt.Errorf("more than %d elements", b.lim.MaxElements)
		}
		if depth > b.lim.MaxDepth {
			return nil, fmt.Errorf("elements nested deeper than %d", b.lim.MaxDepth)
		}
	}
	n, mark, err := b.open(start, off, keep)
	if err != nil {
		return nil, err
	}
	var text strings.Builder
	for {
		t, toff, err := b.token()
		if err != nil {
			return nil, b.syntax(err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			k, err := b.element(t, toff, depth+1, keep)
			if err != nil {
				return nil, err
			}
			if keep {
				n.kids = append(n.kids, k)
			}
		case xml.CharData:
			if keep {
				if text.Len()+len(t) > b.lim.MaxBytes {
					return nil, fmt.Errorf("text of %s is longer than %d bytes", start.Name.Local, b.lim.MaxBytes)
				}
				text.Write(t)
				if len(bytes.TrimSpace(t)) > 0 {
					n.hasText = true
				}
			}
		case xml.EndElement:
			// RawToken does not match end tags with start tags.
			if t.Name != start.Name {
				return nil, fmt.Errorf("malformed XML: end tag </%s> closes <%s>", qname(t.Name), qname(start.Name))
			}
			b.scope = b.scope[:mark]
			if keep {
				n.text = text.String()
				n.end = b.base + int(b.dec.InputOffset())
			}
			return n, nil
		}
	}
}

func (b *builder) syntax(err error) error {
	if err == io.EOF {
		return errors.New("the XML ends inside an element")
	}
	return fmt.Errorf("malformed XML: %w", err)
}

// parseFragment parses raw as exactly one element, with the namespace
// bindings ns in scope (prefix to URI, "" the default namespace), as a
// Security header child is parsed from Element's raw bytes and
// Security.Namespaces().
func parseFragment(raw []byte, ns map[string]string, lim Limits) (*node, error) {
	if len(raw) > lim.MaxBytes {
		return nil, fmt.Errorf("element of %d bytes is larger than %d", len(raw), lim.MaxBytes)
	}
	b := newBuilder(raw, 0, ns, lim)
	var root *node
	for {
		t, off, err := b.token()
		if err == io.EOF {
			if root == nil {
				return nil, errors.New("no element")
			}
			return root, nil
		}
		if err != nil {
			return nil, b.syntax(err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			if root != nil {
				return nil, errors.New("more than one element")
			}
			if root, err = b.element(t, off, 1, true); err != nil {
				return nil, err
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the element")
			}
		default:
			return nil, fmt.Errorf("unexpected %T", t)
		}
	}
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}
