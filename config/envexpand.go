package config

import (
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// expandEnv replaces ${VAR} and ${VAR:-default} in every scalar value of
// the tree (not in keys) with the environment's value; $$ is a literal $,
// and a $ not followed by { or $ stays as it is. It works on the parsed
// tree, so a variable's value is data, never YAML: it cannot add keys or
// change the document's shape. A plain (unquoted) scalar that changed is
// typed again after expansion (port: ${PORT} is an integer); a quoted one
// stays a string. An unset variable without a default is an error naming
// the line.
func expandEnv(n *yaml.Node, lookup func(string) (string, bool)) []error {
	var errs []error
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			errs = append(errs, expandEnv(c, lookup)...)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			errs = append(errs, expandEnv(n.Content[i], lookup)...)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return nil
		}
		v, err := expandString(n.Value, lookup)
		if err != nil {
			return []error{fmt.Errorf("line %d: %w", n.Line, err)}
		}
		if v != n.Value {
			n.Value = v
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 && n.Tag == "!!str" {
				n.Tag = "" // resolved again from the new value
			}
		}
	}
	return errs
}

// expandString expands one value.
func expandString(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s = s[i+2:]
			continue
		case '{':
		default:
			b.WriteByte('$')
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%q: ${ without a closing } (write $$ for a literal $)", s[i:])
		}
		expr := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("${%s}: %q is not a variable name (letters, digits and _, not starting with a digit)", expr, name)
		}
		v, ok := lookup(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			return "", fmt.Errorf("${%s}: environment variable %s is not set (give a default with ${%s:-value})", name, name, name)
		}
	}
}

func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// osLookup is the process environment.
var osLookup = os.LookupEnv
