//go:build !purego

#include "textflag.h"

// The SHA-1 initial state as the SHA extensions hold it: A in the high
// dword of the ABCD register, E in the high dword of its own.
DATA iv<>+0(SB)/4, $0x10325476
DATA iv<>+4(SB)/4, $0x98badcfe
DATA iv<>+8(SB)/4, $0xefcdab89
DATA iv<>+12(SB)/4, $0x67452301
GLOBL iv<>(SB), RODATA|NOPTR, $16

DATA ive<>+0(SB)/4, $0
DATA ive<>+4(SB)/4, $0
DATA ive<>+8(SB)/4, $0
DATA ive<>+12(SB)/4, $0xc3d2e1f0
GLOBL ive<>(SB), RODATA|NOPTR, $16

// Words 4-7 of a 20-byte message's only block, but for word 4 (the
// digest's last word): the padding bit in word 5, zeros.
DATA pad<>+0(SB)/4, $0
DATA pad<>+4(SB)/4, $0
DATA pad<>+8(SB)/4, $0x80000000
DATA pad<>+12(SB)/4, $0
GLOBL pad<>(SB), RODATA|NOPTR, $16

// Words 12-15: zeros, then the message length in bits (160).
DATA len<>+0(SB)/4, $160
DATA len<>+4(SB)/4, $0
DATA len<>+8(SB)/4, $0
DATA len<>+12(SB)/4, $0
GLOBL len<>(SB), RODATA|NOPTR, $16

// func chainSHANI(h *[5]uint32, n int)
//
// Replaces the digest h (its five words, H0 first) by SHA-1 of its 20 bytes
// (big-endian words), n times. Registers: X0 the state ABCD, X1 and X2 in
// turn the state saved before a group of four rounds and then E plus the
// group's message words, X3-X6 the last four groups of message words, X7
// the initial ABCD, X8 the initial E, X9 zero, X11 the padding of words
// 4-7, X12 words 12-15.
TEXT ·chainSHANI(SB), NOSPLIT, $0-16
	MOVQ h+0(FP), DI
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JLE done
	MOVOU iv<>(SB), X7
	MOVOU ive<>(SB), X8
	PXOR X9, X9
	MOVOU pad<>(SB), X11
	MOVOU len<>(SB), X12
	// Words 0-3 are H0-H3 (H0 in the high dword), word 4 is H4.
	MOVOU (DI), X3
	PSHUFD $0x1b, X3, X3
	MOVL 16(DI), AX
	MOVQ AX, X4
	PSLLO $12, X4
	POR X11, X4

loop:
	MOVO X9, X5
	MOVO X12, X6
	MOVO X7, X0
	// Rounds 0-3: E plus words 0-3.
	MOVO X0, X1
	MOVO X3, X2
	PADDL X8, X2
	SHA1RNDS4 $0, X2, X0
	// Rounds 4-7.
	SHA1NEXTE X4, X1
	MOVO X0, X2
	SHA1RNDS4 $0, X1, X0
	// Rounds 8-11.
	SHA1NEXTE X5, X2
	MOVO X0, X1
	SHA1RNDS4 $0, X2, X0
	// Rounds 12-15.
	SHA1NEXTE X6, X1
	MOVO X0, X2
	SHA1RNDS4 $0, X1, X0
	// Rounds 16-19.
	SHA1MSG1 X4, X3
	PXOR X5, X3
	SHA1MSG2 X6, X3
	SHA1NEXTE X3, X2
	MOVO X0, X1
	SHA1RNDS4 $0, X2, X0
	// Rounds 20-23.
	SHA1MSG1 X5, X4
	PXOR X6, X4
	SHA1MSG2 X3, X4
	SHA1NEXTE X4, X1
	MOVO X0, X2
	SHA1RNDS4 $1, X1, X0
	// Rounds 24-27.
	SHA1MSG1 X6, X5
	PXOR X3, X5
	SHA1MSG2 X4, X5
	SHA1NEXTE X5, X2
	MOVO X0, X1
	SHA1RNDS4 $1, X2, X0
	// Rounds 28-31.
	SHA1MSG1 X3, X6
	PXOR X4, X6
	SHA1MSG2 X5, X6
	SHA1NEXTE X6, X1
	MOVO X0, X2
	SHA1RNDS4 $1, X1, X0
	// Rounds 32-35.
	SHA1MSG1 X4, X3
	PXOR X5, X3
	SHA1MSG2 X6, X3
	SHA1NEXTE X3, X2
	MOVO X0, X1
	SHA1RNDS4 $1, X2, X0
	// Rounds 36-39.
	SHA1MSG1 X5, X4
	PXOR X6, X4
	SHA1MSG2 X3, X4
	SHA1NEXTE X4, X1
	MOVO X0, X2
	SHA1RNDS4 $1, X1, X0
	// Rounds 40-43.
	SHA1MSG1 X6, X5
	PXOR X3, X5
	SHA1MSG2 X4, X5
	SHA1NEXTE X5, X2
	MOVO X0, X1
	SHA1RNDS4 $2, X2, X0
	// Rounds 44-47.
	SHA1MSG1 X3, X6
	PXOR X4, X6
	SHA1MSG2 X5, X6
	SHA1NEXTE X6, X1
	MOVO X0, X2
	SHA1RNDS4 $2, X1, X0
	// Rounds 48-51.
	SHA1MSG1 X4, X3
	PXOR X5, X3
	SHA1MSG2 X6, X3
	SHA1NEXTE X3, X2
	MOVO X0, X1
	SHA1RNDS4 $2, X2, X0
	// Rounds 52-55.
	SHA1MSG1 X5, X4
	PXOR X6, X4
	SHA1MSG2 X3, X4
	SHA1NEXTE X4, X1
	MOVO X0, X2
	SHA1RNDS4 $2, X1, X0
	// Rounds 56-59.
	SHA1MSG1 X6, X5
	PXOR X3, X5
	SHA1MSG2 X4, X5
	SHA1NEXTE X5, X2
	MOVO X0, X1
	SHA1RNDS4 $2, X2, X0
	// Rounds 60-63.
	SHA1MSG1 X3, X6
	PXOR X4, X6
	SHA1MSG2 X5, X6
	SHA1NEXTE X6, X1
	MOVO X0, X2
	SHA1RNDS4 $3, X1, X0
	// Rounds 64-67.
	SHA1MSG1 X4, X3
	PXOR X5, X3
	SHA1MSG2 X6, X3
	SHA1NEXTE X3, X2
	MOVO X0, X1
	SHA1RNDS4 $3, X2, X0
	// Rounds 68-71.
	SHA1MSG1 X5, X4
	PXOR X6, X4
	SHA1MSG2 X3, X4
	SHA1NEXTE X4, X1
	MOVO X0, X2
	SHA1RNDS4 $3, X1, X0
	// Rounds 72-75.
	SHA1MSG1 X6, X5
	PXOR X3, X5
	SHA1MSG2 X4, X5
	SHA1NEXTE X5, X2
	MOVO X0, X1
	SHA1RNDS4 $3, X2, X0
	// Rounds 76-79.
	SHA1MSG1 X3, X6
	PXOR X4, X6
	SHA1MSG2 X5, X6
	SHA1NEXTE X6, X1
	MOVO X0, X2
	SHA1RNDS4 $3, X1, X0
	// E after round 79, from A before round 76; then add the initial state.
	SHA1NEXTE X9, X2
	PADDL X8, X2
	PADDL X7, X0
	// The digest is the next message: words 0-3 as they are, word 4 then
	// the padding.
	MOVO X0, X3
	MOVO X2, X4
	POR X11, X4
	DECQ CX
	JNZ loop

	PSHUFD $0x1b, X0, X0
	MOVOU X0, (DI)
	PEXTRD $3, X2, AX
	MOVL AX, 16(DI)

done:
	RET

// func cpuid(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET
