// Package buildinfo holds the version, commit and build date stamped into
// the authsvc binary at build time:
//
//	go build -ldflags "-X github.com/authsvc/authsvc/internal/buildinfo.version=1.2.0 \
//	  -X github.com/authsvc/authsvc/internal/buildinfo.commit=$(git rev-parse HEAD) \
//	  -X github.com/authsvc/authsvc/internal/buildinfo.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/authsvc
//
// Without -ldflags the values come from the module and VCS information the
// Go toolchain records (runtime/debug.ReadBuildInfo), else "unknown".
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Set by -ldflags -X at build time.
var (
	version string
	commit  string
	date    string
)

// Info is what is known about the running binary's build.
type Info struct {
	Version   string // e.g. "1.2.0" or "(devel)"
	Commit    string // VCS revision, with "-dirty" if the tree was modified
	Date      string // build or commit time, RFC 3339
	GoVersion string // runtime.Version()
}

var (
	once sync.Once
	info Info
)

// Get returns the build information; the values are never empty ("unknown"
// when nothing recorded them).
func Get() Info {
	once.Do(func() { info = read(version, commit, date) })
	return info
}

func read(v, c, d string) Info {
	i := Info{Version: v, Commit: c, Date: d, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" {
			i.Version = bi.Main.Version
		}
		var rev, tm string
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				tm = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if i.Commit == "" && rev != "" {
			i.Commit = rev
			if dirty {
				i.Commit += "-dirty"
			}
		}
		if i.Date == "" {
			i.Date = tm
		}
	}
	for _, p := range []*string{&i.Version, &i.Commit, &i.Date} {
		if *p == "" {
			*p = "unknown"
		}
	}
	return i
}

// String is the one line `authsvc version` prints:
// "authsvc 1.2.0 (commit abc123, built 2026-01-02T03:04:05Z, go1.26.0)".
func (i Info) String() string {
	return "authsvc " + i.Version + " (commit " + i.Commit + ", built " + i.Date + ", " + i.GoVersion + ")"
}
