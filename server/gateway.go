package server

import (
	"net/http"
	"strings"
)

// GatewayOptions configure /v1/ext-authz, the check endpoint for Envoy's
// ext_authz filter (HTTP service, with_request_body) and Traefik's
// ForwardAuth middleware (forwardBody). See docs/gateways.md.
type GatewayOptions struct {
	// HeaderPrefix names the identity headers in the answer (default
	// "X-Authenticated-").
	HeaderPrefix string
	// SOAP11FaultStatus is the HTTP status of a SOAP 1.1 fault (default 500).
	SOAP11FaultStatus int
}

// gatewayHandler authenticates the request the gateway forwards: its body
// is the client's SOAP message. It answers 200 with the identity headers
// (and the assertion) for the gateway to copy upstream, or with the SOAP
// fault for the gateway to send to the client.
//
// Every identity header is always present (empty when the Subject has no
// value for it), so that a gateway copying them overwrites whatever the
// client sent under those names.
func (s *Server) gatewayHandler(w http.ResponseWriter, r *http.Request) {
	res, done := s.judge(w, r, "gateway", s.gatewayStatus)
	if res == nil {
		return
	}
	defer done()
	if _, ok := s.accept(w, res, true); !ok {
		return
	}
	h := w.Header()
	for _, n := range s.gatewayNames.all() {
		h[n] = []string{""}
	}
	setIdentity(h, s.gatewayNames, res.subject)
	w.WriteHeader(http.StatusOK)
}

// gatewayStatus is the status of a fault the gateway passes to the client:
// the same as in proxy mode.
func (s *Server) gatewayStatus(res *result) int {
	return bindingStatus(res, s.o.Gateway.SOAP11FaultStatus)
}

// originalURI is the method and URI of the client's request, for the
// audit record: in gateway mode from X-Forwarded-Method/-Uri (Traefik),
// X-Envoy-Original-Path or the path after /v1/ext-authz (Envoy).
func originalURI(r *http.Request, endpoint string) string {
	switch endpoint {
	case "proxy":
		return r.Method + " " + r.URL.RequestURI()
	case "gateway":
		m := r.Header.Get("X-Forwarded-Method")
		if m == "" {
			m = r.Method
		}
		u := r.Header.Get("X-Forwarded-Uri")
		if u == "" {
			u = r.Header.Get("X-Envoy-Original-Path")
		}
		if u == "" {
			u = strings.TrimPrefix(r.URL.RequestURI(), "/v1/ext-authz")
		}
		if len(u) > 512 {
			u = u[:512]
		}
		return m + " " + u
	}
	return ""
}
