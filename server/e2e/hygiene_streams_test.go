package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// TestHygiene_OpenStreamsClosedOnRevocation: a Watch stream of an analyst
// and the Exchange channel of the partner's node, both open, end within
// seconds of a revocation reload that names their certificates, with
// UNAUTHENTICATED; a stream of a certificate that stays valid goes on.
func TestHygiene_OpenStreamsClosedOnRevocation(t *testing.T) {
	t.Parallel()
	s := secStartAlpha(t)
	n := s.node
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	watch := func(role string) (<-chan error, context.CancelFunc) {
		wctx, wcancel := context.WithCancel(ctx)
		st, err := liaisonv1.NewChangeFeedServiceClient(n.Conn(t, role)).Watch(wctx, &liaisonv1.WatchRequest{})
		if err != nil {
			t.Fatal(err)
		}
		ended := make(chan error, 1)
		go func() {
			for {
				if _, err := st.Recv(); err != nil {
					ended <- err
					return
				}
			}
		}()
		return ended, wcancel
	}
	analystEnded, stopA := watch("analyst")
	defer stopA()
	serviceEnded, stopS := watch("service")
	defer stopS()
	ch := s.bravo(t)
	exchangeEnded := make(chan error, 1)
	go func() {
		_, err := ch.stream.Recv()
		exchangeEnded <- err
	}()
	// The streams are open: give them a moment to be past every check.
	time.Sleep(300 * time.Millisecond)
	for name, c := range map[string]<-chan error{"analyst's Watch": analystEnded, "service's Watch": serviceEnded, "bravo's Exchange": exchangeEnded} {
		select {
		case err := <-c:
			t.Fatalf("%s ended before any revocation: %v", name, err)
		default:
		}
	}

	cfg := *n.Cfg
	cfg.TLS.Revoked = []config.Revoked{
		{Agency: "alpha", Serial: hygSerial(t, s.pki.Path("alpha", "analyst.crt"))},
		{Agency: "bravo", Serial: hygSerial(t, s.pki.Path("bravo", "node.crt"))},
	}
	if err := n.ReloadRevocations(&cfg); err != nil {
		t.Fatal(err)
	}
	reloaded := time.Now()
	for name, c := range map[string]<-chan error{"analyst's Watch": analystEnded, "bravo's Exchange": exchangeEnded} {
		select {
		case err := <-c:
			if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "revoked") {
				t.Errorf("%s ended with %v, want UNAUTHENTICATED naming the revocation", name, err)
			}
			t.Logf("%s ended %v after the reload", name, time.Since(reloaded).Round(time.Millisecond))
		case <-time.After(5 * time.Second):
			t.Errorf("%s still open 5s after its certificate was revoked", name)
		}
	}
	select {
	case err := <-serviceEnded:
		t.Errorf("the service's Watch (certificate not revoked) ended: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	// The close is in the audit log, under the analyst, saying why.
	nodetest.Eventually(t, 5*time.Second, func() error {
		r, err := s.auditor.ListAuditEvents(context.Background(), &liaisonv1.ListAuditEventsRequest{
			Action: liaisonv1.ChangeFeedService_Watch_FullMethodName, Outcome: "UNAUTHENTICATED", PageSize: 100})
		if err != nil {
			return err
		}
		for _, e := range r.GetEvents() {
			if strings.HasPrefix(e.GetPrincipal(), "spiffe://alpha.liaison.test/analyst/") {
				return nil
			}
		}
		return fmt.Errorf("no UNAUTHENTICATED Watch event of the analyst: %v", r.GetEvents())
	})
}
