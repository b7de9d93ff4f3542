package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/store"
)

// fedNode bundles the clients a federation test uses on one node.
type fedNode struct {
	*nodetest.Node
	analyst, supervisor liaisonv1.LeadServiceClient
	admin               liaisonv1.FederationAdminServiceClient
	perms, permsSup     liaisonv1.PermissionServiceClient
	auditor             liaisonv1.AuditServiceClient
}

func clients(t *testing.T, n *nodetest.Node) *fedNode {
	return &fedNode{
		Node:       n,
		analyst:    liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst")),
		supervisor: liaisonv1.NewLeadServiceClient(n.Conn(t, "supervisor")),
		admin:      liaisonv1.NewFederationAdminServiceClient(n.Conn(t, "supervisor")),
		perms:      liaisonv1.NewPermissionServiceClient(n.Conn(t, "analyst")),
		permsSup:   liaisonv1.NewPermissionServiceClient(n.Conn(t, "supervisor")),
		auditor:    liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor")),
	}
}

func pair(t *testing.T) (*fedNode, *fedNode) {
	a, b := nodetest.Pair(t, nil)
	return clients(t, a), clients(t, b)
}

// createReleased creates a lead on n and releases it to partner.
func (n *fedNode) createReleased(t *testing.T, l *liaisonv1.Lead, partner string) *liaisonv1.Lead {
	t.Helper()
	ctx := context.Background()
	c, err := n.analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: l})
	if err != nil {
		t.Fatal(err)
	}
	r, err := n.supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: c.GetLead().GetId(), Partners: []string{partner}})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetLead()
}

// waitVersion waits until n holds lead id at version (or later).
func (n *fedNode) waitVersion(t *testing.T, id string, version int64) *liaisonv1.Lead {
	t.Helper()
	var got *liaisonv1.Lead
	nodetest.Eventually(t, 10*time.Second, func() error {
		r, err := n.analyst.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: id})
		if err != nil {
			return err
		}
		if r.GetLead().GetVersion() < version {
			return fmt.Errorf("%s holds version %d of %s, want %d", n.Agency, r.GetLead().GetVersion(), id, version)
		}
		got = r.GetLead()
		return nil
	})
	return got
}

func TestFederation_ReleaseUpdateWithdraw(t *testing.T) {
	t.Parallel()
	alpha, bravo := pair(t)
	ctx := context.Background()
	l := newLead("Kupang boats")
	l.Handling = &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H1}
	l.Subjects = []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}}}
	start := time.Now()
	rel := alpha.createReleased(t, l, "bravo")

	got := bravo.waitVersion(t, rel.GetId(), rel.GetVersion())
	t.Logf("release arrived on bravo after %v", time.Since(start).Round(time.Millisecond))
	want := proto.Clone(rel).(*liaisonv1.Lead)
	want.ReleasedTo = []string{"bravo"}
	// Served on bravo with alpha's handling code in words (server/handling).
	want.Restriction = &liaisonv1.Restriction{Code: liaisonv1.HandlingCode_HANDLING_CODE_H1, Originator: "alpha",
		Meaning: "H1: not to be used in judicial proceedings without the permission of alpha"}
	// And with alpha's officer by pseudonym (server/officers).
	if m := pseudonymPattern.FindStringSubmatch(got.GetCreatedBy()); m == nil || m[1] != "alpha" || m[2] != "analyst" {
		t.Errorf("bravo's replica created by %q, want alpha/analyst/<pseudonym>", got.GetCreatedBy())
	}
	want.CreatedBy = got.GetCreatedBy()
	if diff := cmp.Diff(want, got, protocmp.Transform(), protocmp.IgnoreFields(&liaisonv1.Lead{}, "etag")); diff != "" {
		t.Errorf("bravo's replica differs from alpha's lead (-alpha +bravo):\n%s", diff)
	}
	list, err := bravo.analyst.ListLeads(ctx, &liaisonv1.ListLeadsRequest{OriginAgency: "alpha"})
	if err != nil || len(list.GetLeads()) != 1 {
		t.Fatalf("bravo's list of alpha's leads: %v %v", list, err)
	}

	// A replica is read-only.
	_, err = bravo.analyst.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{
		Lead: &liaisonv1.Lead{Id: got.GetId(), Etag: got.GetEtag(), Title: "mine now"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
	})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("bravo updating alpha's lead: %v, want FailedPrecondition", err)
	}
	if _, err := bravo.supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: got.GetId(), Reason: "x"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("bravo withdrawing alpha's lead: %v, want FailedPrecondition", err)
	}

	upd, err := alpha.analyst.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{
		Lead: &liaisonv1.Lead{Id: rel.GetId(), Etag: rel.GetEtag(), Summary: "now using a second boat"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := bravo.waitVersion(t, rel.GetId(), upd.GetLead().GetVersion()); got.GetSummary() != "now using a second boat" {
		t.Fatalf("bravo's replica after update: %q", got.GetSummary())
	}

	wd, err := alpha.supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: rel.GetId(), Reason: "source burned"})
	if err != nil {
		t.Fatal(err)
	}
	tomb := bravo.waitVersion(t, rel.GetId(), wd.GetLead().GetVersion())
	if tomb.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN || tomb.GetTitle() != "" || tomb.GetSummary() != "" || len(tomb.GetSubjects()) != 0 || tomb.GetOriginAgency() != "alpha" {
		t.Fatalf("bravo's copy after withdrawal still has content or lost its identity: %v", tomb)
	}
	// No stored copy of the content remains on bravo, not even in the inbox.
	if n := countRows(t, bravo.Cfg.Database.Path, "SELECT count(*) FROM inbox WHERE record_id = ? AND envelope IS NOT NULL AND kind = 1", rel.GetId()); n != 0 {
		t.Fatalf("bravo's inbox keeps %d envelopes with the withdrawn lead's content", n)
	}
	// The originator holds bravo's receipt for the deletion.
	nodetest.Eventually(t, 5*time.Second, func() error {
		rs, err := alpha.analyst.ListLeadReceipts(ctx, &liaisonv1.ListLeadReceiptsRequest{Id: rel.GetId()})
		if err != nil {
			return err
		}
		for _, d := range rs.GetDeliveries() {
			if d.GetKind() == liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE && d.GetPartner() == "bravo" && d.GetStatus() == liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED && d.GetReceiptTime() != nil {
				return nil
			}
		}
		return fmt.Errorf("no deletion receipt from bravo yet: %v", rs.GetDeliveries())
	})
	if _, err := bravo.analyst.ListLeadReceipts(ctx, &liaisonv1.ListLeadReceiptsRequest{Id: rel.GetId()}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("receipts asked of the replica holder: %v, want FailedPrecondition", err)
	}
}

func TestFederation_NetworkCutCatchesUp(t *testing.T) {
	t.Parallel()
	alpha, bravo := pair(t)
	first := alpha.createReleased(t, newLead("before the cut"), "bravo")
	bravo.waitVersion(t, first.GetId(), first.GetVersion())

	bravo.Stop(t) // bravo's listener is gone
	var ids []string
	for i := 0; i < 30; i++ {
		ids = append(ids, alpha.createReleased(t, newLead(fmt.Sprintf("during the cut %d", i)), "bravo").GetId())
	}
	st := alpha.waitPartnerStatus(t, "bravo", 10*time.Second, cutOff(30))
	t.Logf("during the cut alpha reports: connected=%v waiting=%d last error %q", st.GetConnected(), st.GetEnvelopesWaiting(), st.GetLastError())

	bravo.Restart(t)
	for _, id := range ids {
		bravo.waitVersion(t, id, 2)
	}
	alpha.waitPartnerStatus(t, "bravo", 10*time.Second, caughtUp(31))
	assertInboxInOrder(t, alpha, bravo, 31)
}

// waitPartnerStatus waits until n's status of its channel to partner
// passes check, and returns it.
func (n *fedNode) waitPartnerStatus(t *testing.T, partner string, within time.Duration, check func(*liaisonv1.PartnerStatus) error) *liaisonv1.PartnerStatus {
	t.Helper()
	var st *liaisonv1.PartnerStatus
	nodetest.Eventually(t, within, func() error {
		r, err := n.admin.GetFederationStatus(context.Background(), &liaisonv1.GetFederationStatusRequest{})
		if err != nil {
			return err
		}
		for _, p := range r.GetPartners() {
			if p.GetAgency() == partner {
				st = p
				return check(p)
			}
		}
		return fmt.Errorf("%s has no status for %s", n.Agency, partner)
	})
	return st
}

// cutOff: the partner is out of reach with waiting envelopes, and the
// status says why.
func cutOff(waiting int64) func(*liaisonv1.PartnerStatus) error {
	return func(st *liaisonv1.PartnerStatus) error {
		if st.GetConnected() || st.GetEnvelopesWaiting() != waiting || st.GetLastError() == "" || st.GetOldestWaitingTime() == nil {
			return fmt.Errorf("status does not show the partner cut off with %d envelopes waiting: %v", waiting, st)
		}
		return nil
	}
}

// caughtUp: connected again, nothing waiting, and every envelope up to
// seq acknowledged and applied.
func caughtUp(seq uint64) func(*liaisonv1.PartnerStatus) error {
	return func(st *liaisonv1.PartnerStatus) error {
		if !st.GetConnected() || st.GetEnvelopesWaiting() != 0 || st.GetLastSequenceAcknowledged() != seq || st.GetLastSequenceApplied() != seq {
			return fmt.Errorf("status has not caught up to sequence %d: %v", seq, st)
		}
		return nil
	}
}

// assertInboxInOrder checks that receiver holds exactly sequences 1..n
// from sender, each applied once, carrying the envelope sender's outbox has
// at that sequence.
func assertInboxInOrder(t *testing.T, sender, receiver *fedNode, n int) {
	t.Helper()
	out := envelopeIDs(t, sender.Cfg.Database.Path, "SELECT seq, envelope_id FROM outbox WHERE partner = ? ORDER BY seq", receiver.Agency)
	in := envelopeIDs(t, receiver.Cfg.Database.Path, "SELECT seq, envelope_id FROM inbox WHERE sender = ? AND status = 1 ORDER BY seq", sender.Agency)
	if len(out) != n || len(in) != n {
		t.Fatalf("outbox has %d envelopes, inbox %d applied; want %d each", len(out), len(in), n)
	}
	for i := range out {
		if out[i] != in[i] || out[i].seq != int64(i+1) {
			t.Fatalf("position %d: sent %v, applied %v", i, out[i], in[i])
		}
	}
}

type seqID struct {
	seq int64
	id  string
}

func envelopeIDs(t *testing.T, path, query string, args ...any) []seqID {
	t.Helper()
	d := openDB(t, path)
	rows, err := d.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []seqID
	for rows.Next() {
		var s seqID
		if err := rows.Scan(&s.seq, &s.id); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	d, err := sql.Open("sqlite3", store.FileURI(path, url.Values{"_busy_timeout": {"5000"}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func countRows(t *testing.T, path, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := openDB(t, path).QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFederation_DriftIsFoundAndRepaired(t *testing.T) {
	t.Parallel()
	alpha, bravo := pair(t)
	ctx := context.Background()
	var leads []*liaisonv1.Lead
	for i := 0; i < 20; i++ {
		leads = append(leads, alpha.createReleased(t, newLead(fmt.Sprintf("drift %d", i)), "bravo"))
	}
	for _, l := range leads {
		bravo.waitVersion(t, l.GetId(), l.GetVersion())
	}
	check := func() *liaisonv1.DriftCheckResult {
		t.Helper()
		r, err := alpha.admin.CheckDrift(ctx, &liaisonv1.CheckDriftRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetResults()[0]
	}
	if r := check(); !r.GetInStep() || r.GetRecordsCompared() != 20 {
		t.Fatalf("before tampering: %v", r)
	}

	// Copies drift: one replica deleted behind the node's back, another's
	// version changed.
	d := openDB(t, bravo.Cfg.Database.Path)
	if _, err := d.Exec("DELETE FROM leads WHERE id = ?", leads[3].GetId()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec("UPDATE leads SET version = 7 WHERE id = ?", leads[5].GetId()); err != nil {
		t.Fatal(err)
	}
	r := check()
	if r.GetInStep() || r.GetDifferences() != 2 || r.GetRepairsQueued() != 2 {
		t.Fatalf("after tampering: %v", r)
	}
	t.Logf("drift check reports: %s", r.GetSummary())
	nodetest.Eventually(t, 10*time.Second, func() error {
		got, err := bravo.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: leads[3].GetId()})
		if err != nil {
			return err
		}
		if got.GetLead().GetTitle() != leads[3].GetTitle() {
			return fmt.Errorf("repaired replica: %v", got.GetLead())
		}
		got, err = bravo.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: leads[5].GetId()})
		if err != nil {
			return err
		}
		if got.GetLead().GetVersion() != leads[5].GetVersion() {
			return fmt.Errorf("replica with tampered version is at %d", got.GetLead().GetVersion())
		}
		return nil
	})
	nodetest.Eventually(t, 10*time.Second, func() error {
		if r := check(); !r.GetInStep() {
			return fmt.Errorf("after repair: %s", r.GetSummary())
		}
		return nil
	})
	st, err := alpha.admin.GetFederationStatus(ctx, &liaisonv1.GetFederationStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if dc := st.GetPartners()[0].GetLastDriftCheck(); !dc.GetInStep() {
		t.Errorf("status shows last drift check %v", dc)
	}
}
