package wstrust

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/authsvc/authsvc/wsse"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

type respCase struct {
	name   string
	resp   Response
	client []byte // the client's entropy, for the key check
}

func respCases() []respCase {
	now := time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)
	client := bytes.Repeat([]byte{1}, 32)
	server := bytes.Repeat([]byte{2}, 32)
	computed := &Proof{Kind: ProofComputed, Key: PSHA1(client, server, 32), ServerEntropy: server, KeySize: 256}
	secret := &Proof{Kind: ProofSecret, Key: server, ServerEntropy: server, KeySize: 256}
	none := &Proof{Kind: ProofNone, Key: client, KeySize: 256}
	tok := &SCT{ID: "sct-9d3f6c2e", Identifier: "urn:uuid:9d3f6c2e-8b1a-4e7d-a5c4-2f1e0d9c8b7a"}
	renewed := &SCT{ID: "sct-9d3f6c2e", Identifier: tok.Identifier, Instance: "urn:uuid:1c0e2d4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"}
	base := func(v *Version, soap wsse.Version, k Kind, action string) Response {
		return Response{SOAP: soap, Version: v, Kind: k, Action: ReplyAction(action), RelatesTo: "urn:uuid:request-1",
			MessageID: "urn:uuid:reply-1", Now: now, Context: "uuid-ctx-<&>\"", Created: now, Expires: now.Add(15 * time.Minute)}
	}
	var out []respCase
	add := func(name string, r Response, tk *SCT, p *Proof, c []byte) {
		r.Token, r.Proof = tk, p
		out = append(out, respCase{name, r, c})
	}
	r := base(Feb2005, wsse.SOAP12, Issue, Feb2005.ActionIssueSCT())
	r.AddressingNS = NSWSA2004
	add("feb2005-issue-computed-soap12", r, tok, computed, client)
	add("v13-issue-secret-soap11", base(V13, wsse.SOAP11, Issue, V13.ActionIssueSCT()), tok, secret, nil)
	add("v13-issue-generic-client-soap12", base(V13, wsse.SOAP12, Issue, V13.ActionIssue()), tok, none, client)
	add("feb2005-renew-computed-soap11", base(Feb2005, wsse.SOAP11, Renew, Feb2005.ActionRenewSCT()), renewed, computed, client)
	add("v13-renew-secret-soap12", base(V13, wsse.SOAP12, Renew, V13.ActionRenewSCT()), renewed, secret, nil)
	add("feb2005-cancel-soap11", base(Feb2005, wsse.SOAP11, Cancel, Feb2005.ActionCancelSCT()), nil, nil, nil)
	add("v13-cancel-soap12", base(V13, wsse.SOAP12, Cancel, V13.ActionCancelSCT()), nil, nil, nil)
	return out
}

func TestBuildResponse(t *testing.T) {
	for _, c := range respCases() {
		t.Run(c.name, func(t *testing.T) {
			out, err := BuildResponse(&c.resp)
			if err != nil {
				t.Fatal(err)
			}
			golden := "testdata/golden-" + c.name + ".xml"
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("output differs from %s:\n%s", golden, out)
			}

			// etree reads it, and finds the headers where they belong.
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(out); err != nil {
				t.Fatalf("etree: %v", err)
			}
			root := doc.Root()
			if root.NamespaceURI() != c.resp.SOAP.Namespace() {
				t.Fatalf("envelope namespace %s", root.NamespaceURI())
			}
			hdr := root.SelectElement("Header")
			wsa := c.resp.AddressingNS
			if wsa == "" {
				wsa = NSWSA
			}
			for local, want := range map[string]string{"Action": c.resp.Action, "RelatesTo": "urn:uuid:request-1", "MessageID": "urn:uuid:reply-1"} {
				e := hdr.SelectElement(local)
				if e == nil || e.NamespaceURI() != wsa || e.Text() != want {
					t.Fatalf("header %s: %v", local, e)
				}
			}

			// wsse parses it, with a Timestamp in the Security header.
			env, err := wsse.Parse(out, nil)
			if err != nil {
				t.Fatalf("wsse.Parse: %v", err)
			}
			if env.Version != c.resp.SOAP || env.Security == nil || env.Security.Timestamp == nil {
				t.Fatalf("envelope %+v", env)
			}
			if err := wsse.CheckTimestamp(env.Security.Timestamp, c.resp.Now, time.Minute, time.Minute); err != nil {
				t.Fatal(err)
			}
			a, err := ParseAddressing(env)
			if err != nil || a.Action != c.resp.Action || a.Namespace != wsa {
				t.Fatalf("addressing %+v, %v", a, err)
			}

			// And our own parser reads the RSTR back.
			r, err := ParseRSTREnvelope(out, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Version != c.resp.Version || r.Context != c.resp.Context || r.Collection != (c.resp.Version == V13) {
				t.Fatalf("rstr %+v", r)
			}
			if c.resp.Kind == Cancel {
				if !r.Cancelled || r.Token != nil {
					t.Fatalf("cancel rstr %+v", r)
				}
				return
			}
			if r.Cancelled || r.TokenType != c.resp.Version.TokenTypeSCT() || *r.Token != (SCT{Version: c.resp.Version, ID: c.resp.Token.ID, Identifier: c.resp.Token.Identifier, Instance: c.resp.Token.Instance}) {
				t.Fatalf("token %+v", r.Token)
			}
			if r.Attached == nil || r.Attached.ID != c.resp.Token.ID || r.Unattached == nil || r.Unattached.Identifier != c.resp.Token.Identifier {
				t.Fatalf("references %+v %+v", r.Attached, r.Unattached)
			}
			if !r.Created.Equal(c.resp.Created) || !r.Expires.Equal(c.resp.Expires) || r.KeySize != c.resp.Proof.KeySize {
				t.Fatalf("lifetime %v..%v keysize %d", r.Created, r.Expires, r.KeySize)
			}
			key, err := r.Key(c.client)
			if err != nil || !bytes.Equal(key, c.resp.Proof.Key) {
				t.Fatalf("client derives key %x (%v), want %x", key, err, c.resp.Proof.Key)
			}
		})
	}
}

func TestBuildResponseRefusesIncomplete(t *testing.T) {
	now := time.Now()
	for name, r := range map[string]*Response{
		"no version":  {Kind: Cancel},
		"amend":       {Version: V13, Kind: Amend},
		"no token":    {Version: V13, Kind: Issue, Proof: &Proof{Kind: ProofNone}, Created: now, Expires: now.Add(time.Hour)},
		"no proof":    {Version: V13, Kind: Renew, Token: &SCT{ID: "a", Identifier: "urn:a"}, Created: now, Expires: now.Add(time.Hour)},
		"no lifetime": {Version: V13, Kind: Issue, Token: &SCT{ID: "a", Identifier: "urn:a"}, Proof: &Proof{Kind: ProofNone}},
	} {
		if _, err := BuildResponse(r); err == nil {
			t.Errorf("%s: built", name)
		}
	}
}

// elementNames lists the expanded names of n's subtree in document order.
func elementNames(n *node, depth int, out *[]string) {
	*out = append(*out, strings.Repeat(" ", depth)+n.name())
	for _, k := range n.kids {
		elementNames(k, depth+1, out)
	}
}

// The RSTR authsvc writes for a Feb 2005 issue with computed key has the
// structure of the MS-LWSSP sample (as WCF sends it), and our parser reads
// that sample as it reads our own.
func TestMSLWSSPFixture(t *testing.T) {
	fix, err := os.ReadFile("testdata/ms-lwssp-rstr.xml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRSTR(fix, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != Feb2005 || r.Collection || r.Token.ID != "_sct" || r.Token.Identifier != "urn:uuid:9d3f6c2e-8b1a-4e7d-a5c4-2f1e0d9c8b7a" ||
		r.Attached.ID != "_sct" || r.Unattached.Identifier != r.Token.Identifier || r.ComputedKey != Feb2005.CKPSHA1() ||
		r.KeySize != 256 || r.Created.Nanosecond() != 318413200 || r.Expires.Sub(r.Created) != 15*time.Hour {
		t.Fatalf("fixture read as %+v", r)
	}
	key, err := r.Key(bytes.Repeat([]byte{1}, 32))
	if err != nil || len(key) != 32 {
		t.Fatalf("key %x %v", key, err)
	}
	ours, err := os.ReadFile("testdata/golden-feb2005-issue-computed-soap12.xml")
	if err != nil {
		t.Fatal(err)
	}
	var fixNames, ourNames []string
	fn, err := parseFragment(fix, nil, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	elementNames(fn, 0, &fixNames)
	if err := scanEnvelope(ours, DefaultLimits, func(*node) error { return nil }, func(s, e int, ns map[string]string) error {
		n, err := parseFragment(ours[s:e], ns, DefaultLimits)
		if err == nil {
			elementNames(n, 0, &ourNames)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(fixNames, "\n") != strings.Join(ourNames, "\n") {
		t.Fatalf("structure differs:\nMS-LWSSP:\n%s\nours:\n%s", strings.Join(fixNames, "\n"), strings.Join(ourNames, "\n"))
	}
}
