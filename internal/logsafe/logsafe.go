// Package logsafe bounds what a client can put into a log line or an audit
// record. A claimed user name, a fault reason that quotes one, a Created
// value: each comes from the request, and a client that sends 250 KB of
// user name must not get 250 KB lines written for it.
package logsafe

import (
	"strconv"
	"unicode/utf8"
)

// Limits for client-controlled strings in logs.
const (
	// MaxName bounds a name the client claims (a user name, a principal).
	MaxName = 256
	// MaxText bounds a reason or an error text that may quote the client.
	MaxText = 1024
)

// Clip returns s if it has at most max bytes, else its first bytes up to
// max, cut at a rune boundary, followed by how many bytes were left out.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[" + strconv.Itoa(len(s)-cut) + " more bytes]"
}
