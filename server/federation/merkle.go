package federation

import (
	"bytes"
	"crypto/sha256"
	"errors"
)

// A batch is signed once, over the root of a Merkle tree of its envelopes;
// each envelope keeps its path to the root, so it stays verifiable on its
// own. Leaves and inner nodes are hashed with distinct prefixes (as in
// RFC 6962) so a leaf can never pass for an inner node; an unpaired node is
// promoted to the next level unchanged.

// LeafHash is the tree leaf of an envelope's bytes.
func LeafHash(envelope []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(envelope)
	return h.Sum(nil)
}

func nodeHash(l, r []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l)
	h.Write(r)
	return h.Sum(nil)
}

// Proof steps are 33 bytes: a side byte (0 = the sibling is on the left,
// 1 = on the right) and the sibling's hash.
const stepLen = 1 + sha256.Size

// MerkleTree returns the root over leaves and each leaf's proof.
func MerkleTree(leaves [][]byte) (root []byte, proofs [][]byte) {
	if len(leaves) == 0 {
		return nil, nil
	}
	proofs = make([][]byte, len(leaves))
	for i := range proofs {
		proofs[i] = []byte{} // a one-leaf tree has an empty path, not none
	}
	// pos[i] is the index, in the current level, of the node above leaf i.
	pos := make([]int, len(leaves))
	for i := range pos {
		pos[i] = i
	}
	level := leaves
	for len(level) > 1 {
		next := make([][]byte, 0, (len(level)+1)/2)
		for i := 0; i < len(level); i += 2 {
			if i+1 < len(level) {
				next = append(next, nodeHash(level[i], level[i+1]))
			} else {
				next = append(next, level[i])
			}
		}
		for leaf, p := range pos {
			switch {
			case p%2 == 1:
				proofs[leaf] = append(append(proofs[leaf], 0), level[p-1]...)
			case p+1 < len(level):
				proofs[leaf] = append(append(proofs[leaf], 1), level[p+1]...)
			}
			pos[leaf] = p / 2
		}
		level = next
	}
	return level[0], proofs
}

// ErrBadProof is returned for a proof that does not lead to the root.
var ErrBadProof = errors.New("Merkle proof does not lead to the signed root")

// VerifyProof checks that leaf is in the tree with root.
func VerifyProof(leaf, proof, root []byte) error {
	if len(proof)%stepLen != 0 || len(proof) > 64*stepLen {
		return ErrBadProof
	}
	h := leaf
	for i := 0; i < len(proof); i += stepLen {
		sib := proof[i+1 : i+stepLen]
		switch proof[i] {
		case 0:
			h = nodeHash(sib, h)
		case 1:
			h = nodeHash(h, sib)
		default:
			return ErrBadProof
		}
	}
	if !bytes.Equal(h, root) {
		return ErrBadProof
	}
	return nil
}
