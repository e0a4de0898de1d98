// Package extensible lets a site add credential types to authsvc without
// forking it, three ways:
//
//   - in Go: write an authn.Module, give it a configuration section, add the
//     section to config.Builtin()'s table under a type name of your own, and
//     build your own binary around app.Main;
//   - as a program: chain entries of type exec run a configured program
//     (argv, never a shell) and exchange one JSON document with it;
//   - over HTTP: chain entries of type http POST the same JSON document to a
//     URL and read the same answer.
//
// The exec and http contract is described in docs/extensible.md; the types
// are Document and Answer here.
//
// # A custom binary
//
// A module type is a configuration section (decoded strictly from the chain
// entry's YAML keys) with an Open method that builds the module, as the
// built-in modules own theirs (ExecConfig, HTTPConfig here; username.Config,
// saml.Config, ...). config.Env is config/modenv's Env:
//
//	package main
//
//	import (
//		"context"
//		"crypto/subtle"
//		"errors"
//
//		"github.com/authsvc/authsvc/app"
//		"github.com/authsvc/authsvc/authn"
//		"github.com/authsvc/authsvc/authn/extensible"
//		"github.com/authsvc/authsvc/config"
//		"github.com/authsvc/authsvc/wsse"
//	)
//
//	// APIKeySection is type "apikey":
//	//
//	//	- name: key
//	//	  type: apikey
//	//	  flag: sufficient
//	//	  header: X-Api-Key
//	//	  key: s3cret
//	//	  principal: batch-job
//	type APIKeySection struct {
//		Header    string `yaml:"header"`
//		Key       string `yaml:"key"`
//		Principal string `yaml:"principal"`
//	}
//
//	func (c *APIKeySection) Validate() error {
//		if c.Header == "" || c.Key == "" || c.Principal == "" {
//			return errors.New("header, key and principal are required")
//		}
//		return nil
//	}
//
//	func (c *APIKeySection) Open(env *config.Env) (authn.Module, error) {
//		return authn.ModuleFunc(func(ctx context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
//			got := extensible.Header(req, c.Header)
//			if got == "" {
//				return false, authn.ErrUnsupported
//			}
//			if subtle.ConstantTimeCompare([]byte(got), []byte(c.Key)) != 1 {
//				return false, authn.Reject(wsse.FailedAuthentication, "wrong API key")
//			}
//			s.Principal, s.Method = c.Principal, "APIKey"
//			return true, nil
//		}), nil
//	}
//
//	func main() {
//		types := config.Builtin()
//		types.Modules["apikey"] = func() config.ModuleConfig { return new(APIKeySection) }
//		app.Main(types)
//	}
//
// examples/custommodule is a complete, tested example that reads a custom
// <x:Ticket> token from the Security header.
//
// # What a module can see
//
// The functions of this package read an authn.Request for a module: the raw
// XML of the whole Security header (SecurityXML) and of each of its child
// elements (Tokens, Find, FindOne) together with the namespace declarations
// in scope, so that a fragment parses on its own (Token.Standalone,
// Token.Element); the parsed tokens (UsernameTokens, BinaryTokens,
// Timestamp); the request's metadata (Peer, ClientCertificate, Header,
// RequestID); and the state shared along the chain (Get, Set).
//
// Raw bytes are slices of the request: a module must not change them.
//
// # Marking what a module verified
//
// A request is accepted only when every child element of its Security
// header was processed by a module that succeeded (or is of a type the
// configuration passes through, security.pass_through). A module that
// accepts a credential from the header marks the elements it verified:
//
//	tok, err := extensible.FindOne(req, NSTicket, "Ticket")
//	...
//	extensible.MarkProcessed(req, tok) // or req.MarkProcessed(tok.Index)
//	return true, nil
//
// Marks of a module whose login does not succeed are discarded by the
// chain. An element that no successful module marked makes the request fail
// with InvalidSecurity (a signature or encryption) or
// UnsupportedSecurityToken (anything else), even when the chain succeeded.
// exec and http modules list the indexes they verified in the answer's
// "processed" field.
package extensible

import (
	"bytes"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
)

// Token is one child element of the Security header, raw.
type Token struct {
	// Space and Local are the element's namespace URI and local name.
	Space, Local string
	// ID is its wsu:Id (or Id, xml:id), if any.
	ID string
	// Index is its position among the Security header's children, for
	// authn.Request.MarkProcessed.
	Index int
	// XML is the element exactly as sent, from its start tag's '<' to the
	// end of its end tag. Its prefixes may be declared on ancestors: see
	// Namespaces.
	XML []byte
	// Namespaces are the declarations in scope at the Security element
	// (prefix to URI, "" for the default namespace), which together with the
	// element's own declarations resolve every prefix in XML.
	Namespaces map[string]string
}

// SecurityXML returns the raw Security header addressed to this service,
// from its start tag to its end tag, or nil when there is none.
func SecurityXML(req *authn.Request) []byte {
	sec := req.Security()
	if sec == nil {
		return nil
	}
	return req.Envelope.Raw[sec.Start:sec.End:sec.End]
}

// Namespaces returns the namespace declarations in scope at the Security
// header (nil without one).
func Namespaces(req *authn.Request) map[string]string {
	sec := req.Security()
	if sec == nil {
		return nil
	}
	return sec.Namespaces()
}

// Tokens returns every child element of the Security header in document
// order.
func Tokens(req *authn.Request) []Token {
	return Find(req, "", "")
}

// Find returns the Security header's child elements named {space}local, in
// document order. An empty space or local matches any.
func Find(req *authn.Request, space, local string) []Token {
	sec := req.Security()
	if sec == nil {
		return nil
	}
	var ns map[string]string
	var out []Token
	for i, e := range sec.Elements {
		if (space != "" && e.Space != space) || (local != "" && e.Local != local) {
			continue
		}
		if ns == nil {
			ns = sec.Namespaces()
		}
		out = append(out, Token{Space: e.Space, Local: e.Local, ID: e.ID, Index: i,
			XML: req.Envelope.Raw[e.Start:e.End:e.End], Namespaces: ns})
	}
	return out
}

// ErrMultiple is returned by FindOne when the header holds more than one
// element of the name: a module that expects one token must not pick one
// of several (signature wrapping hides a second token that way).
var ErrMultiple = errors.New("extensible: more than one token of the kind in the Security header")

// FindOne returns the only child element {space}local of the Security
// header. It returns an error wrapping authn.ErrUnsupported when there is
// none, and ErrMultiple when there are several.
func FindOne(req *authn.Request, space, local string) (Token, error) {
	ts := Find(req, space, local)
	switch len(ts) {
	case 0:
		return Token{}, authn.ErrUnsupported
	case 1:
		return ts[0], nil
	}
	return Token{}, ErrMultiple
}

// Standalone returns the token's XML with the in-scope namespace
// declarations added to a wrapper element around it, so that a plain XML
// parser can read it alone:
//
//	<authsvc-fragment xmlns:wsse="..." xmlns:x="...">TOKEN</authsvc-fragment>
//
// The token is the wrapper's only child element.
func (t Token) Standalone() []byte {
	var b bytes.Buffer
	b.Grow(len(t.XML) + 64*len(t.Namespaces) + 40)
	b.WriteString("<authsvc-fragment")
	for _, p := range sortedKeys(t.Namespaces) {
		if p == "" {
			b.WriteString(` xmlns="`)
		} else {
			b.WriteString(" xmlns:" + p + `="`)
		}
		xml.EscapeText(&b, []byte(t.Namespaces[p]))
		b.WriteByte('"')
	}
	b.WriteByte('>')
	b.Write(t.XML)
	b.WriteString("</authsvc-fragment>")
	return b.Bytes()
}

// Element parses the token into an etree element of its own: the in-scope
// namespace declarations the element does not make itself are added to it
// as attributes, so it stands alone (for canonicalization, say). It accepts
// no DTD and no entity other than XML's five.
func (t Token) Element() (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(t.Standalone()); err != nil {
		return nil, err
	}
	root := doc.Root()
	if root == nil {
		return nil, errors.New("extensible: empty fragment")
	}
	kids := root.ChildElements()
	if len(kids) != 1 {
		return nil, errors.New("extensible: fragment is not one element")
	}
	el := kids[0]
	for _, p := range sortedKeys(t.Namespaces) {
		key, space := p, "xmlns"
		if p == "" {
			key, space = "xmlns", ""
		}
		if el.SelectAttr(qualified(space, key)) == nil {
			el.CreateAttr(qualified(space, key), t.Namespaces[p])
		}
	}
	root.RemoveChild(el)
	return el, nil
}

func qualified(space, key string) string {
	if space == "" {
		return key
	}
	return space + ":" + key
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// MarkProcessed records that the module verified tok (see "Marking what a
// module verified").
func MarkProcessed(req *authn.Request, tok Token) { req.MarkProcessed(tok.Index) }

// UsernameTokens returns the parsed UsernameTokens of the Security header.
func UsernameTokens(req *authn.Request) []wsse.UsernameToken {
	if sec := req.Security(); sec != nil {
		return sec.UsernameTokens
	}
	return nil
}

// BinaryTokens returns the parsed BinarySecurityTokens of the Security header.
func BinaryTokens(req *authn.Request) []wsse.BinarySecurityToken {
	if sec := req.Security(); sec != nil {
		return sec.BinaryTokens
	}
	return nil
}

// Timestamp returns the Security header's wsu:Timestamp, or nil.
func Timestamp(req *authn.Request) *wsse.Timestamp {
	if sec := req.Security(); sec != nil {
		return sec.Timestamp
	}
	return nil
}

// Peer returns the client's address as the listener saw it.
func Peer(req *authn.Request) netip.AddrPort { return req.Peer }

// ClientCertificate returns the TLS client certificate the listener
// verified, or nil.
func ClientCertificate(req *authn.Request) *x509.Certificate {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return nil
	}
	return req.TLS.PeerCertificates[0]
}

// Header returns an HTTP request header ("" when absent). The
// Authorization header is in req.Authorization and also answered here.
func Header(req *authn.Request, name string) string {
	if strings.EqualFold(name, "Authorization") {
		return req.Authorization
	}
	if req.Header == nil {
		return ""
	}
	return req.Header(name)
}

// RequestID returns the id that appears in the logs and faults.
func RequestID(req *authn.Request) string { return req.ID }

// Get returns the chain's shared value under key when it has type T.
// Keys should be prefixed with the module type ("saml.assertion_id").
func Get[T any](req *authn.Request, key string) (T, bool) {
	v, ok := req.Shared[key].(T)
	return v, ok
}

// Set stores a value for the modules later in the chain.
func Set(req *authn.Request, key string, v any) {
	if req.Shared == nil {
		req.Shared = make(map[string]any)
	}
	req.Shared[key] = v
}
