package dsig

import (
	"testing"

	"github.com/authsvc/authsvc/wsse"
)

// TestHeaderEnvelope: the header-only copy keeps every byte up to the Body
// start tag (a '>' inside a quoted attribute value included) and closes the
// Body and the Envelope by their own names; an empty Body element or a start
// tag it cannot delimit gives nil.
func TestHeaderEnvelope(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`<s:Envelope xmlns:s="u"><s:Header/><s:Body a="x>y"><e/></s:Body></s:Envelope>`,
			`<s:Envelope xmlns:s="u"><s:Header/><s:Body a="x>y"></s:Body></s:Envelope>`},
		{"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- c --><Envelope xmlns=\"u\"><Header/><Body\n>text</Body></Envelope>",
			"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- c --><Envelope xmlns=\"u\"><Header/><Body\n></Body></Envelope>"},
		{`<s:Envelope xmlns:s="u"><s:Header/><s:Body/></s:Envelope>`, ""},
		{`<s:Envelope xmlns:s="u"><s:Header/><s:Body a="unclosed`, ""},
	} {
		raw := []byte(tc.raw)
		env := &wsse.Envelope{Raw: raw, BodyStart: indexBody(raw)}
		h := headerEnvelope(env)
		got := ""
		if h != nil {
			got = string(h.Raw)
		}
		if got != tc.want {
			t.Errorf("headerEnvelope(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func indexBody(raw []byte) int {
	for i := range raw {
		if raw[i] == '<' && (string(raw[i+1:min(i+5, len(raw))]) == "Body" || string(raw[i+1:min(i+7, len(raw))]) == "s:Body") {
			return i
		}
	}
	return -1
}
