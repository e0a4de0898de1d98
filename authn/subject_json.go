package authn

import (
	"encoding/json"
	"slices"
)

// AppendJSON appends the Subject's JSON form, as encoding/json writes it
// (json.Marshal: the same fields, order, omissions and escaping), to b.
// The API answers every accepted request with it; encoding/json's
// reflection cost several microseconds a request. Strings that need no
// escaping are copied as they are; any other string is left to
// encoding/json. An AuthTime encoding/json refuses (a year outside
// 0-9999; the chain sets it from the clock) is written as null, where
// json.Marshal would fail.
func (s *Subject) AppendJSON(b []byte) []byte {
	b = append(b, `{"principal":`...)
	b = appendJSONString(b, s.Principal)
	if s.Realm != "" {
		b = append(b, `,"realm":`...)
		b = appendJSONString(b, s.Realm)
	}
	b = append(b, `,"method":`...)
	b = appendJSONString(b, s.Method)
	if s.TokenType != "" {
		b = append(b, `,"token_type":`...)
		b = appendJSONString(b, s.TokenType)
	}
	if len(s.Groups) > 0 {
		b = append(b, `,"groups":`...)
		b = appendJSONStrings(b, s.Groups)
	}
	if len(s.Attributes) > 0 {
		b = append(b, `,"attributes":{`...)
		keys := make([]string, 0, len(s.Attributes))
		for k := range s.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json sorts map keys
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONStrings(b, s.Attributes[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"auth_time":`...)
	// As time.Time's MarshalJSON: its MarshalText (RFC 3339 with
	// nanoseconds) in quotes.
	if t, err := s.AuthTime.AppendText(append(b, '"')); err == nil {
		b = append(t, '"')
	} else {
		b = append(b, "null"...)
	}
	if len(s.Modules) > 0 {
		b = append(b, `,"modules":`...)
		b = appendJSONStrings(b, s.Modules)
	}
	return append(b, '}')
}

// appendJSONStrings appends a string list; nil is null, as encoding/json
// writes a nil slice.
func appendJSONStrings(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

// appendJSONString appends v quoted. Printable ASCII other than ", \ and
// the characters encoding/json escapes for HTML (<, >, &) is copied; any
// other string goes through encoding/json.
func appendJSONString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(v) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}
