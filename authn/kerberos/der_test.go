package kerberos

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The tests of der.go: our decoding against gokrb5's (ap.Unmarshal,
// auth.Unmarshal), over the recorded tokens, tokens minted in Go, every
// token the package's other tests make (derHook, checked in TestMain: the
// live MIT KDC's and Samba AD's through python3-gssapi), attacker inputs
// and two differential fuzz targets.

// gokrb5APReq and gokrb5Authenticator are gokrb5's decoding, a panic an
// error.
func gokrb5APReq(b []byte) (ap messages.APReq, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gokrb5 panic: %v", r)
		}
	}()
	err = ap.Unmarshal(b)
	return ap, err
}

func gokrb5Authenticator(b []byte) (a types.Authenticator, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gokrb5 panic: %v", r)
		}
	}()
	err = a.Unmarshal(b)
	return a, err
}

// derCase is one input decoded by both decoders.
type derCase struct {
	authenticator bool
	in            []byte
	ours, ref     any // *messages.APReq or *types.Authenticator
	errOurs       error
	errRef        error
}

func decodeBoth(authenticator bool, b []byte) derCase {
	c := derCase{authenticator: authenticator, in: b}
	if authenticator {
		var a types.Authenticator
		c.errOurs = decodeAuthenticatorDER(b, &a)
		r, err := gokrb5Authenticator(b)
		c.ours, c.ref, c.errRef = &a, &r, err
	} else {
		var ap messages.APReq
		c.errOurs = decodeAPReqDER(b, &ap)
		r, err := gokrb5APReq(b)
		c.ours, c.ref, c.errRef = &ap, &r, err
	}
	return c
}

// verdict applies the differential rule: if ours decodes, gokrb5 decodes
// to an equal value; if gokrb5 decodes and ours refuses, the refusal is one
// of der.go's documented strictnesses (explain). It returns "" when the
// rule holds.
func (c derCase) verdict() string {
	switch {
	case c.errOurs == nil && c.errRef != nil:
		return fmt.Sprintf("ours decodes, gokrb5 refuses: %v\nours %+v", c.errRef, c.ours)
	case c.errOurs == nil:
		if d := derDiff(c.ours, c.ref); d != "" {
			return "ours and gokrb5 decode to different values: " + d
		}
	case c.errRef == nil:
		if why := explain(c); why == "" || why[0] == '!' {
			return fmt.Sprintf("gokrb5 decodes, ours refuses (%v) for no documented reason %s\ngokrb5 %+v", c.errOurs, why, c.ref)
		}
	}
	return ""
}

// derDiff compares two decoded values, field by field for the message.
func derDiff(ours, ref any) string {
	if reflect.DeepEqual(ours, ref) {
		return ""
	}
	o, r := reflect.ValueOf(ours).Elem(), reflect.ValueOf(ref).Elem()
	var b bytes.Buffer
	var walk func(path string, o, r reflect.Value)
	walk = func(path string, o, r reflect.Value) {
		if reflect.DeepEqual(o.Interface(), r.Interface()) {
			return
		}
		if o.Kind() == reflect.Struct && o.Type() != reflect.TypeOf(time.Time{}) {
			for i := 0; i < o.NumField(); i++ {
				walk(path+"."+o.Type().Field(i).Name, o.Field(i), r.Field(i))
			}
			return
		}
		fmt.Fprintf(&b, "%s: ours %#v, gokrb5 %#v; ", path, o.Interface(), r.Interface())
	}
	walk(o.Type().Name(), o, r)
	return b.String()
}

// explain says why ours may refuse an input gokrb5 decodes, or "" / "!..."
// when nothing documented explains it. Independently of ours: the value
// gokrb5 decoded is checked against our limits; then its DER encoding
// (gokrb5's Marshal) must decode with ours to the same value (we refuse no
// value, only encodings of it), and the input must differ from it, either
// as no DER at all (derWalk) or, as a DER tree, in a way der.go documents
// (an error wrapping errDERStrict).
func explain(c derCase) string {
	if why := valueLimits(c.ref); why != "" {
		return why
	}
	var canon []byte
	var err error
	if c.authenticator {
		canon, err = c.ref.(*types.Authenticator).Marshal()
	} else {
		canon, err = c.ref.(*messages.APReq).Marshal()
	}
	if err != nil {
		return "!gokrb5 does not encode the value: " + err.Error()
	}
	back := decodeBoth(c.authenticator, canon)
	if back.errOurs != nil {
		return fmt.Sprintf("!ours refuses the value's DER % x: %v", canon, back.errOurs)
	}
	if d := derDiff(back.ours, c.ref); d != "" {
		return "!ours decodes the value's DER to another value: " + d
	}
	if bytes.Equal(canon, c.in) {
		return "!the input is the value's DER"
	}
	in := c.in
	if c.authenticator { // ours ignores bytes after the Authenticator
		if _, _, rest, err := tlv(in); err == nil {
			in = in[:len(in)-len(rest)]
		}
	}
	if err := derWalk(in, 0); err != nil {
		return "not DER: " + err.Error()
	}
	if errors.Is(c.errOurs, errDERStrict) {
		return "DER, refused by a documented strictness"
	}
	return ""
}

// valueLimits is what der.go refuses in a value, whatever its encoding.
func valueLimits(v any) string {
	names := func(pn types.PrincipalName) string {
		if n := len(pn.NameString); n == 0 || n > derMaxNameComponents {
			return fmt.Sprintf("a name of %d components", n)
		}
		return ""
	}
	switch v := v.(type) {
	case *messages.APReq:
		if len(v.APOptions.Bytes) == 0 {
			return "ap-options without flags"
		}
		return names(v.Ticket.SName)
	case *types.Authenticator:
		if v.CTime.Location() != time.UTC {
			return "a KerberosTime with an offset, not Z"
		}
		if len(v.AuthorizationData) > derMaxAuthzEntries {
			return fmt.Sprintf("%d authorization-data entries", len(v.AuthorizationData))
		}
		return names(v.CName)
	}
	return ""
}

// derWalk checks that b is exactly one DER element, written independently
// of der.go: one-byte tags, minimal definite lengths, and constructed
// elements exactly filled by their elements.
func derWalk(b []byte, depth int) error {
	if depth > 32 {
		return errors.New("nested too deep")
	}
	if len(b) < 2 {
		return errors.New("truncated")
	}
	tag, l, p := b[0], int(b[1]), 2
	if tag&0x1f == 0x1f {
		return errors.New("multi-byte tag")
	}
	if l == 0x80 {
		return errors.New("indefinite length")
	}
	if l > 0x80 {
		k := l & 0x7f
		if k > 4 || len(b) < 2+k || b[2] == 0 {
			return errors.New("bad length")
		}
		l = 0
		for _, x := range b[2 : 2+k] {
			l = l<<8 | int(x)
		}
		if l < 0x80 {
			return errors.New("non-minimal length")
		}
		p += k
	}
	if len(b)-p != l {
		return fmt.Errorf("element 0x%02x of length %d with %d bytes", tag, l, len(b)-p)
	}
	if tag&0x20 == 0 {
		return nil
	}
	for c := b[p:]; len(c) > 0; {
		if len(c) < 2 {
			return errors.New("truncated")
		}
		n := derElementLen(c)
		if n < 0 || n > len(c) {
			return fmt.Errorf("element inside 0x%02x runs past it", tag)
		}
		if err := derWalk(c[:n], depth+1); err != nil {
			return err
		}
		c = c[n:]
	}
	return nil
}

// derElementLen is the full length of the element at the head of c, -1 if
// its header does not read.
func derElementLen(c []byte) int {
	l, p := int(c[1]), 2
	if l > 0x80 {
		k := l & 0x7f
		if k > 4 || len(c) < 2+k {
			return -1
		}
		l = 0
		for _, x := range c[2 : 2+k] {
			l = l<<8 | int(x)
		}
		p += k
	}
	return p + l
}

// derHookRecord gathers what derHook saw during the package's tests.
var derHookRecord struct {
	sync.Mutex
	apReqs, auths int
	failures      []string
}

func checkDERHook(authenticator bool, b []byte) {
	c := decodeBoth(authenticator, append([]byte(nil), b...))
	v := c.verdict()
	derHookRecord.Lock()
	defer derHookRecord.Unlock()
	if authenticator {
		derHookRecord.auths++
	} else {
		derHookRecord.apReqs++
	}
	if v != "" {
		derHookRecord.failures = append(derHookRecord.failures, fmt.Sprintf("%s (input %s)", v, base64.StdEncoding.EncodeToString(b)))
	}
}

// TestMain compares, for every AP-REQ and Authenticator the module decodes
// in this package's tests, our decoding with gokrb5's; not when
// benchmarking (-bench), which it would slow down.
func TestMain(m *testing.M) {
	flag.Parse()
	if b := flag.Lookup("test.bench"); b == nil || b.Value.String() == "" {
		derHook = checkDERHook
	}
	code := m.Run()
	r := &derHookRecord
	if len(r.failures) > 0 {
		fmt.Fprintf(os.Stderr, "der.go and gokrb5 disagree on %d of the %d AP-REQs and %d authenticators the tests decoded:\n", len(r.failures), r.apReqs, r.auths)
		for _, f := range r.failures {
			fmt.Fprintln(os.Stderr, " ", f)
		}
		code = 1
	} else if testing.Verbose() {
		fmt.Printf("der.go decoded the %d AP-REQs and %d authenticators of the tests as gokrb5 does\n", r.apReqs, r.auths)
	}
	os.Exit(code)
}

// recordedDER is the AP-REQs of the recorded tokens and the plaintexts of
// their authenticators.
func recordedDER(t testing.TB) (apReqs, auths [][]byte) {
	t.Helper()
	for _, dir := range []struct{ dir, keytab string }{{mitDir, "localhost.keytab"}, {adDir, "authsvc.keytab"}} {
		raw, err := os.ReadFile(filepath.Join(dir.dir, "tokens.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ KRB5, SPNEGO []string }
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		kt, err := keytab.Load(filepath.Join(dir.dir, dir.keytab))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range append(rec.KRB5, rec.SPNEGO...) {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := Unwrap(b)
			if err != nil {
				t.Fatal(err)
			}
			apReqs = append(apReqs, tok.APReq)
			auths = append(auths, authenticatorPlain(t, kt, tok.APReq))
		}
	}
	if len(apReqs) < 5 {
		t.Fatalf("only %d recorded tokens", len(apReqs))
	}
	return apReqs, auths
}

// authenticatorPlain decrypts an AP-REQ's authenticator with the keytab.
func authenticatorPlain(t testing.TB, kt *keytab.Keytab, b []byte) []byte {
	t.Helper()
	ap, err := gokrb5APReq(b)
	if err != nil {
		t.Fatal(err)
	}
	ep := ap.Ticket.EncPart
	key, _, err := kt.GetEncryptionKey(ap.Ticket.SName, ap.Ticket.Realm, ep.KVNO, ep.EType)
	if err != nil {
		t.Fatal(err)
	}
	if err := ap.Ticket.Decrypt(key); err != nil {
		t.Fatal(err)
	}
	plain, err := crypto.DecryptEncPart(ap.EncryptedAuthenticator, ap.Ticket.DecryptedEncPart.Key, keyusage.AP_REQ_AUTHENTICATOR)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// TestDERRecorded: the recorded MIT and Samba AD tokens decode to what
// gokrb5 decodes them to.
func TestDERRecorded(t *testing.T) {
	apReqs, auths := recordedDER(t)
	for i, b := range apReqs {
		c := decodeBoth(false, b)
		if c.errOurs != nil || c.errRef != nil {
			t.Fatalf("AP-REQ %d: ours %v, gokrb5 %v", i, c.errOurs, c.errRef)
		}
		if d := derDiff(c.ours, c.ref); d != "" {
			t.Fatalf("AP-REQ %d: %s", i, d)
		}
		ap := c.ours.(*messages.APReq)
		if ap.Ticket.EncPart.KVNO == 0 || ap.EncryptedAuthenticator.KVNO != 0 || ap.APOptions.BitLength != 32 {
			t.Errorf("AP-REQ %d: ticket kvno %d, authenticator kvno %d, %d bits of options", i, ap.Ticket.EncPart.KVNO, ap.EncryptedAuthenticator.KVNO, ap.APOptions.BitLength)
		}
	}
	for i, b := range auths {
		c := decodeBoth(true, b)
		if c.errOurs != nil || c.errRef != nil {
			t.Fatalf("authenticator %d: ours %v, gokrb5 %v", i, c.errOurs, c.errRef)
		}
		if d := derDiff(c.ours, c.ref); d != "" {
			t.Fatalf("authenticator %d: %s", i, d)
		}
		a := c.ours.(*types.Authenticator)
		if a.Cksum.CksumType != 0x8003 || a.CTime.IsZero() || a.SeqNumber == 0 {
			t.Errorf("authenticator %d: %+v", i, a)
		}
	}
}
