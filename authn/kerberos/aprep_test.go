package kerberos

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// TestAPRepDER: the hand-written EncAPRepPart and AP-REP encodings are byte
// for byte what gokrb5's types give through asn1.Marshal (what Reply used
// before), over edge and random values: cusec and seq-number 0 (absent),
// one byte, with the top bit set, 30 bits; kvno 0 (absent) and large;
// ciphers of 0, 127, 128, 255, 256 and 70,000 bytes (every length form);
// times across years; and the result decodes with gokrb5.
func TestAPRepDER(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ints := []int64{0, 1, 127, 128, 255, 256, 32767, 32768, 999999, 0x3fffffff}
	lens := []int{0, 1, 127, 128, 255, 256, 65535, 70000}
	for i := 0; i < 400; i++ {
		ctime := time.Unix(rng.Int64N(4e9), 0).UTC()
		cusec := int(ints[i%len(ints)])
		if cusec > 999999 || i >= 200 {
			cusec = rng.IntN(1000000)
		}
		seq := ints[(i/len(ints))%len(ints)]
		if i >= 200 {
			seq = rng.Int64N(0x40000000)
		}
		part := messages.EncAPRepPart{CTime: ctime, Cusec: cusec, SequenceNumber: seq}
		want, err := asn1.Marshal(part)
		if err != nil {
			t.Fatal(err)
		}
		want = asn1tools.AddASNAppTag(want, asnAppTag.EncAPRepPart)
		if got := encAPRepPart(ctime, cusec, seq); !bytes.Equal(got, want) {
			t.Fatalf("EncAPRepPart(%v, %d, %d):\n got %x\nwant %x", ctime, cusec, seq, got, want)
		}
		var back messages.EncAPRepPart
		if err := back.Unmarshal(encAPRepPart(ctime, cusec, seq)); err != nil || !back.CTime.Equal(ctime) || back.Cusec != cusec || back.SequenceNumber != seq {
			t.Fatalf("EncAPRepPart does not decode back: %v %+v", err, back)
		}

		cipher := make([]byte, lens[i%len(lens)])
		for j := range cipher {
			cipher[j] = byte(rng.Uint32())
		}
		ed := types.EncryptedData{EType: int32([]int{17, 18, 23, 25, 26}[i%5]), KVNO: int([]int64{0, 1, 2, 255, 256, 70000}[i%6]), Cipher: cipher}
		wantRep, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: ed})
		if err != nil {
			t.Fatal(err)
		}
		wantRep = asn1tools.AddASNAppTag(wantRep, asnAppTag.APREP)
		if got := apRepDER(ed); !bytes.Equal(got, wantRep) {
			t.Fatalf("AP-REP(etype %d, kvno %d, %d-byte cipher):\n got %x\nwant %x", ed.EType, ed.KVNO, len(cipher), got, wantRep)
		}
		var rep messages.APRep
		if err := rep.Unmarshal(apRepDER(ed)); err != nil || rep.EncPart.EType != ed.EType || !bytes.Equal(rep.EncPart.Cipher, cipher) {
			t.Fatalf("AP-REP does not decode back: %v", err)
		}
	}
}
