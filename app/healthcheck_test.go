package app

import (
	"testing"

	"github.com/authsvc/authsvc/config"
)

// TestReadyzURL: a wildcard listen address is asked on loopback.
func TestReadyzURL(t *testing.T) {
	for listen, want := range map[string]string{
		"0.0.0.0:8080":   "http://127.0.0.1:8080/readyz",
		":8080":          "http://127.0.0.1:8080/readyz",
		"[::]:8443":      "http://[::1]:8443/readyz",
		"10.1.2.3:80":    "http://10.1.2.3:80/readyz",
		"localhost:9000": "http://localhost:9000/readyz",
	} {
		got, tc, err := readyzURL(&config.Config{Listen: listen})
		if err != nil || got != want || tc != nil {
			t.Errorf("listen %q: %q, %v, %v; want %q", listen, got, tc, err, want)
		}
	}
	if _, _, err := readyzURL(&config.Config{Listen: "8080"}); err == nil {
		t.Error("listen without a port: no error")
	}
}
