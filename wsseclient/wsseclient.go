// Package wsseclient builds SOAP envelopes carrying a UsernameToken, for the
// command line's 'envelope' subcommand, demos and load tests. The interop
// tests do not use it: their good input comes from real SOAP clients.
package wsseclient

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"time"

	"github.com/authsvc/authsvc/wsse"
)

// UsernameToken describes the token to put in the Security header.
type UsernameToken struct {
	Username, Password string
	// Digest sends PasswordDigest instead of PasswordText.
	Digest bool
	// Nonce and Created are filled in when zero (a fresh random nonce, now).
	Nonce   []byte
	Created time.Time
	// NoNonce leaves Nonce and Created out (PasswordText only).
	NoNonce bool
}

// Envelope returns a SOAP envelope of version v with the token in its
// Security header and body as the Body's content (raw XML).
func Envelope(v wsse.Version, ut UsernameToken, body string) []byte {
	var b bytes.Buffer
	b.Grow(1024 + len(body))
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soap:Envelope xmlns:soap="` + v.Namespace() + `"><soap:Header>`)
	b.WriteString(`<wsse:Security xmlns:wsse="` + wsse.NSWSSE + `" xmlns:wsu="` + wsse.NSWSU + `" soap:mustUnderstand="1">`)
	b.WriteString(`<wsse:UsernameToken wsu:Id="UsernameToken-1"><wsse:Username>`)
	xml.EscapeText(&b, []byte(ut.Username))
	b.WriteString(`</wsse:Username>`)
	var nonce []byte
	var created string
	if !ut.NoNonce || ut.Digest {
		nonce = ut.Nonce
		if nonce == nil {
			nonce = make([]byte, 16)
			rand.Read(nonce)
		}
		c := ut.Created
		if c.IsZero() {
			c = time.Now()
		}
		created = c.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if ut.Digest {
		h := sha1.New()
		h.Write(nonce)
		h.Write([]byte(created))
		h.Write([]byte(ut.Password))
		b.WriteString(`<wsse:Password Type="` + wsse.PasswordDigest + `">`)
		b.WriteString(base64.StdEncoding.EncodeToString(h.Sum(nil)))
	} else {
		b.WriteString(`<wsse:Password Type="` + wsse.PasswordText + `">`)
		xml.EscapeText(&b, []byte(ut.Password))
	}
	b.WriteString(`</wsse:Password>`)
	if nonce != nil {
		b.WriteString(`<wsse:Nonce EncodingType="` + wsse.Base64Binary + `">`)
		b.WriteString(base64.StdEncoding.EncodeToString(nonce))
		b.WriteString(`</wsse:Nonce><wsu:Created>` + created + `</wsu:Created>`)
	}
	b.WriteString(`</wsse:UsernameToken></wsse:Security></soap:Header><soap:Body>`)
	b.WriteString(body)
	b.WriteString(`</soap:Body></soap:Envelope>`)
	return b.Bytes()
}
