package asynclog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// The fast path. A request's "authenticated" line went through slog's
// Logger (a Record, the caller's PC), a copy of the Record and slog's
// generic text or JSON encoding: about a tenth of authsvc's CPU in the HTTP
// Negotiate row, as much as the log level warn saved. Begin writes the same
// line directly. It takes only string and []string values made of bytes
// that neither handler quotes or escapes (plainByte), which the values it
// is used for (request ids, endpoints, addresses, principals, method and
// token names) almost always are; for any other value End reports false
// and the caller logs through slog as before. So the fast path never has
// to reproduce slog's quoting and escaping, and its lines are slog's byte
// for byte (TestFastMatchesSlog).

type format uint8

const (
	formatNone format = iota
	formatText
	formatJSON
)

// fastFormat is f when opts leave slog's output as the fast path writes it.
func fastFormat(f format, opts *slog.HandlerOptions) format {
	if opts != nil && (opts.ReplaceAttr != nil || opts.AddSource) {
		return formatNone
	}
	return f
}

// Line is one routine record being written by the fast path.
type Line struct {
	h   *Handler
	buf []byte
	ok  bool // every value so far was plain
}

var lines = sync.Pool{New: func() any { return &Line{buf: make([]byte, 0, 512)} }}

// Begin starts a line of msg at level for the fast path when l's handler
// is a root handler of NewText or NewJSON (no attributes or groups added)
// and level is enabled; otherwise it returns nil, and the caller logs
// through slog (the methods of a nil *Line do nothing and End reports
// false). msg must be plain.
func Begin(l *slog.Logger, level slog.Level, msg string) *Line {
	h, ok := l.Handler().(*Handler)
	if !ok || h.fast == formatNone || !h.async.Enabled(context.Background(), level) || level >= slog.LevelWarn {
		return nil
	}
	ln := lines.Get().(*Line)
	ln.h, ln.ok = h, plain(msg)
	b := ln.buf[:0]
	now := clock()
	if h.fast == formatJSON {
		b = append(b, `{"time":"`...)
		b = now.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"`...)
		b = append(b, level.String()...)
		b = append(b, `","msg":"`...)
		b = append(b, msg...)
		b = append(b, '"')
	} else {
		b = append(b, "time="...)
		b = appendRFC3339Millis(b, now)
		b = append(b, " level="...)
		b = append(b, level.String()...)
		b = append(b, " msg="...)
		b = append(b, msg...)
	}
	ln.buf = b
	return ln
}

// Str adds the attribute key=value.
func (ln *Line) Str(key, value string) *Line {
	if ln == nil || !ln.ok {
		return ln
	}
	if !plain(key) || value != "" && !plain(value) {
		ln.ok = false
		return ln
	}
	ln.key(key)
	if ln.h.fast == formatJSON || value == "" {
		ln.buf = append(ln.buf, '"')
		ln.buf = append(ln.buf, value...)
		ln.buf = append(ln.buf, '"')
		return ln
	}
	ln.buf = append(ln.buf, value...)
	return ln
}

// Strs adds the attribute key with values, as slog.Any(key, values) does:
// a JSON array, or in text fmt's %+v of the slice, quoted when it has a
// space.
func (ln *Line) Strs(key string, values []string) *Line {
	if ln == nil || !ln.ok {
		return ln
	}
	if values == nil || !plain(key) {
		ln.ok = false // null in JSON: not worth a case of its own
		return ln
	}
	for _, v := range values {
		if !plain(v) {
			ln.ok = false
			return ln
		}
	}
	ln.key(key)
	b := ln.buf
	switch {
	case ln.h.fast == formatJSON:
		b = append(b, '[')
		for i, v := range values {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, v...)
			b = append(b, '"')
		}
		b = append(b, ']')
	default:
		quote := len(values) > 1 // the spaces between elements
		if quote {
			b = append(b, '"')
		}
		b = append(b, '[')
		for i, v := range values {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, v...)
		}
		b = append(b, ']')
		if quote {
			b = append(b, '"')
		}
	}
	ln.buf = b
	return ln
}

func (ln *Line) key(k string) {
	if ln.h.fast == formatJSON {
		ln.buf = append(ln.buf, ',', '"')
		ln.buf = append(ln.buf, k...)
		ln.buf = append(ln.buf, '"', ':')
		return
	}
	ln.buf = append(ln.buf, ' ')
	ln.buf = append(ln.buf, k...)
	ln.buf = append(ln.buf, '=')
}

// End writes the line and reports true, or, when a value was not plain,
// writes nothing and reports false: the caller then logs the record
// through slog.
func (ln *Line) End() bool {
	if ln == nil {
		return false
	}
	ok := ln.ok
	if ok {
		if ln.h.fast == formatJSON {
			ln.buf = append(ln.buf, '}')
		}
		ln.buf = append(ln.buf, '\n')
		pendingSink{ln.h.s}.Write(ln.buf)
	}
	ln.h = nil
	if cap(ln.buf) <= 4<<10 {
		lines.Put(ln)
	}
	return ok
}

// plain reports whether s is non-empty and made of plainByte bytes only.
func plain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// plainByte holds the bytes slog writes as they are both in text (where
// anything but printable ASCII, space, '=', '"' and '\\' is left
// unquoted) and in JSON strings (where '"', '\\', control characters and
// nothing else ASCII is escaped): letters, digits and ._:@/+-[]~.
var plainByte = func() (t [256]bool) {
	for c := range 256 {
		b := byte(c)
		t[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			b == '.' || b == '_' || b == ':' || b == '@' || b == '/' || b == '+' || b == '-' ||
			b == '[' || b == ']' || b == '~'
	}
	return t
}()

// clock is time.Now; tests fix it to compare lines with slog's.
var clock = time.Now

// appendRFC3339Millis is slog's text time: RFC 3339 with exactly three
// digits of milliseconds, truncated.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}
