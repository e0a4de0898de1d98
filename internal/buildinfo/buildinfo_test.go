package buildinfo

import (
	"runtime"
	"testing"
)

func TestReadPrefersStamped(t *testing.T) {
	i := read("1.2.3", "abc", "2026-01-02T03:04:05Z")
	if i.Version != "1.2.3" || i.Commit != "abc" || i.Date != "2026-01-02T03:04:05Z" || i.GoVersion != runtime.Version() {
		t.Fatalf("read = %+v", i)
	}
	want := "authsvc 1.2.3 (commit abc, built 2026-01-02T03:04:05Z, " + runtime.Version() + ")"
	if i.String() != want {
		t.Fatalf("String = %q, want %q", i.String(), want)
	}
}

func TestGetNeverEmpty(t *testing.T) {
	i := Get()
	if i.Version == "" || i.Commit == "" || i.Date == "" || i.GoVersion == "" {
		t.Fatalf("Get = %+v: a field is empty", i)
	}
}

// The -ldflags stamping itself is tested through the real binary in
// app/cli_test.go (TestVersionStamped).
