// Package saml is the login module for SAML 2.0 bearer assertions carried
// in the WS-Security header (OASIS WSS SAML Token Profile 1.1): a
// saml2:Assertion as a direct child of our Security header, signed by a
// configured identity provider with an enveloped XML Signature.
//
// Against signature wrapping the module
//
//   - takes the assertion only from the Security header that wsse.Parse
//     chose for this service, and refuses a header with more than one;
//   - refuses an assertion whose subtree holds a second ds:Signature or
//     any duplicate ID, and one whose single Reference is not "#" + its own
//     ID;
//   - reads every fact (issuer, subject, conditions, attributes) from the
//     element that goxmldsig returns as verified (the canonical bytes whose
//     digest was checked), never from the tree as received.
//
// Then it checks the version, Issuer, Conditions (NotBefore, NotOnOrAfter
// with skew, every AudienceRestriction), the bearer SubjectConfirmation,
// and records the assertion's ID in the replay cache until NotOnOrAfter.
package saml

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	goxmldsig "github.com/russellhaering/goxmldsig"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/extensible"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/wsse"
)

// Namespaces and URIs.
const (
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSDSig      = "http://www.w3.org/2000/09/xmldsig#"
	Bearer      = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// Policy is what an assertion must satisfy; its YAML keys are those of the
// saml section (Config).
type Policy struct {
	// Issuers are the accepted Issuer values (at least one).
	Issuers []string `yaml:"issuers"`
	// Audiences are this service's names. When set, an assertion must carry
	// an AudienceRestriction, and each of its AudienceRestrictions must name
	// one of them.
	Audiences []string `yaml:"audiences"`
	// ClockSkew is allowed on NotBefore and NotOnOrAfter (default 2 min).
	ClockSkew time.Duration `yaml:"clock_skew"`
	// MaxLifetime bounds NotOnOrAfter - now, which is also how long the
	// assertion's ID stays in the replay cache (default 24 h).
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// PrincipalAttribute takes the principal from an attribute instead of
	// the Subject's NameID.
	PrincipalAttribute string `yaml:"principal_attribute"`
	// GroupsAttribute names the attribute whose values become groups.
	GroupsAttribute string `yaml:"groups_attribute"`
	// Realm is put into the Subject.
	Realm string `yaml:"realm"`
	// MaxAssertionBytes bounds the assertion (default 64 KiB).
	MaxAssertionBytes int `yaml:"max_assertion_bytes"`
}

// Options builds a Module: the policy, the identity providers' signing
// certificates (an assertion must be signed by the key of one of them), the
// replay cache and a logger. Config.Open fills them from the configuration.
type Options struct {
	Policy
	Certificates []*x509.Certificate
	Replay       replay.Cache
	Logger       *slog.Logger
}

// Module verifies SAML 2.0 bearer assertions.
type Module struct {
	c     Options
	store *goxmldsig.MemoryX509CertificateStore
}

// New checks the options and returns the module.
func New(o Options) (*Module, error) {
	if len(o.Certificates) == 0 {
		return nil, errors.New("saml: at least one identity provider certificate is required")
	}
	if err := o.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("saml: %w", err)
	}
	if o.Replay == nil {
		return nil, errors.New("saml: a replay cache is required")
	}
	if o.ClockSkew == 0 {
		o.ClockSkew = 2 * time.Minute
	}
	if o.MaxLifetime == 0 {
		o.MaxLifetime = 24 * time.Hour
	}
	if o.MaxAssertionBytes == 0 {
		o.MaxAssertionBytes = 64 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Module{c: o, store: &goxmldsig.MemoryX509CertificateStore{Roots: slices.Clone(o.Certificates)}}, nil
}

// Assertion is what the module read from a verified assertion.
type Assertion struct {
	ID, Issuer   string
	NameID       string
	NameIDFormat string
	NotBefore    time.Time
	NotOnOrAfter time.Time
	Audiences    [][]string // one list per AudienceRestriction
	Bearer       bool
	// BearerNotOnOrAfter is the bearer SubjectConfirmationData's, if any.
	BearerNotOnOrAfter time.Time
	Attributes         map[string][]string
	attrOrder          []string
}

func invalid(format string, args ...any) *authn.Fault {
	return authn.Reject(wsse.InvalidSecurityToken, format, args...)
}

// Login implements authn.Module.
func (m *Module) Login(ctx context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
	toks := extensible.Find(req, NSAssertion, "Assertion")
	switch {
	case len(toks) == 0:
		return false, authn.ErrUnsupported
	case len(toks) > 1:
		return false, invalid("saml: %d assertions in the Security header; one is allowed", len(toks))
	}
	tok := toks[0]
	if len(tok.XML) > m.c.MaxAssertionBytes {
		return false, invalid("saml: assertion of %d bytes is larger than %d", len(tok.XML), m.c.MaxAssertionBytes)
	}
	el, err := tok.Element()
	if err != nil {
		return false, invalid("saml: assertion does not parse: %v", err)
	}
	a, err := m.Verify(el, req.Now)
	if err != nil {
		return false, err
	}
	if err := m.check(a, req.Now); err != nil {
		return false, err
	}
	principal := a.NameID
	if m.c.PrincipalAttribute != "" {
		vs := a.Attributes[m.c.PrincipalAttribute]
		if len(vs) != 1 {
			return false, authn.Reject(wsse.FailedAuthentication, "saml: attribute %q has %d values; want one principal", m.c.PrincipalAttribute, len(vs))
		}
		principal = vs[0]
	}
	if principal == "" {
		return false, invalid("saml: assertion names no subject")
	}
	exp := a.NotOnOrAfter.Add(m.c.ClockSkew)
	owner := replay.Owner{Principal: principal, Address: req.Client}
	if err := replay.AddFor(ctx, m.c.Replay, "saml2|"+a.Issuer+"|"+a.ID, exp, owner); err != nil {
		if errors.Is(err, replay.ErrReplay) {
			return false, authn.Reject(wsse.FailedAuthentication, "saml: assertion %s from %s was already used", a.ID, a.Issuer)
		}
		return false, fmt.Errorf("%w: saml: replay cache: %w", authn.ErrUnavailable, err)
	}
	s.Principal, s.Realm, s.Method, s.TokenType = principal, m.c.Realm, "SAML2", "Bearer"
	for _, name := range a.attrOrder {
		vs := a.Attributes[name]
		if name == m.c.GroupsAttribute {
			s.AddGroups(vs...)
			continue
		}
		s.AddAttribute(name, vs...)
	}
	s.AddAttribute("saml_issuer", a.Issuer)
	extensible.Set(req, "saml.assertion_id", a.ID)
	extensible.Set(req, "saml.issuer", a.Issuer)
	extensible.MarkProcessed(req, tok)
	return true, nil
}

// Verify checks the enveloped signature of a standalone assertion element
// and parses the verified content. Policy (issuer, time, audience) is not
// checked here.
func (m *Module) Verify(el *etree.Element, now time.Time) (*Assertion, error) {
	if el.NamespaceURI() != NSAssertion || el.Tag != "Assertion" {
		return nil, invalid("saml: not a SAML 2.0 assertion")
	}
	id := el.SelectAttrValue("ID", "")
	if id == "" {
		return nil, invalid("saml: assertion without ID")
	}
	if err := shape(el, id); err != nil {
		return nil, err
	}
	vc := goxmldsig.NewDefaultValidationContext(m.store)
	vc.IdAttribute = "ID"
	vc.Clock = goxmldsig.NewFakeClockAt(now)
	verified, err := vc.Validate(el)
	if err != nil {
		return nil, authn.Reject(wsse.FailedCheck, "saml: signature of assertion %s does not verify: %v", id, err)
	}
	if verified.NamespaceURI() != NSAssertion || verified.Tag != "Assertion" || verified.SelectAttrValue("ID", "") != id {
		return nil, authn.Reject(wsse.FailedCheck, "saml: the signed element is not assertion %s", id)
	}
	return parse(verified)
}

// shape refuses the structures that signature wrapping needs: a second
// Signature anywhere in the assertion, duplicate IDs, or a signature that
// does not reference the assertion itself with exactly one Reference.
func shape(el *etree.Element, id string) error {
	var sigs []*etree.Element
	ids := map[string]bool{}
	var walk func(e *etree.Element, depth int) error
	walk = func(e *etree.Element, depth int) error {
		if depth > 64 {
			return invalid("saml: assertion nested too deep")
		}
		for _, a := range e.Attr {
			if a.Space == "xmlns" || a.Key == "xmlns" {
				continue
			}
			if a.Key == "ID" || a.Key == "Id" || a.Key == "id" {
				if ids[a.Value] {
					return invalid("saml: duplicate ID %q in the assertion", a.Value)
				}
				ids[a.Value] = true
			}
		}
		if e.Tag == "Signature" && e.NamespaceURI() == NSDSig {
			sigs = append(sigs, e)
		}
		for _, c := range e.ChildElements() {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(el, 0); err != nil {
		return err
	}
	switch {
	case len(sigs) == 0:
		return authn.Reject(wsse.FailedCheck, "saml: assertion %s is not signed", id)
	case len(sigs) > 1:
		return invalid("saml: assertion %s holds %d signatures", id, len(sigs))
	case sigs[0].Parent() != el:
		return invalid("saml: the signature of assertion %s is not its child", id)
	}
	var refs []*etree.Element
	for _, si := range sigs[0].ChildElements() {
		if si.Tag == "SignedInfo" && si.NamespaceURI() == NSDSig {
			for _, r := range si.ChildElements() {
				if r.Tag == "Reference" && r.NamespaceURI() == NSDSig {
					refs = append(refs, r)
				}
			}
		}
	}
	if len(refs) != 1 || refs[0].SelectAttrValue("URI", "") != "#"+id {
		return invalid("saml: the signature of assertion %s must have one Reference to #%s", id, id)
	}
	return nil
}

// child returns the only child {NSAssertion}local of e, nil if none, an
// error if several.
func child(e *etree.Element, local string) (*etree.Element, error) {
	var found *etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == NSAssertion {
			if found != nil {
				return nil, invalid("saml: more than one %s in %s", local, e.Tag)
			}
			found = c
		}
	}
	return found, nil
}

func children(e *etree.Element, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == NSAssertion {
			out = append(out, c)
		}
	}
	return out
}

func parseTime(e *etree.Element, attr string) (time.Time, bool, error) {
	v := e.SelectAttrValue(attr, "")
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, invalid("saml: %s %s=%q is not a dateTime", e.Tag, attr, v)
	}
	return t, true, nil
}

// parse reads an assertion element (verified, or in the fuzz test raw).
func parse(el *etree.Element) (*Assertion, error) {
	a := &Assertion{ID: el.SelectAttrValue("ID", ""), Attributes: map[string][]string{}}
	if v := el.SelectAttrValue("Version", ""); v != "2.0" {
		return nil, invalid("saml: assertion version %q is not 2.0", v)
	}
	iss, err := child(el, "Issuer")
	if err != nil {
		return nil, err
	}
	if iss == nil {
		return nil, invalid("saml: assertion without Issuer")
	}
	a.Issuer = strings.TrimSpace(iss.Text())

	subj, err := child(el, "Subject")
	if err != nil {
		return nil, err
	}
	if subj != nil {
		nid, err := child(subj, "NameID")
		if err != nil {
			return nil, err
		}
		if nid != nil {
			a.NameID = strings.TrimSpace(nid.Text())
			a.NameIDFormat = nid.SelectAttrValue("Format", "")
		}
		for _, sc := range children(subj, "SubjectConfirmation") {
			if sc.SelectAttrValue("Method", "") != Bearer {
				continue
			}
			a.Bearer = true
			scd, err := child(sc, "SubjectConfirmationData")
			if err != nil {
				return nil, err
			}
			if scd != nil {
				if a.BearerNotOnOrAfter, _, err = parseTime(scd, "NotOnOrAfter"); err != nil {
					return nil, err
				}
			}
		}
	}

	cond, err := child(el, "Conditions")
	if err != nil {
		return nil, err
	}
	if cond == nil {
		return nil, invalid("saml: assertion without Conditions")
	}
	if a.NotBefore, _, err = parseTime(cond, "NotBefore"); err != nil {
		return nil, err
	}
	var ok bool
	if a.NotOnOrAfter, ok, err = parseTime(cond, "NotOnOrAfter"); err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("saml: Conditions without NotOnOrAfter")
	}
	for _, ar := range children(cond, "AudienceRestriction") {
		var auds []string
		for _, au := range children(ar, "Audience") {
			auds = append(auds, strings.TrimSpace(au.Text()))
		}
		a.Audiences = append(a.Audiences, auds)
	}

	for _, st := range children(el, "AttributeStatement") {
		for _, at := range children(st, "Attribute") {
			name := at.SelectAttrValue("Name", "")
			if name == "" {
				continue
			}
			if _, seen := a.Attributes[name]; !seen {
				a.attrOrder = append(a.attrOrder, name)
				a.Attributes[name] = []string{}
			}
			for _, v := range children(at, "AttributeValue") {
				a.Attributes[name] = append(a.Attributes[name], strings.TrimSpace(v.Text()))
			}
		}
	}
	return a, nil
}

// check applies the policy to a verified assertion.
func (m *Module) check(a *Assertion, now time.Time) error {
	if !slices.Contains(m.c.Issuers, a.Issuer) {
		return authn.Reject(wsse.FailedAuthentication, "saml: issuer %q is not trusted", a.Issuer)
	}
	skew := m.c.ClockSkew
	if !a.NotBefore.IsZero() && now.Add(skew).Before(a.NotBefore) {
		return invalid("saml: assertion %s is not valid before %s", a.ID, a.NotBefore.Format(time.RFC3339))
	}
	if !now.Add(-skew).Before(a.NotOnOrAfter) {
		return authn.Reject(wsse.MessageExpired, "saml: assertion %s expired at %s", a.ID, a.NotOnOrAfter.Format(time.RFC3339))
	}
	if a.NotOnOrAfter.Sub(now) > m.c.MaxLifetime {
		return invalid("saml: assertion %s is valid for longer than %s", a.ID, m.c.MaxLifetime)
	}
	if !a.Bearer {
		return authn.Reject(wsse.UnsupportedSecurityToken, "saml: assertion %s has no bearer SubjectConfirmation (holder-of-key and sender-vouches are not supported)", a.ID)
	}
	if !a.BearerNotOnOrAfter.IsZero() && !now.Add(-skew).Before(a.BearerNotOnOrAfter) {
		return authn.Reject(wsse.MessageExpired, "saml: bearer confirmation of assertion %s expired at %s", a.ID, a.BearerNotOnOrAfter.Format(time.RFC3339))
	}
	if len(m.c.Audiences) > 0 {
		if len(a.Audiences) == 0 {
			return authn.Reject(wsse.FailedAuthentication, "saml: assertion %s has no AudienceRestriction", a.ID)
		}
		for _, r := range a.Audiences {
			if !slices.ContainsFunc(r, func(x string) bool { return slices.Contains(m.c.Audiences, x) }) {
				return authn.Reject(wsse.FailedAuthentication, "saml: assertion %s is for audience %q, not us", a.ID, r)
			}
		}
	}
	return nil
}

var _ authn.Module = (*Module)(nil)
