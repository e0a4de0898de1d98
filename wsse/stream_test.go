package wsse

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

const streamHead = `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:e="urn:example:echo"><soap:Header>` +
	`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
	`<wsse:UsernameToken><wsse:Username>alice</wsse:Username></wsse:UsernameToken></wsse:Security>` +
	`<h:x xmlns:h="urn:h"/></soap:Header>`

// checkAll checks msg's part from the Body start tag, written in pieces of
// the given size (0: in one write).
func checkAll(t testing.TB, msg []byte, piece int) error {
	t.Helper()
	env, err := Parse(msg, nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c := NewBodyChecker(env)
	rest := msg[env.BodyStart:]
	if piece <= 0 {
		piece = len(rest) + 1
	}
	for i := 0; i < len(rest); i += piece {
		if err := c.Write(rest[i:min(i+piece, len(rest))]); err != nil {
			return err
		}
	}
	return c.Close()
}

var goodBodies = []string{
	`<soap:Body/></soap:Envelope>`,
	`<soap:Body></soap:Body></soap:Envelope>`,
	`<soap:Body wsu:Id="b" xmlns:wsu="urn:u"><e:Echo><e:text>a &amp; b &#x10FFFF; &#65; é ü 😀</e:text></e:Echo></soap:Body></soap:Envelope>`,
	"<soap:Body>\n  <e:Echo a='1' b=\"x>y\" e:c=\"2\"><![CDATA[ <not> ]] a tag & ]]><!-- a - comment --></e:Echo>\n</soap:Body>\n</soap:Envelope>\n<!-- trailing comment -->\n  ",
	`<soap:Body><x xmlns="urn:d"><y><z xmlns=""/></y></x><soap:Fault><faultcode>soap:Server</faultcode></soap:Fault></soap:Body></soap:Envelope>`,
	`<soap:Body><e:Echo>` + strings.Repeat("<e:i n='1'>text &lt;x&gt;</e:i>", 200) + `</e:Echo></soap:Body>  </soap:Envelope>`,
}

var badBodies = map[string]string{
	"second Header after the Body": `<soap:Body/><soap:Header><x/></soap:Header></soap:Envelope>`,
	"second Body":                  `<soap:Body/><soap:Body/></soap:Envelope>`,
	"second Envelope":              `<soap:Body/></soap:Envelope><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>`,
	"element after the Body":       `<soap:Body/><e:x/></soap:Envelope>`,
	"Envelope inside the Body":     `<soap:Body><soap:Envelope><soap:Body/></soap:Envelope></soap:Body></soap:Envelope>`,
	"Header inside the Body":       `<soap:Body><e:x><s12:Header xmlns:s12="http://www.w3.org/2003/05/soap-envelope"/></e:x></soap:Body></soap:Envelope>`,
	"DOCTYPE in the body":          `<soap:Body><!DOCTYPE x [<!ENTITY a "b">]><e:x/></soap:Body></soap:Envelope>`,
	"ENTITY in the body":           `<soap:Body><!ENTITY a "b"></soap:Body></soap:Envelope>`,
	"undefined entity":             `<soap:Body><e:x>&xxe;</e:x></soap:Body></soap:Envelope>`,
	"undefined entity in attr":     `<soap:Body><e:x a="&xxe;"/></soap:Body></soap:Envelope>`,
	"bad char ref":                 `<soap:Body><e:x>&#0;</e:x></soap:Body></soap:Envelope>`,
	"unclosed Body":                `<soap:Body><e:x/>`,
	"unclosed Envelope":            `<soap:Body/>`,
	"comment opened at the end":    `<soap:Body/></soap:Envelope><!--`,
	"CDATA opened at the end":      `<soap:Body><e:x><![CDATA[`,
	"unclosed element":             `<soap:Body><e:x></soap:Body></soap:Envelope>`,
	"trailing garbage":             `<soap:Body/></soap:Envelope>garbage`,
	"trailing element":             `<soap:Body/></soap:Envelope><x/>`,
	"text after the Body":          `<soap:Body/>text</soap:Envelope>`,
	"processing instruction":       `<soap:Body><?php x ?></soap:Body></soap:Envelope>`,
	"PI after the Envelope":        `<soap:Body/></soap:Envelope><?xml-stylesheet href="x"?>`,
	"mismatched end tag":           `<soap:Body><e:x></e:y></soap:Body></soap:Envelope>`,
	"undeclared prefix":            `<soap:Body><q:x/></soap:Body></soap:Envelope>`,
	"undeclared attr prefix":       `<soap:Body><e:x q:a="1"/></soap:Body></soap:Envelope>`,
	"duplicate attribute":          `<soap:Body><e:x a="1" a="2"/></soap:Body></soap:Envelope>`,
	"duplicate expanded attribute": `<soap:Body><e:x xmlns:f="urn:example:echo" e:a="1" f:a="2"/></soap:Body></soap:Envelope>`,
	"unquoted attribute":           `<soap:Body><e:x a=1/></soap:Body></soap:Envelope>`,
	"lt in attribute":              `<soap:Body><e:x a="<"/></soap:Body></soap:Envelope>`,
	"CDATA end in text":            `<soap:Body><e:x>a]]>b</e:x></soap:Body></soap:Envelope>`,
	"double dash in comment":       `<soap:Body><!-- a -- b --></soap:Body></soap:Envelope>`,
	"unterminated comment":         `<soap:Body/></soap:Envelope><!-- x`,
	"unterminated CDATA":           `<soap:Body><e:x><![CDATA[abc</e:x></soap:Body></soap:Envelope>`,
	"control character":            "<soap:Body><e:x>\x01</e:x></soap:Body></soap:Envelope>",
	"invalid UTF-8":                "<soap:Body><e:x>\xff\xfe</e:x></soap:Body></soap:Envelope>",
	"end tag after the Envelope":   `<soap:Body/></soap:Envelope></soap:Envelope>`,
	"unterminated tag":             `<soap:Body/></soap:Envelope`,
	"reserved prefix":              `<soap:Body><e:x xmlns:xmlns="urn:x"/></soap:Body></soap:Envelope>`,
}

func TestBodyCheckerGood(t *testing.T) {
	for i, b := range goodBodies {
		msg := []byte(streamHead + b)
		for _, piece := range []int{0, 1, 2, 3, 7, 64} {
			if err := checkAll(t, msg, piece); err != nil {
				t.Errorf("good body %d in pieces of %d refused: %v", i, piece, err)
			}
		}
	}
}

func TestBodyCheckerBad(t *testing.T) {
	for name, b := range badBodies {
		msg := []byte(streamHead + b)
		var first string
		for _, piece := range []int{0, 1, 2, 5, 64} {
			err := checkAll(t, msg, piece)
			we, ok := err.(*Error)
			if !ok || we.Code != InvalidSecurity {
				t.Errorf("%s in pieces of %d: %v, want an InvalidSecurity error", name, piece, err)
				continue
			}
			// The same verdict however the message is cut (the offset
			// of a text error is that of the piece of text checked).
			_, why, _ := strings.Cut(we.Reason, ": ")
			if first == "" {
				first = why
			} else if why != first {
				t.Errorf("%s in pieces of %d: %q, in one piece %q", name, piece, why, first)
			}
		}
	}
}

// TestBodyCheckerLongConstructs: text, CDATA and comments of any length go
// through without being kept; only a pending tag is bounded.
func TestBodyCheckerLongConstructs(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	msg := []byte(streamHead + `<soap:Body><e:x>` + big + `</e:x><e:y><![CDATA[` + big + `]]></e:y><!--` + big + `--></soap:Body></soap:Envelope>`)
	env, err := Parse(msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewBodyChecker(env)
	rest := msg[env.BodyStart:]
	maxKept := 0
	for i := 0; i < len(rest); i += 1000 {
		if err := c.Write(rest[i:min(i+1000, len(rest))]); err != nil {
			t.Fatal(err)
		}
		maxKept = max(maxKept, cap(c.buf))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if maxKept > 4096 {
		t.Errorf("the checker kept a buffer of %d bytes for 1000-byte writes", maxKept)
	}
	long := []byte(streamHead + `<soap:Body><e:x a="` + strings.Repeat("v", maxBodyTagBytes+10) + `"/></soap:Body></soap:Envelope>`)
	if err := checkAll(t, long, 4096); err == nil || !strings.Contains(err.Error(), "a tag longer than") {
		t.Errorf("a tag of more than %d bytes: %v", maxBodyTagBytes, err)
	}
}

// FuzzBodyChecker checks that the checker's verdict does not depend on how
// the message is cut into writes, and that whatever it accepts is a single
// well-formed document for encoding/xml.
func FuzzBodyChecker(f *testing.F) {
	for _, b := range goodBodies {
		f.Add([]byte(streamHead+b), uint8(3))
	}
	for _, b := range badBodies {
		f.Add([]byte(streamHead+b), uint8(1))
	}
	f.Fuzz(func(t *testing.T, msg []byte, piece uint8) {
		env, err := Parse(msg, nil)
		if err != nil {
			return
		}
		whole := checkAll(t, msg, 0)
		cut := checkAll(t, msg, int(piece%32)+1)
		if (whole == nil) != (cut == nil) {
			t.Fatalf("in one write: %v; in pieces of %d: %v", whole, int(piece%32)+1, cut)
		}
		if whole != nil {
			return
		}
		d := xml.NewDecoder(bytes.NewReader(msg))
		d.Strict = true
		roots := 0
		depth := 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("accepted, but encoding/xml says: %v", err)
			}
			switch tok.(type) {
			case xml.StartElement:
				if depth == 0 {
					roots++
				}
				depth++
			case xml.EndElement:
				depth--
			case xml.Directive:
				t.Fatalf("accepted a directive")
			}
		}
		if roots != 1 || depth != 0 {
			t.Fatalf("accepted %d root elements, depth %d at the end", roots, depth)
		}
		_ = env
	})
}

func bodyOf(kind string, size int) []byte {
	var b bytes.Buffer
	b.WriteString(streamHead + `<soap:Body><e:Echo>`)
	for b.Len() < size {
		switch kind {
		case "text":
			b.WriteString(strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", 28) + "\n")
		case "elements":
			b.WriteString(`<e:item id="42" kind='a'><e:name>widget &amp; co</e:name><e:price cur="EUR">12.50</e:price></e:item>` + "\n")
		}
	}
	b.WriteString(`</e:Echo></soap:Body></soap:Envelope>`)
	return b.Bytes()
}

// BenchmarkBodyChecker measures the checker on a 1 MiB body fed in 32 KiB
// writes, against encoding/xml's strict decoder reading the same bytes.
func BenchmarkBodyChecker(b *testing.B) {
	for _, kind := range []string{"text", "elements"} {
		msg := bodyOf(kind, 1<<20)
		env, err := Parse(msg, nil)
		if err != nil {
			b.Fatal(err)
		}
		rest := msg[env.BodyStart:]
		b.Run(kind+"/checker", func(b *testing.B) {
			b.SetBytes(int64(len(rest)))
			b.ReportAllocs()
			for b.Loop() {
				c := NewBodyChecker(env)
				for i := 0; i < len(rest); i += 32 << 10 {
					if err := c.Write(rest[i:min(i+32<<10, len(rest))]); err != nil {
						b.Fatal(err)
					}
				}
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(kind+"/encoding-xml", func(b *testing.B) {
			b.SetBytes(int64(len(rest)))
			b.ReportAllocs()
			for b.Loop() {
				d := xml.NewDecoder(bytes.NewReader(msg))
				d.Strict = true
				for {
					if _, err := d.RawToken(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
