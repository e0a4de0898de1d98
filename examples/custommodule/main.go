// Command custommodule is authsvc with one more module type, "ticket": a
// custom <x:Ticket xmlns:x="urn:example:ticket"> token in the WS-Security
// header, "user:hex(HMAC-SHA256(secret, user))". It shows the whole
// extension path: a configuration section that builds a module, the
// accessors of authn/extensible, and app.Main with an extended table.
//
//	go build -o authsvc-custom ./examples/custommodule
//	./authsvc-custom serve -config authsvc.yaml
//
// with a chain entry
//
//	chain:
//	  - name: tickets
//	    type: ticket
//	    flag: sufficient
//	    secret_file: ticket-secret   # relative to the configuration file
//	    groups: [ticket-users]
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/authsvc/authsvc/app"
	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/extensible"
	"github.com/authsvc/authsvc/config"
	"github.com/authsvc/authsvc/wsse"
)

// NSTicket is the namespace of the Ticket token.
const NSTicket = "urn:example:ticket"

// TicketSection is the YAML section of type "ticket". Unknown keys are
// errors, as everywhere in authsvc's configuration.
type TicketSection struct {
	SecretFile string   `yaml:"secret_file"`
	Groups     []string `yaml:"groups"`
}

// Validate is called at load time (also by check-config).
func (c *TicketSection) Validate() error {
	if c.SecretFile == "" {
		return errors.New("secret_file is required")
	}
	return nil
}

// Open builds the module when the service starts.
func (c *TicketSection) Open(env *config.Env) (authn.Module, error) {
	secret, err := os.ReadFile(env.Path(c.SecretFile))
	if err != nil {
		return nil, fmt.Errorf("secret_file: %w", err)
	}
	secret = bytes.TrimSpace(secret)
	if len(secret) < 16 {
		return nil, errors.New("secret_file: the secret must have at least 16 bytes")
	}
	return &ticketModule{secret: secret, groups: c.Groups}, nil
}

type ticketModule struct {
	secret []byte
	groups []string
}

// Sign returns the ticket for user (what a client would send).
func Sign(secret []byte, user string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(user))
	return user + ":" + hex.EncodeToString(m.Sum(nil))
}

// Login implements authn.Module: ErrUnsupported without a ticket, a fault
// for a bad one, true for a good one.
func (t *ticketModule) Login(ctx context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
	tok, err := extensible.FindOne(req, NSTicket, "Ticket")
	if err != nil {
		if errors.Is(err, authn.ErrUnsupported) {
			return false, err
		}
		return false, authn.Reject(wsse.InvalidSecurityToken, "ticket: %v", err)
	}
	el, err := tok.Element() // parses the fragment alone, namespaces included
	if err != nil {
		return false, authn.Reject(wsse.InvalidSecurityToken, "ticket: %v", err)
	}
	user, mac, ok := strings.Cut(strings.TrimSpace(el.Text()), ":")
	if !ok || user == "" {
		return false, authn.Reject(wsse.InvalidSecurityToken, "ticket: malformed")
	}
	want := Sign(t.secret, user)
	if !hmac.Equal([]byte(user+":"+mac), []byte(want)) { // constant time
		return false, authn.Reject(wsse.FailedAuthentication, "ticket: bad MAC for %q", user)
	}
	s.Principal, s.Method, s.TokenType = user, "Ticket", "HMAC-SHA256"
	s.AddGroups(t.groups...)
	if p := extensible.Peer(req); p.IsValid() {
		s.AddAttribute("ticket_peer", p.Addr().String())
	}
	extensible.Set(req, "ticket.user", user) // for the modules after this one
	// The ticket is verified: say so, or the request is refused because
	// its Security header holds an element that nothing processed.
	extensible.MarkProcessed(req, tok)
	return true, nil
}

// Types is authsvc's table with the ticket type added.
func Types() *config.Types {
	t := config.Builtin()
	t.Modules["ticket"] = func() config.ModuleConfig { return new(TicketSection) }
	return t
}

func main() { app.Main(Types()) }
