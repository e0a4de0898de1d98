package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/wstrust"
)

// STS is the Security Token Service of WS-SecureConversation (package sts,
// wired by app). The server asks it whether a request is an RST before the
// chain runs, and has it answer an RST the chain accepted.
type STS interface {
	// Classify says whether env is an RST and of which kind and version
	// (wstrust.NotRST for an application message); contentType and
	// soapAction are the HTTP headers. A contradicting or malformed
	// action is a *wstrust.Fault.
	Classify(env *wsse.Envelope, contentType, soapAction string) (wstrust.Kind, *wstrust.Version, error)
	// Respond answers an RST whose request the chain authenticated as
	// subj with the whole response envelope. Its errors are
	// *wstrust.Fault for the client's mistakes and errors wrapping
	// authn.ErrUnavailable when its store cannot answer.
	Respond(ctx context.Context, req *authn.Request, subj *authn.Subject, kind wstrust.Kind) ([]byte, error)
}

// Where an RST may be served. The STS answers at /v1/sts, at
// /v1/authenticate and on the proxied paths (a WCF or CXF client asks its
// STS at the service's own address), with the RSTR, never the Subject. The
// gateway's 200 would let the RST through to the upstream, so /v1/ext-authz
// refuses it before the chain.
func rstServed(endpoint string) bool { return endpoint != "gateway" }

// classify tells an RST apart once the envelope is parsed (before the
// chain) and records it in res; it says whether the whole body must be
// read (an RST, whose content is the Body). A refusal is recorded in
// res.preFault for authenticate.
func (s *Server) classify(r *http.Request, res *result, env *wsse.Envelope) bool {
	classify := wstrustClassify
	if s.o.STS != nil {
		classify = s.o.STS.Classify
	}
	ct, sa := r.Header.Get("Content-Type"), r.Header.Get("SOAPAction")
	kind, v, err := classify(env, ct, sa)
	if err != nil {
		// Contradicting or malformed actions are the RST's fault only
		// when the request claims to be one: an application message is
		// judged as before, whatever its WS-Addressing headers say.
		if !claimsRST(env, ct, sa) {
			return false
		}
		res.preFault = trustFault(err)
		return false
	}
	res.rst, res.trust = kind, v
	return kind != wstrust.NotRST
}

// claimsRST reports whether any action the request names (wsa:Action, the
// SOAP 1.2 action parameter, SOAPAction) is an RST's.
func claimsRST(env *wsse.Envelope, contentType, soapAction string) bool {
	for _, a := range []struct{ ct, sa string }{{contentType, ""}, {"", soapAction}} {
		if act, err := wstrust.Action(nil, a.ct, a.sa); err == nil {
			if _, k := wstrust.Classify(act); k != wstrust.NotRST {
				return true
			}
		}
	}
	if a, err := wstrust.ParseAddressing(env); err == nil {
		if _, k := wstrust.Classify(a.Action); k != wstrust.NotRST {
			return true
		}
	} else {
		// Unreadable WS-Addressing headers: an RST if its Action header
		// names one, as far as the raw bytes tell.
		return rstActionIn(env.Raw)
	}
	return false
}

// wstrustClassify is sts.Classify, for a server without an STS: it still
// tells an RST apart, to refuse it.
func wstrustClassify(env *wsse.Envelope, contentType, soapAction string) (wstrust.Kind, *wstrust.Version, error) {
	action, err := wstrust.Action(env, contentType, soapAction)
	if err != nil {
		return wstrust.NotRST, nil, err
	}
	v, k := wstrust.Classify(action)
	return k, v, nil
}

// rstPolicy refuses, before the chain, what an endpoint must not serve: an
// RST without an STS or at the gateway, and anything but an RST at
// /v1/sts.
func (s *Server) rstPolicy(res *result, endpoint string) *authn.Fault {
	if res.preFault != nil {
		return res.preFault
	}
	v := res.trust
	if v == nil {
		v = wstrust.Feb2005
	}
	invalid := func(reason string) *authn.Fault {
		return &authn.Fault{Namespace: v.Trust, Code: wsse.FaultCode(wstrust.InvalidRequest), Reason: reason}
	}
	switch {
	case res.rst == wstrust.NotRST && endpoint == "sts":
		return invalid("not a WS-Trust RequestSecurityToken (no RST action in wsa:Action, the SOAP 1.2 action or SOAPAction)")
	case res.rst == wstrust.NotRST:
		return nil
	case s.o.STS == nil:
		return invalid("a WS-Trust " + res.rst.String() + " RST, but secure_conversation is not configured")
	case !rstServed(endpoint):
		return invalid("a WS-Trust " + res.rst.String() + " RST at the " + endpoint + " endpoint, whose answer would let it through: route the STS address to authsvc (/v1/sts)")
	}
	return nil
}

// respondRST has the STS answer an RST the chain accepted: res.reply on
// success, else the fault.
func (s *Server) respondRST(ctx context.Context, res *result, req *authn.Request) {
	reply, err := s.o.STS.Respond(ctx, req, res.subject, res.rst)
	if err != nil {
		res.fail(0, trustFault(err))
		return
	}
	res.reply = reply
}

// trustFault is the fault of a Classify or Respond error: a *wstrust.Fault
// keeps its code in its namespace (wst or wsc) for the one renderer; the
// service's own failure (wst:RequestFailed, the store unreachable) is a
// temporary Receiver fault (503).
func trustFault(err error) *authn.Fault {
	var wf *wstrust.Fault
	switch {
	case errors.Is(err, authn.ErrUnavailable):
		return &authn.Fault{Code: wsse.SecurityTokenUnavailable, Reason: "security-context store unavailable", Temporary: true, Err: err}
	case errors.As(err, &wf):
		return &authn.Fault{Namespace: wf.Namespace, Code: wsse.FaultCode(wf.Local), Reason: wf.Reason, Temporary: wf.Receiver(), Err: err}
	}
	return &authn.Fault{Namespace: wstrust.Feb2005.Trust, Code: wsse.FaultCode(wstrust.RequestFailed), Reason: "STS failure", Temporary: true, Err: err}
}

// writeRSTR sends the STS's response envelope: 200, the Content-Type of
// the request's SOAP version.
func writeRSTR(w http.ResponseWriter, res *result) {
	h := w.Header()
	h.Set("Content-Type", contentType(res.version))
	h.Set("X-Request-Id", res.id)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(res.reply)
}

// stsHandler serves POST /v1/sts: an RST, authenticated by the chain,
// answered by the STS.
func (s *Server) stsHandler(w http.ResponseWriter, r *http.Request) {
	res, done := s.judge(w, r, "sts", s.stsStatus)
	if res == nil {
		return
	}
	defer done()
	writeRSTR(w, res)
}

// stsStatus is the status of a fault at /v1/sts: the SOAP HTTP bindings'
// (500 for SOAP 1.1, 400 for a SOAP 1.2 Sender fault, 503 when a dependency
// is down).
func (s *Server) stsStatus(res *result) int {
	return bindingStatus(res, http.StatusInternalServerError)
}

// rstActionIn reports whether the envelope's header names an RST action
// URI ({wst}/RST/...) anywhere: the fallback of claimsRST when the
// WS-Addressing headers do not parse, so that a malformed one cannot carry
// an RST past the STS to the upstream.
func rstActionIn(raw []byte) bool {
	head := raw
	if i := bytes.Index(raw, []byte("Body")); i >= 0 {
		head = raw[:i]
	}
	for _, v := range wstrust.Versions {
		if bytes.Contains(head, []byte(v.Trust+"/RST/")) {
			return true
		}
	}
	return false
}
