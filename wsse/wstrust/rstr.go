package wstrust

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"strconv"
	"time"

	"github.com/authsvc/authsvc/wsse"
)

// TimeFormat is how times are written: xsd:dateTime in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Response describes the envelope that answers an RST.
type Response struct {
	// SOAP is the envelope's version (the request's).
	SOAP wsse.Version
	// Version is the WS-Trust version (the request's).
	Version *Version
	// Kind is Issue, Renew or Cancel.
	Kind Kind
	// Action is the reply's wsa:Action (ReplyAction of the request's).
	Action string
	// AddressingNS is the WS-Addressing namespace of the request
	// (Addressing.Namespace); "" means NSWSA.
	AddressingNS string
	// RelatesTo is the request's MessageID ("": no RelatesTo header);
	// MessageID the reply's own ("": none).
	RelatesTo, MessageID string
	// Now and TTL make the Security header's Timestamp (Created = Now,
	// Expires = Now + TTL; TTL 0 means 5 minutes).
	Now time.Time
	TTL time.Duration
	// Context is the RST's Context attribute, echoed ("": none).
	Context string

	// Token is the context issued or renewed (Issue, Renew): its ID
	// (wsu:Id), Identifier and, after a renewal, Instance.
	Token *SCT
	// Proof is the key and how to convey it (Issue, Renew).
	Proof *Proof
	// Created and Expires are the context's Lifetime (Issue, Renew).
	Created, Expires time.Time
}

// BuildResponse writes the response envelope: SOAP Header with wsa:Action,
// wsa:MessageID, wsa:RelatesTo and a wsse:Security header with a
// wsu:Timestamp; SOAP Body with the RSTR. WS-Trust 1.3 puts the RSTR in a
// RequestSecurityTokenResponseCollection, for Renew and Cancel as for Issue:
// Apache CXF 4.2.3 refuses a bare 1.3 RSTR to its cancel ("Expected
// RequestSecurityTokenResponseCollection"; see testdata/cxf/README.md). Feb
// 2005 answers with a bare RSTR, as WCF sends it. A Cancel's RSTR holds
// RequestedTokenCancelled only.
func BuildResponse(r *Response) ([]byte, error) {
	v := r.Version
	if v == nil {
		return nil, errors.New("wstrust: response without a version")
	}
	switch r.Kind {
	case Issue, Renew:
		if r.Token == nil || r.Token.ID == "" || r.Token.Identifier == "" || r.Proof == nil || r.Proof.Kind == 0 {
			return nil, errors.New("wstrust: an issue or renew response needs a token with ID and Identifier, and a proof")
		}
		if r.Created.IsZero() || !r.Expires.After(r.Created) {
			return nil, errors.New("wstrust: an issue or renew response needs a Lifetime")
		}
	case Cancel:
	default:
		return nil, errors.New("wstrust: response of kind " + r.Kind.String())
	}
	wsa := r.AddressingNS
	if wsa == "" {
		wsa = NSWSA
	}
	ttl := r.TTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	now := r.Now.UTC()

	w := &writer{}
	w.raw(`<s:Envelope xmlns:s="`)
	w.text(r.SOAP.Namespace())
	w.raw(`" xmlns:a="`)
	w.text(wsa)
	w.raw(`" xmlns:u="` + wsse.NSWSU + `"><s:Header>`)
	w.leaf("a:Action", `s:mustUnderstand="`+mustUnderstand(r.SOAP)+`"`, r.Action)
	if r.MessageID != "" {
		w.leaf("a:MessageID", "", r.MessageID)
	}
	if r.RelatesTo != "" {
		w.leaf("a:RelatesTo", "", r.RelatesTo)
	}
	w.raw(`<o:Security s:mustUnderstand="` + mustUnderstand(r.SOAP) + `" xmlns:o="` + wsse.NSWSSE + `">`)
	w.raw(`<u:Timestamp u:Id="_0">`)
	w.leaf("u:Created", "", now.Format(TimeFormat))
	w.leaf("u:Expires", "", now.Add(ttl).Format(TimeFormat))
	w.raw(`</u:Timestamp></o:Security></s:Header><s:Body>`)

	collection := v == V13
	if collection {
		w.raw(`<t:RequestSecurityTokenResponseCollection xmlns:t="` + v.Trust + `">`)
		w.raw(`<t:RequestSecurityTokenResponse`)
	} else {
		w.raw(`<t:RequestSecurityTokenResponse xmlns:t="` + v.Trust + `"`)
	}
	if r.Context != "" {
		w.raw(` Context="`)
		w.text(r.Context)
		w.raw(`"`)
	}
	w.raw(`>`)
	if r.Kind == Cancel {
		w.raw(`<t:RequestedTokenCancelled/>`)
	} else {
		r.issued(w)
	}
	w.raw(`</t:RequestSecurityTokenResponse>`)
	if collection {
		w.raw(`</t:RequestSecurityTokenResponseCollection>`)
	}
	w.raw(`</s:Body></s:Envelope>`)
	return w.b.Bytes(), nil
}

// issued writes the content of an Issue or Renew RSTR.
func (r *Response) issued(w *writer) {
	v, t, p := r.Version, r.Token, r.Proof
	w.leaf("t:TokenType", "", v.TokenTypeSCT())
	w.raw(`<t:RequestedSecurityToken>`)
	w.raw(`<c:SecurityContextToken xmlns:c="` + v.SC + `" u:Id="`)
	w.text(t.ID)
	w.raw(`">`)
	w.leaf("c:Identifier", "", t.Identifier)
	if t.Instance != "" {
		w.leaf("c:Instance", "", t.Instance)
	}
	w.raw(`</c:SecurityContextToken></t:RequestedSecurityToken>`)
	ref := func(elem, uri string) {
		w.raw(`<t:` + elem + `><o:SecurityTokenReference xmlns:o="` + wsse.NSWSSE + `"><o:Reference URI="`)
		w.text(uri)
		w.raw(`" ValueType="` + v.TokenTypeSCT() + `"/></o:SecurityTokenReference></t:` + elem + `>`)
	}
	ref("RequestedAttachedReference", "#"+t.ID)
	ref("RequestedUnattachedReference", t.Identifier)
	switch p.Kind {
	case ProofComputed:
		w.raw(`<t:RequestedProofToken>`)
		w.leaf("t:ComputedKey", "", v.CKPSHA1())
		w.raw(`</t:RequestedProofToken><t:Entropy>`)
		w.leaf("t:BinarySecret", `Type="`+v.Nonce()+`"`, base64.StdEncoding.EncodeToString(p.ServerEntropy))
		w.raw(`</t:Entropy>`)
	case ProofSecret:
		w.raw(`<t:RequestedProofToken>`)
		w.leaf("t:BinarySecret", `Type="`+v.SymmetricKey()+`"`, base64.StdEncoding.EncodeToString(p.Key))
		w.raw(`</t:RequestedProofToken>`)
	}
	w.raw(`<t:Lifetime>`)
	w.leaf("u:Created", "", r.Created.UTC().Format(TimeFormat))
	w.leaf("u:Expires", "", r.Expires.UTC().Format(TimeFormat))
	w.raw(`</t:Lifetime>`)
	w.leaf("t:KeySize", "", strconv.Itoa(p.KeySize))
}

func mustUnderstand(v wsse.Version) string {
	if v == wsse.SOAP12 {
		return "true"
	}
	return "1"
}

type writer struct{ b bytes.Buffer }

func (w *writer) raw(s string) { w.b.WriteString(s) }

// text writes s escaped for character data and attribute values.
func (w *writer) text(s string) { _ = xml.EscapeText(&w.b, []byte(s)) }

// leaf writes <name attrs>text</name>; attrs are written as they are.
func (w *writer) leaf(name, attrs, text string) {
	w.raw("<" + name)
	if attrs != "" {
		w.raw(" " + attrs)
	}
	w.raw(">")
	w.text(text)
	w.raw("</" + name + ">")
}
