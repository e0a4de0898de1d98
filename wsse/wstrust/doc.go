// Package wstrust is the protocol layer of WS-Trust and WS-SecureConversation
// as authsvc speaks it: it tells a RequestSecurityToken (RST) apart from an
// application message by its action, parses RSTs and the tokens of a
// secure conversation (SecurityContextToken, DerivedKeyToken), computes
// proof keys with P_SHA1, builds the RequestSecurityTokenResponse (RSTR)
// envelopes, and resolves the key of a signature made with a context's
// secret for wsse/dsig. Both versions are spoken everywhere: WS-Trust and
// WS-SC of February 2005 (WCF wsHttpBinding) and the OASIS 1.3 versions
// (WCF ws2007HttpBinding, Apache CXF, InterSystems IRIS).
//
// The package holds pure functions and types: it does no I/O, keeps no
// state and knows neither the server nor the chain. Contexts live in a
// sct.Store; the caller looks them up and hands the package what it needs
// (a lookup function for KeyResolver, entropy for ComputeKey).
//
// Parsing is strict where security depends on it: every fragment is read
// with namespaces resolved against the scope it was found in, no DTD, no
// entity beyond XML's five, no processing instruction, and bounds on bytes,
// depth, elements, attributes and text (Limits). A rejection is a *Fault
// naming the WS-Trust or WS-SC fault code for the client and, in Reason,
// exactly what was wrong for the log.
package wstrust
