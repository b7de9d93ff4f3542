package e2e

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// TestHygiene_StreamLimitAndHandshakeTimeout: a connection may open at
// most limits.max_concurrent_streams calls at once, and a connection that
// never completes its TLS handshake is closed after
// limits.handshake_timeout, not grpc's default 120 s.
func TestHygiene_StreamLimitAndHandshakeTimeout(t *testing.T) {
	t.Parallel()
	pki := nodetest.NewPKI(t, "alpha")
	cfg := pki.Config("alpha", t.TempDir())
	cfg.Limits.MaxConcurrentStreams = 16
	cfg.Limits.HandshakeTimeout = config.Duration{Duration: 500 * time.Millisecond}
	n := nodetest.Start(t, pki, cfg, nil)

	t.Run("MaxConcurrentStreams", func(t *testing.T) {
		conn := n.Conn(t, "service")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// A first call, so the client has the server's settings.
		if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		feed := liaisonv1.NewChangeFeedServiceClient(conn)
		for i := 0; i < 16; i++ {
			if _, err := feed.Watch(ctx, &liaisonv1.WatchRequest{}); err != nil {
				t.Fatalf("stream %d of 16: %v", i+1, err)
			}
		}
		short, cancelShort := context.WithTimeout(ctx, time.Second)
		defer cancelShort()
		_, err := healthpb.NewHealthClient(conn).Check(short, &healthpb.HealthCheckRequest{})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("a 17th call while 16 streams are open: %v, want it to wait for a free stream (DeadlineExceeded)", err)
		}
		// Another connection is not affected.
		if _, err := healthpb.NewHealthClient(n.Conn(t, "analyst")).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Errorf("a call on another connection: %v", err)
		}
	})

	t.Run("HandshakeTimeout", func(t *testing.T) {
		raw, err := net.Dial("tcp", n.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		start := time.Now()
		raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = raw.Read(make([]byte, 1))
		if err != io.EOF && !strings.Contains(errString(err), "reset") {
			t.Fatalf("silent connection: read %v, want the node to close it", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("silent connection closed after %v, want about 500ms", took)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
