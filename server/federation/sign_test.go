package federation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/liaison-exchange/liaison/certs"
	"github.com/liaison-exchange/liaison/server/store"
)

// signTestCert issues a certificate of ca for pub naming uri, valid from
// notBefore to notAfter.
func signTestCert(t *testing.T, ca *certs.CA, pub crypto.PublicKey, uri string, notBefore, notAfter time.Time) []byte {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test"},
		NotBefore: notBefore, NotAfter: notAfter, URIs: []*url.URL{u},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestSignerCheck_Verify(t *testing.T) {
	t.Parallel()
	bravo, err := certs.NewCA("bravo")
	if err != nil {
		t.Fatal(err)
	}
	charlie, err := certs.NewCA("charlie")
	if err != nil {
		t.Fatal(err)
	}
	check := SignerCheck{CAs: []*x509.Certificate{bravo.Cert}, Sender: "bravo", TrustDomain: certs.TrustDomain("bravo")}
	now := time.Now()
	node := certs.NodeID("bravo")
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	valid := signTestCert(t, bravo, &ecKey.PublicKey, node, now.Add(-time.Hour), now.Add(time.Hour))
	// The CA is valid from an hour ago; the node certificate expired since.
	expired := signTestCert(t, bravo, &ecKey.PublicKey, node, now.Add(-50*time.Minute), now.Add(-10*time.Minute))
	edCert := signTestCert(t, bravo, edPub, node, now.Add(-time.Hour), now.Add(time.Hour))
	// A node certificate of bravo's revoked since (its key may be stolen).
	revoked := signTestCert(t, bravo, &ecKey.PublicKey, node, now.Add(-time.Hour), now.Add(time.Hour))
	check.Revoked = func(c *x509.Certificate) bool { return string(c.Raw) == string(revoked) }
	sum := sha256.Sum256([]byte("root"))
	root := sum[:]
	sign := func(k crypto.Signer, sender, receiver string) []byte {
		t.Helper()
		s, err := SignRoot(k, sender, receiver, root)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name     string
		receiver string
		sig      []byte
		chain    [][]byte
		at       time.Time
		wantErr  string // "" for success
	}{
		{"ECDSA node key", "alpha", sign(ecKey, "bravo", "alpha"), [][]byte{valid}, now, ""},
		{"Ed25519 node key", "alpha", sign(edKey, "bravo", "alpha"), [][]byte{edCert}, now, ""},
		{"node certificate with the CA appended", "alpha", sign(ecKey, "bravo", "alpha"), [][]byte{valid, bravo.Cert.Raw}, now, ""},
		{"expired since, checked as of receipt", "alpha", sign(ecKey, "bravo", "alpha"), [][]byte{expired}, now.Add(-30 * time.Minute), ""},
		{"expired at receipt", "alpha", sign(ecKey, "bravo", "alpha"), [][]byte{expired}, now, "does not chain"},
		{"not yet valid at receipt", "alpha", sign(ecKey, "bravo", "alpha"), [][]byte{valid}, now.Add(-2 * time.Hour), "does not chain"},
		{"signed for another receiver", "alpha", sign(ecKey, "bravo", "charlie"), [][]byte{valid}, now, "signature does not verify"},
		{"checked as another receiver", "charlie", sign(ecKey, "bravo", "alpha"), [][]byte{valid}, now, "signature does not verify"},
		{"signed as another sender", "alpha", sign(ecKey, "charlie", "alpha"), [][]byte{valid}, now, "signature does not verify"},
		{"Ed25519 signature under the ECDSA certificate", "alpha", sign(edKey, "bravo", "alpha"), [][]byte{valid}, now, "signature does not verify"},
		{"another CA", "alpha", sign(ecKey, "bravo", "alpha"), [][]byte{signTestCert(t, charlie, &ecKey.PublicKey, node, now.Add(-time.Hour), now.Add(time.Hour))}, now, "does not chain"},
		{"bravo's analyst", "alpha", sign(ecKey, "bravo", "alpha"), [][]byte{signTestCert(t, bravo, &ecKey.PublicKey, certs.PrincipalID("bravo", "analyst", "bob"), now.Add(-time.Hour), now.Add(time.Hour))}, now, "is not spiffe://bravo.liaison.test/node"},
		{"another agency's node ID", "alpha", sign(ecKey, "bravo", "alpha"), [][]byte{signTestCert(t, bravo, &ecKey.PublicKey, certs.NodeID("alpha"), now.Add(-time.Hour), now.Add(time.Hour))}, now, "is not spiffe://bravo.liaison.test/node"},
		{"the CA certificate itself", "alpha", sign(bravo.Key, "bravo", "alpha"), [][]byte{bravo.Cert.Raw}, now, "is not spiffe://bravo.liaison.test/node"},
		{"revoked signer certificate", "alpha", sign(ecKey, "bravo", "alpha"), [][]byte{revoked}, now, "is revoked"},
		{"no chain", "alpha", sign(ecKey, "bravo", "alpha"), nil, now, "no signer certificate"},
		{"garbage chain", "alpha", sign(ecKey, "bravo", "alpha"), [][]byte{[]byte("garbage")}, now, "signer certificate"},
		{"empty signature", "alpha", nil, [][]byte{valid}, now, "signature does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := check.Verify(tc.receiver, root, tc.sig, tc.chain, tc.at)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Verify: %v, want success", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("Verify succeeded, want an error saying %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("Verify: %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
	t.Run("other root", func(t *testing.T) {
		other := sha256.Sum256([]byte("other"))
		if err := check.Verify("alpha", other[:], sign(ecKey, "bravo", "alpha"), [][]byte{valid}, now); err == nil {
			t.Fatal("a signature over one root verifies another")
		}
	})
	t.Run("unsupported key", func(t *testing.T) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := SignRoot(k, "bravo", "alpha", root); err == nil {
			t.Fatal("SignRoot with an RSA key succeeded")
		}
	})
}

func TestFitBytes(t *testing.T) {
	items := func(sizes ...int) []store.OutboxItem {
		out := make([]store.OutboxItem, len(sizes))
		for i, n := range sizes {
			out[i].Envelope = make([]byte, n)
		}
		return out
	}
	for _, c := range []struct {
		sizes []int
		max   int
		want  int
	}{
		{[]int{10, 10, 10}, 100, 3},
		{[]int{10, 10, 10}, 20, 2},
		{[]int{10, 10, 10}, 19, 1},
		{[]int{50, 1}, 10, 1}, // one item over the bound still goes alone
		{nil, 10, 0},
	} {
		if got := len(fitBytes(items(c.sizes...), c.max)); got != c.want {
			t.Errorf("fitBytes(%v, %d) kept %d items, want %d", c.sizes, c.max, got, c.want)
		}
	}
}
