//go:build !amd64 || purego

package sha1chain

const accelerated = false

// asmBuilt: the assembly is not in this build.
const asmBuilt = false

func chainSHANI(h *[5]uint32, n int) { panic("sha1chain: no SHA extensions") }
