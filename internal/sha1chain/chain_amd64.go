//go:build !purego

package sha1chain

// asmBuilt: the assembly is in this build.
const asmBuilt = true

//go:noescape
func chainSHANI(h *[5]uint32, n int)

func cpuid(leaf, sub uint32) (a, b, c, d uint32)

// accelerated: the CPU has the SHA extensions (CPUID leaf 7, EBX bit 29)
// and SSE4.1 (leaf 1, ECX bit 19, for PEXTRD); SSSE3 and SSE2 come with
// every CPU that has those.
var accelerated = func() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	_, b7, _, _ := cpuid(7, 0)
	return c1&(1<<19) != 0 && b7&(1<<29) != 0
}()
