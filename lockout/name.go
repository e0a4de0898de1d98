package lockout

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Name folds a claimed user name the way directories match names,
// so that every spelling a directory takes for alice counts against alice:
// OpenLDAP's caseIgnoreMatch (uid, cn) binds "ALICE", " alice", "ａｌｉｃｅ"
// (fullwidth), "𝐚lice" (mathematical bold), "ⓐlice", "ALİCE" and
// "alice\u00a0" all as alice. The steps:
//
//   - Unicode compatibility normalization (NFKC): fullwidth, mathematical,
//     circled and superscript letters become plain ones, and the Unicode
//     spaces (no-break, ideographic, en quad...) become U+0020;
//   - format characters (soft hyphen, zero-width space and joiners) and
//     variation selectors are dropped, as RFC 4518 string preparation maps
//     them to nothing (OpenLDAP keeps them; other directories do not);
//   - each rune's simple lower case (İ U+0130 becomes i, as slapd does;
//     full case folding would give i + U+0307), then full case folding
//     (ß and ss, ς and σ) and NFKC again;
//   - leading and trailing space dropped, inner runs of space collapsed.
//
// Checked against the test slapd by substituting every rune below U+30000
// for one letter of "alice" and "bob" and for a leading or trailing space:
// each spelling slapd matched folds to the plain name here. PRECIS
// UsernameCaseMapped (RFC 8265) was tried and rejected: it refuses
// mathematical and circled letters and the Unicode spaces outright rather
// than mapping them, so it would leave 12 of slapd's 16 spellings of the
// first letter of alice with counters of their own.
//
// The fold may join names a directory keeps apart (ß and ss, modifier
// letters newer than OpenLDAP's tables); that only shares a counter, and
// each of those names could be locked under its own spelling anyway. It must
// never keep apart names a directory joins.
func Name(claimed string) string {
	ascii := true
	for i := 0; i < len(claimed); i++ {
		if claimed[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		s := norm.NFKC.String(claimed)
		s = strings.Map(func(r rune) rune {
			switch {
			case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Variation_Selector, r), r == '\u034f':
				return -1
			case unicode.IsSpace(r):
				return ' '
			}
			return unicode.ToLower(r)
		}, s)
		// A Caser is not safe for concurrent use: one per call.
		claimed = norm.NFKC.String(cases.Fold().String(s))
	}
	return strings.ToLower(strings.Join(strings.Fields(claimed), " "))
}

// decoySecret makes decoy names unpredictable (per process).
var decoySecret = func() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}()

// DecoyName is the user name a locked request's UsernameTokens are checked
// under: one no registry holds, the same for the same claimed name (so that
// a credential cache answers a repeated guess as it would for the real
// name), and not guessable from outside.
func DecoyName(claimed string) string {
	h := hmac.New(sha256.New, decoySecret)
	h.Write([]byte(claimed))
	return "authsvc-locked-" + hex.EncodeToString(h.Sum(nil)[:12])
}
