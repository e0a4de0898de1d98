package server

import (
	"bytes"
	"errors"
	"io"

	"github.com/authsvc/authsvc/wsse"
)

// envelopeError is a refusal of proxy.strict_envelope, found while the
// message was being forwarded.
type envelopeError struct{ err *wsse.Error }

func (e *envelopeError) Error() string { return "strict_envelope: " + e.err.Error() }
func (e *envelopeError) Unwrap() error { return e.err }

// strictBody returns the body to forward, with the part from the Body start
// tag on checked by a wsse.BodyChecker as it streams. head is the forwarded
// head (scrubbed or not), rest the part of the body not read yet (nil if
// none).
func (s *Server) strictBody(res *result, head []byte, rest io.Reader) io.Reader {
	// What follows the Body start tag is the same in head and res.head.
	cut := len(head) - (len(res.head) - res.env.BodyStart)
	checked := io.Reader(bytes.NewReader(head[cut:]))
	if rest != nil {
		checked = io.MultiReader(checked, rest)
	}
	return io.MultiReader(bytes.NewReader(head[:cut]), &checkedBody{r: checked, c: wsse.NewBodyChecker(res.env), refused: func(e *wsse.Error) {
		s.m.strictRefusals.Inc()
		s.log.Warn("authentication refused", "request_id", res.id, "endpoint", "proxy", "fault", string(e.Code),
			"reason", "strict_envelope: "+e.Reason, "forwarding", "the upstream request was cut off before the end of the message")
	}})
}

// checkedBody passes on what it reads while the checker checks it, and
// holds back the last byte it has read until the next read, or until the
// end of the message has been checked: the upstream never receives a whole
// message the checker refused (with a Content-Length the last byte is what
// completes it; chunked, the terminating chunk). A refusal fails the read,
// which makes the transport abandon the upstream request.
type checkedBody struct {
	r       io.Reader
	c       *wsse.BodyChecker
	held    byte
	hasHeld bool
	err     error
	refused func(*wsse.Error)
}

func (b *checkedBody) fail(err error) (int, error) {
	var we *wsse.Error
	if errors.As(err, &we) {
		b.refused(we)
		err = &envelopeError{err: we}
	}
	b.err = err
	return 0, err
}

func (b *checkedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	var one [1]byte
	dst, off := p, 0
	if b.hasHeld {
		if len(p) == 1 {
			dst = one[:]
		} else {
			off = 1
		}
	}
	n, err := b.r.Read(dst[off:])
	if n > 0 {
		if cerr := b.c.Write(dst[off : off+n]); cerr != nil {
			return b.fail(cerr)
		}
	}
	if err != nil && err != io.EOF {
		b.err = err
		return 0, err
	}
	eof := err == io.EOF
	if eof {
		if cerr := b.c.Close(); cerr != nil {
			return b.fail(cerr)
		}
	}
	// Assemble in p: the held byte first, then what was read.
	var total int
	switch {
	case !b.hasHeld:
		total = n
	case len(p) == 1:
		p[0] = b.held
		total = 1
		if n == 1 {
			b.held = one[0] // still held
			return 1, nil
		}
		b.hasHeld = false
	default:
		p[0] = b.held
		total = 1 + n
		b.hasHeld = false
	}
	if eof {
		b.hasHeld = false
		b.err = io.EOF
		return total, io.EOF
	}
	if total == 0 {
		return 0, nil
	}
	b.held, b.hasHeld = p[total-1], true
	return total - 1, nil
}
