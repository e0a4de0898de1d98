package wsse

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	env11  = `<s:Envelope xmlns:s="` + NSSOAP11 + `">`
	env12  = `<s:Envelope xmlns:s="` + NSSOAP12 + `">`
	wsseNS = `xmlns:wsse="` + NSWSSE + `"`
	wsuNS  = `xmlns:wsu="` + NSWSU + `"`
)

func mustParse(t *testing.T, doc string) *Envelope {
	t.Helper()
	env, err := Parse([]byte(doc), nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return env
}

func wantCode(t *testing.T, doc string, code FaultCode, reasonPart string) {
	t.Helper()
	_, err := Parse([]byte(doc), nil)
	var we *Error
	if !errors.As(err, &we) {
		t.Fatalf("Parse(%.60q...) = %v, want a *wsse.Error", doc, err)
	}
	if we.Code != code || !strings.Contains(we.Reason, reasonPart) {
		t.Fatalf("Parse(%.60q...) = %v, want code %s with reason containing %q", doc, err, code, reasonPart)
	}
}

func TestParseDigestToken(t *testing.T) {
	raw, err := os.ReadFile("testdata/digest11.xml")
	if err != nil {
		t.Fatal(err)
	}
	env := mustParse(t, string(raw))
	if env.Version != SOAP11 || !env.HasHeader || env.Security == nil {
		t.Fatalf("envelope = %+v", env)
	}
	sec := env.Security
	if !sec.MustUnderstand {
		t.Error("mustUnderstand not seen")
	}
	if len(sec.UsernameTokens) != 1 {
		t.Fatalf("%d tokens", len(sec.UsernameTokens))
	}
	ut := sec.UsernameTokens[0]
	if ut.Username != "alice" || ut.PasswordType != PasswordDigest || ut.Password != "dGhpcyBpcyBub3QgYSBkaWdlc3Q=" ||
		ut.Nonce != "MTIzNDU2Nzg5MDEyMzQ1Ng==" || ut.NonceEncType != Base64Binary || ut.Created != "2026-11-23T10:00:00+00:00" || ut.ID != "UT-1" {
		t.Errorf("token = %+v", ut)
	}
	if got := string(raw[ut.PasswordValueStart:ut.PasswordValueEnd]); got != ut.Password {
		t.Errorf("password offsets give %q", got)
	}
	if got := string(raw[ut.Start:ut.End]); !strings.HasPrefix(got, "<wsse:UsernameToken") || !strings.HasSuffix(got, "</wsse:UsernameToken>") {
		t.Errorf("token offsets give %q", got)
	}
	if got := string(raw[env.BodyStart : env.BodyStart+14]); got != "<soap-env:Body" {
		t.Errorf("BodyStart at %q", got)
	}
	if len(sec.Elements) != 1 || sec.Elements[0].Local != "UsernameToken" || sec.Elements[0].Space != NSWSSE {
		t.Errorf("elements = %+v", sec.Elements)
	}
	if ns := sec.Namespaces(); ns["soap-env"] != NSSOAP11 || ns["wsse"] != NSWSSE {
		t.Errorf("namespaces in scope = %v", ns)
	}
}

func TestParseSOAP12PrefixesEntitiesCDATA(t *testing.T) {
	doc := `<?xml version="1.0"?><!-- c --><e:Envelope xmlns:e="` + NSSOAP12 + `"><e:Header>` +
		`<Security xmlns="` + NSWSSE + `" e:mustUnderstand="true"><UsernameToken><Username>b&amp;b&#x41;</Username>` +
		`<Password><![CDATA[p<w>]]>&lt;x</Password></UsernameToken>` +
		`<u:Timestamp xmlns:u="` + NSWSU + `" u:Id="TS"><u:Created>2026-01-01T00:00:00Z</u:Created><u:Expires>2026-01-01T00:05:00Z</u:Expires></u:Timestamp>` +
		`<BinarySecurityToken ValueType="vt" EncodingType="` + Base64Binary + `">AAAA
BBBB</BinarySecurityToken></Security></e:Header><e:Body u:Id="body" xmlns:u="` + NSWSU + `"><x/></e:Body></e:Envelope>`
	env := mustParse(t, doc)
	if env.Version != SOAP12 || env.BodyID != "body" {
		t.Fatalf("version %v body id %q", env.Version, env.BodyID)
	}
	sec := env.Security
	if !sec.MustUnderstand {
		t.Error("SOAP 1.2 mustUnderstand=true not seen")
	}
	ut := sec.UsernameTokens[0]
	if ut.Username != "b&bA" || ut.Password != "p<w><x" || ut.PasswordType != "" {
		t.Errorf("token = %+v", ut)
	}
	if sec.Timestamp == nil || sec.Timestamp.ID != "TS" || sec.Timestamp.Expires != "2026-01-01T00:05:00Z" {
		t.Errorf("timestamp = %+v", sec.Timestamp)
	}
	if len(sec.BinaryTokens) != 1 || sec.BinaryTokens[0].Value != "AAAA\nBBBB" || sec.BinaryTokens[0].ValueType != "vt" {
		t.Errorf("BST = %+v", sec.BinaryTokens)
	}
	if len(sec.Elements) != 3 {
		t.Errorf("elements = %+v", sec.Elements)
	}
}

func TestParseActors(t *testing.T) {
	other := `<wsse:Security ` + wsseNS + ` s:actor="urn:someone-else"><wsse:UsernameToken><wsse:Username>mallory</wsse:Username></wsse:UsernameToken></wsse:Security>`
	ours := `<wsse:Security ` + wsseNS + `><wsse:UsernameToken><wsse:Username>alice</wsse:Username></wsse:UsernameToken></wsse:Security>`
	env := mustParse(t, env11+`<s:Header>`+other+ours+`</s:Header><s:Body/></s:Envelope>`)
	if env.Security == nil || env.Security.UsernameTokens[0].Username != "alice" || env.OtherSecurityHeaders != 1 {
		t.Fatalf("got %+v", env)
	}
	// Two for us: rejected.
	wantCode(t, env11+`<s:Header>`+ours+ours+`</s:Header><s:Body/></s:Envelope>`, InvalidSecurity, "more than one Security header")
	// The configured actor is ours too.
	env, err := Parse([]byte(env11+`<s:Header>`+other+`</s:Header><s:Body/></s:Envelope>`), &Options{Actor: "urn:someone-else"})
	if err != nil || env.Security == nil {
		t.Fatalf("configured actor: %v %+v", err, env)
	}
	// SOAP 1.2 role attribute, not actor.
	env = mustParse(t, env12+`<s:Header><wsse:Security `+wsseNS+` s:role="urn:other"/></s:Header><s:Body/></s:Envelope>`)
	if env.Security != nil {
		t.Error("SOAP 1.2 header for another role taken as ours")
	}
}

func TestParseRejects(t *testing.T) {
	body := `<s:Body/></s:Envelope>`
	cases := []struct {
		name, doc string
		code      FaultCode
		reason    string
	}{
		{"doctype", `<!DOCTYPE x [<!ENTITY a "b">]>` + env11 + body, InvalidSecurity, "document type"},
		{"entity", env11 + `<s:Header><wsse:Security ` + wsseNS + `><wsse:UsernameToken><wsse:Username>&a;</wsse:Username></wsse:UsernameToken></wsse:Security></s:Header>` + body, InvalidSecurity, "entity"},
		{"not soap", `<Envelope/>`, InvalidSecurity, "namespace"},
		{"mismatched", env11 + `<s:Header></s:Headr>` + body, InvalidSecurity, "does not match"},
		{"unquoted", `<s:Envelope xmlns:s=` + NSSOAP11 + `>` + body, InvalidSecurity, "quoted"},
		{"dup attr", `<s:Envelope xmlns:s="` + NSSOAP11 + `" a="1" a="2">` + body, InvalidSecurity, "duplicate"},
		{"dup expanded attr", `<s:Envelope xmlns:s="` + NSSOAP11 + `" xmlns:t="` + NSSOAP11 + `" s:a="1" t:a="2">` + body, InvalidSecurity, "expanded"},
		{"undeclared prefix", env11 + `<s:Header><q:x/></s:Header>` + body, InvalidSecurity, "undeclared"},
		{"no body", env11 + `<s:Header/></s:Envelope>`, InvalidSecurity, "no Body"},
		{"truncated", env11 + `<s:Header>`, InvalidSecurity, "ends before"},
		{"two headers", env11 + `<s:Header/><s:Header/>` + body, InvalidSecurity, "unexpected element"},
		{"pi", env11 + `<?php x?>` + body, InvalidSecurity, "processing instructions"},
		{"bare ampersand in ignored text", env11 + `<s:Header><a:b xmlns:a="urn:a">&</a:b></s:Header>` + body, InvalidSecurity, "entity"},
		{"bad reference in an attribute", env11 + `<s:Header><a:b xmlns:a="urn:a" c="&x;"/></s:Header>` + body, InvalidSecurity, "entity"},
		{"xml version", `<?xml version="0"?>` + env11 + body, InvalidSecurity, "XML declaration"},
		{"xml encoding", `<?xml version="1.0" encoding="ISO-8859-1"?>` + env11 + body, InvalidSecurity, "only UTF-8"},
		{"xml decl junk", `<?xml version="1.0" foo="bar"?>` + env11 + body, InvalidSecurity, "XML declaration"},
		{"bad mustUnderstand", env11 + `<s:Header><wsse:Security ` + wsseNS + ` s:mustUnderstand="true"/></s:Header>` + body, InvalidSecurity, "mustUnderstand"},
		{"two timestamps", env11 + `<s:Header><wsse:Security ` + wsseNS + ` ` + wsuNS + `><wsu:Timestamp><wsu:Created>x</wsu:Created></wsu:Timestamp><wsu:Timestamp/></wsse:Security></s:Header>` + body, InvalidSecurity, "more than one Timestamp"},
		{"two passwords", env11 + `<s:Header><wsse:Security ` + wsseNS + `><wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password>x</wsse:Password><wsse:Password>y</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header>` + body, InvalidSecurityToken, "more than one Password"},
		{"element in username", env11 + `<s:Header><wsse:Security ` + wsseNS + `><wsse:UsernameToken><wsse:Username>a<b/></wsse:Username></wsse:UsernameToken></wsse:Security></s:Header>` + body, InvalidSecurityToken, "inside a token field"},
		{"nul", env11 + "<s:Header>\x00</s:Header>" + body, InvalidSecurity, "character not allowed"},
		{"bad utf8", env11 + "<s:Header>\xff</s:Header>" + body, InvalidSecurity, "character not allowed"},
		{"text outside root", `junk` + env11 + body, InvalidSecurity, "outside the root"},
		{"empty", ``, InvalidSecurity, "no SOAP envelope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantCode(t, c.doc, c.code, c.reason) })
	}
}

func TestParseLimits(t *testing.T) {
	deep := env11 + `<s:Header>` + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + `</s:Header><s:Body/></s:Envelope>`
	wantCode(t, deep, InvalidSecurity, "nested deeper")
	many := env11 + `<s:Header>` + strings.Repeat("<a/>", 2000) + `</s:Header><s:Body/></s:Envelope>`
	wantCode(t, many, InvalidSecurity, "elements")
	attrs := `<s:Envelope xmlns:s="` + NSSOAP11 + `"`
	for i := 0; i < 40; i++ {
		attrs += ` a` + strings.Repeat("x", i) + `="1"`
	}
	wantCode(t, attrs+`><s:Body/></s:Envelope>`, InvalidSecurity, "too many attributes")
	big := env11 + `<s:Header><x>` + strings.Repeat("A", 300<<10) + `</x></s:Header><s:Body/></s:Envelope>`
	wantCode(t, big, InvalidSecurity, "bytes before the SOAP Body")
	// A large Body is fine: it is never read.
	huge := env11 + `<s:Body><x>` + strings.Repeat("A", 2<<20) + `</x></s:Body></s:Envelope>`
	mustParse(t, huge)
}

func TestTruncatedIsReported(t *testing.T) {
	_, err := Parse([]byte(env11+`<s:Header><wsse:Security `+wsseNS+`>`), nil)
	if !IsTruncated(err) {
		t.Fatalf("IsTruncated(%v) = false", err)
	}
}

// TestParseResultOutlivesScratch: Parse reuses its working state from
// parse to parse; an envelope it returned must not change when later
// parses, of other messages, reuse that state.
func TestParseResultOutlivesScratch(t *testing.T) {
	first := env11 + `<s:Header><wsse:Security ` + wsseNS + ` xmlns:a="urn:a"><wsse:UsernameToken>` +
		`<wsse:Username>alice</wsse:Username><wsse:Password>first-secret</wsse:Password></wsse:UsernameToken>` +
		`</wsse:Security></s:Header><s:Body><s:x/></s:Body></s:Envelope>`
	env := mustParse(t, first)
	other := `<t:Envelope xmlns:t="` + NSSOAP11 + `" xmlns:q="urn:q" xmlns:r="urn:r" xmlns:u="urn:u"><t:Header>` +
		`<wsse:Security ` + wsseNS + `><wsse:UsernameToken><wsse:Username>mallory</wsse:Username>` +
		`<wsse:Password>other-password</wsse:Password></wsse:UsernameToken></wsse:Security></t:Header><t:Body/></t:Envelope>`
	for range 50 {
		mustParse(t, other)
	}
	ut := env.Security.UsernameTokens[0]
	if ut.Username != "alice" || ut.Password != "first-secret" {
		t.Errorf("token = %+v", ut)
	}
	if ns := env.Security.Namespaces(); len(ns) != 3 || ns["s"] != NSSOAP11 || ns["wsse"] != NSWSSE || ns["a"] != "urn:a" {
		t.Errorf("namespaces in scope at Security = %v", ns)
	}
	if len(env.bodyScope) != 1 || string(env.bodyScope[0].prefix) != "s" || string(env.bodyScope[0].uri) != NSSOAP11 {
		t.Errorf("namespaces in scope at the Body = %q", fmt.Sprint(env.bodyScope))
	}
	// The Body is still checked with the Envelope's declarations.
	c := NewBodyChecker(env)
	if err := c.Write([]byte(first[env.BodyStart:])); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestParseLeavesNothingInScratch: after Parse, accepting or refusing, the
// pooled scratch holds nothing of the input (no pointer into it, no byte of
// a password): release clears what the parse wrote.
func TestParseLeavesNothingInScratch(t *testing.T) {
	ut := `<wsse:UsernameToken xmlns:wsu="` + NSWSU + `" wsu:Id="u"><wsse:Username>alice</wsse:Username>` +
		`<wsse:Password Type="` + PasswordText + `">secret-one</wsse:Password>`
	deep := strings.Repeat(`<a:x xmlns:a="urn:a" xmlns:b="urn:b" b:y="1" b:z="2">`, 12)
	for _, msg := range []string{
		env11 + `<s:Header><wsse:Security ` + wsseNS + `>` + ut + `</wsse:UsernameToken></wsse:Security></s:Header><s:Body/></s:Envelope>`,
		env11 + `<s:Header><wsse:Security ` + wsseNS + `>` + ut + `<wsse:Nonce>bm9uY2U=</wsse:Nonce>`,
		env11 + `<s:Header><wsse:Security ` + wsseNS + `>` + ut + `<wsse:Password>x</wsse:Password>`,
		env11 + `<s:Header><wsse:Security ` + wsseNS + `>` + ut + `<wsse:Nonce a="1" b="2" c="3" a="4"/>`,
		env11 + `<s:Header>` + deep + `</s:Header><s:Body/></s:Envelope>`,
		env11 + `<s:Header><wsse:Security ` + wsseNS + `>` + ut + strings.Repeat("<!-- -->", 3) + `<wsse:Nonce>` + strings.Repeat("n", 300) + `</wsse:Nonce></wsse:UsernameToken><s:Body/>`,
	} {
		Parse([]byte(msg), nil)
		// The pool hands back the scratch just released (same P, no GC in
		// between); if it gives a new one, there is nothing to check.
		sc := scratchPool.Get().(*scratch)
		text, scr := sc.p.text, sc.p.scratch
		if len(text) != 0 || len(scr) != 0 || strings.Trim(string(text[:cap(text)])+string(scr[:cap(scr)]), "\x00") != "" {
			t.Errorf("%.60q...: text buffers keep %q, %q", msg, text[:cap(text)], scr[:cap(scr)])
		}
		// state holds parser states only (never cleared, nothing of the input).
		clean := scratch{p: parser{text: text, scratch: scr}, state: sc.state}
		if !reflect.DeepEqual(*sc, clean) {
			t.Errorf("%.60q...: scratch not wiped: %+v", msg, *sc)
		}
		scratchPool.Put(sc)
	}
}

// TestCommonXMLDecl checks that the declarations commonXMLDecl takes
// without reading them are ones readXMLDecl accepts, and that
// checkXMLDecl answers as readXMLDecl does.
func TestCommonXMLDecl(t *testing.T) {
	var decls []string
	for _, v := range []string{"1.0", "1.1", "1.", "1.00"} {
		for _, q := range []string{`"`, `'`} {
			for _, q2 := range []string{`"`, `'`} {
				for _, enc := range []string{"", "utf-8", "UTF-8", "Utf-8", "utf-16", "utf8", "latin1", "utf-8 "} {
					for _, sep := range []string{" ", "", "  ", "\t"} {
						d := " version=" + q + v + q
						if enc != "" {
							d += sep + "encoding=" + q2 + enc + q2
						}
						decls = append(decls, d, d+" ", d+` standalone="yes"`, d+"x", "  "+d[1:])
					}
				}
			}
		}
	}
	decls = append(decls, "", " ", " version=", ` version="1.0`, ` version='1.0"`, ` version="1.0" encoding=`, ` encoding="utf-8" version="1.0"`)
	common := 0
	for _, d := range decls {
		got, want := checkXMLDecl([]byte(d)), readXMLDecl([]byte(d))
		if (got == nil) != (want == nil) || got != nil && got.Reason != want.Reason {
			t.Errorf("checkXMLDecl(%q) = %v, readXMLDecl: %v", d, got, want)
		}
		if commonXMLDecl([]byte(d)) {
			common++
			if want != nil {
				t.Errorf("commonXMLDecl takes %q, which readXMLDecl refuses: %v", d, want)
			}
		}
	}
	if common == 0 {
		t.Error("commonXMLDecl took none of the declarations")
	}
}
