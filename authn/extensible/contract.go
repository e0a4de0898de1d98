package extensible

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
)

// Version is the version of the JSON contract of exec and http modules.
const Version = 1

// Document is the JSON document an exec or http module sends for one
// authentication. docs/extensible.md shows examples.
type Document struct {
	Version   int       `json:"version"`
	RequestID string    `json:"request_id"`
	Time      time.Time `json:"time"`
	// Module is the chain entry's name.
	Module string  `json:"module"`
	Peer   PeerDoc `json:"peer"`
	// Secure reports whether the client's connection was confidential.
	Secure bool     `json:"secure"`
	TLS    *TLSInfo `json:"tls,omitempty"`
	// Headers are the configured request headers that the request has.
	Headers map[string]string `json:"headers,omitempty"`
	// SOAPVersion is "1.1" or "1.2", empty without an envelope.
	SOAPVersion string    `json:"soap_version,omitempty"`
	Security    *Security `json:"security,omitempty"`
}

// PeerDoc is the client's address.
type PeerDoc struct {
	Address string `json:"address"`
	Port    uint16 `json:"port"`
}

// TLSInfo describes a verified TLS client certificate.
type TLSInfo struct {
	ClientCertPEM string `json:"client_cert_pem"`
	Subject       string `json:"subject"`
	Issuer        string `json:"issuer"`
}

// Security is the Security header, raw and parsed. Passwords are blanked
// out of every raw fragment (the Password element stays, empty) unless the
// module is configured with send_passwords.
type Security struct {
	// XML is the whole header as sent.
	XML string `json:"xml"`
	// Namespaces are the declarations in scope at the Security element.
	Namespaces     map[string]string `json:"namespaces"`
	Tokens         []TokenDoc        `json:"tokens"`
	UsernameTokens []UsernameDoc     `json:"username_tokens,omitempty"`
	BinaryTokens   []BinaryDoc       `json:"binary_security_tokens,omitempty"`
	Timestamp      *TimestampDoc     `json:"timestamp,omitempty"`
}

// TokenDoc is one child element of the Security header.
type TokenDoc struct {
	Namespace string `json:"namespace"`
	Local     string `json:"local"`
	ID        string `json:"id,omitempty"`
	XML       string `json:"xml"`
}

// UsernameDoc is a parsed UsernameToken.
type UsernameDoc struct {
	ID           string `json:"id,omitempty"`
	Username     string `json:"username"`
	PasswordType string `json:"password_type,omitempty"`
	HasPassword  bool   `json:"has_password"`
	// Password is sent only with send_passwords.
	Password string `json:"password,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	Created  string `json:"created,omitempty"`
}

// BinaryDoc is a parsed BinarySecurityToken.
type BinaryDoc struct {
	ID           string `json:"id,omitempty"`
	ValueType    string `json:"value_type"`
	EncodingType string `json:"encoding_type,omitempty"`
	Value        string `json:"value"`
}

// TimestampDoc is the parsed wsu:Timestamp.
type TimestampDoc struct {
	Created string `json:"created,omitempty"`
	Expires string `json:"expires,omitempty"`
}

// DocumentOptions choose what goes into a Document.
type DocumentOptions struct {
	// Module is the chain entry's name (Open takes it from the entry).
	Module string `yaml:"-"`
	// Headers are the request headers to send (others are not sent).
	Headers []string `yaml:"headers"`
	// SendPasswords sends UsernameToken passwords, parsed and raw.
	SendPasswords bool `yaml:"send_passwords"`
}

// NewDocument builds the document for a request.
func NewDocument(req *authn.Request, o DocumentOptions) *Document {
	d := &Document{Version: Version, RequestID: req.ID, Time: req.Now.UTC(), Module: o.Module,
		Secure: req.Secure}
	if req.Peer.IsValid() {
		d.Peer = PeerDoc{Address: req.Peer.Addr().Unmap().String(), Port: req.Peer.Port()}
	}
	if c := ClientCertificate(req); c != nil {
		d.TLS = &TLSInfo{ClientCertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
			Subject: c.Subject.String(), Issuer: c.Issuer.String()}
	}
	for _, h := range o.Headers {
		if v := Header(req, h); v != "" {
			if d.Headers == nil {
				d.Headers = make(map[string]string, len(o.Headers))
			}
			d.Headers[http.CanonicalHeaderKey(h)] = v
		}
	}
	if req.Envelope != nil {
		d.SOAPVersion = req.Envelope.Version.String()
	}
	sec := req.Security()
	if sec == nil {
		return d
	}
	raw := req.Envelope.Raw
	var spans [][2]int
	if !o.SendPasswords {
		spans = passwordSpans(sec)
	}
	s := &Security{XML: cut(raw, sec.Start, sec.End, spans), Namespaces: sec.Namespaces(),
		Tokens: make([]TokenDoc, 0, len(sec.Elements))}
	for _, e := range sec.Elements {
		s.Tokens = append(s.Tokens, TokenDoc{Namespace: e.Space, Local: e.Local, ID: e.ID, XML: cut(raw, e.Start, e.End, spans)})
	}
	for _, ut := range sec.UsernameTokens {
		u := UsernameDoc{ID: ut.ID, Username: ut.Username, PasswordType: ut.PasswordType,
			HasPassword: ut.HasPassword, Nonce: ut.Nonce, Created: ut.Created}
		if o.SendPasswords {
			u.Password = ut.Password
		}
		s.UsernameTokens = append(s.UsernameTokens, u)
	}
	for _, bt := range sec.BinaryTokens {
		s.BinaryTokens = append(s.BinaryTokens, BinaryDoc{ID: bt.ID, ValueType: bt.ValueType,
			EncodingType: bt.EncodingType, Value: strings.Join(strings.Fields(bt.Value), "")})
	}
	if ts := sec.Timestamp; ts != nil {
		s.Timestamp = &TimestampDoc{Created: ts.Created, Expires: ts.Expires}
	}
	d.Security = s
	return d
}

// passwordSpans returns the offsets of the UsernameToken passwords' values.
func passwordSpans(sec *wsse.Security) [][2]int {
	var spans [][2]int
	for _, ut := range sec.UsernameTokens {
		if ut.HasPassword && ut.PasswordValueEnd > ut.PasswordValueStart {
			spans = append(spans, [2]int{ut.PasswordValueStart, ut.PasswordValueEnd})
		}
	}
	return spans
}

// cut returns raw[start:end] without the bytes of spans (sorted, disjoint):
// the Password elements stay, empty, so neither a password nor its length
// leaves the process.
func cut(raw []byte, start, end int, spans [][2]int) string {
	var b strings.Builder
	b.Grow(end - start)
	at := start
	for _, sp := range spans {
		if sp[1] <= at || sp[0] >= end {
			continue
		}
		b.Write(raw[at:max(at, sp[0])])
		at = sp[1]
	}
	if at < end {
		b.Write(raw[at:end])
	}
	return b.String()
}

// Answer is what an exec program or an http service answers.
type Answer struct {
	Version int `json:"version"`
	// Decision is "accept", "reject" or "ignore".
	Decision string `json:"decision"`
	// RequestID, when present, must be the document's (the long-lived exec
	// mode requires it, to pair answers with requests).
	RequestID string `json:"request_id,omitempty"`
	// Subject is the identity on accept.
	Subject *AnswerSubject `json:"subject,omitempty"`
	// Reason is logged on reject (never sent to the client).
	Reason string `json:"reason,omitempty"`
	// Code is the WS-Security fault code on reject (default
	// FailedAuthentication).
	Code string `json:"code,omitempty"`
	// Processed lists, on accept, the indexes into security.tokens of the
	// Security header children the module verified. A request is accepted
	// only when every child was processed by a module that succeeded (or is
	// passed through by configuration).
	Processed []int `json:"processed,omitempty"`
}

// AnswerSubject is the identity an accepting answer establishes.
type AnswerSubject struct {
	Principal  string              `json:"principal"`
	Realm      string              `json:"realm,omitempty"`
	Method     string              `json:"method,omitempty"`
	TokenType  string              `json:"token_type,omitempty"`
	Groups     []string            `json:"groups,omitempty"`
	Attributes map[string][]string `json:"attributes,omitempty"`
}

// ErrBadAnswer marks an answer that does not follow the contract; the
// module treats it as a technical failure (fail closed).
var ErrBadAnswer = errors.New("extensible: answer does not follow the contract")

var rejectCodes = map[string]wsse.FaultCode{
	"": wsse.FailedAuthentication, string(wsse.FailedAuthentication): wsse.FailedAuthentication,
	string(wsse.InvalidSecurityToken): wsse.InvalidSecurityToken, string(wsse.InvalidSecurity): wsse.InvalidSecurity,
	string(wsse.UnsupportedSecurityToken): wsse.UnsupportedSecurityToken, string(wsse.FailedCheck): wsse.FailedCheck,
	string(wsse.MessageExpired): wsse.MessageExpired, string(wsse.UnsupportedAlgorithm): wsse.UnsupportedAlgorithm,
}

// ParseAnswer decodes and checks an answer. Unknown fields are allowed
// (later minor additions); anything else off the contract is ErrBadAnswer.
func ParseAnswer(b []byte, requestID string) (*Answer, error) {
	var a Answer
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrBadAnswer)
	}
	if a.Version != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadAnswer, a.Version, Version)
	}
	if a.RequestID != "" && a.RequestID != requestID {
		return nil, fmt.Errorf("%w: answer for request %q, want %q", ErrBadAnswer, a.RequestID, requestID)
	}
	switch a.Decision {
	case "accept":
		s := a.Subject
		if s == nil || s.Principal == "" {
			return nil, fmt.Errorf("%w: accept without subject.principal", ErrBadAnswer)
		}
		if !clean(s.Principal, s.Realm, s.Method, s.TokenType) || !clean(s.Groups...) {
			return nil, fmt.Errorf("%w: control characters or invalid UTF-8 in the subject", ErrBadAnswer)
		}
		for k, vs := range s.Attributes {
			if k == "" || !clean(k) || !clean(vs...) {
				return nil, fmt.Errorf("%w: bad attribute %q", ErrBadAnswer, k)
			}
		}
		for _, i := range a.Processed {
			if i < 0 {
				return nil, fmt.Errorf("%w: negative index %d in processed", ErrBadAnswer, i)
			}
		}
	case "reject":
		if _, ok := rejectCodes[a.Code]; !ok {
			return nil, fmt.Errorf("%w: unknown fault code %q", ErrBadAnswer, a.Code)
		}
	case "ignore":
	default:
		return nil, fmt.Errorf("%w: decision %q is not accept, reject or ignore", ErrBadAnswer, a.Decision)
	}
	return &a, nil
}

// clean reports whether strings are valid UTF-8 without control characters
// (they end up in HTTP headers downstream) and of sane length.
func clean(ss ...string) bool {
	for _, s := range ss {
		if len(s) > 4096 || !utf8.ValidString(s) {
			return false
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				return false
			}
		}
	}
	return true
}

// MarkProcessed marks the Security header children an accepting answer
// lists in processed. An index that names no child of the request's header
// is ErrBadAnswer.
func (a *Answer) MarkProcessed(req *authn.Request) error {
	if a.Decision != "accept" || len(a.Processed) == 0 {
		return nil
	}
	n := 0
	if sec := req.Security(); sec != nil {
		n = len(sec.Elements)
	}
	for _, i := range a.Processed {
		if i < 0 || i >= n {
			return fmt.Errorf("%w: processed index %d, but the Security header has %d children", ErrBadAnswer, i, n)
		}
	}
	for _, i := range a.Processed {
		req.MarkProcessed(i)
	}
	return nil
}

// Apply turns an answer into a login result: accept fills s, reject is a
// fault, ignore is authn.ErrUnsupported.
func (a *Answer) Apply(s *authn.Subject, defaultMethod string) (bool, error) {
	switch a.Decision {
	case "accept":
		as := a.Subject
		s.Principal, s.Realm = as.Principal, as.Realm
		s.Method, s.TokenType = as.Method, as.TokenType
		if s.Method == "" {
			s.Method = defaultMethod
		}
		s.AddGroups(as.Groups...)
		for _, k := range slices.Sorted(maps.Keys(as.Attributes)) {
			s.AddAttribute(k, as.Attributes[k]...)
		}
		return true, nil
	case "reject":
		reason := a.Reason
		if reason == "" {
			reason = "rejected"
		}
		if !clean(reason) {
			reason = fmt.Sprintf("%q", reason)
		}
		return false, authn.Reject(rejectCodes[a.Code], "%s", reason)
	}
	return false, authn.ErrUnsupported
}
