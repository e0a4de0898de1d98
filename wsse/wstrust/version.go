package wstrust

// Version is one version of WS-Trust with its WS-SecureConversation: the
// namespaces and the URIs derived from them. The two values are Feb2005 and
// V13; compare pointers.
type Version struct {
	// Name is "2005/02" or "1.3", for logs and metrics.
	Name string
	// Trust and SC are the wst and wsc namespace URIs.
	Trust, SC string
}

// The two versions.
var (
	Feb2005 = &Version{Name: "2005/02", Trust: "http://schemas.xmlsoap.org/ws/2005/02/trust", SC: "http://schemas.xmlsoap.org/ws/2005/02/sc"}
	V13     = &Version{Name: "1.3", Trust: "http://docs.oasis-open.org/ws-sx/ws-trust/200512", SC: "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512"}
)

// Versions lists the versions, oldest first.
var Versions = []*Version{Feb2005, V13}

func (v *Version) String() string { return v.Name }

// TokenTypeSCT is the TokenType and the ValueType of a SecurityContextToken.
func (v *Version) TokenTypeSCT() string { return v.SC + "/sct" }

// TokenTypeDK is the ValueType of a DerivedKeyToken.
func (v *Version) TokenTypeDK() string { return v.SC + "/dk" }

// DKPSHA1 is the P_SHA1 key derivation algorithm of a DerivedKeyToken.
func (v *Version) DKPSHA1() string { return v.SC + "/dk/p_sha1" }

// CKPSHA1 is the ComputedKey algorithm P_SHA1(client entropy, server entropy).
func (v *Version) CKPSHA1() string { return v.Trust + "/CK/PSHA1" }

// Nonce and SymmetricKey are the Types of a BinarySecret.
func (v *Version) Nonce() string        { return v.Trust + "/Nonce" }
func (v *Version) SymmetricKey() string { return v.Trust + "/SymmetricKey" }

// RequestType URIs.
func (v *Version) RequestIssue() string  { return v.Trust + "/Issue" }
func (v *Version) RequestRenew() string  { return v.Trust + "/Renew" }
func (v *Version) RequestCancel() string { return v.Trust + "/Cancel" }

// Actions of the requests a secure conversation uses. WS-SC defines the
// /RST/SCT... actions in both versions; WS-Trust defines the generic
// /RST/Issue, /RST/Renew and /RST/Cancel.
func (v *Version) ActionIssueSCT() string  { return v.Trust + "/RST/SCT" }
func (v *Version) ActionRenewSCT() string  { return v.Trust + "/RST/SCT/Renew" }
func (v *Version) ActionCancelSCT() string { return v.Trust + "/RST/SCT/Cancel" }
func (v *Version) ActionAmendSCT() string  { return v.Trust + "/RST/SCT/Amend" }
func (v *Version) ActionIssue() string     { return v.Trust + "/RST/Issue" }
func (v *Version) ActionRenew() string     { return v.Trust + "/RST/Renew" }
func (v *Version) ActionCancel() string    { return v.Trust + "/RST/Cancel" }

// actionCancelSCTDash is the cancel action as Microsoft's WIF constants for
// WS-Trust 1.3 spell it ("/RST/SCT-Cancel"); it is accepted as
// ActionCancelSCT and answered with "/RSTR/SCT-Cancel".
const actionCancelSCTDash = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/SCT-Cancel"

// Kind is what an action asks for.
type Kind int

// Kinds of request.
const (
	NotRST Kind = iota // not a WS-Trust request: an application message
	Issue
	Renew
	Cancel
	Amend
)

func (k Kind) String() string {
	switch k {
	case Issue:
		return "Issue"
	case Renew:
		return "Renew"
	case Cancel:
		return "Cancel"
	case Amend:
		return "Amend"
	}
	return "NotRST"
}

// Classify says which version and kind of request an action URI names; it
// returns (nil, NotRST) for any other action, including the RSTR actions
// and WS-Trust bindings other than issue, renew, cancel and amend
// (Validate, KET), which authsvc does not serve.
func Classify(action string) (*Version, Kind) {
	if c, ok := classified[action]; ok {
		return c.v, c.k
	}
	return nil, NotRST
}

type classification struct {
	v *Version
	k Kind
}

// classified is every action Classify knows, built once: Classify is asked
// about every request's action, which is mostly not an RST's.
var classified = func() map[string]classification {
	m := map[string]classification{actionCancelSCTDash: {V13, Cancel}}
	for _, v := range Versions {
		for _, a := range []struct {
			action string
			k      Kind
		}{
			{v.ActionIssueSCT(), Issue}, {v.ActionIssue(), Issue},
			{v.ActionRenewSCT(), Renew}, {v.ActionRenew(), Renew},
			{v.ActionCancelSCT(), Cancel}, {v.ActionCancel(), Cancel},
			{v.ActionAmendSCT(), Amend},
		} {
			if _, dup := m[a.action]; !dup {
				m[a.action] = classification{v, a.k}
			}
		}
	}
	return m
}()

// ReplyAction is the wsa:Action of the response to a request with action
// requestAction ("" for an action Classify does not know). The WS-SC
// actions get their /RSTR/SCT... counterparts. The generic actions of
// WS-Trust 1.3 get its final-response actions (/RSTRC/IssueFinal, whose
// body is a collection, /RSTR/RenewFinal, /RSTR/CancelFinal), those of Feb
// 2005 /RSTR/Issue, /RSTR/Renew and /RSTR/Cancel.
func ReplyAction(requestAction string) string {
	v, k := Classify(requestAction)
	if v == nil {
		return ""
	}
	switch requestAction {
	case v.ActionIssueSCT():
		return v.Trust + "/RSTR/SCT"
	case v.ActionRenewSCT():
		return v.Trust + "/RSTR/SCT/Renew"
	case v.ActionCancelSCT():
		return v.Trust + "/RSTR/SCT/Cancel"
	case v.ActionAmendSCT():
		return v.Trust + "/RSTR/SCT/Amend"
	case actionCancelSCTDash:
		return v.Trust + "/RSTR/SCT-Cancel"
	}
	switch k {
	case Issue:
		if v == V13 {
			return v.Trust + "/RSTRC/IssueFinal"
		}
		return v.Trust + "/RSTR/Issue"
	case Renew:
		if v == V13 {
			return v.Trust + "/RSTR/RenewFinal"
		}
		return v.Trust + "/RSTR/Renew"
	case Cancel:
		if v == V13 {
			return v.Trust + "/RSTR/CancelFinal"
		}
		return v.Trust + "/RSTR/Cancel"
	}
	return ""
}

// versionOfTrust and versionOfSC find a version by its namespace.
func versionOfTrust(ns string) *Version {
	for _, v := range Versions {
		if v.Trust == ns {
			return v
		}
	}
	return nil
}

func versionOfSC(ns string) *Version {
	for _, v := range Versions {
		if v.SC == ns {
			return v
		}
	}
	return nil
}
