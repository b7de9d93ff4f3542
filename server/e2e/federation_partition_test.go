package e2e

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// A partition is not a stopped partner: both nodes stay up, and the
// network between them silently drops every byte, so the connection alpha
// holds stays open with nobody answering on it. Alpha must notice (its
// stream's keepalive), say so in its status, keep working, and once the
// network is back deliver everything released meanwhile, in order, once.
func TestFederation_PartitionCatchesUp(t *testing.T) {
	t.Parallel()
	proxy := newCutProxy(t)
	a, b := nodetest.Pair(t, func(c *config.Config) {
		c.Federation.MaxBackoff = config.Duration{Duration: time.Second}
		switch c.Agency {
		case "alpha":
			c.Partners[0].Address = proxy.addr() // alpha reaches bravo only through the proxy
		case "bravo":
			proxy.setTarget(c.Listen)
		}
	})
	alpha, bravo := clients(t, a), clients(t, b)
	ctx := context.Background()
	first := alpha.createReleased(t, newLead("before the partition"), "bravo")
	bravo.waitVersion(t, first.GetId(), first.GetVersion())
	// And its receipt back on alpha: cut before it arrives, it is lost in
	// the partition and 21 envelopes wait, not 20.
	alpha.waitPartnerStatus(t, "bravo", 10*time.Second, caughtUp(1))

	proxy.cut()
	cutAt := time.Now()
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, alpha.createReleased(t, newLead(fmt.Sprintf("during the partition %d", i)), "bravo").GetId())
	}
	// gRPC keepalive on alpha's stream: a ping after 20 s without
	// traffic, declared dead 10 s later.
	st := alpha.waitPartnerStatus(t, "bravo", 90*time.Second, cutOff(20))
	t.Logf("%s after the cut alpha reports: connected=%v waiting=%d last error %q", time.Since(cutAt).Round(time.Second), st.GetConnected(), st.GetEnvelopesWaiting(), st.GetLastError())
	for _, id := range ids {
		if _, err := bravo.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: id}); err == nil {
			t.Fatalf("lead %s crossed a network that drops everything", id)
		}
	}

	proxy.restore()
	restoredAt := time.Now()
	// The relay's next attempt, after its backoff (at most 1 s here) and
	// gRPC's own reconnect backoff.
	alpha.waitPartnerStatus(t, "bravo", 30*time.Second, caughtUp(21))
	t.Logf("caught up %s after the network came back", time.Since(restoredAt).Round(100*time.Millisecond))
	for _, id := range ids {
		bravo.waitVersion(t, id, 2)
	}
	assertInboxInOrder(t, alpha, bravo, 21)
}

// cutProxy forwards TCP connections to a target until cut: then it drops
// every byte in both directions, on the connections it holds and on new
// ones, without closing anything — a silent partition. restore closes the
// connections it damaged and forwards again.
type cutProxy struct {
	lis net.Listener

	mu     sync.Mutex
	target string
	isCut  bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T) *cutProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{lis: lis}
	t.Cleanup(func() {
		lis.Close()
		p.closeAll()
	})
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.lis.Addr().String() }

func (p *cutProxy) setTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = true
}

func (p *cutProxy) restore() {
	p.closeAll()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = false
}

func (p *cutProxy) closeAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (p *cutProxy) dropping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.isCut
}

func (p *cutProxy) serve() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies from src to dst, dropping what it reads while cut.
func (p *cutProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.dropping() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
