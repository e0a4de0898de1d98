package sha1chain

import (
	"os"
	"runtime"
	"strings"
)

// hasSHANIFlag reports whether /proc/cpuinfo (Linux, amd64) lists the SHA
// extensions and SSE4.1.
func hasSHANIFlag() bool {
	if runtime.GOARCH != "amd64" {
		return false
	}
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "flags") {
			f := " " + line + " "
			return strings.Contains(f, " sha_ni ") && strings.Contains(f, " sse4_1 ")
		}
	}
	return false
}
