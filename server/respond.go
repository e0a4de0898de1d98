package server

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
)

// Responding. Every answer to an accepted request goes through accept (the
// identity assertion and the headers every answer carries); every SOAP
// fault, security or not, through renderFault.

// accept prepares the answer to an accepted request. It signs the identity
// assertion when one is configured and renders the modules' typed reply
// (authn.Reply) into w's headers. When own is set the answer is authsvc's
// (the API, the gateway): the assertion goes into w's headers, with
// X-Request-Id and Cache-Control: no-store. Otherwise (the proxy) the
// upstream answers and the caller forwards the assertion to it.
//
// When the assertion cannot be signed, accept answers with a Server fault
// and returns false: the request does not go on without it (fail closed).
func (s *Server) accept(w http.ResponseWriter, res *result, own bool) (assertion string, ok bool) {
	if s.id != nil {
		tok, err := s.id.sign(res.subject, res.id, s.o.Now())
		if err != nil {
			s.m.assertionErrors.Inc()
			s.log.Error("signing the identity assertion failed", "request_id", res.id, "error", err.Error())
			writeServerFault(w, res.version, res.id, http.StatusInternalServerError, "Internal error")
			return "", false
		}
		assertion = tok
	}
	h := w.Header()
	if rep := res.subject.Reply; rep != nil && len(rep.Negotiate) > 0 {
		// One string, under the header's canonical name (Set would make
		// "Www-Authenticate" anew each time).
		v := make([]byte, 0, len("Negotiate ")+base64.StdEncoding.EncodedLen(len(rep.Negotiate)))
		v = base64.StdEncoding.AppendEncode(append(v, "Negotiate "...), rep.Negotiate)
		h[hdrWWWAuthenticate] = []string{string(v)}
	}
	if own {
		h["X-Request-Id"] = []string{res.id}
		h["Cache-Control"] = noStore
		if assertion != "" {
			h.Set(s.id.o.Header, assertion)
		}
	}
	return assertion, true
}

// Header names and values set on every answer: canonical names, and value
// slices shared read-only (cap == len, so an Add copies them), so that an
// answer does not allocate them again.
var (
	hdrWWWAuthenticate = http.CanonicalHeaderKey("WWW-Authenticate")
	noStore            = []string{"no-store"}
	contentTypeJSON    = []string{"application/json"}
)

// versionFromContentType guesses the SOAP version of a message that could not
// be parsed: application/soap+xml is SOAP 1.2, anything else 1.1.
func versionFromContentType(ct string) wsse.Version {
	// Fast path for what clients send (mime.ParseMediaType cost 1.7 µs a
	// request); anything else is parsed in full.
	switch ct {
	case "text/xml; charset=utf-8", "text/xml;charset=UTF-8", "text/xml; charset=UTF-8", "text/xml":
		return wsse.SOAP11
	case "application/soap+xml; charset=utf-8", "application/soap+xml;charset=UTF-8", "application/soap+xml; charset=UTF-8", "application/soap+xml":
		return wsse.SOAP12
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && strings.EqualFold(mt, "application/soap+xml") {
		return wsse.SOAP12
	}
	return wsse.SOAP11
}

// contentType is the media type of a SOAP message of version v.
func contentType(v wsse.Version) string {
	if v == wsse.SOAP12 {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// writeFault answers with the SOAP fault of f. status is the HTTP status
// chosen by the caller's mode (API, proxy or gateway); a challenge makes it
// 401.
func writeFault(w http.ResponseWriter, v wsse.Version, f *authn.Fault, requestID string, status int) {
	h := w.Header()
	if f.Challenge != "" {
		h.Set("WWW-Authenticate", f.Challenge)
		status = http.StatusUnauthorized
	}
	if f.Temporary && f.RetryAfter > 0 && status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
	}
	writeSOAPFault(w, v, requestID, status, securityFault(f))
}

// writeServerFault answers with a fault that is not about security:
// soap:Server (1.1) or env:Receiver (1.2) with reason.
func writeServerFault(w http.ResponseWriter, v wsse.Version, requestID string, status int, reason string) {
	writeSOAPFault(w, v, requestID, status, soapFault{Receiver: true, Reason: reason})
}

// writeSOAPFault writes the headers every fault carries, then the fault.
func writeSOAPFault(w http.ResponseWriter, v wsse.Version, requestID string, status int, f soapFault) {
	h := w.Header()
	h.Set("Content-Type", contentType(v))
	h.Set("X-Request-Id", requestID)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(renderFault(v, f, requestID))
}

// soapFault is a SOAP fault to render.
type soapFault struct {
	// Space and Code are the fault code's expanded name: the SOAP 1.1
	// faultcode, or the Subcode under Sender or Receiver in SOAP 1.2. With
	// no Code the fault is a plain Server/Receiver or Client/Sender fault.
	Space, Code string
	// Receiver says the fault is the service's (SOAP 1.2 Receiver, SOAP 1.1
	// Server when there is no Code), not the sender's.
	Receiver bool
	// Reason is the text the client sees; generic, never a detail.
	Reason string
}

// securityFault is the SOAP fault of f: its code in its namespace
// (WS-Security's by default), Receiver when temporary, and the code's
// generic reason.
func securityFault(f *authn.Fault) soapFault {
	sf := soapFault{Space: f.Namespace, Code: string(f.Code), Receiver: f.Temporary}
	if sf.Space == "" {
		sf.Space = wsse.NSWSSE
	}
	switch {
	case f.Temporary:
		sf.Reason = "The security token could not be verified at this time; try again later"
	case sf.Space == wsse.NSWSSE:
		sf.Reason = f.Code.Reason()
	default:
		sf.Reason = genericReason(sf.Space, sf.Code)
	}
	return sf
}

// Namespaces whose fault codes the renderer knows a prefix and reasons for.
const (
	nsSC2005    = "http://schemas.xmlsoap.org/ws/2005/02/sc"
	nsSC13      = "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512"
	nsTrust2005 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	nsTrust13   = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
)

// faultPrefix is the prefix a fault code of namespace ns is written with.
func faultPrefix(ns string) string {
	switch ns {
	case wsse.NSWSSE:
		return "wsse"
	case nsSC2005, nsSC13:
		return "wsc"
	case nsTrust2005, nsTrust13:
		return "wst"
	}
	return "fc"
}

// genericReason is the fault string the specifications give WS-SecureConversation
// and WS-Trust codes (WS-SC 1.3 section 8, WS-Trust 1.3 section 11).
func genericReason(ns, code string) string {
	switch ns {
	case nsSC2005, nsSC13:
		switch code {
		case "BadContextToken":
			return "The requested context elements are insufficient or unsupported"
		case "UnsupportedContextToken":
			return "Not all of the values associated with the SCT are supported"
		case "UnknownDerivationSource":
			return "The specified source for the derivation is unknown"
		case "RenewNeeded":
			return "The provided context token has expired"
		case "UnableToRenew":
			return "The specified context token could not be renewed"
		}
	case nsTrust2005, nsTrust13:
		switch code {
		case "InvalidRequest":
			return "The request was invalid or malformed"
		case "FailedAuthentication":
			return "Authentication failed"
		case "RequestFailed":
			return "The specified request failed"
		case "InvalidSecurityToken":
			return "Security token has been revoked"
		case "AuthenticationBadElements":
			return "Insufficient Digest Elements"
		case "BadRequest":
			return "The specified RequestSecurityToken is not understood"
		case "ExpiredData":
			return "The request data is out-of-date"
		case "InvalidTimeRange":
			return "The requested time range is invalid or unsupported"
		case "InvalidScope":
			return "The request scope is invalid or unsupported"
		case "RenewNeeded":
			return "A renewable security token has expired"
		case "UnableToRenew":
			return "The requested renewal failed"
		}
	}
	return "The request could not be processed"
}

// renderFault renders f as a SOAP fault of version v. The request id goes
// into the detail so that an operator can find the log line that says why.
func renderFault(v wsse.Version, f soapFault, requestID string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	requestIDElem := func() {
		b.WriteString(`<authsvc:RequestId xmlns:authsvc="urn:authsvc:fault">`)
		xml.EscapeText(&b, []byte(requestID))
		b.WriteString(`</authsvc:RequestId>`)
	}
	// code writes the code's QName as element content, with its namespace
	// declared on the element (open is its start tag without '>').
	code := func(open, end string) {
		p := faultPrefix(f.Space)
		b.WriteString(open + ` xmlns:` + p + `="`)
		xml.EscapeText(&b, []byte(f.Space))
		b.WriteString(`">` + p + `:`)
		xml.EscapeText(&b, []byte(f.Code))
		b.WriteString(end)
	}
	if v == wsse.SOAP12 {
		value := "env:Sender"
		if f.Receiver {
			value = "env:Receiver"
		}
		b.WriteString(`<env:Envelope xmlns:env="` + wsse.NSSOAP12 + `"><env:Body><env:Fault><env:Code><env:Value>` + value + `</env:Value>`)
		if f.Code != "" {
			code(`<env:Subcode><env:Value`, `</env:Value></env:Subcode>`)
		}
		b.WriteString(`</env:Code><env:Reason><env:Text xml:lang="en">`)
		xml.EscapeText(&b, []byte(f.Reason))
		b.WriteString(`</env:Text></env:Reason><env:Detail>`)
		requestIDElem()
		b.WriteString(`</env:Detail></env:Fault></env:Body></env:Envelope>`)
		return b.Bytes()
	}
	b.WriteString(`<soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `"><soap:Body><soap:Fault>`)
	switch {
	case f.Code != "":
		code(`<faultcode`, `</faultcode>`)
	case f.Receiver:
		b.WriteString(`<faultcode>soap:Server</faultcode>`)
	default:
		b.WriteString(`<faultcode>soap:Client</faultcode>`)
	}
	b.WriteString(`<faultstring>`)
	xml.EscapeText(&b, []byte(f.Reason))
	b.WriteString(`</faultstring><detail>`)
	requestIDElem()
	b.WriteString(`</detail></soap:Fault></soap:Body></soap:Envelope>`)
	return b.Bytes()
}
