package wsse

import (
	"bytes"
)

// XMLTokenizer is this package's strict tokenizer (lex.go) over a whole
// document, for wsse/dsig's DOM builder: the DOM that signatures are
// verified on is read by the same code, with the same refusals, as the
// header Parse reads, and about ten times faster than encoding/xml.
//
// Beyond the tokens, it checks that the whole input holds only characters
// XML allows, and that a processing instruction named xml is a valid XML
// declaration. It does not match end tags to start tags, resolve
// namespaces or check what comes outside the root element: the caller does.
type XMLTokenizer struct {
	l     lexer
	attrs []XMLAttr
}

// XMLTokenKind is the kind of an XMLToken.
type XMLTokenKind uint8

// Token kinds.
const (
	XMLEOF XMLTokenKind = iota
	XMLStart
	XMLEnd
	XMLText
	XMLCDATA
	XMLComment
	XMLPI
)

// XMLAttr is an attribute of a start tag as written: its qualified name and
// its value between the quotes, undecoded (see DecodeXMLText).
type XMLAttr struct {
	Name, Value []byte
}

// XMLToken is one token. Its slices point into the input; Attrs is valid
// until the next call of Next.
type XMLToken struct {
	Kind XMLTokenKind
	// Name is the qualified name of a start or end tag, or the target of a
	// processing instruction.
	Name []byte
	// Data is the raw text (XMLText), the content of a CDATA section, a
	// comment or a processing instruction.
	Data []byte
	// SelfClose marks an empty-element tag <a/>: no XMLEnd follows it.
	SelfClose bool
	// Start and End are the offsets of the token's first byte and of the
	// byte after it.
	Start, End int
	Attrs      []XMLAttr
}

// NewXMLTokenizer tokenizes b from offset start (past a byte order mark),
// with at most maxAttrs attributes on one element.
func NewXMLTokenizer(b []byte, start, maxAttrs int) (*XMLTokenizer, error) {
	if !validText(b[start:]) {
		return nil, &Error{Code: InvalidSecurity, Reason: "character not allowed in XML"}
	}
	z := &XMLTokenizer{}
	z.l = lexer{b: b, pos: start, maxAttrs: maxAttrs}
	return z, nil
}

// Next returns the next token, XMLEOF at the end of the input. Errors are
// *Error values.
func (z *XMLTokenizer) Next() (XMLToken, error) {
	var out XMLToken
	if err := z.Read(&out); err != nil {
		return XMLToken{}, err
	}
	return out, nil
}

// Read reads the next token into *out, as Next returns it, without copying
// tokens through return values; *out is left undefined on an error.
func (z *XMLTokenizer) Read(out *XMLToken) error {
	var t token // on the stack: no write barriers
	if err := z.l.nextInto(&t); err != nil {
		return err
	}
	*out = XMLToken{Kind: XMLTokenKind(t.kind), SelfClose: t.selfClose, Start: t.start, End: t.end}
	switch t.kind {
	case tokStart, tokEnd:
		out.Name = t.name(z.l.b)
	case tokPI:
		out.Name, out.Data = t.name(z.l.b), t.data(z.l.b)
	case tokText, tokCDATA, tokComment:
		out.Data = t.data(z.l.b)
	}
	switch t.kind {
	case tokStart:
		z.attrs = z.attrs[:0]
		for i := range z.l.attrs {
			a := &z.l.attrs[i]
			z.attrs = append(z.attrs, XMLAttr{Name: rawAttrName(z.l.b, a), Value: rawAttrValue(z.l.b, a)})
		}
		out.Attrs = z.attrs
	case tokPI:
		if bytes.Equal(t.name(z.l.b), bXML) {
			if err := checkXMLDecl(t.data(z.l.b)); err != nil {
				return err
			}
		}
	}
	return nil
}

// DecodeXMLText appends raw text, CDATA content (cdata) or an attribute
// value (attr) to dst as an XML processor reports it: line ends normalized
// to "\n" (section 2.11), then, except in CDATA, character and predefined
// entity references resolved, and in an attribute value each literal tab,
// newline or carriage return made a space (section 3.3.3). It reports false
// for a reference it cannot resolve.
func DecodeXMLText(dst, raw []byte, attr, cdata bool) ([]byte, bool) {
	if bytes.IndexByte(raw, '\r') >= 0 {
		n := make([]byte, 0, len(raw))
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			if c == '\r' {
				c = '\n'
				if i+1 < len(raw) && raw[i+1] == '\n' {
					i++
				}
			}
			n = append(n, c)
		}
		raw = n
	}
	if cdata {
		return append(dst, raw...), true
	}
	return appendDecoded(dst, raw, attr)
}

// Offset is the offset the tokenizer has read to; after an error, where
// the error is.
func (z *XMLTokenizer) Offset() int { return z.l.pos }
