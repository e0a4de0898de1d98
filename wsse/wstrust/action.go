package wstrust

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/authsvc/authsvc/wsse"
)

// WS-Addressing namespaces: the W3C recommendation and the 2004/08
// submission that WCF's Feb 2005 bindings use.
const (
	NSWSA     = wsse.NSWSA
	NSWSA2004 = wsse.NSWSA2004
)

// maxAddressingText bounds the text of an Action or MessageID header.
const maxAddressingText = 2048

// Addressing is what the SOAP Header says in WS-Addressing.
type Addressing struct {
	// Namespace is the WS-Addressing namespace the headers use ("" if
	// none): the reply's headers use the same.
	Namespace string
	// Action and MessageID are the wsa:Action and wsa:MessageID headers,
	// trimmed ("" when absent).
	Action, MessageID string
}

// ParseAddressing reads the wsa:Action and wsa:MessageID headers, direct
// children of the SOAP Header of env, in either WS-Addressing namespace.
// Only env.Raw[:env.HeaderEnd] is read, the part wsse.Parse has already
// bounded. Two Action or two MessageID headers, or headers of both
// namespaces, are refused.
func ParseAddressing(env *wsse.Envelope) (*Addressing, error) {
	a := &Addressing{}
	if env == nil || !env.HasHeader || env.HeaderEnd <= 0 || env.HeaderEnd > len(env.Raw) {
		return a, nil
	}
	if has, known := env.AddressingHeaders(); known && !has {
		// wsse.Parse read the whole Header, strictly, and saw no header
		// block in either namespace: reading it again (with encoding/xml,
		// about a fifth of an API request's CPU) would find nothing.
		return a, nil
	}
	lim := Limits{MaxBytes: maxAddressingText, MaxDepth: 2, MaxElements: 8, MaxAttributes: 32}
	var seenAction, seenID bool
	err := scanEnvelope(env.Raw[:env.HeaderEnd], lim, func(n *node) error {
		if n.space != NSWSA && n.space != NSWSA2004 {
			return nil
		}
		if a.Namespace != "" && a.Namespace != n.space {
			return fmt.Errorf("WS-Addressing headers of two namespaces (%s and %s)", a.Namespace, n.space)
		}
		a.Namespace = n.space
		var dst *string
		switch n.local {
		case "Action":
			if seenAction {
				return errors.New("two wsa:Action headers")
			}
			seenAction, dst = true, &a.Action
		case "MessageID":
			if seenID {
				return errors.New("two wsa:MessageID headers")
			}
			seenID, dst = true, &a.MessageID
		default:
			return nil
		}
		v, err := n.leaf()
		if err != nil {
			return err
		}
		*dst = v
		return nil
	}, nil)
	if err != nil {
		return nil, trustFault(nil, InvalidRequest, "WS-Addressing headers: %v", err)
	}
	return a, nil
}

// keepHeader reports whether scanEnvelope builds the node of a direct child
// of the SOAP Header.
func keepHeader(space string) bool { return space == NSWSA || space == NSWSA2004 }

// Action returns the action of a request: the wsa:Action header if there is
// one, else the action parameter of a SOAP 1.2 Content-Type, else the
// SOAPAction HTTP header (quotes removed). When the header and one of the
// others both name an action, they must agree (WS-Addressing's SOAP
// binding). An envelope without any action gets "".
func Action(env *wsse.Envelope, contentType, soapAction string) (string, error) {
	a, err := ParseAddressing(env)
	if err != nil {
		return "", err
	}
	transport := ""
	if hasActionParam(contentType) {
		if mt, params, err := mime.ParseMediaType(contentType); err == nil && mt == "application/soap+xml" {
			transport = strings.TrimSpace(params["action"])
		}
	}
	if transport == "" {
		transport = strings.TrimSpace(soapAction)
		if len(transport) >= 2 && transport[0] == '"' && transport[len(transport)-1] == '"' {
			transport = transport[1 : len(transport)-1]
		}
	}
	if a.Action == "" {
		return transport, nil
	}
	if transport != "" && transport != a.Action {
		return "", trustFault(nil, InvalidRequest, "wsa:Action %q differs from the transport's action %q", a.Action, transport)
	}
	return a.Action, nil
}

// scanEnvelope walks a SOAP envelope (or its prefix up to the Header end
// tag): it calls header with the node of each direct child of the SOAP
// Header in a WS-Addressing namespace (limited by lim; other header blocks
// are only checked for well-formedness), and body, when not nil, with the
// span and scope of the Body's only child element.
func scanEnvelope(raw []byte, lim Limits, header func(*node) error, body func(start, end int, ns map[string]string) error) error {
	base := 0
	if bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) {
		base = 3
	}
	b := newBuilder(raw[base:], base, nil, lim)
	env, err := b.envelopeStart()
	if err != nil {
		return err
	}
	soapNS, _ := b.lookup(env.Name.Space)
	if env.Name.Local != "Envelope" || soapNS != wsse.NSSOAP11 && soapNS != wsse.NSSOAP12 {
		return fmt.Errorf("the document element is %s, not a SOAP Envelope", env.Name.Local)
	}
	for {
		t, off, err := b.token()
		if err == io.EOF && body == nil {
			return nil // a prefix ending after the Header
		}
		if err != nil {
			return b.syntax(err)
		}
		switch t := t.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errors.New("text in the Envelope")
			}
		case xml.EndElement:
			if t.Name != env.Name {
				return fmt.Errorf("malformed XML: end tag </%s> closes <%s>", qname(t.Name), qname(env.Name))
			}
			return nil
		case xml.StartElement:
			n, hmark, err := b.open(t, off, true)
			if err != nil {
				return err
			}
			switch {
			case n.is(soapNS, "Header"):
				if err := b.headerChildren(t, header); err != nil || body == nil {
					return err
				}
			case n.is(soapNS, "Body"):
				if body == nil {
					return nil
				}
				return b.bodyChild(t, base, body)
			default:
				return fmt.Errorf("unexpected element %s in the Envelope", n.name())
			}
			b.scope = b.scope[:hmark]
		default:
			return fmt.Errorf("unexpected %T in the Envelope", t)
		}
	}
}

// envelopeStart reads up to the document element's start tag, which it
// opens and returns: an XML declaration, comments and white space may come
// before it; a DTD, other processing instructions or text may not.
func (b *builder) envelopeStart() (xml.StartElement, error) {
	first := true
	for {
		t, err := b.dec.RawToken()
		if err != nil {
			return xml.StartElement{}, b.syntax(err)
		}
		switch t := t.(type) {
		case xml.ProcInst:
			if !first || t.Target != "xml" {
				return xml.StartElement{}, fmt.Errorf("processing instruction <?%s?> is not accepted", t.Target)
			}
		case xml.Comment:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return xml.StartElement{}, errors.New("text before the Envelope")
			}
		case xml.Directive:
			return xml.StartElement{}, errors.New("a DTD or other directive is not accepted")
		case xml.StartElement:
			if _, _, err := b.open(t, 0, false); err != nil {
				return xml.StartElement{}, err
			}
			return t, nil
		default:
			return xml.StartElement{}, fmt.Errorf("unexpected %T before the Envelope", t)
		}
		first = false
	}
}

// headerChildren reads the SOAP Header's children, keeping those of the
// namespaces keepHeader names (WS-Addressing) and handing each to header.
func (b *builder) headerChildren(h xml.StartElement, header func(*node) error) error {
	return b.children(h, func(c xml.StartElement, coff int) error {
		_, cmark, err := b.open(c, coff, false)
		if err != nil {
			return err
		}
		space, _ := b.lookup(c.Name.Space)
		b.scope = b.scope[:cmark]
		keep := keepHeader(space)
		cn, err := b.element(c, coff, 1, keep)
		if err != nil || !keep {
			return err
		}
		return header(cn)
	})
}

// bodyChild reads the SOAP Body, which must hold exactly one element, and
// hands body that element's offsets in the input and the namespaces in
// scope at its start tag.
func (b *builder) bodyChild(bt xml.StartElement, base int, body func(start, end int, ns map[string]string) error) error {
	found := false
	var cstart, cend int
	var ns map[string]string
	if err := b.children(bt, func(c xml.StartElement, coff int) error {
		if found {
			return errors.New("the Body holds more than one element")
		}
		found = true
		ns = make(map[string]string, len(b.scope))
		for _, s := range b.scope {
			ns[s.prefix] = s.uri
		}
		if _, err := b.element(c, coff, 1, false); err != nil {
			return err
		}
		cstart, cend = coff, base+int(b.dec.InputOffset())
		return nil
	}); err != nil {
		return err
	}
	if !found {
		return errors.New("the Body is empty")
	}
	return body(cstart, cend, ns)
}

// children reads the content of the element whose start tag (already
// opened) was just read, calling f for each child element's start tag; f
// must read the child to its end. Text other than white space is refused.
func (b *builder) children(start xml.StartElement, f func(xml.StartElement, int) error) error {
	for {
		t, off, err := b.token()
		if err != nil {
			return b.syntax(err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			if err := f(t, off); err != nil {
				return err
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return fmt.Errorf("text in %s", start.Name.Local)
			}
		case xml.EndElement:
			if t.Name != start.Name {
				return fmt.Errorf("malformed XML: end tag </%s> closes <%s>", qname(t.Name), qname(start.Name))
			}
			return nil
		}
	}
}

// hasActionParam reports whether a Content-Type may carry an action
// parameter: it contains "action" in any case. Most do not (text/xml;
// charset=utf-8), and mime.ParseMediaType costs more than the rest of
// Action.
func hasActionParam(contentType string) bool {
	const want = "action"
	for i := 0; i+len(want) <= len(contentType); i++ {
		if strings.EqualFold(contentType[i:i+len(want)], want) {
			return true
		}
	}
	return false
}
