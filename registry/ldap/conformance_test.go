package ldap

import (
	"testing"

	"github.com/authsvc/authsvc/internal/testenv"
	"github.com/authsvc/authsvc/registry/registrytest"
)

// TestConformance runs the suite every registry passes against a real slapd.
func TestConformance(t *testing.T) {
	l := testenv.StartLDAP(t)
	r, _ := open(t, testConfig(l))
	registrytest.Run(t, r, registrytest.Fixture{User: "alice", Password: "wonderland", Group: "soap-users", Other: "bob", OtherPassword: "builder"})
}
