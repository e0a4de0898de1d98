package saml

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/config/modenv"
	"github.com/authsvc/authsvc/internal/tlsconf"
)

// Config is the module's configuration section (type: saml), and its
// factory (Open): a saml2:Assertion in the Security header, signed by a
// trusted IdP.
//
//   - name: idp
//     type: saml
//     flag: sufficient
//     idp_certificates: [idp-signing.pem]   # PEM; one file may hold several
//     issuers: [https://idp.example.com]
//     audiences: [urn:authsvc:soap]          # strongly recommended
//     clock_skew: 2m
//     max_lifetime: 24h                      # longer-lived assertions are refused
//     groups_attribute: groups               # values become the subject's groups
//     principal_attribute: ""                # default: the Subject's NameID
//     realm: ""
//     max_assertion_bytes: 65536
//
// Assertion IDs go through the replay cache until NotOnOrAfter. Relative
// certificate paths are taken from the configuration file's directory.
type Config struct {
	// IdPCertificates are PEM files of the identity providers' signing
	// certificates.
	IdPCertificates []string `yaml:"idp_certificates"`
	Policy          `yaml:",inline"`
}

var _ modenv.Validator = (*Config)(nil)

// Validate implements modenv.Validator.
func (c *Config) Validate() error {
	if len(c.IdPCertificates) == 0 {
		return errors.New("idp_certificates: at least one certificate file is required")
	}
	return c.Policy.Validate()
}

// Open reads the IdP certificates and builds the module.
func (c *Config) Open(env *modenv.Env) (authn.Module, error) {
	var certs []*x509.Certificate
	for _, p := range c.IdPCertificates {
		cs, err := tlsconf.Certificates(env.Path(p))
		if err != nil {
			return nil, fmt.Errorf("idp_certificates: %w", err)
		}
		certs = append(certs, cs...)
	}
	return New(Options{Policy: c.Policy, Certificates: certs, Replay: env.Replay, Logger: env.Logger})
}

// Validate checks the policy without anything opened. New calls it too.
func (p *Policy) Validate() error {
	if len(p.Issuers) == 0 {
		return errors.New("issuers: at least one issuer is required")
	}
	if p.ClockSkew < 0 || p.ClockSkew > time.Hour {
		return fmt.Errorf("clock_skew: %s is not between 0 and 1h", p.ClockSkew)
	}
	if p.MaxLifetime < 0 || p.MaxAssertionBytes < 0 {
		return errors.New("max_lifetime and max_assertion_bytes must not be negative")
	}
	return nil
}
