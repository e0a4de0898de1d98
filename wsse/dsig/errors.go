package dsig

import (
	"errors"
	"fmt"

	"github.com/authsvc/authsvc/wsse"
)

// Error is a rejection: Code goes to the client, Reason to the log. Err,
// when set, says which kind of failure it is (ErrSignatureMismatch,
// ErrDigestMismatch) or what caused it.
type Error struct {
	Code   wsse.FaultCode
	Reason string
	Err    error
}

func (e *Error) Error() string {
	s := "dsig: " + string(e.Code) + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

var (
	// ErrSignatureMismatch says the SignatureValue is not the MAC of the
	// SignedInfo under the resolved key: the key is wrong (for a
	// password-derived key, the password) or the SignedInfo was changed.
	ErrSignatureMismatch = errors.New("dsig: SignatureValue does not match")
	// ErrDigestMismatch says a referenced part changed after signing.
	ErrDigestMismatch = errors.New("dsig: digest of a signed part does not match")
	// ErrNoSignature says the Security header holds no ds:Signature.
	ErrNoSignature = errors.New("dsig: no Signature in the Security header")
)

func errorf(code wsse.FaultCode, err error, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...), Err: err}
}
