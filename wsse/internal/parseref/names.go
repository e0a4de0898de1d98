package parseref

// Namespaces and URIs of SOAP and the OASIS WS-Security profiles.
const (
	NSSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NSSOAP12 = "http://www.w3.org/2003/05/soap-envelope"

	// NSWSSE is the secext namespace of WS-Security 1.0, which also holds
	// the Security element of WS-Security 1.1 messages.
	NSWSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	// NSWSSE11 holds the elements WS-Security 1.1 added (Salt, Iteration,
	// SignatureConfirmation, ...).
	NSWSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
	NSWSU    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	NSDSig   = "http://www.w3.org/2000/09/xmldsig#"
	NSXML    = "http://www.w3.org/XML/1998/namespace"
	NSXMLNS  = "http://www.w3.org/2000/xmlns/"

	PasswordText   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	PasswordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	Base64Binary   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

	// Actors and roles that address the ultimate receiver or every node.
	ActorNext11        = "http://schemas.xmlsoap.org/soap/actor/next"
	RoleNext12         = "http://www.w3.org/2003/05/soap-envelope/role/next"
	RoleUltimateRecv12 = "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
	RoleNone12         = "http://www.w3.org/2003/05/soap-envelope/role/none"
)

// NSWSSE0207 and NSWSSE0212 are the secext namespaces of the WS-Security
// drafts before OASIS, which Microsoft WSE 1.0/2.0 and FileNet clients still
// send. Parse takes a Security header in them for its BinarySecurityTokens
// only (Security.LegacyBinaryTokens, for the Kerberos module); nothing else
// in such a header is typed.
const (
	NSWSSE0207 = "http://schemas.xmlsoap.org/ws/2002/07/secext"
	NSWSSE0212 = "http://schemas.xmlsoap.org/ws/2002/12/secext"

	// WS-Addressing: the W3C recommendation and the 2004/08 submission
	// that WCF's Feb 2005 bindings use. Parse notes whether a header block
	// is in either (Envelope.AddressingHeaders).
	NSWSA     = "http://www.w3.org/2005/08/addressing"
	NSWSA2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
)

// Version is the SOAP version of an envelope.
type Version int

// SOAP versions.
const (
	SOAP11 Version = 11
	SOAP12 Version = 12
)

func (v Version) String() string {
	if v == SOAP12 {
		return "1.2"
	}
	return "1.1"
}

// Namespace returns the envelope namespace of the version.
func (v Version) Namespace() string {
	if v == SOAP12 {
		return NSSOAP12
	}
	return NSSOAP11
}
