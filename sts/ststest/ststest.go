// Package ststest holds what the tests of package sts and authn/secureconv
// share: a replica (chain with the username and secure-conversation
// modules, and an STS) over a real store, the server's flow for an RST
// (Classify, chain, Respond), and RST and application envelopes that
// WSS4J 1.6 secures as a client would (test/wss4j SCGen).
package ststest

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/secureconv"
	"github.com/authsvc/authsvc/authn/username"
	"github.com/authsvc/authsvc/registry"
	"github.com/authsvc/authsvc/replay"
	"github.com/authsvc/authsvc/sct"
	"github.com/authsvc/authsvc/sts"
	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// The user of the test registry.
const (
	User     = "alice"
	Password = "wonderland"
	Group    = "soap-users"
	Mail     = "alice@example.test"
)

// Registry writes a file registry with User and returns it.
func Registry(t testing.TB) *registry.File {
	t.Helper()
	h, err := registry.HashPassword(Password, registry.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "users.yaml")
	doc := "users:\n  - name: " + User + "\n    password_hash: \"" + h + "\"\n    digest_secret: " + Password +
		"\n    groups: [" + Group + "]\n    attributes: {mail: [" + Mail + "]}\n"
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := registry.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Replica is one authsvc replica: a chain (username sufficient, then
// secure_conversation sufficient) and an STS over a store.
type Replica struct {
	Chain  *authn.Chain
	Module *secureconv.Module
	STS    *sts.Service
	Store  sct.Store
	Replay replay.Cache
}

// Options change a replica's configuration.
type Options struct {
	STS    func(*sts.Config)
	Module func(*secureconv.Config)
}

// NewReplica builds a replica for issuer over store and reg, with its own
// replay cache (closed with the test).
func NewReplica(t testing.TB, issuer string, store sct.Store, reg *registry.File, o Options) *Replica {
	t.Helper()
	rc := replay.NewMemory(replay.MemoryOptions{SweepInterval: -1})
	t.Cleanup(func() { rc.Close() })
	um, err := username.New(username.Options{Policy: username.DefaultPolicy, Passwords: reg, Secrets: reg, Directory: reg, Replay: rc})
	if err != nil {
		t.Fatal(err)
	}
	mc := secureconv.Config{Issuer: issuer, Store: store, Replay: rc}
	if o.Module != nil {
		o.Module(&mc)
	}
	m, err := secureconv.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := authn.NewChain(
		authn.Entry{Name: "users", Flag: authn.Sufficient, Module: um},
		authn.Entry{Name: "contexts", Flag: authn.Sufficient, Module: m},
	)
	if err != nil {
		t.Fatal(err)
	}
	sc := sts.Config{Issuer: issuer}
	if o.STS != nil {
		o.STS(&sc)
	}
	s, err := sts.New(sc, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Replica{Chain: chain, Module: m, STS: s, Store: store, Replay: rc}
}

// Request returns the authn.Request the server would build for raw, with
// the HTTP headers hdr (canonical names) and the channel's confidentiality.
func Request(t testing.TB, raw []byte, secure bool, hdr map[string]string) *authn.Request {
	t.Helper()
	env, err := wsse.Parse(raw, nil)
	if err != nil {
		t.Fatalf("wsse.Parse: %v\n%s", err, raw)
	}
	return &authn.Request{
		Envelope: env, Secure: secure, ID: "req-test",
		Peer: netip.MustParseAddrPort("127.0.0.1:40000"), Client: netip.MustParseAddr("127.0.0.1"),
		Header: func(name string) string { return hdr[name] },
		Now:    time.Now(),
	}
}

// Outcome is what the server would answer.
type Outcome struct {
	Kind    wstrust.Kind
	Subject *authn.Subject
	Reply   []byte // the RSTR envelope of an RST
	Err     error  // the chain's *authn.Fault, or Respond's error
	Req     *authn.Request
}

// Serve runs the server's flow: the Timestamp check and mark (as
// server.go does before the chain), Classify, the chain, and Respond for an
// RST.
func (r *Replica) Serve(t testing.TB, raw []byte, secure bool) *Outcome {
	t.Helper()
	req := Request(t, raw, secure, nil)
	o := &Outcome{Req: req}
	if sec := req.Security(); sec != nil && sec.Timestamp != nil {
		if err := wsse.CheckTimestamp(sec.Timestamp, req.Now, 5*time.Minute, time.Minute); err != nil {
			o.Err = authn.AsFault(err)
			return o
		}
		req.MarkProcessedAt(sec.Timestamp.Start)
	}
	kind, _, err := sts.Classify(req.Envelope, "", "")
	if err != nil {
		o.Err = err
		return o
	}
	o.Kind = kind
	s, err := r.Chain.Authenticate(context.Background(), req)
	if err != nil {
		o.Err = err
		return o
	}
	o.Subject = s
	if kind != wstrust.NotRST {
		o.Reply, o.Err = r.STS.Respond(context.Background(), req, s, kind)
	}
	return o
}

// SOAP envelope namespaces.
const (
	SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
)

// Envelope returns an unsecured envelope with WS-Addressing Action and
// MessageID headers (none when action is "") and body as the Body's
// content.
func Envelope(soap12 bool, action, messageID, body string) []byte {
	ns := SOAP11
	if soap12 {
		ns = SOAP12
	}
	var b strings.Builder
	b.WriteString(`<s:Envelope xmlns:s="` + ns + `" xmlns:a="` + wstrust.NSWSA + `"><s:Header>`)
	if action != "" {
		b.WriteString(`<a:Action>` + action + `</a:Action><a:MessageID>` + messageID + `</a:MessageID>`)
	}
	b.WriteString(`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
	return []byte(b.String())
}

// Payload is an application Body of about n bytes.
func Payload(n int) string {
	return `<m:echo xmlns:m="urn:example:echo">` + strings.Repeat("x", max(n, 1)) + ` &amp; more</m:echo>`
}

// RST describes an RST for RSTEnvelope.
type RST struct {
	V    *wstrust.Version
	Kind wstrust.Kind
	// Generic uses WS-Trust's generic action (/RST/Issue ...) instead of
	// WS-SC's /RST/SCT....
	Generic bool
	Context string
	// Entropy is the client's entropy (nil: none); Computed asks for the
	// P_SHA1 computed key.
	Entropy  []byte
	Computed bool
	KeySize  int
	// Target is the Identifier a Renew or Cancel names ("#id" to name the
	// SCT in the header by wsu:Id).
	Target string
	// Lifetime, when positive, is requested; Expires, when set, is the
	// requested Lifetime's end instead.
	Lifetime time.Duration
	Expires  time.Time
}

// Action is the RST's action URI.
func (r RST) Action() string {
	v := r.V
	switch r.Kind {
	case wstrust.Issue:
		if r.Generic {
			return v.ActionIssue()
		}
		return v.ActionIssueSCT()
	case wstrust.Renew:
		if r.Generic {
			return v.ActionRenew()
		}
		return v.ActionRenewSCT()
	case wstrust.Cancel:
		if r.Generic {
			return v.ActionCancel()
		}
		return v.ActionCancelSCT()
	case wstrust.Amend:
		return v.ActionAmendSCT()
	}
	return ""
}

// Body returns the RST element.
func (r RST) Body() string {
	v := r.V
	var b strings.Builder
	b.WriteString(`<t:RequestSecurityToken xmlns:t="` + v.Trust + `" xmlns:wsse="` + wsse.NSWSSE + `" xmlns:wsu="` + wsse.NSWSU + `"`)
	if r.Context != "" {
		b.WriteString(` Context="` + r.Context + `"`)
	}
	b.WriteString(`>`)
	rt := map[wstrust.Kind]string{wstrust.Issue: v.RequestIssue(), wstrust.Renew: v.RequestRenew(), wstrust.Cancel: v.RequestCancel(), wstrust.Amend: v.Trust + "/Amend"}[r.Kind]
	b.WriteString(`<t:TokenType>` + v.TokenTypeSCT() + `</t:TokenType><t:RequestType>` + rt + `</t:RequestType>`)
	if r.Target != "" {
		el := map[wstrust.Kind]string{wstrust.Renew: "RenewTarget", wstrust.Cancel: "CancelTarget"}[r.Kind]
		if el == "" {
			el = "RenewTarget"
		}
		b.WriteString(`<t:` + el + `><wsse:SecurityTokenReference><wsse:Reference URI="` + r.Target + `"/></wsse:SecurityTokenReference></t:` + el + `>`)
	}
	if r.Entropy != nil {
		b.WriteString(`<t:Entropy><t:BinarySecret Type="` + v.Nonce() + `">` + base64.StdEncoding.EncodeToString(r.Entropy) + `</t:BinarySecret></t:Entropy>`)
	}
	if r.KeySize > 0 {
		fmt.Fprintf(&b, `<t:KeySize>%d</t:KeySize>`, r.KeySize)
	}
	if r.Computed {
		b.WriteString(`<t:ComputedKeyAlgorithm>` + v.CKPSHA1() + `</t:ComputedKeyAlgorithm>`)
	}
	if r.Lifetime > 0 || !r.Expires.IsZero() {
		now := time.Now().UTC()
		exp := r.Expires
		if exp.IsZero() {
			exp = now.Add(r.Lifetime)
		}
		b.WriteString(`<t:Lifetime><wsu:Expires>` + exp.UTC().Format(wstrust.TimeFormat) + `</wsu:Expires></t:Lifetime>`)
	}
	b.WriteString(`</t:RequestSecurityToken>`)
	return b.String()
}

// Envelope returns the unsecured RST envelope.
func (r RST) Envelope(soap12 bool) []byte {
	id, _ := wstrust.NewUUID()
	return Envelope(soap12, r.Action(), "urn:uuid:"+id, r.Body())
}

// Client is a secure-conversation client: it holds a context's key as the
// RSTR told it.
type Client struct {
	Gen        *wss4j.Generator
	V          *wstrust.Version
	SOAP12     bool
	Identifier string
	Key        []byte
	RSTR       *wstrust.RSTR
}

// Bootstrap signs an Issue RST with a UsernameToken made by WSS4J.
func Bootstrap(t testing.TB, g *wss4j.Generator, rst RST, soap12, digest bool, password string) []byte {
	t.Helper()
	raw, err := g.UsernameToken(rst.Envelope(soap12), User, password, digest, 300)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Accept reads an Issue or Renew response: the client's key from the RSTR
// and the entropy it sent.
func Accept(t testing.TB, g *wss4j.Generator, reply []byte, soap12 bool, clientEntropy []byte) *Client {
	t.Helper()
	r, err := wstrust.ParseRSTREnvelope(reply, nil)
	if err != nil {
		t.Fatalf("RSTR: %v\n%s", err, reply)
	}
	if r.Token == nil {
		t.Fatalf("RSTR without a token:\n%s", reply)
	}
	key, err := r.Key(clientEntropy)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{Gen: g, V: r.Version, SOAP12: soap12, Identifier: r.Token.Identifier, Key: key, RSTR: r}
}

// Sign has WSS4J sign env with the client's context as sc says (Secret,
// Identifier and V13 are the client's).
func (c *Client) Sign(t testing.TB, env []byte, sc wss4j.SC) []byte {
	t.Helper()
	sc.Secret, sc.Identifier, sc.V13 = c.Key, c.Identifier, c.V == wstrust.V13
	raw, err := c.Gen.SecureConversation(env, sc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// App returns an application message of about n bytes of payload signed
// with the context.
func (c *Client) App(t testing.TB, n int, sc wss4j.SC) []byte {
	t.Helper()
	return c.Sign(t, Envelope(c.SOAP12, "", "", Payload(n)), sc)
}

// RST returns an RST of kind signed with the context, targeting it by
// Identifier.
func (c *Client) RST(t testing.TB, kind wstrust.Kind, entropy []byte, sc wss4j.SC) []byte {
	t.Helper()
	r := RST{V: c.V, Kind: kind, Target: c.Identifier, Entropy: entropy, Computed: entropy != nil, Context: "ctx-" + kind.String()}
	return c.Sign(t, r.Envelope(c.SOAP12), sc)
}
