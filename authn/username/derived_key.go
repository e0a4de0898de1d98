package username

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/authsvc/authsvc/internal/sha1chain"
)

// Key derivation of the UsernameToken Profile 1.1, section 4.
const (
	// DefaultIteration is the Iteration a token without one implies.
	DefaultIteration = 1000
	// DefaultMinIterations and DefaultMaxIterations are WSS4J's bounds:
	// fewer rounds make the key cheap to brute-force from a captured
	// message; more are a denial-of-service lever on us.
	DefaultMinIterations = 1000
	DefaultMaxIterations = 10000
	// SaltSize is the size of a UsernameToken salt: one byte that marks the
	// key's use and 15 random bytes.
	SaltSize = 16
	// SaltUseMAC and SaltUseEncryption are the values of the salt's first byte.
	SaltUseMAC        = 0x01
	SaltUseEncryption = 0x02
	// DerivedKeySize is the size of a derived key (one SHA-1 output).
	DerivedKeySize = sha1.Size
)

// DeriveKey computes the key of a derived-key UsernameToken:
// K1 = SHA-1(password || salt), Kn = SHA-1(Kn-1), and returns K_iterations.
// An iteration count below 1 is taken as 1, as WSS4J does.
func DeriveKey(password, salt []byte, iterations int) [DerivedKeySize]byte {
	buf := make([]byte, 0, len(password)+len(salt))
	buf = append(buf, password...)
	buf = append(buf, salt...)
	k := sha1.Sum(buf)
	clear(buf)
	// K2..Kn: in registers where the CPU has the SHA extensions.
	return sha1chain.Chain(k, iterations-1)
}

// errDerivedToken marks a malformed Salt or Iteration.
var errDerivedToken = errors.New("malformed derived-key token")

// parseSalt decodes a Salt as sent and checks its size and use byte.
func parseSalt(s string, use byte) ([]byte, error) {
	salt, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: Salt is not Base64", errDerivedToken)
	}
	if len(salt) != SaltSize {
		return nil, fmt.Errorf("%w: Salt has %d bytes, not %d", errDerivedToken, len(salt), SaltSize)
	}
	if salt[0] != use {
		return nil, fmt.Errorf("%w: Salt marks use %#02x, not %#02x", errDerivedToken, salt[0], use)
	}
	return salt, nil
}

// parseIteration reads an Iteration as sent; has is whether the token has one.
func parseIteration(s string, has bool) (int, error) {
	if !has {
		return DefaultIteration, nil
	}
	s = strings.TrimSpace(s)
	// Digits only: no sign, no leading '+', bounded length.
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: Iteration %q is not a count", errDerivedToken, s)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: Iteration %q is not a count", errDerivedToken, s)
	}
	return n, nil
}
