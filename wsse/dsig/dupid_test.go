package dsig_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/dsig"
)

// copyHeader returns a function adding a header block after our Security
// header that holds a copy of the element the pattern matches (its wsu and
// wsse prefixes declared on the block).
func copyHeader(pattern string) func([]byte) []byte {
	re := regexp.MustCompile(pattern)
	return func(b []byte) []byte {
		el := re.Find(b)
		if el == nil {
			panic(pattern + " did not match")
		}
		block := `<x:copy xmlns:x="urn:x" xmlns:wsse="` + wsse.NSWSSE + `" xmlns:wsu="` + wsse.NSWSU + `">` + string(el) + `</x:copy>`
		return []byte(strings.Replace(string(b), `</wsse:Security>`, `</wsse:Security>`+block, 1))
	}
}

const (
	utPattern = `(?s)<wsse:UsernameToken .*?</wsse:UsernameToken>`
	tsPattern = `(?s)<wsu:Timestamp .*?</wsu:Timestamp>`
)

// TestDuplicateIDs: an Id may appear more than once (Apache CXF's cancel
// repeats the SCT, Id and all, inside the Body), but only the KeyInfo's
// token reference may use it, resolving to the one occurrence that is a
// direct child of our Security header; a ds:Reference naming a duplicated
// Id (a wrapping attempt) is refused, and so are two tokens of the header
// with one Id.
func TestDuplicateIDs(t *testing.T) {
	verify := func(t *testing.T, raw []byte) error {
		t.Helper()
		env, err := wsse.Parse(raw, nil)
		if err != nil {
			t.Fatalf("wsse.Parse: %v\n%s", err, raw)
		}
		_, err = dsig.Verify(context.Background(), env, utKeys(env, "security"), nil)
		return err
	}
	t.Run("token copied outside the Security header", func(t *testing.T) {
		raw := copyHeader(utPattern)(mustEnvelope(t, wss4j.Message{}))
		if err := verify(t, raw); err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
	})
	refused := []struct {
		name, reason string
		mut          func([]byte) []byte
	}{
		{"signed Timestamp copied", "appears more than once", copyHeader(tsPattern)},
		{"Body Id on a header element (wrapping)", "appears more than once", func(b []byte) []byte {
			id := regexp.MustCompile(`<soap:Body [^>]*wsu:Id="([^"]*)"`).FindSubmatch(b)[1]
			block := `<x:w xmlns:x="urn:x" xmlns:wsu="` + wsse.NSWSU + `" wsu:Id="` + string(id) + `"><m:echo xmlns:m="urn:example:echo">forged</m:echo></x:w>`
			return []byte(strings.Replace(string(b), `</wsse:Security>`, `</wsse:Security>`+block, 1))
		}},
		{"two tokens of the header with one Id", "two tokens", func(b []byte) []byte {
			ut := regexp.MustCompile(utPattern).Find(b)
			return []byte(strings.Replace(string(b), string(ut), string(ut)+string(ut), 1))
		}},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			raw := c.mut(mustEnvelope(t, wss4j.Message{}))
			env, perr := wsse.Parse(raw, nil)
			if perr != nil {
				t.Fatalf("the streaming parser already refuses it (%v)", perr)
			}
			_, err := dsig.Verify(context.Background(), env, utKeys(env, "security"), nil)
			var de *dsig.Error
			if !errors.As(err, &de) || de.Code != wsse.InvalidSecurity || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("Verify = %v, want InvalidSecurity with %q\n%s", err, c.reason, raw)
			}
		})
	}
}
