package node_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/liaison-exchange/liaison/server/node"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// TestStart_FailsCleanly: a node that cannot start (here: its metrics
// address is taken) returns an error naming the cause, closes the listener
// it was given and its database, and does not panic.
func TestStart_FailsCleanly(t *testing.T) {
	pki := nodetest.NewPKI(t, "alpha")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := pki.Config("alpha", t.TempDir())
	cfg.Metrics.Listen = busy.Addr().String()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(context.Background(), cfg, nil, lis)
	if err == nil {
		n.Shutdown()
		t.Fatal("Start succeeded with its metrics address taken")
	}
	if !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Errorf("error %q does not name the address in use", err)
	}
	if c, err := net.Dial("tcp", lis.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener Start was given is still open")
	}
	// The database was closed: a second node can open it and start.
	cfg.Metrics.Listen = "off"
	n, err = node.Start(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatalf("start on the same database afterwards: %v", err)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
}
