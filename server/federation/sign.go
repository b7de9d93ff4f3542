package federation

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// Batches and receipts are signed with the same node key over the same
// kind of digest, under distinct tags: a signature made for one can never
// pass for the other.
const (
	batchTag    = "liaison-batch-v1"
	receiptsTag = "liaison-receipts-v1"
)

// signedDigest is what a signature covers: the tag, the signing agency and
// the agency addressed (each length-prefixed), the Merkle root, and any
// further fixed-length fields.
func signedDigest(tag, signer, addressee string, root []byte, more ...[]byte) []byte {
	b := []byte(tag)
	for _, s := range []string{signer, addressee} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = append(b, root...)
	for _, m := range more {
		b = append(b, m...)
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// receiptsDigest is what a receipts signature covers: the receiver signs
// the root of its receipts and the highest sequence applied, addressed to
// the sender of the batch they answer.
func receiptsDigest(signer, addressee string, root []byte, highestApplied uint64) []byte {
	return signedDigest(receiptsTag, signer, addressee, root, binary.BigEndian.AppendUint64(nil, highestApplied))
}

func sign(key crypto.Signer, d []byte) ([]byte, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, k, d)
	case ed25519.PrivateKey:
		return ed25519.Sign(k, d), nil
	}
	return nil, fmt.Errorf("node key of type %T cannot sign", key)
}

// SignRoot signs a batch root with the node's key.
func SignRoot(key crypto.Signer, sender, receiver string, root []byte) ([]byte, error) {
	return sign(key, signedDigest(batchTag, sender, receiver, root))
}

// SignReceipts makes the signed form of a receiver's receipts for a batch
// from sender: each receipt serialized deterministically, a Merkle tree
// over them, its root and highestApplied signed once with the node's key.
func SignReceipts(key crypto.Signer, chain [][]byte, receiver, sender string, rs *liaisonv1.Receipts) (*liaisonv1.SignedReceipts, error) {
	raws := make([][]byte, len(rs.GetReceipts()))
	leaves := make([][]byte, len(raws))
	for i, rc := range rs.GetReceipts() {
		b, err := marshalDet.Marshal(rc)
		if err != nil {
			return nil, fmt.Errorf("marshal receipt: %w", err)
		}
		raws[i], leaves[i] = b, LeafHash(b)
	}
	root := emptyRoot
	if len(leaves) > 0 {
		root, _ = MerkleTree(leaves)
	}
	sig, err := sign(key, receiptsDigest(receiver, sender, root, rs.GetHighestApplied()))
	if err != nil {
		return nil, err
	}
	return &liaisonv1.SignedReceipts{Receipts: raws, HighestApplied: rs.GetHighestApplied(),
		Signature: &liaisonv1.ReceiptsSignature{MerkleRoot: root, Signature: sig, SignerChain: chain}}, nil
}

// emptyRoot is the root of an answer without receipts (e.g. to an empty
// batch): SHA-256 of nothing, which no leaf or inner node can equal.
var emptyRoot = func() []byte { s := sha256.Sum256(nil); return s[:] }()

var marshalDet = proto.MarshalOptions{Deterministic: true}

// OpenReceipts checks a receiver's signed receipts, addressed to sender
// (this node), against check (the receiver's CA, as of at) and returns the
// receipts, with the bytes and Merkle path of each as signed.
func OpenReceipts(check SignerCheck, sender string, sr *liaisonv1.SignedReceipts, at time.Time) (*liaisonv1.Receipts, []SignedReceipt, error) {
	sig := sr.GetSignature()
	if sig == nil || len(sig.GetSignature()) == 0 {
		return nil, nil, errors.New("receipts carry no signature")
	}
	leaves := make([][]byte, len(sr.GetReceipts()))
	for i, b := range sr.GetReceipts() {
		leaves[i] = LeafHash(b)
	}
	root, proofs := emptyRoot, [][]byte(nil)
	if len(leaves) > 0 {
		root, proofs = MerkleTree(leaves)
	}
	if !bytes.Equal(root, sig.GetMerkleRoot()) {
		return nil, nil, errors.New("the signed Merkle root does not match the receipts")
	}
	if err := check.VerifyReceipts(sender, root, sr.GetHighestApplied(), sig.GetSignature(), sig.GetSignerChain(), at); err != nil {
		return nil, nil, err
	}
	rs := &liaisonv1.Receipts{HighestApplied: sr.GetHighestApplied()}
	signed := make([]SignedReceipt, len(leaves))
	for i, b := range sr.GetReceipts() {
		rc := &liaisonv1.Receipt{}
		if err := proto.Unmarshal(b, rc); err != nil {
			return nil, nil, fmt.Errorf("signed receipt %d does not decode: %w", i, err)
		}
		rs.Receipts = append(rs.Receipts, rc)
		signed[i] = SignedReceipt{Bytes: b, Proof: proofs[i]}
	}
	return rs, signed, nil
}

// SignedReceipt is one receipt as its receiver signed it, with its path to
// the signed root.
type SignedReceipt struct {
	Bytes, Proof []byte
}

// SignerCheck verifies batch signatures against an agency's CAs.
type SignerCheck struct {
	// CAs are the sender agency's CA certificates.
	CAs []*x509.Certificate
	// Sender is the agency whose node must have signed.
	Sender string
	// TrustDomain is the sender's SPIFFE trust domain.
	TrustDomain string
	// Revoked, if set, reports whether a signer certificate (issued by the
	// sender's CA) is revoked; a batch it signed is refused.
	Revoked func(*x509.Certificate) bool
}

// Verify checks that signature over a batch root was made by the sender's
// node: the chain verifies against the sender's CA as of at (the time the
// batch was received), and its leaf names the sender's node.
func (c SignerCheck) Verify(receiver string, root, signature []byte, chain [][]byte, at time.Time) error {
	return c.verify(signedDigest(batchTag, c.Sender, receiver, root), signature, chain, at)
}

// VerifyReceipts checks that a receipts signature (over root and
// highestApplied, addressed to sender) was made by the node of c.Sender —
// here the agency that received the batch and signs its receipts.
func (c SignerCheck) VerifyReceipts(sender string, root []byte, highestApplied uint64, signature []byte, chain [][]byte, at time.Time) error {
	return c.verify(receiptsDigest(c.Sender, sender, root, highestApplied), signature, chain, at)
}

func (c SignerCheck) verify(d, signature []byte, chain [][]byte, at time.Time) error {
	if len(chain) == 0 {
		return errors.New("no signer certificate")
	}
	certs0 := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("signer certificate: %w", err)
		}
		certs0[i] = cert
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, ca := range c.CAs {
		roots.AddCert(ca)
	}
	for _, ic := range certs0[1:] {
		inter.AddCert(ic)
	}
	leaf := certs0[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("signer certificate does not chain to %s's CA: %w", c.Sender, err)
	}
	want := "spiffe://" + c.TrustDomain + "/node"
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != want {
		return fmt.Errorf("signer certificate is not %s", want)
	}
	if c.Revoked != nil && c.Revoked(leaf) {
		return fmt.Errorf("signer certificate serial %s of %s's CA is revoked", leaf.SerialNumber.Text(16), c.Sender)
	}
	switch pub := leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, d, signature) {
			return errors.New("signature does not verify")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, d, signature) {
			return errors.New("signature does not verify")
		}
	default:
		return fmt.Errorf("signer key of type %T is not supported", pub)
	}
	return nil
}
