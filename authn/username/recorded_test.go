package username

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authsvc/authsvc/wsse"
)

// recordedDerived are derived-key messages WSS4J signed (user bob, password
// "security"), recorded by the dsig package's TestRecorded (re-record there
// with -update). They let the unit tier run the module's whole signed path
// on a real client's bytes without a JVM; TestDerivedKeyWSS4J does the same
// and more on fresh messages in the live tier.
var recordedDerived = []string{"wss4j-soap11-hmac-sha1.xml", "wss4j-soap12-hmac-sha256.xml"}

// TestDerivedKeyRecorded: each recorded WSS4J message is accepted once at
// the time it was made, then refused as a replay; with its Body altered it
// fails the digest check; five minutes after it expired it is stale.
func TestDerivedKeyRecorded(t *testing.T) {
	for _, name := range recordedDerived {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "wsse", "dsig", "testdata", name))
			if err != nil {
				t.Fatalf("%v (record with go test ./wsse/dsig/ -run TestRecorded -update)", err)
			}
			env, err := wsse.Parse(raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			created, err := wsse.ParseTime(env.Security.Timestamp.Created)
			if err != nil {
				t.Fatalf("recorded Timestamp: %v", err)
			}
			now := created.Add(time.Second)
			clock := func() time.Time { return now }

			m := newDerivedModuleAt(t, nil, clock)
			dkWantAccepted(t, m, raw, now)
			dkWantFault(t, m, raw, now.Add(time.Second), wsse.InvalidSecurity, "replayed signed message")

			bad := bytes.Replace(raw, []byte("more text 1<"), []byte("more text 7<"), 1)
			if bytes.Equal(bad, raw) {
				t.Fatal("the recorded Body lacks its text")
			}
			dkWantFault(t, newDerivedModuleAt(t, nil, clock), bad, now, wsse.FailedCheck, "digest of #id-")
			dkWantFault(t, newDerivedModuleAt(t, nil, clock), raw, now.Add(6*time.Minute), wsse.MessageExpired, "Timestamp")
		})
	}
}
