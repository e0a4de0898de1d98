package wsse

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/wsse/internal/parseref"
)

// The differential tests check Parse against parseref, a frozen copy of the
// parser before it was tuned: for every input and options, the same
// Envelope (every field, unexported ones and offsets included) or the same
// error (code, reason, version, truncation).

// diffOptions are the options each input is parsed with, ours and the
// reference's.
var diffOptions = []struct {
	ours *Options
	ref  *parseref.Options
}{
	{nil, nil},
	{&Options{Actor: "urn:x"}, &parseref.Options{Actor: "urn:x"}},
	{
		&Options{Limits: Limits{MaxDepth: 8, MaxElements: 64, MaxAttributes: 4, MaxHeaderBytes: 4096}},
		&parseref.Options{Limits: parseref.Limits{MaxDepth: 8, MaxElements: 64, MaxAttributes: 4, MaxHeaderBytes: 4096}},
	},
	{
		&Options{Limits: Limits{MaxDepth: 4, MaxElements: 12, MaxAttributes: 2, MaxHeaderBytes: 700}},
		&parseref.Options{Limits: parseref.Limits{MaxDepth: 4, MaxElements: 12, MaxAttributes: 2, MaxHeaderBytes: 700}},
	},
}

// dumpValue writes v, pointers followed and unexported fields included, so
// that results of the two packages' types can be compared as text.
func dumpValue(sb *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			sb.WriteString("nil")
			return
		}
		sb.WriteString("&")
		dumpValue(sb, v.Elem())
	case reflect.Struct:
		sb.WriteString("{")
		for i := range v.NumField() {
			f := v.Type().Field(i)
			fmt.Fprintf(sb, "%s:", f.Name)
			if f.Name == "Raw" {
				fmt.Fprintf(sb, "len=%d ", v.Field(i).Len())
				continue
			}
			dumpValue(sb, v.Field(i))
			sb.WriteString(" ")
		}
		sb.WriteString("}")
	case reflect.Slice:
		if v.IsNil() {
			sb.WriteString("nil")
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			fmt.Fprintf(sb, "%q", v.Bytes())
			return
		}
		fmt.Fprintf(sb, "[%d:", v.Len())
		for i := range v.Len() {
			dumpValue(sb, v.Index(i))
			sb.WriteString(",")
		}
		sb.WriteString("]")
	case reflect.String:
		fmt.Fprintf(sb, "%q", v.String())
	case reflect.Bool:
		fmt.Fprint(sb, v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		fmt.Fprint(sb, v.Int())
	case reflect.Uint8, reflect.Uint, reflect.Uint32, reflect.Uint64:
		fmt.Fprint(sb, v.Uint())
	default:
		panic("dumpValue: kind " + v.Kind().String())
	}
}

func dumpResult(env any, err error) string {
	var sb strings.Builder
	if err != nil {
		// Both packages' errors are *Error; other types show as such.
		t := reflect.TypeOf(err)
		if t.Kind() != reflect.Pointer || t.Elem().Name() != "Error" {
			fmt.Fprintf(&sb, "error of type %T: %v", err, err)
			return sb.String()
		}
		sb.WriteString("error ")
		dumpValue(&sb, reflect.ValueOf(err))
		return sb.String()
	}
	dumpValue(&sb, reflect.ValueOf(env))
	return sb.String()
}

// checkParseDiff parses b with every diffOptions, ours and the reference,
// and fails when a result differs.
func checkParseDiff(t *testing.T, b []byte) {
	t.Helper()
	for i, o := range diffOptions {
		env, err := Parse(b, o.ours)
		got := dumpResult(env, err)
		renv, rerr := parseref.Parse(b, o.ref)
		want := dumpResult(renv, rerr)
		if got != want {
			t.Fatalf("options %d, input %q:\nParse:    %s\nparseref: %s", i, b, got, want)
		}
	}
}

// diffSeeds are the messages of the package's and its neighbours' test
// data: the fuzz seeds plus recorded signed messages and WS-Trust requests.
func diffSeeds(tb testing.TB) [][]byte {
	var out [][]byte
	for _, pat := range []string{"testdata/*.xml", "dsig/testdata/*.xml", "wstrust/testdata/*.xml"} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, b)
		}
	}
	for _, s := range extraSeeds {
		out = append(out, []byte(s))
	}
	return out
}

// extraSeeds reach the paths the recorded messages do not: fuzzSeeds, and
// one of each refusal the parser makes.
var extraSeeds = append(fuzzSeeds[:len(fuzzSeeds):len(fuzzSeeds)],
	env11+`<s:Header><wsse:Security `+wsseNS+` s:mustUnderstand="1" xmlns:wsu="`+NSWSU+`" xmlns:w11="`+NSWSSE11+`"><wsu:Timestamp wsu:Id="T"><wsu:Created>2026-01-01T00:00:00Z</wsu:Created><wsu:Expires>2026-01-01T00:05:00Z</wsu:Expires><x/></wsu:Timestamp>`+
		`<wsse:UsernameToken wsu:Id="U&amp;1"><wsse:Username> a </wsse:Username><wsse:Password Type="`+PasswordDigest+`">p&lt;<![CDATA[q]]>r</wsse:Password><wsse:Nonce EncodingType="`+Base64Binary+`">bm9uY2U=</wsse:Nonce><wsu:Created>2026-01-01T00:00:00Z</wsu:Created><w11:Salt>c2FsdA==</w11:Salt><w11:Iteration>1000</w11:Iteration><ext a="b"><wsse:Username/></ext></wsse:UsernameToken>`+
		`<wsse:BinarySecurityToken Id="B" ValueType="urn:v" EncodingType="`+Base64Binary+`">YW Jj&#10;</wsse:BinarySecurityToken><ds:Signature xmlns:ds="`+NSDSig+`" xml:id="S"><ds:SignedInfo/></ds:Signature></wsse:Security>`+
		`<wsa:To xmlns:wsa="`+NSWSA+`">urn:to</wsa:To></s:Header><s:Body wsu:Id="body" xmlns:wsu="`+NSWSU+`"><x/></s:Body></s:Envelope>`,
	env12+`<s:Header><wsse:Security `+wsseNS+` s:role="`+RoleNext12+`" s:mustUnderstand="true"><wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Username>b</wsse:Username></wsse:UsernameToken></wsse:Security><wsse:Security `+wsseNS+`/></s:Header><s:Body/></s:Envelope>`,
	env11+`<s:Header><wsse:Security `+wsseNS+` s:actor="urn:x"><wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password>p<wsse:Nonce/></wsse:Password></wsse:UsernameToken></wsse:Security></s:Header><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`" a="1" a="2"><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`" xmlns:p="urn:a" xmlns:q="urn:a" p:a="1" q:a="2"><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`"><s:Header>]]></s:Header><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`"><s:Header><a b="&foo;"/>&#0;</s:Header><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`" xmlns:xml="urn:bad"><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`"><s:Header><!-- a -- b --></s:Header><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`"><s:Header><?pi x?></s:Header><s:Body/></s:Envelope>`,
	"<s:Envelope xmlns:s=\""+NSSOAP11+"\">\x01<s:Body/></s:Envelope>",
	"<s:Envelope xmlns:s=\""+NSSOAP11+"\">\xc3\xa9\xff<s:Body/></s:Envelope>",
	`<s:Envelope xmlns:s="`+NSSOAP11+`"><s:Header></s:Head></s:Header><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`"><a:b:c/><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`"><s:Header><x:y/></s:Header><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`"><s:Header/><s:Header/><s:Body/></s:Envelope>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`"/>`,
	`<s:Envelope xmlns:s="`+NSSOAP11+`"  ><s:Header a = 'x"y' b="c'd"	/><s:Body	/></s:Envelope>`,
)

// mutations are the bytes TestParseDiffMutations writes over each byte of
// each seed.
const mutations = "<>/=\"'&;:! x\x00\xff\xc3]-?"

// TestParseDiffPrefixes compares Parse with the reference on every prefix of
// every seed (as an incremental reader gives them).
func TestParseDiffPrefixes(t *testing.T) {
	for _, b := range diffSeeds(t) {
		for n := range len(b) + 1 {
			checkParseDiff(t, b[:n])
		}
	}
}

// TestParseDiffMutations compares Parse with the reference, with default
// options, on this package's seeds with one byte replaced, deleted or
// doubled (the recorded messages of dsig and wstrust are left to
// TestParseDiffPrefixes and the fuzzer: their mutations take minutes).
func TestParseDiffMutations(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	seeds := [][]byte{}
	files, _ := filepath.Glob("testdata/*.xml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, s := range extraSeeds {
		seeds = append(seeds, []byte(s))
	}
	check := func(b []byte) {
		t.Helper()
		env, err := Parse(b, nil)
		renv, rerr := parseref.Parse(b, nil)
		if got, want := dumpResult(env, err), dumpResult(renv, rerr); got != want {
			t.Fatalf("input %q:\nParse:    %s\nparseref: %s", b, got, want)
		}
	}
	buf := make([]byte, 0, 64<<10)
	for _, b := range seeds {
		for i := range b {
			for _, c := range []byte(mutations) {
				buf = append(append(append(buf[:0], b[:i]...), c), b[i+1:]...)
				check(buf)
			}
			buf = append(append(buf[:0], b[:i]...), b[i+1:]...)
			check(buf)
			buf = append(append(buf[:0], b[:i+1]...), b[i:]...)
			check(buf)
		}
	}
}

// FuzzParseDiff compares Parse with the reference on arbitrary inputs.
func FuzzParseDiff(f *testing.F) {
	seedCorpus(f)
	for _, b := range diffSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkParseDiff(t, b) })
}
