package wsse

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// This file is a strict, allocation-free XML tokenizer for the part of a SOAP
// envelope that precedes the Body. It is written here rather than taken from a
// library because what authentication needs from it is unusual: it must never
// modify or copy the input (the proxy forwards the body byte for byte), it must
// refuse what an XML 1.0 processor without a DTD must refuse (a DOCTYPE, unknown
// entities, unquoted or duplicate attributes, mismatched end tags), and it must
// stop at the start of the Body so that the cost of an authentication does not
// grow with the payload. encoding/xml is lenient in the same places and ten
// times slower; tdewolff/parse's lexer is fast but lenient and rewrites
// attribute whitespace in its input buffer. The fuzz tests check this tokenizer
// against encoding/xml.

// ReasonTooManyAttributes is the Reason of the Error the tokenizer returns
// for a start tag with more attributes than the limit.
const ReasonTooManyAttributes = "too many attributes on one element"

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokStart
	tokEnd
	tokText
	tokCDATA
	tokComment
	tokPI
)

// rawAttr is an attribute as offsets into the lexer's input: no pointers,
// so that writing one into a pooled (heap) array costs no GC write barrier.
type rawAttr struct {
	n0, n1 int  // name: b[n0:n1]
	v0, v1 int  // value: b[v0:v1], between the quotes, undecoded
	colon  int  // index of the ':' in name, -1 if none
	escape bool // value contains '&'
}

// rawAttrName and rawAttrValue return a's name and value in the input b.
func rawAttrName(b []byte, a *rawAttr) []byte  { return b[a.n0:a.n1] }
func rawAttrValue(b []byte, a *rawAttr) []byte { return b[a.v0:a.v1] }

// token is a token as offsets into the lexer's input: no pointers, so that
// reading one into a token through a pointer costs no GC write barrier.
type token struct {
	kind      tokKind
	escape    bool // text contains '&'
	selfClose bool
	n0, n1    int // name: element name (start, end) or PI target
	d0, d1    int // data: text, CDATA content, comment, PI data
	start     int // offset of the token's first byte
	end       int // offset just past the token
	colon     int // start tag: index of the ':' in name, -1 if none
}

// name and data return the token's name and data in the input b.
func (t *token) name(b []byte) []byte { return b[t.n0:t.n1] }
func (t *token) data(b []byte) []byte { return b[t.d0:t.d1] }

type lexer struct {
	b     []byte
	pos   int
	attrs []rawAttr
	// maxAttrs bounds the attributes of one start tag (Limits.MaxAttributes).
	// A value, not a pointer to the Limits: Parse's parser, lexer included,
	// lives on the stack and must hold no pointer to itself.
	maxAttrs int
	colon    int // of the last name read: index of its ':', -1 if none
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameStart(c byte) bool { return nameClass[c]&nameStart != 0 }

func isNameChar(c byte) bool { return nameClass[c]&nameChar != 0 }

// nameClass classifies bytes for names in one lookup each: the name loop
// is the tokenizer's hottest.
var nameClass = func() (t [256]uint8) {
	for c := range 256 {
		b := byte(c)
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b == ':' || b >= 0x80 {
			t[c] |= nameStart | nameChar
		}
		if b >= '0' && b <= '9' || b == '-' || b == '.' {
			t[c] |= nameChar
		}
	}
	return t
}()

const (
	nameStart = 1 << iota
	nameChar
)

// name reads an XML name at l.pos. Non-ASCII bytes are accepted as name
// characters when they form valid UTF-8 (checked once for the whole input).
func (l *lexer) name() ([]byte, *Error) {
	s := l.pos
	if s >= len(l.b) || !isNameStart(l.b[s]) {
		return nil, l.errAt("expected a name")
	}
	i := s + 1
	colons, colon := 0, -1
	if l.b[s] == ':' {
		colons, colon = 1, s
	}
	for i < len(l.b) && isNameChar(l.b[i]) {
		if l.b[i] == ':' {
			colons++
			colon = i
		}
		i++
	}
	n := l.b[s:i]
	// At most one colon, not first or last: a QName.
	if colons > 1 || colons == 1 && (colon == s || colon == i-1) {
		return nil, l.errAt("malformed qualified name")
	}
	l.colon = -1
	if colons == 1 {
		l.colon = colon - s
	}
	l.pos = i
	return n, nil
}

func (l *lexer) errAt(msg string) *Error {
	return errorf(InvalidSecurity, "malformed XML at byte %d: %s", l.pos, msg)
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.b) && isSpace(l.b[l.pos]) {
		l.pos++
	}
}

// next returns the next token. At the end of input it returns tokEOF.
func (l *lexer) next() (token, *Error) {
	var t token
	err := l.nextInto(&t)
	return t, err
}

// nextInto reads the next token into *t, as next returns it, without
// copying a token through return values (wsse/dsig's DOM builder reads
// every token of the envelope).
func (l *lexer) nextInto(t *token) *Error {
	*t = token{start: l.pos}
	if l.pos >= len(l.b) {
		t.kind = tokEOF
		return nil
	}
	if l.b[l.pos] != '<' {
		i := bytes.IndexByte(l.b[l.pos:], '<')
		end := len(l.b)
		if i >= 0 {
			end = l.pos + i
		}
		data := l.b[l.pos:end]
		t.kind, t.d0, t.d1 = tokText, l.pos, end
		t.escape = bytes.IndexByte(data, '&') >= 0
		// ']' is rare in text: look for "]]>" only where there is one.
		if bytes.IndexByte(data, ']') >= 0 && bytes.Contains(data, []byte("]]>")) {
			return l.errAt("']]>' in text")
		}
		l.pos = end
		t.end = end
		return nil
	}
	rest := l.b[l.pos:]
	var second byte
	if len(rest) > 1 {
		second = rest[1]
	}
	switch {
	case second != '!' && second != '?' && second != '/':
		l.pos++
		n, err := l.name()
		if err != nil {
			return err
		}
		t.kind, t.n0, t.n1, t.colon = tokStart, l.pos-len(n), l.pos, l.colon
		if err := l.startTagRest(t); err != nil {
			return err
		}
	case bytes.HasPrefix(rest, []byte("<!--")):
		i := bytes.Index(rest[4:], []byte("--"))
		if i < 0 {
			return l.errAt("unterminated comment")
		}
		if !bytes.HasPrefix(rest[4+i:], []byte("-->")) {
			return l.errAt("'--' inside a comment")
		}
		t.kind, t.d0, t.d1 = tokComment, l.pos+4, l.pos+4+i
		l.pos += 4 + i + 3
	case bytes.HasPrefix(rest, []byte("<![CDATA[")):
		i := bytes.Index(rest[9:], []byte("]]>"))
		if i < 0 {
			return l.errAt("unterminated CDATA section")
		}
		t.kind, t.d0, t.d1 = tokCDATA, l.pos+9, l.pos+9+i
		l.pos += 9 + i + 3
	case bytes.HasPrefix(rest, []byte("<!")):
		// DOCTYPE, ENTITY, ELEMENT, ... : no DTD of any kind is accepted.
		return &Error{Code: InvalidSecurity, Reason: "document type declarations are not allowed"}
	case bytes.HasPrefix(rest, []byte("<?")):
		l.pos += 2
		n, err := l.name()
		if err != nil {
			return err
		}
		i := bytes.Index(l.b[l.pos:], []byte("?>"))
		if i < 0 {
			return l.errAt("unterminated processing instruction")
		}
		t.kind, t.n0, t.n1, t.d0, t.d1 = tokPI, l.pos-len(n), l.pos, l.pos, l.pos+i
		l.pos += i + 2
	case bytes.HasPrefix(rest, []byte("</")):
		l.pos += 2
		n, err := l.name()
		if err != nil {
			return err
		}
		t.n0, t.n1 = l.pos-len(n), l.pos
		l.skipSpace()
		if l.pos >= len(l.b) || l.b[l.pos] != '>' {
			return l.errAt("malformed end tag")
		}
		l.pos++
		t.kind = tokEnd
	}
	t.end = l.pos
	return nil
}

// startTagRest reads the attributes and the end of a start tag into l.attrs.
func (l *lexer) startTagRest(t *token) *Error {
	l.attrs = l.attrs[:0]
	for {
		hadSpace := l.pos < len(l.b) && isSpace(l.b[l.pos])
		l.skipSpace()
		if l.pos >= len(l.b) {
			return l.errAt("unterminated start tag")
		}
		switch c := l.b[l.pos]; {
		case c == '>':
			l.pos++
			return nil
		case c == '/':
			if l.pos+1 < len(l.b) && l.b[l.pos+1] == '>' {
				l.pos += 2
				t.selfClose = true
				return nil
			}
			return l.errAt("stray '/' in start tag")
		}
		if !hadSpace {
			return l.errAt("attributes must be separated by white space")
		}
		if len(l.attrs) >= l.maxAttrs {
			return &Error{Code: InvalidSecurity, Reason: ReasonTooManyAttributes}
		}
		n0 := l.pos
		n, err := l.name()
		if err != nil {
			return err
		}
		colon := l.colon
		l.skipSpace()
		if l.pos >= len(l.b) || l.b[l.pos] != '=' {
			return l.errAt("attribute without a value")
		}
		l.pos++
		l.skipSpace()
		if l.pos >= len(l.b) || l.b[l.pos] != '"' && l.b[l.pos] != '\'' {
			return l.errAt("attribute value must be quoted")
		}
		q := l.b[l.pos]
		l.pos++
		i := bytes.IndexByte(l.b[l.pos:], q)
		if i < 0 {
			return l.errAt("unterminated attribute value")
		}
		v := l.b[l.pos : l.pos+i]
		if bytes.IndexByte(v, '<') >= 0 {
			return l.errAt("'<' in attribute value")
		}
		for i := range l.attrs {
			if bytes.Equal(rawAttrName(l.b, &l.attrs[i]), n) {
				return l.errAt("duplicate attribute")
			}
		}
		l.addAttr(n0, n0+len(n), l.pos, l.pos+i, colon)
		l.pos += i + 1
	}
}

// addAttr appends an attribute to l.attrs: field by field where there is
// room, which costs less than copying a whole rawAttr into the (pooled,
// heap) array.
func (l *lexer) addAttr(n0, n1, v0, v1, colon int) {
	escape := bytes.IndexByte(l.b[v0:v1], '&') >= 0
	if n := len(l.attrs); n < cap(l.attrs) {
		l.attrs = l.attrs[:n+1]
		a := &l.attrs[n]
		a.n0, a.n1, a.v0, a.v1, a.colon, a.escape = n0, n1, v0, v1, colon, escape
		return
	}
	l.attrs = append(l.attrs, rawAttr{n0: n0, n1: n1, v0: v0, v1: v1, colon: colon, escape: escape})
}

// appendDecoded appends s with character and predefined entity references
// resolved. Attribute values additionally have white space normalized to
// spaces, as XML 1.0 section 3.3.3 says for CDATA attributes.
func appendDecoded(dst, s []byte, attr bool) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '&' {
			if attr && (c == '\t' || c == '\n' || c == '\r') {
				c = ' '
			}
			dst = append(dst, c)
			continue
		}
		j := bytes.IndexByte(s[i:], ';')
		if j < 0 {
			return dst, false
		}
		ref := s[i+1 : i+j]
		i += j
		switch string(ref) {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "apos":
			dst = append(dst, '\'')
		case "quot":
			dst = append(dst, '"')
		default:
			if len(ref) < 2 || ref[0] != '#' {
				return dst, false // an entity that only a DTD could define
			}
			var r rune
			if ref[1] == 'x' {
				if len(ref) < 3 || len(ref) > 8 {
					return dst, false
				}
				for _, d := range ref[2:] {
					switch {
					case d >= '0' && d <= '9':
						r = r*16 + rune(d-'0')
					case d >= 'a' && d <= 'f':
						r = r*16 + rune(d-'a'+10)
					case d >= 'A' && d <= 'F':
						r = r*16 + rune(d-'A'+10)
					default:
						return dst, false
					}
				}
			} else {
				if len(ref) > 8 {
					return dst, false
				}
				for _, d := range ref[1:] {
					if d < '0' || d > '9' {
						return dst, false
					}
					r = r*10 + rune(d-'0')
				}
			}
			if !validXMLChar(r) {
				return dst, false
			}
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst, true
}

func validXMLChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// validText reports whether b holds only characters XML 1.0 allows. It is
// applied to the part of the input the parser reads.
func validText(b []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for i := 0; i < len(b); {
		// Eight bytes at a time while all are printable ASCII (0x20-0x7F).
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if (w-0x20*lo)&^w&hi != 0 || w&hi != 0 {
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		// Fewer than eight bytes left after printable ones: the last eight
		// bytes, read as one word, often settle them at once.
		if i+8 > len(b) && len(b) >= 8 {
			w := binary.LittleEndian.Uint64(b[len(b)-8:])
			if (w-0x20*lo)&^w&hi == 0 && w&hi == 0 {
				break
			}
		}
		c := b[i]
		if c < 0x80 {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 || !validXMLChar(r) {
			return false
		}
		i += n
	}
	return true
}
