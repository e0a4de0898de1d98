package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
)

// readBody reads the request body as far as authentication needs it (see
// readEnvelope) into a pooled buffer that res.release returns, and records
// the envelope in res. A body that cannot be read, is too large, or does not
// parse gives the fault and the HTTP status it is refused with.
func (s *Server) readBody(r *http.Request, res *result) (*authn.Fault, int) {
	if r.ContentLength > s.o.MaxBodyBytes {
		return authn.Reject(wsse.InvalidSecurity,
			"message of %d bytes is larger than max_body_bytes %d", r.ContentLength, s.o.MaxBodyBytes), http.StatusRequestEntityTooLarge
	}
	bp := s.bufs.Get().(*[]byte)
	res.release = func() {
		if cap(*bp) <= 64<<10 { // do not keep large buffers alive
			*bp = (*bp)[:0]
			s.bufs.Put(bp)
		}
	}
	env, err := s.readEnvelope(r.Body, bp, res, func(env *wsse.Envelope) bool { return s.classify(r, res, env) })
	if err != nil {
		var tooBig *tooLargeError
		if errors.As(err, &tooBig) {
			return authn.Reject(wsse.InvalidSecurity, "%v", err), http.StatusRequestEntityTooLarge
		}
		var we *wsse.Error
		if errors.As(err, &we) {
			if we.Version != 0 {
				// The envelope's namespace says more than Content-Type.
				res.version = we.Version
			}
			return authn.AsFault(err), http.StatusBadRequest
		}
		return authn.Reject(wsse.InvalidSecurity, "reading the request body: %v", err), http.StatusBadRequest
	}
	res.env = env
	if env != nil {
		res.version = env.Version
		res.claimed = claimedPrincipal(env)
	}
	return nil, 0
}

// discardRest reads and drops what is left of the body after the head,
// without parsing or keeping it, up to max_body_bytes, once the request has
// been judged on its head (API, gateway and STS endpoints, and any
// refusal). net/http itself drains at most 256 KiB after the handler and
// closes the connection when more is left, so without this every message
// over 256 KiB would cost the client a new TCP connection. A body past
// max_body_bytes gives a tooLargeError (the connection is then closed by
// net/http); the read is bounded in time by the server's ReadTimeout.
func (s *Server) discardRest(body io.Reader, res *result) error {
	if res.eof || res.drained {
		return nil
	}
	res.drained = true
	left := s.o.MaxBodyBytes - int64(len(res.head))
	n, err := io.CopyN(io.Discard, body, left+1)
	switch {
	case n > left:
		return &tooLargeError{s.o.MaxBodyBytes, "max_body_bytes"}
	case errors.Is(err, io.EOF):
		return nil
	}
	return err
}

// tooLargeError is a body past a limit, named by its configuration key.
type tooLargeError struct {
	limit int64
	key   string
}

func (e *tooLargeError) Error() string {
	if e.key == "max_signed_bytes" {
		return fmt.Sprintf("message read whole (signed, or a WS-Trust request) is larger than max_signed_bytes %d", e.limit)
	}
	return fmt.Sprintf("message is larger than %s %d", e.key, e.limit)
}

// readEnvelope reads the body until the parser has seen the Body start tag,
// the body ends, or the header limit is passed. An empty body gives a nil
// envelope (HTTP Negotiate without SOAP). When the Security header is signed
// it reads the rest of the body too, up to max_body_bytes, so that the
// signature is verified over the whole message; an unsigned message costs
// the same whatever follows its Body start tag. It reads the rest too when
// whole (nil: never) says so of the parsed envelope: a WS-Trust RST, whose
// content is the Body, signed or not.
func (s *Server) readEnvelope(body io.Reader, bp *[]byte, res *result, whole func(*wsse.Envelope) bool) (*wsse.Envelope, error) {
	var buf []byte
	maxHead := s.o.Parse.Limits.MaxHeaderBytes
	if maxHead <= 0 {
		maxHead = wsse.DefaultLimits.MaxHeaderBytes
	}
	// A client that trickles its message a byte at a time must not make us
	// rescan or reparse everything it sent so far on each read: only the new
	// bytes are searched for "Body", and after a parse that needed more, the
	// next waits until half as much again has arrived. Both stay linear in
	// the size of the head.
	scanned, sawBody, parseAt := 0, false, 0
	for {
		var n int
		var eof bool
		var err error
		if buf, n, eof, err = s.readMore(body, bp, res); err != nil {
			return nil, err
		}
		if eof && len(buf) == 0 {
			return nil, nil
		}
		if n == 0 && !eof {
			continue
		}
		if !sawBody {
			from := max(scanned-3, 0)
			sawBody = bytes.Contains(buf[from:], []byte("Body"))
			scanned = len(buf)
		}
		// Parse once enough has arrived: at the end of the body, when the
		// buffer is full (it doubles, so that happens a few times at most),
		// or when a Body start tag may be present.
		if eof || len(buf) == cap(buf) || sawBody && len(buf) >= parseAt {
			env, perr := wsse.Parse(buf, &s.o.Parse)
			if perr == nil {
				res.version = env.Version
				rst := whole != nil && whole(env)
				if !eof && (env.NeedsWhole() || rst) {
					// A signature may cover the Body: verify over every byte,
					// and forward exactly those bytes in proxy mode. An RST
					// is read whole for the STS.
					if buf, err = s.readRest(body, bp, res); err != nil {
						return nil, err
					}
					env.Raw = buf
				}
				return env, nil
			}
			if eof || len(buf) > maxHead {
				return nil, perr
			}
			parseAt = len(buf) + max(len(buf)/2, 4096)
		}
	}
}

// readRest reads what is left of the body into *bp after the head already
// there, up to max_signed_bytes, and returns the whole body. The buffer grows
// with what arrives, never with what Content-Length announces: a client that
// announces 10 MiB and sends nothing must not make us hold 10 MiB. A body
// past the limit is refused as soon as that much has arrived, before the
// rest is read.
func (s *Server) readRest(body io.Reader, bp *[]byte, res *result) ([]byte, error) {
	for {
		if int64(len(*bp)) > s.o.MaxSignedBytes {
			return *bp, &tooLargeError{s.o.MaxSignedBytes, "max_signed_bytes"}
		}
		buf, _, eof, err := s.readMore(body, bp, res)
		if err != nil || eof {
			if err == nil && int64(len(buf)) > s.o.MaxSignedBytes {
				err = &tooLargeError{s.o.MaxSignedBytes, "max_signed_bytes"}
			}
			return buf, err
		}
	}
}

// readMore does one read into *bp after what it holds, growing it when full,
// and keeps res.head and res.eof up to date. Past max_body_bytes it fails.
func (s *Server) readMore(body io.Reader, bp *[]byte, res *result) (buf []byte, n int, eof bool, err error) {
	buf = *bp
	if len(buf) == cap(buf) {
		buf = append(buf, 0)[:len(buf)]
	}
	n, err = body.Read(buf[len(buf):cap(buf)])
	buf = buf[:len(buf)+n]
	*bp = buf
	res.head = buf
	if int64(len(buf)) > s.o.MaxBodyBytes {
		return buf, n, false, &tooLargeError{s.o.MaxBodyBytes, "max_body_bytes"}
	}
	eof = errors.Is(err, io.EOF)
	if err != nil && !eof {
		return buf, n, false, err
	}
	res.eof = eof
	return buf, n, eof, nil
}
