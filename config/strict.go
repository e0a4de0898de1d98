package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes node into v after checking that every mapping key in
// the node names a field of v and that every value has the field's type
// (recursively), so that a misspelt key or a wrong type is an error that
// names the key and its line instead of being silently ignored or reported
// by Go type name. yaml.v3's own KnownFields works only on whole documents,
// and module sections are decoded one by one once their type is known.
func decodeStrict(node *yaml.Node, v any, where string) error {
	if errs := checkKeys(node, reflect.TypeOf(v), where); len(errs) > 0 {
		return Errors(errs)
	}
	if err := node.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	timeType     = reflect.TypeOf(time.Time{})
	nodeType     = reflect.TypeOf(yaml.Node{})
	unmarshaler  = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// checkKeys returns an error for each unknown key and each value of the
// wrong type under n, which is decoded into a t. where is the dotted path
// of n ("" for the whole file).
func checkKeys(n *yaml.Node, t reflect.Type, where string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if t == nodeType || isNull(n) {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshaler) || t == durationType || t == timeType || n.Kind == yaml.ScalarNode {
		return checkScalar(n, t, where)
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return []error{wantErr(n, where, t)}
		}
		return checkStruct(n, t, where)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return []error{wantErr(n, where, t)}
		}
		var errs []error
		for i, c := range n.Content {
			errs = append(errs, checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", where, i))...)
		}
		return errs
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return []error{wantErr(n, where, t)}
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, checkKeys(n.Content[i+1], t.Elem(), join(where, n.Content[i].Value))...)
		}
		return errs
	case reflect.Interface:
		return nil
	}
	return []error{wantErr(n, where, t)}
}

func checkStruct(n *yaml.Node, t reflect.Type, where string) []error {
	fields := map[string]reflect.StructField{}
	collectFields(t, fields)
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		f, ok := fields[k.Value]
		if !ok {
			in := where
			if in == "" {
				in = "the top level"
			}
			errs = append(errs, fmt.Errorf("line %d: unknown key %q in %s (known keys: %s)", k.Line, k.Value, in, knownKeys(fields)))
			continue
		}
		errs = append(errs, checkKeys(val, f.Type, join(where, k.Value))...)
	}
	return errs
}

// checkScalar decodes n into a fresh t, as the real decoding will, and
// words a failure as what was expected.
func checkScalar(n *yaml.Node, t reflect.Type, where string) []error {
	v := reflect.New(t)
	err := n.Decode(v.Interface())
	if err == nil {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshaler) {
		// The type says itself what it wants.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return []error{fmt.Errorf("line %d: %s: %s", n.Line, where, msg)}
	}
	return []error{wantErr(n, where, t)}
}

// wantErr is "line N: KEY: want WHAT, got VALUE".
func wantErr(n *yaml.Node, where string, t reflect.Type) error {
	got := "a mapping"
	switch n.Kind {
	case yaml.SequenceNode:
		got = "a list"
	case yaml.ScalarNode:
		got = n.Value
		if got == "" {
			got = `""`
		}
	}
	if where == "" {
		where = "the file"
	}
	return fmt.Errorf("line %d: %s: want %s, got %s", n.Line, where, describe(t), got)
}

// describe says what a value of t looks like in YAML.
func describe(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 5m, 30s or 1h30m"
	case t == timeType:
		return "a time such as 2026-04-01T00:00:00Z"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(describe(t.Elem()), "a ")
	case reflect.Map:
		return "a mapping"
	case reflect.Struct:
		return "a mapping of keys"
	}
	return t.String()
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

func collectFields(t reflect.Type, into map[string]reflect.StructField) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectFields(ft, into)
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		into[name] = f
	}
}

func knownKeys(fields map[string]reflect.StructField) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}
