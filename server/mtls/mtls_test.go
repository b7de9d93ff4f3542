package mtls_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/liaison-exchange/liaison/certs"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/mtls"
)

// pki is an in-process PKI: alpha (the node's own agency), bravo (its
// partner) and charlie (an agency the node does not know), with alpha's
// node certificate and both trusted CA bundles written to a temp dir.
type pki struct {
	dir                   string
	alpha, bravo, charlie *certs.CA
	alphaNode             *certs.Leaf
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.alpha, p.bravo, p.charlie = newCA(t, "alpha"), newCA(t, "bravo"), newCA(t, "charlie")
	writeBundle(t, p.path("alpha-ca.crt"), p.alpha)
	writeBundle(t, p.path("bravo-ca.crt"), p.bravo)
	p.alphaNode = issue(t, p.alpha, certs.LeafOptions{URI: certs.NodeID("alpha"), Server: true})
	if err := p.alphaNode.WritePair(p.dir, "node"); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// options are alpha's node options, bravo its only partner.
func (p *pki) options() mtls.Options {
	return mtls.Options{
		Own:      mtls.Agency{Code: "alpha", TrustDomain: certs.TrustDomain("alpha"), CAFile: p.path("alpha-ca.crt")},
		Partners: []mtls.Agency{{Code: "bravo", TrustDomain: certs.TrustDomain("bravo"), CAFile: p.path("bravo-ca.crt")}},
		CertFile: p.path("node.crt"),
		KeyFile:  p.path("node.key"),
		Logger:   slog.New(slog.DiscardHandler),
	}
}

func (p *pki) material(t *testing.T, edit ...func(*mtls.Options)) *mtls.Material {
	t.Helper()
	o := p.options()
	for _, e := range edit {
		e(&o)
	}
	m, err := mtls.New(o)
	if err != nil {
		t.Fatalf("mtls.New: %v", err)
	}
	return m
}

func newCA(t *testing.T, agency string) *certs.CA {
	t.Helper()
	ca, err := certs.NewCA(agency)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t *testing.T, ca *certs.CA, o certs.LeafOptions) *certs.Leaf {
	t.Helper()
	l, err := ca.Issue(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// issueURIs signs a certificate (client and server use) carrying exactly
// the given URI SANs, which certs.Issue cannot do for more than one.
func issueURIs(t *testing.T, ca *certs.CA, uris ...string) *certs.Leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "multi"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	for _, s := range uris {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &certs.Leaf{Cert: c, Key: key}
}

// writeBundle replaces a CA bundle file (atomically, with a fresh mtime).
func writeBundle(t *testing.T, path string, cas ...*certs.CA) {
	t.Helper()
	var b []byte
	for _, ca := range cas {
		b = append(b, certs.CertPEM(ca.Cert)...)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, path)
}

// bumpMtime moves a file's mtime forward, so a reload keyed on size and
// mtime sees the change even on a file system with coarse timestamps.
func bumpMtime(t *testing.T, paths ...string) {
	t.Helper()
	fi, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	next := fi.ModTime().Add(2 * time.Second)
	for _, p := range paths {
		if err := os.Chtimes(p, next, next); err != nil {
			t.Fatal(err)
		}
	}
}

func tlsCert(l *certs.Leaf) tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
}

// ---- a real TLS server on loopback ------------------------------------------

// outcome is what the server saw of one connection.
type outcome struct {
	id  identity.Identity
	err error
}

type server struct {
	addr    string
	results chan outcome
}

// serve runs a TLS listener on 127.0.0.1 with cfg. Each connection is
// handshaken; if it succeeds the server identifies the peer with identify
// (nil: no identity needed) and answers "ok\n".
func serve(t *testing.T, cfg *tls.Config, identify func(tls.ConnectionState) (identity.Identity, error)) *server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	s := &server{addr: lis.Addr().String(), results: make(chan outcome, 16)}
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				tc := tls.Server(conn, cfg)
				tc.SetDeadline(time.Now().Add(10 * time.Second))
				var o outcome
				o.err = tc.Handshake()
				if o.err == nil && identify != nil {
					o.id, o.err = identify(tc.ConnectionState())
				}
				if o.err == nil {
					_, o.err = tc.Write([]byte("ok\n"))
				}
				s.results <- o
			}()
		}
	}()
	return s
}

// dial makes one connection with cfg and returns the server's leaf
// certificate, the client's error (handshake, or the server's alert read
// afterwards: in TLS 1.3 the server judges the client certificate after the
// client has finished its side) and what the server saw.
func (s *server) dial(t *testing.T, cfg *tls.Config) (*x509.Certificate, error, outcome) {
	t.Helper()
	leaf, err := func() (*x509.Certificate, error) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.addr, cfg)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line != "ok\n" {
			return nil, fmt.Errorf("server said %q", line)
		}
		return conn.ConnectionState().PeerCertificates[0], nil
	}()
	select {
	case o := <-s.results:
		return leaf, err, o
	case <-time.After(10 * time.Second):
		t.Fatal("server reported nothing about the connection")
		return nil, nil, outcome{}
	}
}

// clientConfig dials alpha's node trusting alpha's CA, presenting the given
// certificate (no argument: no client certificate).
func (p *pki) clientConfig(leaves ...*certs.Leaf) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(p.alpha.Cert)
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13}
	if len(leaves) > 0 {
		// Through the callback, the certificate is sent even when the
		// server does not list its issuer among the acceptable CAs (as
		// cfg.Certificates would not), so the server's own checks are what
		// is tested.
		c := tlsCert(leaves[0])
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	return cfg
}

func serveMaterial(t *testing.T, m *mtls.Material) *server {
	return serve(t, m.ServerConfig(), m.Identify)
}

// ---- server side: who may connect -------------------------------------------

func TestServerConfig_Refuses(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	past := time.Now().Add(-48 * time.Hour)
	revoked := issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "rev"), Serial: big.NewInt(0xdead_beef_01)})
	revokedColons := issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "rev2"), Serial: big.NewInt(0x0a_0b_0c)})

	tests := []struct {
		name string
		why  string // in the server's reason for refusing
		cfg  func() *tls.Config
	}{
		{"NoClientCertificate", "didn't provide a certificate", func() *tls.Config { return p.clientConfig() }},
		{"UnknownCA", "unknown authority", func() *tls.Config {
			return p.clientConfig(issue(t, p.charlie, certs.LeafOptions{URI: certs.PrincipalID("charlie", "analyst", "c")}))
		}},
		{"UnknownCAClaimingOwnAgency", "unknown authority", func() *tls.Config {
			return p.clientConfig(issue(t, p.charlie, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "c")}))
		}},
		{"Expired", "expired", func() *tls.Config {
			return p.clientConfig(issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "old"), NotBefore: past, NotAfter: past.Add(time.Hour)}))
		}},
		{"NotYetValid", "not yet valid", func() *tls.Config {
			future := time.Now().Add(24 * time.Hour)
			return p.clientConfig(issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "new"), NotBefore: future, NotAfter: future.Add(time.Hour)}))
		}},
		{"RevokedSerial", "revoked", func() *tls.Config { return p.clientConfig(revoked) }},
		{"RevokedSerialWithColons", "revoked", func() *tls.Config { return p.clientConfig(revokedColons) }},
		{"PartnerCAAssertingOwnAgency", "issued by the CA of \"bravo", func() *tls.Config {
			// bravo's CA signs a certificate that claims to be alpha's analyst.
			return p.clientConfig(issue(t, p.bravo, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "x")}))
		}},
		{"PartnerCAAssertingOwnNode", "issued by the CA of \"bravo", func() *tls.Config {
			return p.clientConfig(issue(t, p.bravo, certs.LeafOptions{URI: certs.NodeID("alpha"), Server: true}))
		}},
		{"OwnCAAssertingPartnerNode", "issued by the CA of \"alpha", func() *tls.Config {
			return p.clientConfig(issue(t, p.alpha, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true}))
		}},
		{"NoURISAN", "has 0", func() *tls.Config {
			return p.clientConfig(issue(t, p.alpha, certs.LeafOptions{CommonName: "analyst/alice"}))
		}},
		{"TwoURISANs", "has 2", func() *tls.Config {
			return p.clientConfig(issueURIs(t, p.alpha, certs.PrincipalID("alpha", "analyst", "a"), certs.PrincipalID("alpha", "supervisor", "a")))
		}},
		{"UnknownRole", "unknown role", func() *tls.Config {
			return p.clientConfig(issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "admin", "root")}))
		}},
		{"RoleWithoutName", "path must be", func() *tls.Config {
			return p.clientConfig(issue(t, p.alpha, certs.LeafOptions{URI: "spiffe://alpha.liaison.test/analyst"}))
		}},
		{"NodeWithName", "unknown role", func() *tls.Config {
			return p.clientConfig(issue(t, p.alpha, certs.LeafOptions{URI: "spiffe://alpha.liaison.test/node/n1"}))
		}},
		{"PercentEncodedName", "invalid principal name", func() *tls.Config {
			// Would be read as analyst "alice" but recorded under another
			// spelling of the ID.
			return p.clientConfig(issue(t, p.alpha, certs.LeafOptions{URI: "spiffe://alpha.liaison.test/analyst/al%69ce"}))
		}},
		{"NotSPIFFE", "not a SPIFFE ID", func() *tls.Config {
			return p.clientConfig(issue(t, p.alpha, certs.LeafOptions{URI: "https://alpha.liaison.test/analyst/alice"}))
		}},
		{"TLS12Only", "unsupported versions", func() *tls.Config {
			cfg := p.clientConfig(issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "a")}))
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return cfg
		}},
	}
	m := p.material(t, func(o *mtls.Options) {
		o.Revoked = []mtls.Revoked{{Agency: "alpha", Serial: revoked.Cert.SerialNumber.Text(16)}, {Agency: "alpha", Serial: "0x0A:0B:0C"}}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := serveMaterial(t, m)
			_, cerr, o := s.dial(t, tt.cfg())
			if o.err == nil {
				t.Fatalf("server accepted the connection as %+v", o.id)
			}
			if cerr == nil {
				t.Fatalf("client completed a connection the server refused (%v)", o.err)
			}
			if !strings.Contains(o.err.Error(), tt.why) {
				t.Errorf("refused for another reason than expected (%q): %v", tt.why, o.err)
			}
		})
	}
}

func TestServerConfig_Identifies(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	m := p.material(t)
	tests := []struct {
		name string
		leaf *certs.Leaf
		want identity.Identity
	}{
		{"OwnAnalyst", issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "alice")}),
			identity.Identity{Agency: "alpha", Role: identity.Analyst, Name: "alice", ID: "spiffe://alpha.liaison.test/analyst/alice"}},
		{"OwnSupervisor", issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "supervisor", "sam")}),
			identity.Identity{Agency: "alpha", Role: identity.Supervisor, Name: "sam", ID: "spiffe://alpha.liaison.test/supervisor/sam"}},
		{"OwnNode", p.alphaNode,
			identity.Identity{Agency: "alpha", Role: identity.Node, ID: "spiffe://alpha.liaison.test/node"}},
		{"PartnerNode", issue(t, p.bravo, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true}),
			identity.Identity{Agency: "bravo", Role: identity.Node, ID: "spiffe://bravo.liaison.test/node", Partner: true}},
		// A partner's analyst is who it says it is; the authorization table,
		// not the handshake, keeps it out of everything.
		{"PartnerAnalyst", issue(t, p.bravo, certs.LeafOptions{URI: certs.PrincipalID("bravo", "analyst", "bob")}),
			identity.Identity{Agency: "bravo", Role: identity.Analyst, Name: "bob", ID: "spiffe://bravo.liaison.test/analyst/bob", Partner: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := serveMaterial(t, m)
			leaf, cerr, o := s.dial(t, p.clientConfig(tt.leaf))
			if o.err != nil || cerr != nil {
				t.Fatalf("refused: server %v, client %v", o.err, cerr)
			}
			if diff := cmp.Diff(tt.want, o.id); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if leaf.SerialNumber.Cmp(p.alphaNode.Cert.SerialNumber) != 0 {
				t.Errorf("server presented serial %x, want the node certificate %x", leaf.SerialNumber, p.alphaNode.Cert.SerialNumber)
			}
		})
	}
}

func TestServerConfig_SetRevokedAtRuntime(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	m := p.material(t)
	s := serveMaterial(t, m)
	analyst := issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "alice")})
	partner := issue(t, p.bravo, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true})

	for _, l := range []*certs.Leaf{analyst, partner} {
		if _, cerr, o := s.dial(t, p.clientConfig(l)); o.err != nil || cerr != nil {
			t.Fatalf("before revocation: server %v, client %v", o.err, cerr)
		}
	}
	changed := m.RevocationChanged()
	if err := m.SetRevoked([]mtls.Revoked{{Agency: "alpha", Serial: analyst.Cert.SerialNumber.Text(16)}, {Agency: "bravo", Serial: strings.ToUpper(partner.Cert.SerialNumber.Text(16))}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Error("RevocationChanged was not signalled")
	}
	for _, l := range []*certs.Leaf{analyst, partner} {
		if _, _, o := s.dial(t, p.clientConfig(l)); o.err == nil {
			t.Errorf("after revocation %s is still accepted", l.Cert.URIs[0])
		}
	}
	if err := m.SetRevoked(nil); err != nil {
		t.Fatal(err)
	}
	if _, cerr, o := s.dial(t, p.clientConfig(analyst)); o.err != nil || cerr != nil {
		t.Errorf("after the revocation list was cleared: server %v, client %v", o.err, cerr)
	}
	if err := m.SetRevoked([]mtls.Revoked{{Agency: "alpha", Serial: "not-hex"}}); err == nil {
		t.Error("SetRevoked accepted a serial that is not hex")
	}
	if err := m.SetRevoked([]mtls.Revoked{{Agency: "delta", Serial: "0a"}}); err == nil {
		t.Error("SetRevoked accepted an agency that is neither the own nor a partner")
	}
}

func TestNew_BadMaterial(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	if err := os.WriteFile(p.path("garbage.pem"), []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*mtls.Options)
	}{
		{"MissingCert", func(o *mtls.Options) { o.CertFile = p.path("nope.crt") }},
		{"KeyOfAnotherCert", func(o *mtls.Options) {
			other := issue(t, p.alpha, certs.LeafOptions{URI: certs.NodeID("alpha")})
			if err := other.WritePair(p.dir, "other"); err != nil {
				t.Fatal(err)
			}
			o.KeyFile = p.path("other.key")
		}},
		{"GarbageCABundle", func(o *mtls.Options) { o.Partners[0].CAFile = p.path("garbage.pem") }},
		{"MissingOwnCABundle", func(o *mtls.Options) { o.Own.CAFile = p.path("nope.crt") }},
		{"BadRevokedSerial", func(o *mtls.Options) { o.Revoked = []mtls.Revoked{{Agency: "alpha", Serial: "12:zz"}} }},
		{"RevokedOfUnknownAgency", func(o *mtls.Options) { o.Revoked = []mtls.Revoked{{Agency: "delta", Serial: "12"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := p.options()
			o.Partners = append([]mtls.Agency(nil), o.Partners...)
			tt.edit(&o)
			if _, err := mtls.New(o); err == nil {
				t.Error("mtls.New accepted it")
			}
		})
	}
}

// ---- rotation ---------------------------------------------------------------

func TestServerConfig_RotatesNodeCertificate(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	m := p.material(t)
	s := serveMaterial(t, m)
	analyst := p.clientConfig(issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "alice")}))

	leaf, cerr, o := s.dial(t, analyst)
	if o.err != nil || cerr != nil {
		t.Fatalf("first connection: server %v, client %v", o.err, cerr)
	}
	if leaf.SerialNumber.Cmp(p.alphaNode.Cert.SerialNumber) != 0 {
		t.Fatalf("first connection saw serial %x, want %x", leaf.SerialNumber, p.alphaNode.Cert.SerialNumber)
	}

	renewed := issue(t, p.alpha, certs.LeafOptions{URI: certs.NodeID("alpha"), Server: true})
	if err := renewed.WritePair(p.dir, "node"); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, p.path("node.crt"), p.path("node.key"))

	leaf, cerr, o = s.dial(t, analyst)
	if o.err != nil || cerr != nil {
		t.Fatalf("after rotation: server %v, client %v", o.err, cerr)
	}
	if leaf.SerialNumber.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Errorf("after rotation a new connection saw serial %x, want the renewed %x", leaf.SerialNumber, renewed.Cert.SerialNumber)
	}
	if c, err := m.Certificate(); err != nil || c.Leaf.SerialNumber.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Errorf("Material.Certificate after rotation: %v, %v", c, err)
	}

	// A rotation half done (a key that does not match) keeps the last good
	// pair in service rather than breaking every handshake.
	if err := os.WriteFile(p.path("node.key"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, p.path("node.key"))
	leaf, cerr, o = s.dial(t, analyst)
	if o.err != nil || cerr != nil {
		t.Fatalf("with a broken key file on disk: server %v, client %v", o.err, cerr)
	}
	if leaf.SerialNumber.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Errorf("with a broken key file on disk the server presented %x, want the last good %x", leaf.SerialNumber, renewed.Cert.SerialNumber)
	}
}

func TestServerConfig_RotatesPartnerCABundle(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	m := p.material(t)
	s := serveMaterial(t, m)
	bravo2 := newCA(t, "bravo")
	node2 := p.clientConfig(issue(t, bravo2, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true}))

	if _, _, o := s.dial(t, node2); o.err == nil {
		t.Fatalf("a certificate of bravo's new CA was accepted before the CA was in the bundle: %+v", o.id)
	}

	writeBundle(t, p.path("bravo-ca.crt"), p.bravo, bravo2)
	_, cerr, o := s.dial(t, node2)
	if o.err != nil || cerr != nil {
		t.Fatalf("after adding bravo's new CA to the bundle: server %v, client %v", o.err, cerr)
	}
	want := identity.Identity{Agency: "bravo", Role: identity.Node, ID: certs.NodeID("bravo"), Partner: true}
	if diff := cmp.Diff(want, o.id); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}

	// Taking the old CA out of the bundle stops its certificates.
	writeBundle(t, p.path("bravo-ca.crt"), bravo2)
	old := p.clientConfig(issue(t, p.bravo, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true}))
	if _, _, o := s.dial(t, old); o.err == nil {
		t.Errorf("a certificate of bravo's removed CA is still accepted as %+v", o.id)
	}
}

// ---- client side: dialling a partner -----------------------------------------

func TestPartnerClientConfig(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	alpha := p.material(t)
	past := time.Now().Add(-48 * time.Hour)

	tests := []struct {
		name   string
		server *certs.Leaf // what "bravo's node" presents
		// why is in the reason alpha refuses the server; "" if it accepts.
		why string
	}{
		{"PartnerNode", issue(t, p.bravo, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true}), ""},
		{"PartnerAnalystWithServerUse", issue(t, p.bravo, certs.LeafOptions{URI: certs.PrincipalID("bravo", "analyst", "bob"), Server: true}), "is not spiffe://bravo.liaison.test/node"},
		{"PartnerAnalystClientCert", issue(t, p.bravo, certs.LeafOptions{URI: certs.PrincipalID("bravo", "analyst", "bob")}), "key usage"},
		{"PartnerNodeWithoutServerUse", issue(t, p.bravo, certs.LeafOptions{URI: certs.NodeID("bravo")}), "key usage"},
		{"PartnerNodeSignedByUnknownCA", issue(t, p.charlie, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true}), "unknown authority"},
		{"PartnerNodeSignedByOwnCA", issue(t, p.alpha, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true}), "unknown authority"},
		{"OwnNode", p.alphaNode, "unknown authority"},
		{"PartnerNodeExpired", issue(t, p.bravo, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true, NotBefore: past, NotAfter: past.Add(time.Hour)}), "expired"},
		{"PartnerNodeTwoURIs", issueURIs(t, p.bravo, certs.NodeID("bravo"), certs.PrincipalID("bravo", "analyst", "bob")), "is not spiffe://bravo.liaison.test/node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := alpha.PartnerClientConfig("bravo")
			if err != nil {
				t.Fatal(err)
			}
			srv := &tls.Config{
				MinVersion:   tls.VersionTLS13,
				Certificates: []tls.Certificate{tlsCert(tt.server)},
				ClientAuth:   tls.RequireAnyClientCert,
			}
			s := serve(t, srv, nil)
			_, cerr, o := s.dial(t, cfg)
			if tt.why == "" {
				if cerr != nil || o.err != nil {
					t.Fatalf("refused: client %v, server %v", cerr, o.err)
				}
				return
			}
			if cerr == nil {
				t.Fatal("alpha's node accepted the server as bravo's node")
			}
			if !strings.Contains(cerr.Error(), tt.why) {
				t.Errorf("refused for another reason than expected (%q): %v", tt.why, cerr)
			}
		})
	}

	t.Run("RevokedPartnerNode", func(t *testing.T) {
		t.Parallel()
		node := issue(t, p.bravo, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true})
		m := p.material(t, func(o *mtls.Options) {
			o.Revoked = []mtls.Revoked{{Agency: "bravo", Serial: node.Cert.SerialNumber.Text(16)}}
		})
		cfg, err := m.PartnerClientConfig("bravo")
		if err != nil {
			t.Fatal(err)
		}
		s := serve(t, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{tlsCert(node)}, ClientAuth: tls.RequireAnyClientCert}, nil)
		if _, cerr, _ := s.dial(t, cfg); cerr == nil || !strings.Contains(cerr.Error(), "revoked") {
			t.Errorf("a revoked partner node certificate: got %v, want refused as revoked", cerr)
		}
	})

	t.Run("NotAPartner", func(t *testing.T) {
		t.Parallel()
		for _, a := range []string{"charlie", "alpha", ""} {
			if _, err := alpha.PartnerClientConfig(a); err == nil {
				t.Errorf("PartnerClientConfig(%q) succeeded", a)
			}
		}
	})

	// Both ends real: bravo's node (its own Material) answers, and
	// identifies alpha's node as its partner from the client certificate
	// alpha presents.
	t.Run("NodeToNode", func(t *testing.T) {
		t.Parallel()
		bdir := t.TempDir()
		bnode := issue(t, p.bravo, certs.LeafOptions{URI: certs.NodeID("bravo"), Server: true})
		if err := bnode.WritePair(bdir, "node"); err != nil {
			t.Fatal(err)
		}
		bravo, err := mtls.New(mtls.Options{
			Own:      mtls.Agency{Code: "bravo", TrustDomain: certs.TrustDomain("bravo"), CAFile: p.path("bravo-ca.crt")},
			Partners: []mtls.Agency{{Code: "alpha", TrustDomain: certs.TrustDomain("alpha"), CAFile: p.path("alpha-ca.crt")}},
			CertFile: filepath.Join(bdir, "node.crt"), KeyFile: filepath.Join(bdir, "node.key"),
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		s := serveMaterial(t, bravo)
		cfg, err := alpha.PartnerClientConfig("bravo")
		if err != nil {
			t.Fatal(err)
		}
		leaf, cerr, o := s.dial(t, cfg)
		if cerr != nil || o.err != nil {
			t.Fatalf("client %v, server %v", cerr, o.err)
		}
		want := identity.Identity{Agency: "alpha", Role: identity.Node, ID: certs.NodeID("alpha"), Partner: true}
		if diff := cmp.Diff(want, o.id); diff != "" {
			t.Errorf("bravo identified alpha's node as (-want +got):\n%s", diff)
		}
		if leaf.SerialNumber.Cmp(bnode.Cert.SerialNumber) != 0 {
			t.Errorf("alpha saw server serial %x, want bravo's node %x", leaf.SerialNumber, bnode.Cert.SerialNumber)
		}
	})
}

// ---- Identify on its own ------------------------------------------------------

func TestIdentify_NoVerifiedChain(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	m := p.material(t)
	leaf := issue(t, p.alpha, certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "alice")})
	// A connection state whose chain was never verified (e.g. a config
	// that only requested a certificate) identifies nobody.
	_, err := m.Identify(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf.Cert}})
	if err == nil {
		t.Error("Identify accepted an unverified certificate")
	}
	_, err = m.Identify(tls.ConnectionState{})
	if err == nil {
		t.Error("Identify accepted a connection without certificates")
	}
	// A chain that verified against a CA the node does not trust (here:
	// charlie's) is refused even if handed to Identify directly.
	foreign := issue(t, p.charlie, certs.LeafOptions{URI: certs.PrincipalID("charlie", "analyst", "c")})
	_, err = m.Identify(tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{foreign.Cert},
		VerifiedChains:   [][]*x509.Certificate{{foreign.Cert, p.charlie.Cert}},
	})
	if err == nil {
		t.Error("Identify accepted a chain ending in an unknown CA")
	}
}
