package wsse

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reference extracts, with encoding/xml, what Parse should have found: the
// SOAP version, the usernames of the UsernameTokens in the Security headers
// without an actor, and the offset of the Body start tag. ok is false when
// encoding/xml finds the part before the Body malformed.
func reference(b []byte) (version string, users []string, bodyAt int64, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var path []xml.Name
	var inUser bool
	var text strings.Builder
	secDepth := -1
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return "", nil, 0, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name)
			switch len(path) {
			case 1:
				version = t.Name.Space
			case 2:
				if t.Name.Local == "Body" {
					return version, users, off, true
				}
			case 3:
				if t.Name.Space == NSWSSE && t.Name.Local == "Security" && path[1].Local == "Header" {
					actor := ""
					for _, a := range t.Attr {
						if a.Name.Space == version && (a.Name.Local == "actor" || a.Name.Local == "role") {
							actor = a.Value
						}
					}
					if actor == "" {
						secDepth = 3
					}
				}
			case 5:
				if secDepth == 3 && path[3].Space == NSWSSE && path[3].Local == "UsernameToken" &&
					t.Name.Space == NSWSSE && t.Name.Local == "Username" {
					inUser = true
					text.Reset()
				}
			}
		case xml.EndElement:
			if inUser && len(path) == 5 {
				users = append(users, text.String())
				inUser = false
			}
			if len(path) == 3 {
				secDepth = -1
			}
			path = path[:len(path)-1]
		case xml.CharData:
			if inUser {
				text.Write(t)
			}
		}
	}
}

// fuzzSeeds are the hand-written seeds of the fuzzers (the differential
// tests take them too): paths the recorded messages do not reach.
var fuzzSeeds = []string{
	env11 + `<s:Header><wsse:Security ` + wsseNS + `><wsse:UsernameToken><wsse:Username>a&amp;b</wsse:Username><wsse:Password>p</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header><s:Body/></s:Envelope>`,
	env12 + `<s:Header><Security xmlns="` + NSWSSE + `" s:role="urn:x"/><Security xmlns="` + NSWSSE + `"><UsernameToken><Username><![CDATA[x]]>y</Username></UsernameToken></Security></s:Header><s:Body/></s:Envelope>`,
	`<?xml version="1.0"?><!-- x --><s:Envelope xmlns:s="` + NSSOAP11 + `"><s:Body/></s:Envelope>`,
	`<!DOCTYPE x><x/>`,
	env11 + `<s:Header><wsse:Security xmlns:wsse="` + NSWSSE0207 + `"><wsse:BinarySecurityToken ValueType="wsse:Kerberosv5ST" EncodingType="wsse:Base64Binary">YWJj</wsse:BinarySecurityToken></wsse:Security></s:Header><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="` + NSSOAP11 + `"><s:Header><a:b xmlns:a="urn:a" a:c="1" c='2'>&#x41;&#65;</a:b></s:Header><s:Body></s:Body></s:Envelope>`,
}

func seedCorpus(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
}

// FuzzParse checks that Parse never panics, that what it accepts is
// well-formed to encoding/xml as far as the Body, and that both agree on the
// version, the Body's position and the usernames in our Security header.
func FuzzParse(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := Parse(b, nil)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if env.BodyStart <= 0 || env.BodyStart >= len(b) || b[env.BodyStart] != '<' {
			t.Fatalf("BodyStart %d", env.BodyStart)
		}
		if sec := env.Security; sec != nil {
			if sec.Start < 0 || sec.End > env.BodyStart || sec.Start >= sec.End || b[sec.Start] != '<' || b[sec.End-1] != '>' {
				t.Fatalf("Security at [%d,%d)", sec.Start, sec.End)
			}
			for _, e := range sec.Elements {
				if e.Start < sec.Start || e.End > sec.End || e.Start >= e.End || b[e.Start] != '<' || b[e.End-1] != '>' {
					t.Fatalf("element %s at [%d,%d) outside Security [%d,%d)", e.Local, e.Start, e.End, sec.Start, sec.End)
				}
			}
		}
		version, users, bodyAt, ok := reference(b)
		if !ok {
			// encoding/xml is stricter about a few things that XML allows
			// (it does not know every Unicode name character); report
			// only inputs made of ASCII.
			for _, c := range b[:env.BodyStart] {
				if c >= 0x80 {
					return
				}
			}
			t.Fatalf("Parse accepted what encoding/xml rejects before the Body")
		}
		if version != env.Version.Namespace() {
			t.Fatalf("version %q vs %q", version, env.Version.Namespace())
		}
		if bodyAt != int64(env.BodyStart) {
			t.Fatalf("Body at %d, encoding/xml says %d", env.BodyStart, bodyAt)
		}
		var ours []string
		if env.Security != nil && env.Security.Actor == "" {
			for _, ut := range env.Security.UsernameTokens {
				if ut.Username != "" {
					ours = append(ours, ut.Username)
				}
			}
		}
		if strings.Join(ours, "\x00") != strings.Join(users, "\x00") {
			t.Fatalf("usernames %q, encoding/xml found %q", ours, users)
		}
	})
}

// FuzzParseNoPanic feeds arbitrary prefixes of messages, as an incremental
// reader would.
func FuzzParseNoPanic(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range []int{len(b), len(b) / 2, len(b) / 3} {
			Parse(b[:n], &Options{Limits: Limits{MaxDepth: 8, MaxElements: 64, MaxAttributes: 4, MaxHeaderBytes: 4096}})
		}
	})
}
