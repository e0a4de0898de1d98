package wsse

import (
	"bytes"
	"fmt"
)

// BodyChecker checks, piece by piece as it arrives, the part of a SOAP
// message that Parse does not read: from the Body start tag to the end. The
// proxy uses it to refuse, while streaming to the upstream, what an
// upstream could read differently from authsvc: a second Header or Body
// after the Body, a second Envelope, a DTD, an undefined entity, a Body that
// is never closed, trailing garbage.
//
// The rules are the header parser's (the same tokenizer): well-formed XML
// with namespaces, no DOCTYPE or other markup declaration, only the
// predefined entities and character references, no processing instruction
// (SOAP forbids them in a message), characters XML 1.0 allows. In addition
// no element may follow the Body in the Envelope (WS-I BP R1011), only
// white space and comments may follow the Envelope end tag, and no element
// named Envelope, Header or Body in a SOAP envelope namespace may appear
// inside the Body.
//
// It keeps only an unfinished construct between writes: part of a tag
// (at most maxBodyTagBytes), the last bytes of text (a possible "]]>", an
// unterminated character reference, an incomplete UTF-8 sequence), the open
// elements' names and namespace declarations. Text, comments and CDATA
// sections of any length pass through without being buffered.
type BodyChecker struct {
	buf     []byte // received but not yet consumed: an unfinished construct
	off     int64  // offset (from the Body start tag) of buf[0]
	state   uint8
	scanAt  int  // where the search for the end of a pending tag resumes, from the tag's '<'
	quote   byte // the quote open at scanAt
	sawBody bool
	done    bool // the Envelope end tag has been seen
	err     error

	lex     lexer
	stack   []bodyElem
	names   []byte // the open elements' qualified names
	ns      []bodyNS
	nsb     []byte // the declarations' prefixes and URIs
	scratch []byte
	qattrs  []attrName // the prefixed attributes of the current start tag
}

type attrName struct{ space, local []byte }

type bodyElem struct {
	n0, n1 int32 // the name in names
	nsMark int32 // len(ns) before its declarations
}

type bodyNS struct {
	p0, p1, u0, u1 int32 // prefix and URI in nsb
	id             nsID
}

const (
	bodyNormal = iota
	bodyCDATA
	bodyComment
)

// Bounds of the body checker. The payload is not the place for the header
// limits (an ordinary document is deeper than 32 or has more than 1024
// elements), but an element's nesting and a single tag still cost memory.
const (
	maxBodyDepth      = 512
	maxBodyAttributes = 512
	maxBodyTagBytes   = 256 << 10
	maxRefBytes       = 16 // "&#x10FFFF;" is 10
)

// NewBodyChecker returns a checker for what follows env.BodyStart in a
// message Parse accepted. The checker copies what it needs from env, so
// env.Raw may be reused afterwards. Feed it the bytes from env.BodyStart on
// with Write and call Close at the end of the message.
func NewBodyChecker(env *Envelope) *BodyChecker {
	c := &BodyChecker{}
	c.lex.maxAttrs = maxBodyAttributes
	c.names = append(c.names, env.envName...)
	c.stack = append(c.stack, bodyElem{n0: 0, n1: int32(len(env.envName))})
	for _, b := range env.bodyScope {
		c.pushNS(b.prefix, b.uri, b.id)
	}
	c.stack[0].nsMark = 0
	return c
}

// Write checks the next part of the message. It returns the first error
// found, then the same error on every later call.
func (c *BodyChecker) Write(p []byte) error {
	if c.err != nil {
		return c.err
	}
	data := p
	if len(c.buf) > 0 {
		c.buf = append(c.buf, p...)
		data = c.buf
	}
	n, err := c.run(data, false)
	if err != nil {
		c.err = err
		return err
	}
	c.off += int64(n)
	c.buf = append(c.buf[:0], data[n:]...)
	return nil
}

// Close says that the message ends here: it fails unless the Envelope was
// closed and nothing unfinished is pending.
func (c *BodyChecker) Close() error {
	if c.err != nil {
		return c.err
	}
	n, err := c.run(c.buf, true)
	if err == nil && n < len(c.buf) {
		err = c.fail(c.off+int64(n), "the message ends inside markup")
	}
	// A comment or CDATA section opened by the last bytes leaves nothing
	// in the buffer for run to look at: its state says it is unfinished.
	if err == nil && c.state == bodyComment {
		err = c.fail(c.off+int64(n), "unterminated comment")
	}
	if err == nil && c.state == bodyCDATA {
		err = c.fail(c.off+int64(n), "unterminated CDATA section")
	}
	if err == nil && !c.done {
		err = c.fail(c.off+int64(n), "the message ends before the SOAP Envelope is closed (an unclosed Body?)")
	}
	c.err = err
	return err
}

func (c *BodyChecker) fail(at int64, format string, args ...any) *Error {
	return &Error{Code: InvalidSecurity, Reason: fmt.Sprintf("after the SOAP Body start tag, at byte %d: ", at) +
		fmt.Sprintf(format, args...)}
}

var (
	bCDATAStart   = []byte("<![CDATA[")
	bCDATAEnd     = []byte("]]>")
	bCommentStart = []byte("<!--")
	bDashDash     = []byte("--")
)

// runeStart moves i back to the start of a UTF-8 sequence, so that b[:i]
// ends with a whole character.
func runeStart(b []byte, i int) int {
	if i <= 0 {
		return 0
	}
	for k := 0; k < 3 && i > 0 && i < len(b) && b[i]&0xC0 == 0x80; k++ {
		i--
	}
	return i
}

// run consumes what it can of data and returns how much. With final, data
// is the end of the message. Each step hands the bytes at pos to the
// handler of what they start in the checker's state (the rest of a CDATA
// section or a comment, text, a tag, other markup), which returns how many
// it consumed and whether what remains must wait for the next write. Text
// up to a '<' and tags, the usual constructs, are dispatched first.
func (c *BodyChecker) run(data []byte, final bool) (int, error) {
	pos := 0
	for pos < len(data) {
		rest, at := data[pos:], c.off+int64(pos)
		var n int
		var wait bool
		var err error
		switch {
		case c.state == bodyCDATA:
			n, wait, err = c.cdataRest(rest, at, final)
		case c.state == bodyComment:
			n, wait, err = c.commentRest(rest, at, final)
		case rest[0] != '<':
			if i := bytes.IndexByte(rest, '<'); i >= 0 {
				n, err = i, c.text(rest[:i], at)
			} else {
				n, wait, err = c.textTail(rest, at, final)
			}
		case len(rest) >= 2 && rest[1] != '!' && rest[1] != '?':
			n, wait, err = c.tag(rest, at, final)
		default:
			n, wait, err = c.markup(rest, at, final)
		}
		if err != nil {
			return pos, err
		}
		pos += n
		if wait {
			return pos, nil
		}
	}
	return pos, nil
}

// cdataRest takes the rest of a CDATA section, up to its "]]>".
func (c *BodyChecker) cdataRest(rest []byte, at int64, final bool) (n int, wait bool, err error) {
	i := bytes.Index(rest, bCDATAEnd)
	if i < 0 {
		if final {
			return 0, false, c.fail(at, "unterminated CDATA section")
		}
		cut := runeStart(rest, len(rest)-2)
		if !validText(rest[:cut]) {
			return 0, false, c.fail(at, "character not allowed in XML in a CDATA section")
		}
		return cut, true, nil
	}
	if !validText(rest[:i]) {
		return 0, false, c.fail(at, "character not allowed in XML in a CDATA section")
	}
	c.state = bodyNormal
	return i + 3, false, nil
}

// commentRest takes the rest of a comment, up to its "-->".
func (c *BodyChecker) commentRest(rest []byte, at int64, final bool) (n int, wait bool, err error) {
	i := bytes.Index(rest, bDashDash)
	if i < 0 || i+2 >= len(rest) {
		if final {
			return 0, false, c.fail(at, "unterminated comment")
		}
		cut := i
		if i < 0 {
			cut = runeStart(rest, len(rest)-1)
		}
		if !validText(rest[:cut]) {
			return 0, false, c.fail(at, "character not allowed in XML in a comment")
		}
		return cut, true, nil
	}
	if rest[i+2] != '>' {
		return 0, false, c.fail(at+int64(i), "'--' inside a comment")
	}
	if !validText(rest[:i]) {
		return 0, false, c.fail(at, "character not allowed in XML in a comment")
	}
	c.state = bodyNormal
	return i + 3, false, nil
}

// textTail takes text that no '<' ends: the end of the message, or text
// that goes on in the next write, checked except for its last bytes, which
// could be the start of "]]>", of a reference or of a character.
func (c *BodyChecker) textTail(rest []byte, at int64, final bool) (n int, wait bool, err error) {
	if final {
		return len(rest), true, c.text(rest, at)
	}
	if i := bytes.Index(rest, bCDATAEnd); i >= 0 && len(c.stack) >= 2 {
		return 0, false, c.fail(at+int64(i), "']]>' in text")
	}
	cut := runeStart(rest, len(rest)-2)
	if a := bytes.LastIndexByte(rest[:cut], '&'); a >= 0 && bytes.IndexByte(rest[a:cut], ';') < 0 {
		if bytes.IndexByte(rest[a:], ';') < 0 && len(rest)-a > maxRefBytes && len(c.stack) >= 2 {
			return 0, false, c.fail(at+int64(a), "undefined entity or malformed character reference")
		}
		cut = a
	}
	if cut > 0 {
		if err := c.text(rest[:cut], at); err != nil {
			return 0, false, err
		}
	}
	return cut, true, nil
}

// markup takes what starts with '<' and is not a whole tag's start: a
// comment or CDATA section opening, markup cut by the write, or a tag.
// Declarations and processing instructions are refused.
func (c *BodyChecker) markup(rest []byte, at int64, final bool) (n int, wait bool, err error) {
	if len(rest) < 2 {
		if final {
			return 0, false, c.fail(at, "the message ends inside markup")
		}
		return 0, true, nil
	}
	switch rest[1] {
	case '!':
		switch {
		case bytes.HasPrefix(rest, bCommentStart):
			c.state = bodyComment
			return len(bCommentStart), false, nil
		case bytes.HasPrefix(rest, bCDATAStart):
			if len(c.stack) < 2 {
				return 0, false, c.fail(at, "a CDATA section outside the SOAP Body")
			}
			c.state = bodyCDATA
			return len(bCDATAStart), false, nil
		case !final && (bytes.HasPrefix(bCommentStart, rest) || bytes.HasPrefix(bCDATAStart, rest)):
			return 0, true, nil // wait for more
		}
		return 0, false, c.fail(at, "document type declarations are not allowed")
	case '?':
		return 0, false, c.fail(at, "processing instructions are not allowed in a SOAP message")
	}
	return c.tag(rest, at, final)
}

// tag takes a start or end tag. Most tags are whole in the buffer:
// tokenize right away. Only when that fails is the tag handed to
// pendingTag.
func (c *BodyChecker) tag(rest []byte, at int64, final bool) (n int, wait bool, err error) {
	var t token
	lexed := false
	if c.scanAt == 0 {
		c.lex.b, c.lex.pos = rest, 0
		var lerr *Error
		t, lerr = c.lex.next()
		lexed = lerr == nil && (t.kind == tokStart || t.kind == tokEnd)
	}
	if !lexed {
		if t, wait, err = c.pendingTag(rest, at, final); err != nil || wait {
			return 0, wait, err
		}
	}
	tag := rest[:t.end]
	if len(tag) > maxBodyTagBytes {
		return 0, false, c.fail(at, "a tag longer than %d bytes", maxBodyTagBytes)
	}
	if !validText(tag) {
		return 0, false, c.fail(at, "character not allowed in XML in a tag")
	}
	if t.kind == tokStart {
		err = c.start(t, at)
	} else {
		err = c.end(t, at)
	}
	if err != nil {
		return 0, false, err
	}
	return t.end, false, nil
}

// pendingTag searches for the end of a tag that did not tokenize, to tell
// a tag cut by the write (wait) from a malformed one; a pending tag is
// tokenized once, when its end has arrived.
func (c *BodyChecker) pendingTag(rest []byte, at int64, final bool) (t token, wait bool, err error) {
	e := c.tagEnd(rest)
	if e < 0 {
		if final {
			return t, false, c.fail(at, "unterminated tag")
		}
		if len(rest) > maxBodyTagBytes {
			return t, false, c.fail(at, "a tag longer than %d bytes", maxBodyTagBytes)
		}
		return t, true, nil
	}
	c.scanAt, c.quote = 0, 0
	c.lex.b, c.lex.pos = rest[:e+1], 0
	t, lerr := c.lex.next()
	if lerr != nil {
		return t, false, c.fail(at, "%s", lerr.Reason)
	}
	if t.end != e+1 || t.kind != tokStart && t.kind != tokEnd {
		return t, false, c.fail(at, "malformed tag")
	}
	return t, false, nil
}

// tagEnd finds the '>' that ends the tag starting at tag[0], outside quoted
// attribute values, resuming where the last search stopped. A '<' outside
// quotes ends the search too (the tokenizer then reports the error).
func (c *BodyChecker) tagEnd(tag []byte) int {
	i := max(c.scanAt, 1)
	for ; i < len(tag); i++ {
		ch := tag[i]
		if c.quote != 0 {
			if ch == c.quote {
				c.quote = 0
			}
			continue
		}
		switch ch {
		case '"', '\'':
			c.quote = ch
		case '>', '<':
			return i
		}
	}
	c.scanAt = i
	return -1
}

// text checks character data: inside the Body it must be XML text; between
// the Body and the Envelope end tag, and after it, only white space.
func (c *BodyChecker) text(b []byte, at int64) error {
	if len(c.stack) < 2 {
		if !isAllSpace(b) {
			if c.done {
				return c.fail(at, "content after the SOAP Envelope")
			}
			return c.fail(at, "text after the SOAP Body")
		}
		return nil
	}
	if !validText(b) {
		return c.fail(at, "character not allowed in XML")
	}
	if i := bytes.Index(b, bCDATAEnd); i >= 0 {
		return c.fail(at+int64(i), "']]>' in text")
	}
	if a := bytes.IndexByte(b, '&'); a >= 0 {
		var ok bool
		if c.scratch, ok = appendDecoded(c.scratch[:0], b[a:], false); !ok {
			return c.fail(at, "undefined entity or malformed character reference")
		}
	}
	return nil
}

func (c *BodyChecker) pushNS(prefix, uri []byte, id nsID) {
	p0 := int32(len(c.nsb))
	c.nsb = append(c.nsb, prefix...)
	u0 := int32(len(c.nsb))
	c.nsb = append(c.nsb, uri...)
	c.ns = append(c.ns, bodyNS{p0: p0, p1: u0, u0: u0, u1: int32(len(c.nsb)), id: id})
}

func (c *BodyChecker) lookupNS(prefix []byte) ([]byte, nsID, bool) {
	for i := len(c.ns) - 1; i >= 0; i-- {
		b := c.ns[i]
		if bytes.Equal(c.nsb[b.p0:b.p1], prefix) {
			return c.nsb[b.u0:b.u1], b.id, true
		}
	}
	if len(prefix) == 0 {
		return nil, nsNone, true
	}
	if bytes.Equal(prefix, bXML) {
		return bNSXML, nsXML, true
	}
	return nil, nsOther, false
}

func (c *BodyChecker) start(t token, at int64) error {
	if c.done {
		return c.fail(at, "an element after the end of the SOAP Envelope (a second Envelope?)")
	}
	if len(c.stack) >= maxBodyDepth {
		return c.fail(at, "elements nested deeper than %d", maxBodyDepth)
	}
	mark := len(c.ns)
	b := c.lex.b
	for i := range c.lex.attrs {
		a := &c.lex.attrs[i]
		name := b[a.n0:a.n1]
		switch {
		case bytes.Equal(name, bXMLNS):
			if a.escape {
				return c.fail(at, "entity reference in a namespace name")
			}
			value := b[a.v0:a.v1]
			c.pushNS(nil, value, classifyNS(value))
		case len(name) > 6 && bytes.HasPrefix(name, []byte("xmlns:")):
			value := b[a.v0:a.v1]
			if a.escape || len(value) == 0 {
				return c.fail(at, "malformed namespace declaration")
			}
			pf := name[6:]
			if bytes.Equal(pf, bXMLNS) || bytes.Equal(pf, bXML) && !bytes.Equal(value, bNSXML) {
				return c.fail(at, "reserved namespace prefix redeclared")
			}
			c.pushNS(pf, value, classifyNS(value))
		}
	}
	// Pushed before any check can fail, so that the declarations are
	// popped with the element.
	n0 := int32(len(c.names))
	c.names = append(c.names, t.name(c.lex.b)...)
	c.stack = append(c.stack, bodyElem{n0: n0, n1: int32(len(c.names)), nsMark: int32(mark)})

	prefix, local := splitQName(t.name(c.lex.b))
	space, sid, ok := c.lookupNS(prefix)
	if !ok {
		return c.fail(at, "undeclared namespace prefix %q", prefix)
	}
	// Two attributes can share an expanded name without sharing their
	// qualified name (the tokenizer refuses that) only if both are
	// prefixed: only those are compared.
	c.qattrs = c.qattrs[:0]
	for i := range c.lex.attrs {
		a := &c.lex.attrs[i]
		name := b[a.n0:a.n1]
		if bytes.Equal(name, bXMLNS) || bytes.HasPrefix(name, []byte("xmlns:")) {
			continue
		}
		if a.escape {
			var ok bool
			if c.scratch, ok = appendDecoded(c.scratch[:0], b[a.v0:a.v1], true); !ok {
				return c.fail(at, "undefined entity reference in an attribute value")
			}
		}
		ap, al := splitQName(name)
		if len(ap) == 0 {
			continue
		}
		as, _, ok := c.lookupNS(ap)
		if !ok {
			return c.fail(at, "undeclared namespace prefix %q", ap)
		}
		for _, o := range c.qattrs {
			if bytes.Equal(o.local, al) && bytes.Equal(o.space, as) {
				return c.fail(at, "two attributes with the same expanded name")
			}
		}
		c.qattrs = append(c.qattrs, attrName{as, al})
	}
	soap := sid == nsSOAP11 || sid == nsSOAP12
	structural := soap && (bytes.Equal(local, []byte("Envelope")) || bytes.Equal(local, []byte("Header")) ||
		bytes.Equal(local, []byte("Body")))
	depth := len(c.stack) - 1 // of this element: 1 is a child of the Envelope
	switch {
	case !c.sawBody:
		// Parse found the Body start tag here.
		if depth != 1 || !soap || !bytes.Equal(local, []byte("Body")) {
			return c.fail(at, "the checked part does not start with the SOAP Body start tag")
		}
		c.sawBody = true
	case depth == 1:
		return c.fail(at, "element {%s}%s after the SOAP Body (a second Header or Body?)", space, local)
	case structural:
		return c.fail(at, "a SOAP %s element inside the Body", local)
	}
	if t.selfClose {
		c.pop()
	}
	return nil
}

func (c *BodyChecker) end(t token, at int64) error {
	name := t.name(c.lex.b)
	n := len(c.stack)
	if n == 0 {
		return c.fail(at, "end tag %q after the end of the SOAP Envelope", name)
	}
	top := c.stack[n-1]
	if !bytes.Equal(c.names[top.n0:top.n1], name) {
		return c.fail(at, "end tag %q does not match start tag %q", name, c.names[top.n0:top.n1])
	}
	c.pop()
	if len(c.stack) == 0 {
		c.done = true
	}
	return nil
}

func (c *BodyChecker) pop() {
	n := len(c.stack)
	e := c.stack[n-1]
	c.names = c.names[:e.n0]
	if int(e.nsMark) < len(c.ns) {
		c.nsb = c.nsb[:c.ns[e.nsMark].p0]
	}
	c.ns = c.ns[:e.nsMark]
	c.stack = c.stack[:n-1]
}
