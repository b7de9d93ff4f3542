package federation

import (
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
)

const batchTag = "liaison-batch-v1"

// signedDigest is what a batch signature covers: the tag, the sender and
// receiver codes (length-prefixed) and the Merkle root.
func signedDigest(sender, receiver string, root []byte) []byte {
	b := []byte(batchTag)
	for _, s := range []string{sender, receiver} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = append(b, root...)
	sum := sha256.Sum256(b)
	return sum[:]
}

// SignRoot signs a batch root with the node's key.
func SignRoot(key crypto.Signer, sender, receiver string, root []byte) ([]byte, error) {
	d := signedDigest(sender, receiver, root)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, k, d)
	case ed25519.PrivateKey:
		return ed25519.Sign(k, d), nil
	}
	return nil, fmt.Errorf("node key of type %T cannot sign batches", key)
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

// Verify checks that signature over root was made by the sender's node:
// the chain verifies against the sender's CA as of at (the time the batch
// was received), and its leaf names the sender's node.
func (c SignerCheck) Verify(receiver string, root, signature []byte, chain [][]byte, at time.Time) error {
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
	d := signedDigest(c.Sender, receiver, root)
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
