package wstrust

import (
	"crypto/rand"
	"fmt"
)

// ProofKind says how the response tells the client the context's key.
type ProofKind int

const (
	// ProofComputed: client and server entropy; the key is
	// P_SHA1(client entropy, server entropy); the response carries a
	// ComputedKey and the server's Entropy.
	ProofComputed ProofKind = iota + 1
	// ProofSecret: server entropy only; the key is the server's entropy,
	// sent in RequestedProofToken/BinarySecret.
	ProofSecret
	// ProofNone: client entropy only; the key is the client's entropy and
	// the response carries no proof token.
	ProofNone
)

func (k ProofKind) String() string {
	switch k {
	case ProofComputed:
		return "computed"
	case ProofSecret:
		return "secret"
	case ProofNone:
		return "client"
	}
	return "unknown"
}

// Proof is the key of a context being issued or renewed, and how the
// response conveys it.
type Proof struct {
	Kind ProofKind
	// Key is the context's secret.
	Key []byte
	// ServerEntropy is the server's entropy (ProofComputed and ProofSecret).
	ServerEntropy []byte
	// KeySize is the key size in bits, for the response's KeySize.
	KeySize int
}

// KeyBytes is the size in bytes of the key to issue for r: its KeySize, or
// DefaultKeySize when it names none. Server entropy is drawn at this size.
func (r *RST) KeyBytes() int {
	if r.KeySize > 0 {
		return r.KeySize / 8
	}
	return DefaultKeySize / 8
}

// ComputeKey returns the key to issue for r and how to convey it, given the
// server's entropy (nil when the server contributes none; otherwise exactly
// r.KeyBytes() long, e.g. from NewEntropy):
//
//   - client and server entropy: P_SHA1(client entropy, server entropy),
//     r.KeyBytes() long (ProofComputed);
//   - server entropy only: the server's entropy (ProofSecret);
//   - client entropy only: the client's entropy, which must then be 16 to 64
//     bytes (ProofNone).
//
// A ComputedKeyAlgorithm without client entropy, or no entropy at all, is
// refused. Errors are *Fault.
func ComputeKey(r *RST, serverEntropy []byte) (*Proof, error) {
	v := r.Version
	if serverEntropy != nil && len(serverEntropy) != r.KeyBytes() {
		return nil, trustFault(v, RequestFailed, "server entropy of %d bytes for a key of %d", len(serverEntropy), r.KeyBytes())
	}
	if r.ComputedKeyAlgorithm != "" && r.Entropy == nil {
		return nil, trustFault(v, InvalidRequest, "ComputedKeyAlgorithm without client Entropy")
	}
	switch {
	case r.Entropy != nil && serverEntropy != nil:
		return &Proof{Kind: ProofComputed, Key: PSHA1(r.Entropy, serverEntropy, r.KeyBytes()),
			ServerEntropy: serverEntropy, KeySize: r.KeyBytes() * 8}, nil
	case serverEntropy != nil:
		return &Proof{Kind: ProofSecret, Key: serverEntropy, ServerEntropy: serverEntropy, KeySize: len(serverEntropy) * 8}, nil
	case r.Entropy != nil:
		if r.ComputedKeyAlgorithm != "" {
			return nil, trustFault(v, InvalidRequest, "ComputedKeyAlgorithm requested, but this service adds no entropy")
		}
		if len(r.Entropy) < MinKeySize/8 || len(r.Entropy) > MaxKeySize/8 {
			return nil, trustFault(v, InvalidRequest, "client Entropy of %d bytes used as the key: it must be %d to %d bytes", len(r.Entropy), MinKeySize/8, MaxKeySize/8)
		}
		if r.KeySize != 0 && r.KeySize != len(r.Entropy)*8 {
			return nil, trustFault(v, InvalidRequest, "KeySize %d bits, but the client's %d-byte Entropy is the key", r.KeySize, len(r.Entropy))
		}
		return &Proof{Kind: ProofNone, Key: r.Entropy, KeySize: len(r.Entropy) * 8}, nil
	}
	return nil, trustFault(v, InvalidRequest, "no entropy from the client and none from the server")
}

// NewEntropy returns n random bytes.
func NewEntropy(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("wstrust: entropy: %w", err)
	}
	return b, nil
}

// NewUUID returns a random (version 4) UUID in its textual form; a context's
// Identifier is "urn:uuid:" + NewUUID().
func NewUUID() (string, error) {
	b, err := NewEntropy(16)
	if err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
