package main

// The floor under authsvc's HTTP Negotiate path (issue 14): authsvc's
// Kerberos module (authn/kerberos) used through its Go API alone, around the
// trivial handler, on a plain net/http server with no logging or metrics.
// Per request it does what authsvc's module does for Negotiate: Base64-decode
// the Authorization header's token (bounded by max_token_bytes), unwrap
// SPNEGO, decode the AP-REQ, decrypt the ticket (or take it from the module's
// decrypted-ticket cache), decrypt and check the authenticator, verify the
// mechListMIC, record the authenticator in the replay cache (charged to the
// principal and the client address), and, as the client asked for mutual
// authentication, build the AP-REP inside the NegTokenResp that authsvc's
// server sends as "WWW-Authenticate: Negotiate <Base64>". What it leaves out
// is the chain around the module (the Subject, its attributes and JSON),
// authsvc's server (routing, request ids, the info log line, metrics) and
// its SOAP fault on a refusal (here a bare 401 with the Negotiate challenge).

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/authsvc/authsvc/authn/kerberos"
	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/replay"
)

// floor is the trivial handler behind authsvc's Kerberos module.
type floor struct{ m *kerberos.Module }

// newFloor builds the module as a "type: kerberos" chain entry with only
// keytab and service_principals set (kerberos.Config.Open, every other key
// at its default), over the memory replay cache as config's
// MemoryReplay.Open makes it with no replay section.
func newFloor(ktPath, spn string) (*floor, error) {
	if ktPath == "" {
		return nil, fmt.Errorf("floor: -keytab is required")
	}
	size := config.DefaultMemoryMaxEntries
	cache := replay.NewMemory(replay.MemoryOptions{MaxEntries: size,
		Quota: replay.QuotaConfig{}.Quota(max(1, size/10)), Logger: slog.New(slog.DiscardHandler)})
	c := &kerberos.Config{Keytab: ktPath, ServicePrincipals: []string{spn}}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m, err := c.Build(kerberos.Deps{Replay: cache}, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return &floor{m: m}, nil
}

func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scheme, val, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	val = strings.TrimSpace(val)
	if !strings.EqualFold(scheme, "Negotiate") || val == "" ||
		base64.StdEncoding.DecodedLen(len(val)) > kerberos.DefaultMaxTokenBytes+2 {
		refuse(w)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(val)
	if err != nil {
		refuse(w)
		return
	}
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	res, err := f.m.AcceptFrom(r.Context(), raw, time.Now(), peer.Addr().Unmap())
	if err != nil {
		refuse(w)
		return
	}
	if res.HasReply() {
		// As authsvc's server answers an accepted Negotiate request
		// (server.accept): the module's reply token, Base64.
		rep, err := res.Reply()
		if err != nil {
			http.Error(w, "building the reply token failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("WWW-Authenticate", "Negotiate "+base64.StdEncoding.EncodeToString(rep))
	}
	trivial(w, r)
}

// refuse answers a missing or rejected token: 401 with the challenge.
func refuse(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", "Negotiate")
	http.Error(w, "authentication failed", http.StatusUnauthorized)
}
