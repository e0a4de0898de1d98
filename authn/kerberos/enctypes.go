package kerberos

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/authsvc/authsvc/keytabs"
	"github.com/authsvc/authsvc/wsse"
)

// DefaultEnctypes are the encryption types accepted when the enctypes key
// is absent: AES with SHA-1 (RFC 3962) and with SHA-2 (RFC 8009). RC4
// (arcfour-hmac) and the DES family are refused unless listed.
var DefaultEnctypes = []string{
	"aes128-cts-hmac-sha1-96",
	"aes256-cts-hmac-sha1-96",
	"aes128-cts-hmac-sha256-128",
	"aes256-cts-hmac-sha384-192",
}

// enctypeNames maps the names MIT krb5.conf and Windows use to the etype
// numbers (RFC 3961 section 8, RFC 8009).
var enctypeNames = map[string]int32{
	"des-cbc-crc":                1,
	"des-cbc-md5":                3,
	"des3-cbc-sha1":              16,
	"des3-cbc-sha1-kd":           16,
	"aes128-cts-hmac-sha1-96":    17,
	"aes128-cts":                 17,
	"aes256-cts-hmac-sha1-96":    18,
	"aes256-cts":                 18,
	"aes128-cts-hmac-sha256-128": 19,
	"aes128-sha2":                19,
	"aes256-cts-hmac-sha384-192": 20,
	"aes256-sha2":                20,
	"arcfour-hmac":               23,
	"rc4-hmac":                   23,
	"arcfour-hmac-md5":           23,
}

// Enctypes is the enctypes key: a list of encryption type names. Decoded
// from YAML, an unknown name is an error naming the key and its line.
type Enctypes []string

// UnmarshalYAML checks each name where it stands in the file.
func (e *Enctypes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: enctypes: want a list of encryption type names (known: %s)", n.Line, knownEnctypes())
	}
	out := make(Enctypes, 0, len(n.Content))
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: enctypes[%d]: want an encryption type name", c.Line, i)
		}
		if _, ok := enctypeNames[strings.ToLower(c.Value)]; !ok {
			return fmt.Errorf("line %d: enctypes[%d]: unknown encryption type %q (known: %s)", c.Line, i, c.Value, knownEnctypes())
		}
		out = append(out, c.Value)
	}
	*e = out
	return nil
}

func knownEnctypes() string {
	ks := make([]string, 0, len(enctypeNames))
	for k := range enctypeNames {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

// enctypeSet parses the names into the set of accepted etype numbers.
func enctypeSet(names []string) (map[int32]bool, error) {
	if len(names) == 0 {
		names = DefaultEnctypes
	}
	set := make(map[int32]bool, len(names))
	for i, s := range names {
		et, ok := enctypeNames[strings.ToLower(s)]
		if !ok {
			return nil, fmt.Errorf("kerberos: enctypes[%d]: unknown encryption type %q (known: %s)", i, s, knownEnctypes())
		}
		set[et] = true
	}
	return set, nil
}

// enctypeRefused is the reason a ticket (what = "ticket") or its session
// key is refused for its encryption type, with the fix.
func enctypeRefused(what, spn string, etype int32) error {
	name := keytabs.ETypeName(etype)
	return reject(wsse.UnsupportedAlgorithm, "enctype not allowed: the %s for %s is encrypted with %s, which the enctypes setting does not allow; "+
		"re-key the service account with AES (Active Directory: set msDS-SupportedEncryptionTypes=24 on the account, then reset its password and re-export the keytab) "+
		"or add %s to enctypes", what, spn, name, name)
}
