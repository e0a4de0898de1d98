package dsig

import (
	"bytes"
	"context"
	"errors"

	"github.com/authsvc/authsvc/wsse"
)

// prefilterMinBody is the size of Body content from which Verify checks the
// SignatureValue on the header alone before it builds the DOM of the whole
// envelope: below it the extra header DOM costs more than it can save.
const prefilterMinBody = 32 << 10

// errMACMatched stops a header-only pass once the MAC has matched.
var errMACMatched = errors.New("dsig: MAC matched on the header")

// headerEnvelope returns a copy of env whose Raw is the envelope up to and
// including the Body start tag, followed by end tags for the Body and the
// Envelope: the same header, byte for byte, with an empty Body. It returns
// nil when that cannot be made (an empty Body element, a start tag it cannot
// delimit), and the caller then goes the whole way.
func headerEnvelope(env *wsse.Envelope) *wsse.Envelope {
	raw := env.Raw
	if env.BodyStart <= 0 || env.BodyStart >= len(raw) {
		return nil
	}
	bodyName := qname(raw[env.BodyStart+1:])
	end := tagEnd(raw, env.BodyStart)
	if bodyName == nil || end < 0 || raw[end-1] == '/' {
		return nil
	}
	root := rootStart(raw)
	if root < 0 || root >= env.BodyStart {
		return nil
	}
	envName := qname(raw[root+1:])
	if envName == nil {
		return nil
	}
	h := *env
	b := make([]byte, 0, end+1+len(bodyName)+len(envName)+6)
	b = append(b, raw[:end+1]...)
	b = append(append(append(b, "</"...), bodyName...), '>')
	b = append(append(append(b, "</"...), envName...), '>')
	h.Raw = b
	return &h
}

// qname is the name at the start of b (after '<'), up to white space, '>'
// or '/'.
func qname(b []byte) []byte {
	i := bytes.IndexAny(b, " \t\r\n/>")
	if i <= 0 {
		return nil
	}
	return b[:i]
}

// tagEnd is the offset of the '>' that ends the start tag at raw[start],
// quotes respected, or -1.
func tagEnd(raw []byte, start int) int {
	var quote byte
	for i := start + 1; i < len(raw); i++ {
		c := raw[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return -1
}

// rootStart is the offset of the root element's '<': past an optional BOM,
// the XML declaration, comments and white space (wsse.Parse has checked
// that nothing else comes first), or -1.
func rootStart(raw []byte) int {
	i := 0
	if bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) {
		i = 3
	}
	for i < len(raw) {
		switch {
		case raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n':
			i++
		case bytes.HasPrefix(raw[i:], []byte("<?")):
			j := bytes.Index(raw[i:], []byte("?>"))
			if j < 0 {
				return -1
			}
			i += j + 2
		case bytes.HasPrefix(raw[i:], []byte("<!--")):
			j := bytes.Index(raw[i+4:], []byte("-->"))
			if j < 0 {
				return -1
			}
			i += 4 + j + 3
		case raw[i] == '<':
			return i
		default:
			return -1
		}
	}
	return -1
}

// keyOnce resolves the key once and gives it again on the next call, so
// that the header pass and the whole pass derive it once; it passes the
// MACVerified hook on.
type keyOnce struct {
	inner KeyResolver
	key   []byte
}

func (k *keyOnce) ResolveKey(ctx context.Context, ki *KeyInfo) ([]byte, error) {
	if k.key != nil {
		return k.key, nil
	}
	key, err := k.inner.ResolveKey(ctx, ki)
	if err == nil {
		k.key = key
	}
	return key, err
}

func (k *keyOnce) MACVerified(ctx context.Context, value []byte) error {
	if h, ok := k.inner.(MACVerifiedHook); ok {
		return h.MACVerified(ctx, value)
	}
	return nil
}

// headerPass checks the SignatureValue against SignedInfo with a DOM of the
// header alone (SignedInfo, its namespace context and the key's token are
// all in the header, byte for byte the same). It returns a mismatch error
// to refuse at once, or nil to go on with the whole envelope (also when the
// header pass could not decide: the whole pass then says why).
func headerPass(ctx context.Context, env *wsse.Envelope, keys *keyOnce, lim *Limits) error {
	h := headerEnvelope(env)
	if h == nil {
		return nil
	}
	d, err := NewDocument(h, lim)
	if err != nil {
		return nil
	}
	defer d.release()
	d.macOnly = true
	_, err = d.Verify(ctx, keys)
	if errors.Is(err, ErrSignatureMismatch) {
		return err
	}
	return nil
}
