package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Admin configures the admin listener: plain HTTP serving /metrics,
// /readyz (with the error text of a failing check) and /healthz, apart from
// the service's listener. Keep it on loopback or a private network.
//
//	admin:
//	  listen: 127.0.0.1:9090
//
// With it, /metrics is served only there; /healthz and /readyz (without
// error text) stay on the service's listener too.
type Admin struct {
	// Listen is the admin listener's host:port (required).
	Listen string `yaml:"listen"`
}

// maxShutdownDelay bounds shutdown_delay: a delay is a few readiness probe
// periods, and a long one only holds up a restart.
const maxShutdownDelay = 5 * time.Minute

// checkOps checks shutdown_delay and admin.
func (c *Config) checkOps() error {
	if c.ShutdownDelay < 0 || c.ShutdownDelay > maxShutdownDelay {
		return fmt.Errorf("line %d: shutdown_delay: %s is not between 0s and %s", c.lineOf("shutdown_delay"), c.ShutdownDelay, maxShutdownDelay)
	}
	if a := c.Admin; a != nil {
		if a.Listen == "" {
			return fmt.Errorf("line %d: admin.listen is required (host:port, e.g. 127.0.0.1:9090)", c.lineOf("admin"))
		}
		if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			return fmt.Errorf("line %d: admin.listen: %q is not host:port", c.lineOf("admin.listen"), a.Listen)
		}
		if a.Listen == c.Listen {
			return fmt.Errorf("line %d: admin.listen: %s is also listen; the admin listener needs an address of its own", c.lineOf("admin.listen"), a.Listen)
		}
	}
	return nil
}

// LiveKeys are the parts of the file that SIGHUP applies to a running
// service: the files behind them are read again (TLS certificate and key,
// identity signing keys, the audit file reopened) and a change of these
// keys takes effect. Registry files (users) and keytabs are re-read too,
// from the paths the service started with. Any other change needs a
// restart: Changes reports it.
var LiveKeys = []string{"tls.cert_file", "tls.key_file", "tls.client_ca_file", "identity.keys", "audit.output"}

// Change is a key whose value differs between two versions of a file.
type Change struct {
	// Key is the key's path, as in error messages: chain[1].flag, listen.
	Key string
	// Line is its line in the new file (0 when the key was removed).
	Line int
}

// Changes returns the keys whose values differ between the file c was read
// from and the file next was read from, except LiveKeys: what a reload
// cannot apply, for the service to say so. Values are compared after
// ${VAR} expansion. A list whose length changed (a
// chain entry added) is reported as a whole.
func (c *Config) Changes(next *Config) ([]Change, error) {
	if c.root == nil || next.root == nil {
		return nil, errors.New("config: Changes needs two configurations read from files")
	}
	var out []Change
	diffNodes(c.root, next.root, "", &out)
	out = slices.DeleteFunc(out, func(ch Change) bool { return isLive(ch.Key) })
	return out, nil
}

func isLive(key string) bool {
	for _, l := range LiveKeys {
		if key == l || strings.HasPrefix(key, l+".") || strings.HasPrefix(key, l+"[") {
			return true
		}
	}
	return false
}

// diffNodes appends to out the paths under path where a and b differ.
func diffNodes(a, b *yaml.Node, path string, out *[]Change) {
	if a.Kind == yaml.AliasNode {
		a = a.Alias
	}
	if b.Kind == yaml.AliasNode {
		b = b.Alias
	}
	switch {
	case a.Kind == yaml.MappingNode && b.Kind == yaml.MappingNode:
		diffMappings(a, b, path, out)
	case a.Kind == yaml.SequenceNode && b.Kind == yaml.SequenceNode && len(a.Content) == len(b.Content):
		for i := range a.Content {
			diffNodes(a.Content[i], b.Content[i], fmt.Sprintf("%s[%d]", path, i), out)
		}
	case a.Kind == yaml.ScalarNode && b.Kind == yaml.ScalarNode && a.Value == b.Value && a.ShortTag() == b.ShortTag():
	case a.Kind == 0 && b.Kind == 0:
	default:
		if !sameNode(a, b) {
			*out = append(*out, Change{Key: path, Line: b.Line})
		}
	}
}

// diffMappings compares two mappings key by key, in the new file's order
// (then the removed keys).
func diffMappings(a, b *yaml.Node, path string, out *[]Change) {
	value := func(m *yaml.Node, k string) *yaml.Node {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == k {
				return m.Content[i+1]
			}
		}
		return nil
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	for i := 0; i+1 < len(b.Content); i += 2 {
		k := b.Content[i]
		if old := value(a, k.Value); old != nil {
			diffNodes(old, b.Content[i+1], join(k.Value), out)
		} else {
			*out = append(*out, Change{Key: join(k.Value), Line: k.Line})
		}
	}
	for i := 0; i+1 < len(a.Content); i += 2 {
		if value(b, a.Content[i].Value) == nil {
			*out = append(*out, Change{Key: join(a.Content[i].Value)})
		}
	}
}

// sameNode compares two nodes of different shapes by their YAML text
// (a flow mapping and a block mapping with the same content are the same).
func sameNode(a, b *yaml.Node) bool {
	ea, err1 := yaml.Marshal(a)
	eb, err2 := yaml.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}
