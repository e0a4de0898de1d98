package dsig_test

import (
	"context"
	"errors"
	"testing"

	"github.com/authsvc/authsvc/test/wss4j"
	"github.com/authsvc/authsvc/wsse"
	"github.com/authsvc/authsvc/wsse/dsig"
)

func TestVerifyWSS4J(t *testing.T) {
	for _, m := range []wss4j.Message{
		{},
		{SOAP12: true},
		{SigAlg: "hmac-sha256", DigestAlg: "sha256"},
		{SOAP12: true, SigAlg: "hmac-sha256"},
		{Parts: []string{"body", "ut"}, TTL: -1, Nonce: true},
		{Parts: []string{"body", "ts", "ut"}, Nonce: true, PayloadBytes: 5000},
	} {
		raw := mustEnvelope(t, m)
		env := parse(t, raw)
		res, err := dsig.Verify(context.Background(), env, utKeys(env, "security"), nil)
		if err != nil {
			t.Errorf("%+v: %v\n%s", m, err, raw)
			continue
		}
		if !res.BodySigned || res.TimestampSigned != (m.TTL >= 0) {
			t.Errorf("%+v: body %v timestamp %v", m, res.BodySigned, res.TimestampSigned)
		}
		if !dsig.HasSignature(env.Security) {
			t.Error("HasSignature false")
		}
		// The wrong password fails on the MAC.
		_, err = dsig.Verify(context.Background(), env, utKeys(env, "wrong"), nil)
		if !errors.Is(err, dsig.ErrSignatureMismatch) {
			t.Errorf("wrong key: %v", err)
		}
		var de *dsig.Error
		if !errors.As(err, &de) || de.Code != wsse.FailedCheck {
			t.Errorf("wrong key: code of %v", err)
		}
	}
}
