// Package client dials a Liaison node over mutual TLS. It is what
// liaisonctl, the benchmarks and the tests use, and what an agency's own
// Go systems can use.
package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Options say where a node is and which certificate to present.
type Options struct {
	// Addr is the node's host:port.
	Addr string
	// CA is the PEM file of the CA that issued the node's certificate.
	CA string
	// Cert and Key are the caller's certificate and key (PEM).
	Cert string
	Key  string
}

// Environment variables read by OptionsFromEnv.
const (
	EnvAddr = "LIAISON_ADDR"
	EnvCA   = "LIAISON_CA"
	EnvCert = "LIAISON_CERT"
	EnvKey  = "LIAISON_KEY"
)

// OptionsFromEnv reads LIAISON_ADDR, LIAISON_CA, LIAISON_CERT and
// LIAISON_KEY.
func OptionsFromEnv() Options {
	return Options{Addr: os.Getenv(EnvAddr), CA: os.Getenv(EnvCA), Cert: os.Getenv(EnvCert), Key: os.Getenv(EnvKey)}
}

// TLSConfig is the client side of the node's mTLS: TLS 1.3, the node's
// certificate verified against the CA file, the caller's certificate read
// from disk at each handshake (so a renewed certificate is picked up).
func (o Options) TLSConfig() (*tls.Config, error) {
	var missing []string
	for name, v := range map[string]string{"address": o.Addr, "CA file": o.CA, "certificate file": o.Cert, "key file": o.Key} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %v (flags --addr --ca --cert --key, or %s %s %s %s)", missing, EnvAddr, EnvCA, EnvCert, EnvKey)
	}
	caPEM, err := os.ReadFile(o.CA)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("CA: " + o.CA + " holds no PEM certificate")
	}
	if _, err := tls.LoadX509KeyPair(o.Cert, o.Key); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(o.Cert, o.Key)
			if err != nil {
				return nil, err
			}
			return &c, nil
		},
	}, nil
}

// Dial connects to the node. The connection is lazy: errors in reaching
// the node surface on the first call.
func Dial(o Options, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	cfg, err := o.TLSConfig()
	if err != nil {
		return nil, err
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}, extra...)
	conn, err := grpc.NewClient(o.Addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", o.Addr, err)
	}
	return conn, nil
}
