package wstrust

import "fmt"

// Fault codes (local names) of WS-Trust (namespace Version.Trust) and of
// WS-SecureConversation (namespace Version.SC).
const (
	// WS-Trust.
	InvalidRequest       = "InvalidRequest"
	FailedAuthentication = "FailedAuthentication"
	RequestFailed        = "RequestFailed"
	// WS-SecureConversation.
	BadContextToken         = "BadContextToken"
	RenewNeeded             = "RenewNeeded"
	UnknownDerivationSource = "UnknownDerivationSource"
	UnableToRenew           = "UnableToRenew"
)

// Fault is a rejection in the WS-Trust or WS-SC family: the client gets the
// QName {Namespace}Local with the generic text of FaultString; Reason, which
// says exactly what was wrong, goes to the log only.
//
// A renderer writes it as the wsse faults are written, with a prefix bound to
// Namespace: SOAP 1.1 faultcode = that QName; SOAP 1.2 Code Sender with the
// QName as Subcode. Every code here is the sender's fault except
// RequestFailed, which a renderer may send as Receiver (Server in SOAP 1.1).
type Fault struct {
	// Version is the protocol version whose namespace Namespace is.
	Version *Version
	// Namespace is Version.Trust or Version.SC.
	Namespace string
	// Local is one of the fault code constants.
	Local string
	// Reason is the detail for the log.
	Reason string
	// Err, when set, is the cause (for errors.Is / errors.As).
	Err error
}

func (f *Fault) Error() string {
	s := "wstrust: " + f.Local + ": " + f.Reason
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

func (f *Fault) Unwrap() error { return f.Err }

// Prefix is the conventional prefix of the fault's namespace: "wst" or "wsc".
func (f *Fault) Prefix() string {
	if f.Version != nil && f.Namespace == f.Version.SC {
		return "wsc"
	}
	return "wst"
}

// Receiver reports whether the fault is the service's (SOAP 1.2 Code
// Receiver, SOAP 1.1 Server) rather than the client's.
func (f *Fault) Receiver() bool { return f.Local == RequestFailed }

// FaultString is the generic text the specifications give for the code; it
// never carries details.
func (f *Fault) FaultString() string {
	switch f.Local {
	case InvalidRequest:
		return "The request was invalid or malformed"
	case FailedAuthentication:
		return "Authentication failed"
	case RequestFailed:
		return "The specified request failed"
	case BadContextToken:
		return "The requested context elements are insufficient or unsupported"
	case RenewNeeded:
		return "The provided context token has expired"
	case UnknownDerivationSource:
		return "The specified source for the derivation is unknown"
	case UnableToRenew:
		return "The specified context token could not be renewed"
	}
	return "The specified request failed"
}

// trustFault and scFault build Faults of v's wst and wsc namespaces; v nil
// means Feb 2005's (a fault about a message whose version is unknown).
func trustFault(v *Version, local, format string, args ...any) *Fault {
	if v == nil {
		v = Feb2005
	}
	return &Fault{Version: v, Namespace: v.Trust, Local: local, Reason: fmt.Sprintf(format, args...)}
}

func scFault(v *Version, local, format string, args ...any) *Fault {
	if v == nil {
		v = Feb2005
	}
	return &Fault{Version: v, Namespace: v.SC, Local: local, Reason: fmt.Sprintf(format, args...)}
}

// NewFault returns a Fault with the code local of v: in the wsc namespace for
// BadContextToken, RenewNeeded, UnknownDerivationSource and UnableToRenew,
// in the wst namespace otherwise.
func NewFault(v *Version, local, reason string) *Fault {
	switch local {
	case BadContextToken, RenewNeeded, UnknownDerivationSource, UnableToRenew:
		return scFault(v, local, "%s", reason)
	}
	return trustFault(v, local, "%s", reason)
}
