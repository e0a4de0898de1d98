package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/authsvc/authsvc/authn"
	"github.com/authsvc/authsvc/authn/saml"
)

// SAMLSection configures the SAML 2.0 bearer assertion module (type: saml):
// a saml2:Assertion in the Security header, signed by a trusted IdP.
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
// Assertion IDs go through the replay cache until NotOnOrAfter.
type SAMLSection struct {
	IdPCertificates    []string      `yaml:"idp_certificates"`
	Issuers            []string      `yaml:"issuers"`
	Audiences          []string      `yaml:"audiences"`
	ClockSkew          time.Duration `yaml:"clock_skew"`
	MaxLifetime        time.Duration `yaml:"max_lifetime"`
	GroupsAttribute    string        `yaml:"groups_attribute"`
	PrincipalAttribute string        `yaml:"principal_attribute"`
	Realm              string        `yaml:"realm"`
	MaxAssertionBytes  int           `yaml:"max_assertion_bytes"`
}

// Validate implements Validator.
func (c *SAMLSection) Validate() error {
	if len(c.IdPCertificates) == 0 {
		return errors.New("idp_certificates: at least one certificate file is required")
	}
	if len(c.Issuers) == 0 {
		return errors.New("issuers: at least one issuer is required")
	}
	if c.ClockSkew < 0 || c.ClockSkew > time.Hour {
		return fmt.Errorf("clock_skew: %s is not between 0 and 1h", c.ClockSkew)
	}
	if c.MaxLifetime < 0 || c.MaxAssertionBytes < 0 {
		return errors.New("max_lifetime and max_assertion_bytes must not be negative")
	}
	return nil
}

// Open implements ModuleConfig.
func (c *SAMLSection) Open(env *Env) (authn.Module, error) {
	var certs []*x509.Certificate
	for _, p := range c.IdPCertificates {
		b, err := os.ReadFile(env.Path(p))
		if err != nil {
			return nil, fmt.Errorf("idp_certificates: %w", err)
		}
		n := 0
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("idp_certificates: %s: %w", p, err)
			}
			certs = append(certs, cert)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("idp_certificates: %s holds no PEM certificate", p)
		}
	}
	return saml.New(saml.Config{
		Certificates: certs, Issuers: c.Issuers, Audiences: c.Audiences, ClockSkew: c.ClockSkew,
		MaxLifetime: c.MaxLifetime, GroupsAttribute: c.GroupsAttribute, PrincipalAttribute: c.PrincipalAttribute,
		Realm: c.Realm, MaxAssertionBytes: c.MaxAssertionBytes, Replay: env.Replay, Logger: env.Logger,
	})
}
