// Package confdoc writes the configuration reference (docs/configuration.md)
// from the code: every key of config.Config and of every section type in
// config.Builtin(), with its YAML type, its default (the value a fresh
// section has, or what its comment says) and its meaning (the field's
// comment). Its test fails when the file differs from what it would write:
//
//	go test ./internal/confdoc -update    # rewrite docs/configuration.md
package confdoc

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

const module = "github.com/authsvc/authsvc"

// Key is one row of the reference.
type Key struct {
	Path, Type, Default, Doc string
}

// Comments maps "pkgpath.Type.Field" to the field's doc comment, read from
// the module's sources under root.
type Comments map[string]string

// ReadComments parses every non-test Go file under root.
func ReadComments(root string) (Comments, error) {
	c := Comments{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := module
		if rel != "." {
			pkg += "/" + filepath.ToSlash(rel)
		}
		c.addFile(fset, pkg, f)
		return nil
	})
	return c, err
}

// addFile records the fields' comments; a field without one, on the line
// right after a commented field whose comment names it ("CertFile and
// KeyFile are ..."), shares its neighbour's.
func (c Comments) addFile(fset *token.FileSet, pkg string, f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		prev, prevEnd := "", 0
		for _, fl := range st.Fields.List {
			text := fl.Doc.Text()
			if text == "" {
				text = fl.Comment.Text()
			}
			if text == "" && fset.Position(fl.Pos()).Line == prevEnd+1 && len(fl.Names) == 1 && strings.Contains(prev, fl.Names[0].Name) {
				text = prev
			}
			prev, prevEnd = text, fset.Position(fl.End()).Line
			for _, name := range fl.Names {
				c[pkg+"."+ts.Name.Name+"."+name.Name] = text
			}
		}
		return true
	})
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	timeType     = reflect.TypeOf(time.Time{})
	nodeType     = reflect.TypeOf(yaml.Node{})
	unmarshaler  = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// Walk lists the keys of v (a pointer to a fresh section, whose non-zero
// fields are its defaults) under prefix.
func (c Comments) Walk(prefix string, v reflect.Value) []Key {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v = reflect.New(v.Type().Elem())
		}
		v = v.Elem()
	}
	t := v.Type()
	if strings.Count(prefix, ".") > 8 {
		panic(fmt.Sprintf("confdoc: %s: %s nests too deep (a recursive type?)", prefix, t))
	}
	var keys []Key
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || (!f.IsExported() && !strings.Contains(opts, "inline")) {
			continue
		}
		if strings.Contains(opts, "inline") {
			keys = append(keys, c.Walk(prefix, v.Field(i))...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys = append(keys, c.field(join(prefix, name), t, f, v.Field(i))...)
	}
	return keys
}

// field is the row of one field and, for a section, the rows of its keys.
func (c Comments) field(path string, parent reflect.Type, f reflect.StructField, v reflect.Value) []Key {
	doc := oneParagraph(c[parent.PkgPath()+"."+parent.Name()+"."+f.Name])
	k := Key{Path: path, Type: typeName(f.Type), Default: defaultOf(v, doc), Doc: doc}
	ft := f.Type
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	switch {
	case ft == nodeType || ft == durationType || ft == timeType || reflect.PointerTo(ft).Implements(unmarshaler):
		return []Key{k}
	case ft.Kind() == reflect.Struct:
		return append([]Key{k}, c.Walk(path, v)...)
	case (ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map) && elem(ft).Kind() == reflect.Struct && elem(ft) != timeType && elem(ft) != nodeType:
		sub := "[]"
		if ft.Kind() == reflect.Map {
			sub = ".NAME"
		}
		return append([]Key{k}, c.Walk(path+sub, reflect.New(elem(ft)))...)
	}
	return []Key{k}
}

func elem(t reflect.Type) reflect.Type {
	e := t.Elem()
	for e.Kind() == reflect.Pointer {
		e = e.Elem()
	}
	return e
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// typeName is the YAML type of t.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		return "duration"
	case t == timeType:
		return "time (RFC 3339)"
	case t == nodeType:
		return "section"
	case reflect.PointerTo(t).Implements(unmarshaler):
		return "see meaning"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Struct:
		return "mapping"
	}
	return t.String()
}

var defaultRE = regexp.MustCompile(`\([Dd]efault:? ([^();]+)[);]|[Dd]efaults? to ([^ ,;.]+)`)

// defaultOf is v when it is a non-zero scalar (the fresh section's
// default), else what the comment says in "(default X)".
func defaultOf(v reflect.Value, doc string) string {
	if v.IsValid() && !v.IsZero() {
		switch {
		case v.Type() == durationType:
			return fmtDuration(time.Duration(v.Int()))
		case v.Kind() == reflect.Bool || v.Kind() == reflect.String || v.CanInt() || v.CanUint() || v.CanFloat():
			return fmt.Sprint(v.Interface())
		case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
			return fmt.Sprint(v.Interface())
		}
	}
	if m := defaultRE.FindStringSubmatch(doc); m != nil {
		return strings.TrimSpace(m[1] + m[2])
	}
	return ""
}

func fmtDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(strings.TrimSuffix(s, "0s"), "0m")
	if strings.HasSuffix(s, "h") || strings.HasSuffix(s, "m") || strings.HasSuffix(s, "s") {
		return s
	}
	return d.String()
}

// oneParagraph joins a comment's first paragraph into one line.
func oneParagraph(s string) string {
	p, _, _ := strings.Cut(strings.TrimSpace(s), "\n\n")
	return strings.Join(strings.Fields(p), " ")
}

// Table writes keys as a Markdown table.
func Table(b *strings.Builder, keys []Key) {
	b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	for _, k := range keys {
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", k.Path, k.Type, cell(k.Default, true), cell(k.Doc, false))
	}
}

func cell(s string, code bool) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	if code {
		return "`" + s + "`"
	}
	return s
}

// sortedNames returns the keys of m in order.
func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
