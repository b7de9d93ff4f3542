package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// hygSerial reads the serial number of a PEM certificate file, in hex.
func hygSerial(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", certFile)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16)
}

// TestHygiene_RevocationKeyedByIssuer: a serial number is unique only per
// issuing CA. Two agencies' CAs issue certificates with the same serial;
// revoking it under bravo refuses bravo's certificate and leaves alpha's
// alone, and the other way round.
func TestHygiene_RevocationKeyedByIssuer(t *testing.T) {
	t.Parallel()
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	n := nodetest.Start(t, pki, cfg, nil)
	serial := big.NewInt(0x5eed1e55)
	pki.Issue(t, "alpha", "same-serial", certs.LeafOptions{URI: certs.PrincipalID("alpha", "analyst", "clash"), Serial: serial})
	pki.Issue(t, "bravo", "same-serial", certs.LeafOptions{URI: certs.NodeID("bravo"), Serial: serial})

	health := func(agency string) error {
		// A fresh connection each time: the handshake is what is refused.
		conn := nodetest.Dial(t, pki, n.Addr(), agency, "same-serial", "alpha")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if agency == "alpha" {
			_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}
		// bravo's node may open the federation channel: a Welcome answers
		// its Hello.
		stream, err := liaisonv1.NewFederationServiceClient(conn).Exchange(ctx)
		if err != nil {
			return err
		}
		if err := stream.Send(&liaisonv1.ExchangeRequest{Msg: &liaisonv1.ExchangeRequest_Hello{Hello: &liaisonv1.Hello{Sender: "bravo", Receiver: "alpha"}}}); err != nil && err != io.EOF {
			return err
		}
		_, err = stream.Recv()
		return err
	}
	for _, tc := range []struct {
		revokedUnder    string
		refused, served string
	}{
		{"bravo", "bravo", "alpha"},
		{"alpha", "alpha", "bravo"},
	} {
		c := *cfg
		c.TLS.Revoked = []config.Revoked{{Agency: tc.revokedUnder, Serial: serial.Text(16)}}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := n.ReloadRevocations(&c); err != nil {
			t.Fatal(err)
		}
		if err := health(tc.served); err != nil {
			t.Errorf("revoked %s under %s: %s's certificate with the same serial was refused: %v", serial.Text(16), tc.revokedUnder, tc.served, err)
		}
		if err := health(tc.refused); status.Code(err) != codes.Unavailable && status.Code(err) != codes.Unauthenticated {
			t.Errorf("revoked %s under %s: %s's certificate was not refused: %v", serial.Text(16), tc.revokedUnder, tc.refused, err)
		}
	}
}
