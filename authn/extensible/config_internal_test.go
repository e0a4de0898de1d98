package extensible

import (
	"path/filepath"
	"testing"

	"github.com/authsvc/authsvc/config/modenv"
)

// Open takes a relative command path and dir from the configuration
// file's directory; a bare program name is left to PATH.
func TestExecConfigOpenResolvesPaths(t *testing.T) {
	dir := t.TempDir()
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
