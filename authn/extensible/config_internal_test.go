package extensible

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/config/modenv"
)

// Open takes a relative command path and dir from the configuration
// file's directory; a bare program name is left to PATH.
func TestExecConfigOpenResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.MkdirAll(filepath.Join(dir, "work"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "bin/check"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := &modenv.Env{Name: "tickets", BaseDir: dir}
	c := ExecConfig{Command: []string{"bin/check", "arg/x"}, Dir: "work"}
	m, err := c.Open(env)
	if err != nil {
		t.Fatal(err)
	}
	got := m.(*Exec).c
	if got.Command[0] != filepath.Join(dir, "bin/check") || got.Command[1] != "arg/x" || got.Dir != filepath.Join(dir, "work") || got.Document.Module != "tickets" {
		t.Errorf("opened with %+v", got)
	}
	if c.Command[0] != "bin/check" {
		t.Errorf("Open changed the section: %v", c.Command)
	}
	c = ExecConfig{Command: []string{"python3"}}
	if m, err = c.Open(env); err != nil || m.(*Exec).c.Command[0] != "python3" {
		t.Errorf("bare program name: %v", err)
	}
}

// Open refuses a program that is missing or not executable, and a dir
// that is not a directory: serve fails at start, and check-config says so.
func TestExecConfigOpenChecksTheProgram(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "noexec"), []byte("#!/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "prog"), []byte("#!/bin/sh\n"), 0o755)
	env := &modenv.Env{Name: "x", BaseDir: dir}
	for _, tc := range []struct {
		c    ExecConfig
		want string
	}{
		{ExecConfig{Command: []string{"./missing"}}, "no such file"},
		{ExecConfig{Command: []string{"./noexec"}}, "permission denied"},
		{ExecConfig{Command: []string{"authsvc-no-such-program-in-path"}}, "executable file not found"},
		{ExecConfig{Command: []string{"./prog"}, Dir: "prog"}, "dir: "},
	} {
		if _, err := tc.c.Open(env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.c.Command, err, tc.want)
		}
	}
}
