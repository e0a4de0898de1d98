package server

import (
	"bytes"
	"encoding/xml"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
)

// versionFromContentType guesses the SOAP version of a message that could not
// be parsed: application/soap+xml is SOAP 1.2, anything else 1.1.
func versionFromContentType(ct string) wsse.Version {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && strings.EqualFold(mt, "application/soap+xml") {
		return wsse.SOAP12
	}
	return wsse.SOAP11
}

// faultBody renders a SOAP fault of version v carrying the WS-Security code
// of f. The reason is the generic text of the code; the request id goes into
// the detail so that an operator can find the log line that says why.
func faultBody(v wsse.Version, f *authn.Fault, requestID string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	reason := f.Code.Reason()
	if f.Temporary {
		reason = "The security token could not be verified at this time; try again later"
	}
	if v == wsse.SOAP12 {
		code := "env:Sender"
		if f.Temporary {
			code = "env:Receiver"
		}
		b.WriteString(`<env:Envelope xmlns:env="` + wsse.NSSOAP12 + `"><env:Body><env:Fault><env:Code><env:Value>`)
		b.WriteString(code)
		b.WriteString(`</env:Value><env:Subcode><env:Value xmlns:wsse="` + wsse.NSWSSE + `">wsse:`)
		b.WriteString(string(f.Code))
		b.WriteString(`</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">`)
		xml.EscapeText(&b, []byte(reason))
		b.WriteString(`</env:Text></env:Reason><env:Detail><authsvc:RequestId xmlns:authsvc="urn:authsvc:fault">`)
		xml.EscapeText(&b, []byte(requestID))
		b.WriteString(`</authsvc:RequestId></env:Detail></env:Fault></env:Body></env:Envelope>`)
		return b.Bytes()
	}
	b.WriteString(`<soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `"><soap:Body><soap:Fault><faultcode xmlns:wsse="` + wsse.NSWSSE + `">wsse:`)
	b.WriteString(string(f.Code))
	b.WriteString(`</faultcode><faultstring>`)
	xml.EscapeText(&b, []byte(reason))
	b.WriteString(`</faultstring><detail><authsvc:RequestId xmlns:authsvc="urn:authsvc:fault">`)
	xml.EscapeText(&b, []byte(requestID))
	b.WriteString(`</authsvc:RequestId></detail></soap:Fault></soap:Body></soap:Envelope>`)
	return b.Bytes()
}

// contentType is the media type of a SOAP message of version v.
func contentType(v wsse.Version) string {
	if v == wsse.SOAP12 {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// writeFault answers with a SOAP fault. status is the HTTP status chosen by
// the caller's mode (API or proxy).
func writeFault(w http.ResponseWriter, v wsse.Version, f *authn.Fault, requestID string, status int) {
	h := w.Header()
	h.Set("Content-Type", contentType(v))
	h.Set("X-Request-Id", requestID)
	h.Set("Cache-Control", "no-store")
	if f.Challenge != "" {
		h.Set("WWW-Authenticate", f.Challenge)
		status = http.StatusUnauthorized
	}
	if f.Temporary && f.RetryAfter > 0 && status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
	}
	w.WriteHeader(status)
	w.Write(faultBody(v, f, requestID))
}

// serverFault renders a SOAP fault that is not about security: code is
// soap:Server (1.1) or env:Receiver (1.2).
func serverFault(v wsse.Version, code, reason, requestID string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	if v == wsse.SOAP12 {
		b.WriteString(`<env:Envelope xmlns:env="` + wsse.NSSOAP12 + `"><env:Body><env:Fault><env:Code><env:Value>` + code +
			`</env:Value></env:Code><env:Reason><env:Text xml:lang="en">`)
		xml.EscapeText(&b, []byte(reason))
		b.WriteString(`</env:Text></env:Reason><env:Detail><authsvc:RequestId xmlns:authsvc="urn:authsvc:fault">`)
		xml.EscapeText(&b, []byte(requestID))
		b.WriteString(`</authsvc:RequestId></env:Detail></env:Fault></env:Body></env:Envelope>`)
		return b.Bytes()
	}
	b.WriteString(`<soap:Envelope xmlns:soap="` + wsse.NSSOAP11 + `"><soap:Body><soap:Fault><faultcode>` + code + `</faultcode><faultstring>`)
	xml.EscapeText(&b, []byte(reason))
	b.WriteString(`</faultstring><detail><authsvc:RequestId xmlns:authsvc="urn:authsvc:fault">`)
	xml.EscapeText(&b, []byte(requestID))
	b.WriteString(`</authsvc:RequestId></detail></soap:Fault></soap:Body></soap:Envelope>`)
	return b.Bytes()
}
