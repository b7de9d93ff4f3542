// Package certs makes the X.509 material a Liaison deployment runs on: per
// agency a CA, a node certificate (server and client use) and client
// certificates whose URI SAN carries the principal in SPIFFE form
// (spiffe://<agency>.liaison.test/<role>/<name>).
//
// It is used by `make certs` for the dev PKI and by tests that need a CA of
// their own (expired, foreign or mislabelled certificates included). Keys are
// ECDSA P-256, made with crypto/rand; nothing shells out to openssl.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TrustDomain is the SPIFFE trust domain of an agency.
func TrustDomain(agency string) string { return agency + ".liaison.test" }

// NodeID is the SPIFFE ID of an agency's node.
func NodeID(agency string) string { return "spiffe://" + TrustDomain(agency) + "/node" }

// PrincipalID is the SPIFFE ID of a person or system of an agency.
func PrincipalID(agency, role, name string) string {
	return "spiffe://" + TrustDomain(agency) + "/" + role + "/" + name
}

// CA is a certificate authority with its key.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Leaf is an issued certificate with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// LeafOptions describe a certificate to issue.
type LeafOptions struct {
	// SPIFFE ID placed in the URI SAN; empty for none.
	URI string
	// CommonName is informational only; identity comes from the URI SAN.
	CommonName string
	// Server adds server-auth use and the loopback DNS/IP SANs.
	Server bool
	// NotBefore and NotAfter default to one hour ago and one year ahead.
	NotBefore, NotAfter time.Time
	// Serial defaults to a random 128-bit number.
	Serial *big.Int
}

// NewCA makes a self-signed CA for an agency, valid for ten years.
func NewCA(agency string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Liaison " + agency}, CommonName: agency + " CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue signs a leaf certificate.
func (ca *CA) Issue(o LeafOptions) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	serial := o.Serial
	if serial == nil {
		if serial, err = randomSerial(); err != nil {
			return nil, err
		}
	}
	notBefore, notAfter := o.NotBefore, o.NotAfter
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = time.Now().AddDate(1, 0, 0)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: ca.Cert.Subject.Organization, CommonName: o.CommonName},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if o.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	if o.URI != "" {
		u, err := url.Parse(o.URI)
		if err != nil {
			return nil, fmt.Errorf("parse URI SAN %q: %w", o.URI, err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return &Leaf{Cert: cert, Key: key}, nil
}

// IssueNode issues an agency's node certificate.
func (ca *CA) IssueNode(agency string) (*Leaf, error) {
	return ca.Issue(LeafOptions{URI: NodeID(agency), CommonName: agency + " node", Server: true})
}

// IssueClient issues a certificate for a principal of the agency.
func (ca *CA) IssueClient(agency, role, name string) (*Leaf, error) {
	return ca.Issue(LeafOptions{URI: PrincipalID(agency, role, name), CommonName: role + "/" + name})
}

// CertPEM encodes a certificate as PEM.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// KeyPEM encodes a private key as PKCS#8 PEM.
func KeyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WriteCert writes a certificate PEM file (mode 0644).
func WriteCert(path string, c *x509.Certificate) error {
	return writeFileAtomic(path, CertPEM(c), 0o644)
}

// WritePair writes name.crt (0644) and name.key (0600) into dir.
func (l *Leaf) WritePair(dir, name string) error {
	keyPEM, err := KeyPEM(l.Key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, name+".key"), keyPEM, 0o600); err != nil {
		return err
	}
	return WriteCert(filepath.Join(dir, name+".crt"), l.Cert)
}

// writeFileAtomic replaces path in one rename, so a node reloading its
// certificate never reads half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Roles that get a client certificate in the dev PKI, with the principal
// name each is issued to.
var DevPrincipals = []struct{ Role, Name string }{
	{"analyst", "alice"},
	{"supervisor", "sam"},
	{"auditor", "aud"},
	{"service", "cms"},
}

// WriteAgency creates the dev PKI of one agency in dir/<agency>: ca.crt (and
// ca.key, kept to issue more certificates), node.crt/node.key and a pair per
// entry of DevPrincipals, named after the role.
func WriteAgency(dir, agency string) error {
	adir := filepath.Join(dir, agency)
	if err := os.MkdirAll(adir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", adir, err)
	}
	ca, err := NewCA(agency)
	if err != nil {
		return err
	}
	caKey, err := KeyPEM(ca.Key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(adir, "ca.key"), caKey, 0o600); err != nil {
		return err
	}
	if err := WriteCert(filepath.Join(adir, "ca.crt"), ca.Cert); err != nil {
		return err
	}
	node, err := ca.IssueNode(agency)
	if err != nil {
		return err
	}
	if err := node.WritePair(adir, "node"); err != nil {
		return err
	}
	for _, p := range DevPrincipals {
		leaf, err := ca.IssueClient(agency, p.Role, p.Name)
		if err != nil {
			return err
		}
		if err := leaf.WritePair(adir, p.Role); err != nil {
			return err
		}
	}
	return WriteLogKey(adir, agency)
}

// WriteLogKey creates the node's audit log key (a C2SP signed-note Ed25519
// key named after the agency's trust domain): log.key, the private key the
// node signs its checkpoints and cosignatures with, and log.vkey, the
// verifier key its partners put in their configuration.
func WriteLogKey(dir, agency string) error {
	skey, vkey, err := note.GenerateKey(rand.Reader, TrustDomain(agency))
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, "log.key"), []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "log.vkey"), []byte(vkey+"\n"), 0o644)
}

// LoadCA reads a CA certificate and key written by WriteAgency.
func LoadCA(certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("%s: no PEM key", keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New(keyPath + ": not an ECDSA key")
	}
	return &CA{Cert: cert, Key: ek}, nil
}

func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}
