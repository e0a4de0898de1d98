package parseref

import "fmt"

// FaultCode is a WS-Security 1.1 fault code (the local part of a QName in the
// wsse namespace), as listed in section 12 of the SOAP Message Security spec.
type FaultCode string

// The WS-Security fault codes.
const (
	UnsupportedSecurityToken FaultCode = "UnsupportedSecurityToken"
	UnsupportedAlgorithm     FaultCode = "UnsupportedAlgorithm"
	InvalidSecurity          FaultCode = "InvalidSecurity"
	InvalidSecurityToken     FaultCode = "InvalidSecurityToken"
	FailedAuthentication     FaultCode = "FailedAuthentication"
	FailedCheck              FaultCode = "FailedCheck"
	SecurityTokenUnavailable FaultCode = "SecurityTokenUnavailable"
	MessageExpired           FaultCode = "MessageExpired"
)

// Reason returns the generic fault string the spec gives for the code. It
// never carries details: those go to the log only.
func (c FaultCode) Reason() string {
	switch c {
	case UnsupportedSecurityToken:
		return "An unsupported token was provided"
	case UnsupportedAlgorithm:
		return "An unsupported signature or encryption algorithm was used"
	case InvalidSecurity:
		return "An error was discovered processing the <wsse:Security> header"
	case InvalidSecurityToken:
		return "An invalid security token was provided"
	case FailedAuthentication:
		return "The security token could not be authenticated or authorized"
	case FailedCheck:
		return "The signature or decryption was invalid"
	case SecurityTokenUnavailable:
		return "Referenced security token could not be retrieved"
	case MessageExpired:
		return "The message has expired"
	}
	return "An error was discovered processing the <wsse:Security> header"
}

// Error is a rejection found while parsing an envelope. Code goes to the
// client; Reason, which may name what exactly was wrong, goes to the log.
type Error struct {
	Code   FaultCode
	Reason string
	// Version is the SOAP version of the envelope when the parser had read
	// its start tag before it failed, 0 if not: the fault goes back in the
	// version the client used.
	Version Version

	truncated bool
}

// IsTruncated reports whether err says the input ended before the Body start
// tag, so that a caller reading incrementally should read more and retry.
func IsTruncated(err error) bool {
	e, ok := err.(*Error)
	return ok && e.truncated
}

func (e *Error) Error() string { return fmt.Sprintf("wsse: %s: %s", e.Code, e.Reason) }

func errorf(code FaultCode, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}
