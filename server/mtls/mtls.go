// Package mtls holds a node's TLS material and decides who a peer is.
//
// Everything is read through callbacks (GetCertificate, GetConfigForClient,
// GetClientCertificate, VerifyConnection), and files are re-read when they
// change on disk, so certificates and CA bundles rotate without a restart.
// TLS 1.3 only; client certificates are always required and verified.
package mtls

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/liaison-exchange/liaison/server/identity"
)

// Agency is an agency whose CA the node trusts.
type Agency struct {
	Code string
	// TrustDomain is the SPIFFE trust domain its certificates must name.
	TrustDomain string
	// CAFile is a PEM bundle of the agency's CA certificates.
	CAFile string
}

// Options configure a node's TLS material.
type Options struct {
	Own      Agency
	Partners []Agency
	CertFile string
	KeyFile  string
	// Revoked are certificates refused even though their chain verifies.
	Revoked []Revoked
	Logger  *slog.Logger
}

// Revoked names a revoked certificate by the agency whose CA issued it and
// its serial number (hex, "0x" and colons optional): a serial is unique
// only per issuer, so another agency's certificate with the same serial
// stays valid.
type Revoked struct {
	Agency string
	Serial string
}

// revokedKey is a revoked certificate: issuer agency and serial (lower-case
// hex, no leading zeros).
type revokedKey struct{ agency, serial string }

// Material is the node's certificate and trust anchors. It is safe for
// concurrent use.
type Material struct {
	own      Agency
	agencies []Agency // own first
	log      *slog.Logger

	mu      sync.Mutex
	pair    *reloading[*tls.Certificate]
	cas     map[string]*reloading[[]*x509.Certificate] // by agency code
	pool    *x509.CertPool
	poolGen string // fingerprint of the CA set the pool was built from
	revoked map[revokedKey]bool
	// revChanged is closed (and replaced) whenever the revocation list
	// changes, so that open streams can check their caller again.
	revChanged chan struct{}
	lastWarn   time.Time
}

// New loads the material once, so a bad path or file fails start-up with a
// clear error rather than the first handshake.
func New(o Options) (*Material, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m := &Material{
		own:        o.Own,
		agencies:   append([]Agency{o.Own}, o.Partners...),
		log:        o.Logger,
		cas:        map[string]*reloading[[]*x509.Certificate]{},
		revChanged: make(chan struct{}),
	}
	if err := m.SetRevoked(o.Revoked); err != nil {
		return nil, err
	}
	m.pair = newReloading([]string{o.CertFile, o.KeyFile}, func(b [][]byte) (*tls.Certificate, error) {
		c, err := tls.X509KeyPair(b[0], b[1])
		if err != nil {
			return nil, err
		}
		return &c, nil
	})
	if _, err := m.pair.get(); err != nil { // at start-up a bad file is fatal
		return nil, fmt.Errorf("node certificate %s / %s: %w", o.CertFile, o.KeyFile, err)
	}
	for _, a := range m.agencies {
		r := newReloading([]string{a.CAFile}, func(b [][]byte) ([]*x509.Certificate, error) { return parseCerts(b[0]) })
		if _, err := r.get(); err != nil {
			return nil, fmt.Errorf("CA bundle of %s (%s): %w", a.Code, a.CAFile, err)
		}
		m.cas[a.Code] = r
	}
	return m, nil
}

// SetRevoked replaces the revocation list. Connections check it at their
// handshake and at every call; open streams are told through
// RevocationChanged.
func (m *Material) SetRevoked(list []Revoked) error {
	rev := map[revokedKey]bool{}
	for _, r := range list {
		if m.agency(r.Agency) == nil {
			return fmt.Errorf("revoked serial %q: agency %q is neither the own agency nor a partner", r.Serial, r.Agency)
		}
		n, ok := new(big.Int).SetString(strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(r.Serial), "0x"), ":", ""), 16)
		if !ok {
			return fmt.Errorf("revoked serial %q (agency %s) is not a hex number", r.Serial, r.Agency)
		}
		rev[revokedKey{r.Agency, n.Text(16)}] = true
	}
	m.mu.Lock()
	m.revoked = rev
	close(m.revChanged)
	m.revChanged = make(chan struct{})
	m.mu.Unlock()
	return nil
}

// RevocationChanged returns a channel that is closed the next time the
// revocation list is replaced.
func (m *Material) RevocationChanged() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.revChanged
}

// IsRevoked reports whether c, issued by agency's CA, is revoked.
func (m *Material) IsRevoked(agency string, c *x509.Certificate) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.revoked[revokedKey{agency, c.SerialNumber.Text(16)}]
}

// Certificate returns the node's current certificate and key.
func (m *Material) Certificate() (*tls.Certificate, error) {
	return current(m, "node certificate", m.pair)
}

// Signer returns the node's private key and certificate chain, used to sign
// federation envelopes.
func (m *Material) Signer() (crypto.Signer, []*x509.Certificate, error) {
	c, err := m.Certificate()
	if err != nil {
		return nil, nil, err
	}
	signer, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("node key cannot sign")
	}
	chain := make([]*x509.Certificate, 0, len(c.Certificate))
	for _, der := range c.Certificate {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, err
		}
		chain = append(chain, cert)
	}
	return signer, chain, nil
}

// CAs returns the current CA certificates of an agency.
func (m *Material) CAs(agency string) ([]*x509.Certificate, error) {
	r, ok := m.cas[agency]
	if !ok {
		return nil, fmt.Errorf("agency %q is not configured", agency)
	}
	return current(m, "CA bundle of "+agency, r)
}

// current returns the latest good value of r. When the files changed but no
// longer parse (a rotation half done), the last good value stays in use and
// the problem is logged.
func current[T any](m *Material, what string, r *reloading[T]) (T, error) {
	v, err := r.get()
	var stale *staleError
	if errors.As(err, &stale) {
		m.warn(what, stale.err)
		return v, nil
	}
	if err != nil {
		m.warn(what, err)
	}
	return v, err
}

// ServerConfig is the listener's TLS configuration.
func (m *Material) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			pool, err := m.clientPool()
			if err != nil {
				return nil, err
			}
			return &tls.Config{
				MinVersion:     tls.VersionTLS13,
				ClientAuth:     tls.RequireAndVerifyClientCert,
				ClientCAs:      pool,
				GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return m.Certificate() },
				VerifyConnection: func(cs tls.ConnectionState) error {
					_, err := m.Identify(cs)
					return err
				},
			}, nil
		},
	}
}

// PartnerClientConfig is the configuration for dialling a partner's node: it
// presents this node's certificate and accepts only a server certificate
// that chains to the partner's CA and names the partner's node.
func (m *Material) PartnerClientConfig(partner string) (*tls.Config, error) {
	var td string
	for _, a := range m.agencies[1:] {
		if a.Code == partner {
			td = a.TrustDomain
		}
	}
	if td == "" {
		return nil, fmt.Errorf("agency %q is not a configured partner", partner)
	}
	want := "spiffe://" + td + "/node"
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return m.Certificate() },
		// The chain is verified below against the partner's current CA
		// bundle (not the system roots, and re-read on rotation), and the
		// peer must be the partner's node by its SPIFFE ID, not a hostname.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("partner presented no certificate")
			}
			cas, err := m.CAs(partner)
			if err != nil {
				return err
			}
			roots := x509.NewCertPool()
			for _, c := range cas {
				roots.AddCert(c)
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			leaf := cs.PeerCertificates[0]
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				return fmt.Errorf("partner %s: %w", partner, err)
			}
			if len(leaf.URIs) != 1 || leaf.URIs[0].String() != want {
				return fmt.Errorf("partner %s: server certificate is not %s", partner, want)
			}
			if m.IsRevoked(partner, leaf) {
				return fmt.Errorf("partner %s: server certificate serial %s is revoked", partner, leaf.SerialNumber.Text(16))
			}
			return nil
		},
	}, nil
}

// Identify says who the peer of a verified connection is. The agency is
// the one whose CA the verified chain ends in — never what the certificate
// says about itself — and the certificate's SPIFFE ID must belong to that
// agency's trust domain.
func (m *Material) Identify(cs tls.ConnectionState) (identity.Identity, error) {
	if len(cs.PeerCertificates) == 0 || len(cs.VerifiedChains) == 0 {
		return identity.Identity{}, errors.New("no verified client certificate")
	}
	agency := ""
	for _, chain := range cs.VerifiedChains {
		a := m.agencyOfRoot(chain[len(chain)-1])
		if a == nil {
			return identity.Identity{}, errors.New("certificate chain ends in an unknown CA")
		}
		if agency != "" && agency != a.Code {
			return identity.Identity{}, errors.New("certificate chains to the CAs of more than one agency")
		}
		agency = a.Code
	}
	a := m.agency(agency)
	leaf := cs.PeerCertificates[0]
	if m.IsRevoked(a.Code, leaf) {
		return identity.Identity{}, fmt.Errorf("certificate serial %s of %s's CA is revoked", leaf.SerialNumber.Text(16), a.Code)
	}
	if len(leaf.URIs) != 1 {
		return identity.Identity{}, fmt.Errorf("certificate must carry exactly one URI SAN (a SPIFFE ID), has %d", len(leaf.URIs))
	}
	role, name, err := identity.Parse(leaf.URIs[0], a.TrustDomain)
	if err != nil {
		return identity.Identity{}, err
	}
	return identity.Identity{
		Agency:  a.Code,
		Role:    role,
		Name:    name,
		ID:      leaf.URIs[0].String(),
		Partner: a.Code != m.own.Code,
	}, nil
}

func (m *Material) agency(code string) *Agency {
	for i := range m.agencies {
		if m.agencies[i].Code == code {
			return &m.agencies[i]
		}
	}
	return nil
}

func (m *Material) agencyOfRoot(root *x509.Certificate) *Agency {
	for i, a := range m.agencies {
		cas, err := m.CAs(a.Code)
		if err != nil {
			continue
		}
		for _, c := range cas {
			if bytes.Equal(c.Raw, root.Raw) {
				return &m.agencies[i]
			}
		}
	}
	return nil
}

// clientPool is the union of every trusted agency's CAs, rebuilt when a
// bundle changes on disk.
func (m *Material) clientPool() (*x509.CertPool, error) {
	var all []*x509.Certificate
	var gen strings.Builder
	for _, a := range m.agencies {
		cas, err := m.CAs(a.Code)
		if err != nil {
			return nil, err
		}
		for _, c := range cas {
			all = append(all, c)
			gen.Write(c.Signature)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pool == nil || m.poolGen != gen.String() {
		pool := x509.NewCertPool()
		for _, c := range all {
			pool.AddCert(c)
		}
		m.pool, m.poolGen = pool, gen.String()
	}
	return m.pool, nil
}

// warn logs a reload failure at most once a minute; the last good material
// stays in use.
func (m *Material) warn(what string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.lastWarn) > time.Minute {
		m.lastWarn = time.Now()
		m.log.Warn("TLS material could not be reloaded", "what", what, "err", err)
	}
}

// ReadCAs reads a PEM bundle of CA certificates.
func ReadCAs(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCerts(b)
}

func parseCerts(pemBytes []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, pemBytes = pem.Decode(pemBytes)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificates")
	}
	return out, nil
}

// reloading is a value parsed from files, re-parsed when any file's size or
// modification time changes. A file that no longer parses keeps the last
// good value in use and reports the error.
type reloading[T any] struct {
	paths []string
	parse func([][]byte) (T, error)

	mu    sync.Mutex
	stamp string
	val   T
	ok    bool
}

func newReloading[T any](paths []string, parse func([][]byte) (T, error)) *reloading[T] {
	return &reloading[T]{paths: paths, parse: parse}
}

func (r *reloading[T]) get() (T, error) {
	var stamp strings.Builder
	for _, p := range r.paths {
		fi, err := os.Stat(p)
		if err != nil {
			return r.fallback(err)
		}
		fmt.Fprintf(&stamp, "%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ok && r.stamp == stamp.String() {
		return r.val, nil
	}
	data := make([][]byte, len(r.paths))
	for i, p := range r.paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return r.fallbackLocked(err)
		}
		data[i] = b
	}
	v, err := r.parse(data)
	if err != nil {
		return r.fallbackLocked(err)
	}
	r.val, r.ok, r.stamp = v, true, stamp.String()
	return v, nil
}

func (r *reloading[T]) fallback(err error) (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fallbackLocked(err)
}

// staleError reports that the files changed but the last good value is
// still in use.
type staleError struct{ err error }

func (e *staleError) Error() string { return "stale: " + e.err.Error() }

func (r *reloading[T]) fallbackLocked(err error) (T, error) {
	if r.ok {
		return r.val, &staleError{err}
	}
	var zero T
	return zero, err
}
