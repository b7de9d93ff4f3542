package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/store"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// partnerStatus is n's status of its channels with partner.
func (n *fedNode) partnerStatus(t *testing.T, partner string) *liaisonv1.PartnerStatus {
	t.Helper()
	r, err := n.admin.GetFederationStatus(context.Background(), &liaisonv1.GetFederationStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.GetPartners() {
		if p.GetAgency() == partner {
			return p
		}
	}
	t.Fatalf("%s has no status for %s", n.Agency, partner)
	return nil
}

// TestFederation_RestoredSenderFastForward: alpha's database is restored
// from a backup older than what bravo applied from it, and alpha goes on
// releasing. Its relay stops, with a message naming the repair, whether it
// notices at the hello (fewer sequences than bravo applied) or from bravo's
// refusal of a reused sequence. After `fast-forward` every release made
// since the restore arrives on bravo, in order.
func TestFederation_RestoredSenderFastForward(t *testing.T) {
	t.Parallel()
	alpha, bravo := pair(t)
	before := alpha.createReleased(t, newLead("before the backup"), "bravo")
	bravo.waitVersion(t, before.GetId(), before.GetVersion())
	nodetest.Eventually(t, 10*time.Second, func() error {
		if a := alpha.partnerStatus(t, "bravo").GetLastSequenceAcknowledged(); a < 1 {
			return fmt.Errorf("alpha has bravo's receipts up to %d", a)
		}
		return nil
	})

	// The backup: a copy of the stopped node's file.
	dbPath := alpha.Cfg.Database.Path
	backup := filepath.Join(t.TempDir(), "alpha-backup.db")
	alpha.Stop(t)
	copyFile(t, dbPath, backup)
	alpha.Restart(t)
	var lost []*liaisonv1.Lead
	for i := range 3 {
		l := alpha.createReleased(t, newLead(fmt.Sprintf("after the backup %d", i)), "bravo")
		bravo.waitVersion(t, l.GetId(), l.GetVersion())
		lost = append(lost, l)
	}
	applied := bravo.partnerStatus(t, "alpha").GetInboundLastApplied()

	// The restore.
	alpha.Stop(t)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(dbPath + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	copyFile(t, backup, dbPath)
	alpha.Restart(t)

	// Releases after the restore. The first two reuse numbers bravo
	// applied: the relay notices at the hello and stops. With four more,
	// alpha has numbered past bravo: bravo refuses the three reused numbers
	// and applies the rest, and alpha's status keeps saying that three were
	// refused and how to repair it.
	var since []*liaisonv1.Lead
	release := func(n int) {
		for range n {
			since = append(since, alpha.createReleased(t, newLead(fmt.Sprintf("after the restore %d", len(since))), "bravo"))
		}
	}
	wantError := func(want ...string) {
		t.Helper()
		nodetest.Eventually(t, 10*time.Second, func() error {
			msg := alpha.partnerStatus(t, "bravo").GetLastError()
			for _, w := range want {
				if !strings.Contains(msg, w) {
					return fmt.Errorf("alpha's last error %q lacks %q", msg, w)
				}
			}
			return nil
		})
	}
	release(2)
	wantError("were ever sent to it", fmt.Sprintf("fast-forward --config FILE --partner bravo --to %d", applied))
	release(4)
	wantError("3 envelope(s) to bravo were refused", "fast-forward --config FILE --partner bravo --to")
	for _, l := range since[:3] {
		if r, err := bravo.analyst.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: l.GetId()}); err == nil {
			t.Fatalf("bravo holds %q before the repair: %v", l.GetTitle(), r)
		}
	}

	// The repair, as `liaison federation fast-forward` makes it.
	alpha.Stop(t)
	s, err := store.Open(context.Background(), dbPath, store.Options{Agency: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := federation.FastForward(context.Background(), s, "bravo", int64(applied), "operator:test")
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("renumbered %d envelopes, want the 3 bravo refused", n)
	}
	alpha.Restart(t)

	for _, l := range since {
		bravo.waitVersion(t, l.GetId(), l.GetVersion())
	}
	nodetest.Eventually(t, 10*time.Second, func() error {
		st := alpha.partnerStatus(t, "bravo")
		if st.GetLastError() != "" || st.GetEnvelopesWaiting() != 0 {
			return fmt.Errorf("alpha's channel to bravo: error %q, %d waiting", st.GetLastError(), st.GetEnvelopesWaiting())
		}
		return nil
	})
	if got, want := bravo.partnerStatus(t, "alpha").GetInboundLastApplied(), applied+uint64(len(since)); got != want {
		t.Errorf("bravo applied up to %d from alpha, want %d", got, want)
	}
	// What alpha lost stays on bravo as replicas, for the agencies to settle.
	for _, l := range lost {
		bravo.waitVersion(t, l.GetId(), l.GetVersion())
	}
	events, err := alpha.auditor.ListAuditEvents(context.Background(), &liaisonv1.ListAuditEventsRequest{Action: "federation.channel.fast_forward"})
	if err != nil || len(events.GetEvents()) != 1 || !strings.Contains(events.GetEvents()[0].GetDetail(), "3 envelope(s) without a receipt renumbered") {
		t.Errorf("alpha's audit of the repair: %v %v", events.GetEvents(), err)
	}

	// A second run finds nothing to do.
	alpha.Stop(t)
	s, err = store.Open(context.Background(), dbPath, store.Options{Agency: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := federation.FastForward(context.Background(), s, "bravo", int64(applied), "operator:test"); err == nil || !strings.Contains(err.Error(), "nothing to fast-forward") {
		t.Errorf("fast-forward again: %v, want a refusal saying the channel is past it", err)
	}
}
