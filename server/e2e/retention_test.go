package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// retentionPair starts alpha and bravo whose scheduled purge does not run
// during the test (it first runs a minute after start): the tests purge
// by hand.
func retentionPair(t *testing.T) (alpha, bravo *fedNode) {
	t.Helper()
	a, b := nodetest.Pair(t, func(c *config.Config) { c.Retention.PurgeInterval = config.Duration{Duration: 24 * time.Hour} })
	return clients(t, a), clients(t, b)
}

// expiredLead is a lead whose review date has passed.
func expiredLead(title string) *liaisonv1.Lead {
	l := newLead(title)
	l.ReviewDate = &liaisonv1.Date{Year: 2020, Month: 1, Day: 15}
	return l
}

// waitReceipted waits until partner has receipted every envelope n sent it.
func waitReceipted(t *testing.T, n *fedNode) {
	t.Helper()
	nodetest.Eventually(t, 10*time.Second, func() error {
		st, err := n.admin.GetFederationStatus(context.Background(), &liaisonv1.GetFederationStatusRequest{})
		if err != nil {
			return err
		}
		for _, p := range st.GetPartners() {
			if p.GetEnvelopesWaiting() != 0 || p.GetLastSequenceAcknowledged() != p.GetLastSequenceAssigned() {
				return fmt.Errorf("%s: %d envelopes waiting, %d of %d acknowledged", p.GetAgency(), p.GetEnvelopesWaiting(),
					p.GetLastSequenceAcknowledged(), p.GetLastSequenceAssigned())
			}
		}
		return nil
	})
}

// outboxPayloads lists, per sequence, the payload size of the envelopes
// about a record in n's outbox.
func outboxPayloads(t *testing.T, n *fedNode, recordID string) map[int64]int {
	t.Helper()
	rows, err := openDB(t, n.Cfg.Database.Path).Query("SELECT seq, envelope FROM outbox WHERE record_id = ? AND kind = ?",
		recordID, int64(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var seq int64
		var b []byte
		if err := rows.Scan(&seq, &b); err != nil {
			t.Fatal(err)
		}
		env := &liaisonv1.Envelope{}
		if err := proto.Unmarshal(b, env); err != nil {
			t.Fatalf("outbox envelope %d: %v", seq, err)
		}
		if env.GetRecordId() != recordID || env.GetSequence() != uint64(seq) {
			t.Errorf("outbox envelope %d names %s seq %d", seq, env.GetRecordId(), env.GetSequence())
		}
		out[seq] = len(env.GetPayload())
	}
	return out
}

func purgeIDs(items []*liaisonv1.PurgeItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.GetRecordId())
	}
	return out
}

// TestRetention_PurgeExpiredUnlinkedKeepLinked: an expired lead no open
// case links is purged on its home node and tombstoned on the partner,
// with an audit event; one linked to an open case is kept, with the
// reason, until the case is closed. The preview lists exactly what the
// purge then removes.
func TestRetention_PurgeExpiredUnlinkedKeepLinked(t *testing.T) {
	t.Parallel()
	alpha, bravo := retentionPair(t)
	ctx := context.Background()
	cases := caseClients(t, alpha.Node)
	analyst := liaisonv1.NewRetentionServiceClient(alpha.Conn(t, "analyst"))
	retention := liaisonv1.NewRetentionServiceClient(alpha.Conn(t, "supervisor"))
	preview := retention

	unlinked := alpha.createReleased(t, expiredLead("expired, unlinked"), "bravo")
	// A second version: two envelopes carry its content to bravo.
	upd, err := alpha.analyst.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{
		Lead:       &liaisonv1.Lead{Id: unlinked.GetId(), Etag: unlinked.GetEtag(), Title: "expired, unlinked (v3)"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	unlinked = upd.GetLead()
	linked := alpha.createReleased(t, expiredLead("expired, linked to an open case"), "bravo")
	current := alpha.createReleased(t, newLead("not yet due"), "bravo")
	draft, err := alpha.analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: expiredLead("expired draft, never released")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cases.analyst.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: newCase("open case")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cases.analyst.LinkLead(ctx, &liaisonv1.LinkLeadRequest{CaseId: c.GetCase().GetId(), LeadId: linked.GetId()}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*liaisonv1.Lead{unlinked, linked, current} {
		bravo.waitVersion(t, l.GetId(), l.GetVersion())
	}
	waitReceipted(t, alpha)

	// The preview: the two expired unlinked leads, oldest review date then
	// id first; the linked one kept, with the reason.
	pv, err := preview.PreviewPurge(ctx, &liaisonv1.PreviewPurgeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	wantPurge := []*liaisonv1.PurgeItem{
		{RecordId: unlinked.GetId(), Title: "expired, unlinked (v3)", ReviewDate: "2020-01-15", Partners: []string{"bravo"}},
		{RecordId: draft.GetLead().GetId(), Title: "expired draft, never released", ReviewDate: "2020-01-15"},
	}
	slices.SortFunc(wantPurge, func(a, b *liaisonv1.PurgeItem) int { return strings.Compare(a.GetRecordId(), b.GetRecordId()) })
	wantKeep := []*liaisonv1.PurgeItem{{
		RecordId: linked.GetId(), Title: "expired, linked to an open case", ReviewDate: "2020-01-15",
		KeptBecause: "linked to open case " + c.GetCase().GetId(),
	}}
	if diff := cmp.Diff(wantPurge, pv.GetPurge(), protocmp.Transform()); diff != "" {
		t.Errorf("preview: to purge (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantKeep, pv.GetKeep(), protocmp.Transform()); diff != "" {
		t.Errorf("preview: kept (-want +got):\n%s", diff)
	}

	// Only supervisors preview and purge on demand (issue 13: the preview
	// lists titles; auditors reach the audit log only).
	if _, err := analyst.RunPurge(ctx, &liaisonv1.RunPurgeRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("analyst runs the purge: %v, want PermissionDenied", err)
	}
	for _, role := range []string{"analyst", "auditor", "service"} {
		_, err := liaisonv1.NewRetentionServiceClient(alpha.Conn(t, role)).PreviewPurge(ctx, &liaisonv1.PreviewPurgeRequest{})
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("%s previews the purge: %v, want PermissionDenied", role, err)
		}
	}
	run, err := retention.RunPurge(ctx, &liaisonv1.RunPurgeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pv.GetPurge(), run.GetPurged(), protocmp.Transform()); diff != "" {
		t.Errorf("purged is not what the preview listed (-preview +purged):\n%s", diff)
	}
	if diff := cmp.Diff(pv.GetKeep(), run.GetKept(), protocmp.Transform()); diff != "" {
		t.Errorf("kept is not what the preview listed (-preview +kept):\n%s", diff)
	}
	// Both answers show the titles of the leads they list: each lead is
	// in the audit log as seen by both calls (issue 12).
	for _, it := range slices.Concat(pv.GetPurge(), pv.GetKeep()) {
		for _, method := range []string{liaisonv1.RetentionService_PreviewPurge_FullMethodName, liaisonv1.RetentionService_RunPurge_FullMethodName} {
			evs := baEvents(t, alpha.auditor, it.GetRecordId(), method)
			if len(evs) != 1 || evs[0].GetOutcome() != "OK" {
				t.Errorf("lead %s in %d OK events of %s, want 1", it.GetRecordId(), len(evs), method)
			}
		}
	}

	t.Run("ContentGoneAtHome", func(t *testing.T) {
		for _, id := range []string{unlinked.GetId(), draft.GetLead().GetId()} {
			r, err := alpha.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: id})
			if err != nil {
				t.Fatal(err)
			}
			l := r.GetLead()
			if l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN || l.GetTitle() != "" || l.GetSummary() != "" || len(l.GetCrimeAreas()) != 0 {
				t.Errorf("purged lead %s still has content: %v", id, l)
			}
		}
		if got := countRows(t, alpha.Cfg.Database.Path, "SELECT count(*) FROM leads WHERE id = ? AND body IS NULL AND version = ?",
			unlinked.GetId(), unlinked.GetVersion()+1); got != 1 {
			t.Errorf("no tombstone of %s at version %d", unlinked.GetId(), unlinked.GetVersion()+1)
		}
		// The person index and the outbox keep no copy: both envelopes that
		// carried the lead to bravo were receipted, and are emptied.
		if n := countRows(t, alpha.Cfg.Database.Path, "SELECT count(*) FROM person_index WHERE record_id = ?", unlinked.GetId()); n != 0 {
			t.Errorf("%d person index rows of the purged lead", n)
		}
		payloads := outboxPayloads(t, alpha, unlinked.GetId())
		if len(payloads) != 2 {
			t.Errorf("outbox envelopes of the lead: %v, want 2", payloads)
		}
		for seq, n := range payloads {
			if n != 0 {
				t.Errorf("outbox envelope %d still carries %d bytes of the purged lead", seq, n)
			}
		}
		// Delivery history stays.
		rc, err := alpha.analyst.ListLeadReceipts(ctx, &liaisonv1.ListLeadReceiptsRequest{Id: unlinked.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if d := rc.GetDeliveries(); len(d) != 3 || d[2].GetKind() != liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE {
			t.Errorf("deliveries after the purge: %v, want 2 versions and the tombstone", d)
		}
	})

	t.Run("TombstonedOnPartner", func(t *testing.T) {
		l := bravo.waitVersion(t, unlinked.GetId(), unlinked.GetVersion()+1)
		if l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN || l.GetTitle() != "" {
			t.Errorf("bravo's copy after the purge: %v", l)
		}
		waitReceipted(t, alpha)
		if n := countRows(t, bravo.Cfg.Database.Path, "SELECT count(*) FROM inbox WHERE record_id = ? AND envelope IS NOT NULL AND kind = ?",
			unlinked.GetId(), int64(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD)); n != 0 {
			t.Errorf("bravo's inbox keeps %d envelopes with the purged lead's content", n)
		}
		// The never-released draft was sent nowhere.
		if _, err := bravo.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: draft.GetLead().GetId()}); status.Code(err) != codes.NotFound {
			t.Errorf("bravo and the purged draft: %v, want NotFound", err)
		}
	})

	t.Run("Audited", func(t *testing.T) {
		ev, err := alpha.auditor.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Action: "retention.purge", Resource: "leads/" + unlinked.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.GetEvents()) != 1 {
			t.Fatalf("retention.purge events of %s: %v, want 1", unlinked.GetId(), ev.GetEvents())
		}
		e := ev.GetEvents()[0]
		if e.GetPrincipal() != (authzPrincipal{"alpha", identity.Supervisor}).id() || e.GetRole() != "supervisor" || e.GetOutcome() != "OK" ||
			!strings.Contains(e.GetDetail(), "review date 2020-01-15 passed") || !strings.Contains(e.GetDetail(), "tombstone sent to bravo") {
			t.Errorf("purge event: %v", e)
		}
		res, err := alpha.auditor.VerifyAuditLog(ctx, &liaisonv1.VerifyAuditLogRequest{})
		if err != nil || !res.GetOk() {
			t.Errorf("audit chain after the purge: %v %v", res, err)
		}
	})

	t.Run("KeptUntilCaseClosed", func(t *testing.T) {
		r, err := alpha.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: linked.GetId()})
		if err != nil || r.GetLead().GetTitle() != linked.GetTitle() || r.GetLead().GetVersion() != linked.GetVersion() {
			t.Fatalf("kept lead: %v %v", r.GetLead(), err)
		}
		if _, err := cases.supervisor.CloseCase(ctx, &liaisonv1.CloseCaseRequest{Id: c.GetCase().GetId(), Reason: "convictions"}); err != nil {
			t.Fatal(err)
		}
		pv, err := preview.PreviewPurge(ctx, &liaisonv1.PreviewPurgeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if got := purgeIDs(pv.GetPurge()); !slices.Equal(got, []string{linked.GetId()}) || len(pv.GetKeep()) != 0 {
			t.Fatalf("preview after closing the case: purge %v keep %v", got, pv.GetKeep())
		}
		run, err := retention.RunPurge(ctx, &liaisonv1.RunPurgeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pv.GetPurge(), run.GetPurged(), protocmp.Transform()); diff != "" {
			t.Errorf("purged (-preview +purged):\n%s", diff)
		}
		l := bravo.waitVersion(t, linked.GetId(), linked.GetVersion()+1)
		if l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN || l.GetTitle() != "" {
			t.Errorf("bravo's copy: %v", l)
		}
		// Nothing is due any more; the current lead is untouched.
		pv, err = preview.PreviewPurge(ctx, &liaisonv1.PreviewPurgeRequest{})
		if err != nil || len(pv.GetPurge())+len(pv.GetKeep()) != 0 {
			t.Errorf("preview after the purges: %v %v", pv, err)
		}
		cur, err := bravo.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: current.GetId()})
		if err != nil || cur.GetLead().GetTitle() != "not yet due" {
			t.Errorf("lead not due on bravo: %v %v", cur.GetLead(), err)
		}
	})

	t.Run("InStep", func(t *testing.T) {
		waitReceipted(t, alpha)
		check, err := alpha.admin.CheckDrift(ctx, &liaisonv1.CheckDriftRequest{})
		if err != nil || !check.GetResults()[0].GetInStep() {
			t.Errorf("drift check after the purges: %v %v", check, err)
		}
	})
}

// TestRetention_InFlightEnvelopesEmptiedOnceReceipted: an envelope still
// in flight when its lead is purged keeps its payload (it may have to be
// sent again byte for byte) until the partner receipts it; the next purge
// run empties it.
func TestRetention_InFlightEnvelopesEmptiedOnceReceipted(t *testing.T) {
	t.Parallel()
	alpha, bravo := retentionPair(t)
	ctx := context.Background()
	retention := liaisonv1.NewRetentionServiceClient(alpha.Conn(t, "supervisor"))

	l := alpha.createReleased(t, expiredLead("purged while bravo is down"), "bravo")
	bravo.waitVersion(t, l.GetId(), l.GetVersion())
	waitReceipted(t, alpha)
	bravo.Stop(t)
	upd, err := alpha.analyst.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{
		Lead:       &liaisonv1.Lead{Id: l.GetId(), Etag: l.GetEtag(), Title: "changed while bravo is down"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := retention.RunPurge(ctx, &liaisonv1.RunPurgeRequest{})
	if err != nil || !slices.Equal(purgeIDs(run.GetPurged()), []string{l.GetId()}) {
		t.Fatalf("purge: %v %v", run, err)
	}
	// Sequence 1 was receipted: emptied. Sequence 2 is in flight: kept.
	if got := outboxPayloads(t, alpha, l.GetId()); got[1] != 0 || got[2] == 0 || len(got) != 2 {
		t.Fatalf("outbox payload sizes after the purge: %v, want seq 1 empty and seq 2 intact", got)
	}

	bravo.Restart(t)
	bravo.waitVersion(t, l.GetId(), upd.GetLead().GetVersion()+1)
	waitReceipted(t, alpha)
	if got := outboxPayloads(t, alpha, l.GetId()); got[2] == 0 {
		t.Fatalf("seq 2 emptied before the next purge run: %v", got)
	}
	run, err = retention.RunPurge(ctx, &liaisonv1.RunPurgeRequest{})
	if err != nil || len(run.GetPurged()) != 0 {
		t.Fatalf("second purge: %v %v", run, err)
	}
	if got := outboxPayloads(t, alpha, l.GetId()); got[1] != 0 || got[2] != 0 {
		t.Errorf("outbox payload sizes after the second run: %v, want all empty", got)
	}
	if n := countRows(t, alpha.Cfg.Database.Path, "SELECT count(*) FROM meta WHERE key LIKE 'retention.%'"); n != 0 {
		t.Errorf("%d pending entries left", n)
	}
	cp, err := bravo.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: l.GetId()})
	if err != nil || cp.GetLead().GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN || cp.GetLead().GetTitle() != "" {
		t.Errorf("bravo's copy: %v %v", cp.GetLead(), err)
	}
}

// TestRetention_ScheduledPurge: the node purges on its own, shortly after
// start and then every retention.purge_interval, recording the node's
// purge job as the actor.
func TestRetention_ScheduledPurge(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, func(c *config.Config) { c.Retention.PurgeInterval = config.Duration{Duration: time.Second} })
	alpha, bravo := clients(t, a), clients(t, b)
	ctx := context.Background()
	l := alpha.createReleased(t, newLead("falls due while the node runs"), "bravo")
	bravo.waitVersion(t, l.GetId(), l.GetVersion())
	upd, err := alpha.analyst.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{
		Lead:       &liaisonv1.Lead{Id: l.GetId(), Etag: l.GetEtag(), ReviewDate: &liaisonv1.Date{Year: 2021, Month: 6, Day: 30}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"review_date"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cp := bravo.waitVersion(t, l.GetId(), upd.GetLead().GetVersion()+1)
	if cp.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN || cp.GetTitle() != "" {
		t.Errorf("bravo's copy: %v", cp)
	}
	ev, err := alpha.auditor.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Action: "retention.purge", Resource: "leads/" + l.GetId()})
	if err != nil || len(ev.GetEvents()) != 1 {
		t.Fatalf("purge events: %v %v", ev, err)
	}
	if e := ev.GetEvents()[0]; e.GetPrincipal() != "spiffe://alpha.liaison.test/node" || e.GetRole() != "node" || !strings.Contains(e.GetDetail(), "review date 2021-06-30 passed") {
		t.Errorf("scheduled purge event: %v", e)
	}
}
