package e2e

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// Issue 12: a bulk read is audited with the ids of the records it
// returned, so that "who saw record X" is one ListAuditEvents call.

// baEvents are the events about record id (ListAuditEvents record_id),
// optionally only those of one action, newest first, all pages.
func baEvents(t *testing.T, auditor liaisonv1.AuditServiceClient, id, action string) []*liaisonv1.AuditEvent {
	t.Helper()
	var out []*liaisonv1.AuditEvent
	req := &liaisonv1.ListAuditEventsRequest{RecordId: id, Action: action, PageSize: 2}
	for {
		resp, err := auditor.ListAuditEvents(context.Background(), req)
		if err != nil {
			t.Fatalf("list audit events of record %s: %v", id, err)
		}
		out = append(out, resp.GetEvents()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// baRecords checks that the event's detail names exactly ids (their count
// and digest).
func baRecords(t *testing.T, e *liaisonv1.AuditEvent, ids []string) {
	t.Helper()
	want := audit.RecordsNote(ids)
	if !strings.HasSuffix(e.GetDetail(), want) {
		t.Errorf("event %d (%s) detail %q, want it to end with %q", e.GetSequence(), e.GetAction(), e.GetDetail(), want)
	}
}

// baOneEvent is the single event of action that returned record id.
func baOneEvent(t *testing.T, auditor liaisonv1.AuditServiceClient, id, action string) *liaisonv1.AuditEvent {
	t.Helper()
	evs := baEvents(t, auditor, id, action)
	if len(evs) != 1 {
		var got []string
		for _, e := range evs {
			got = append(got, fmt.Sprintf("%d %s %q", e.GetSequence(), e.GetAction(), e.GetDetail()))
		}
		t.Fatalf("record %s: %d events of %s, want 1: %q", id, len(evs), action, got)
	}
	return evs[0]
}

func TestBulkAudit_ListLeadsPages(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	created, _ := createLeads(t, leads, 7, 2, "page")
	ctx := context.Background()
	var pages [][]string
	req := &liaisonv1.ListLeadsRequest{PageSize: 4}
	for {
		resp, err := leads.ListLeads(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, l := range resp.GetLeads() {
			ids = append(ids, l.GetId())
		}
		pages = append(pages, ids)
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if len(pages) != 2 || len(pages[0]) != 4 || len(pages[1]) != 3 {
		t.Fatalf("pages %v, want 4 then 3 leads", pages)
	}
	if got := slices.Sorted(slices.Values(slices.Concat(pages...))); !slices.Equal(got, slices.Sorted(slices.Values(created))) {
		t.Fatalf("listed %v, created %v", got, created)
	}
	seqs := map[int64]bool{}
	for _, page := range pages {
		var seq int64
		for _, id := range page {
			e := baOneEvent(t, auditor, id, liaisonv1.LeadService_ListLeads_FullMethodName)
			if seq == 0 {
				seq = e.GetSequence()
				baRecords(t, e, page)
			} else if e.GetSequence() != seq {
				t.Errorf("lead %s of one page is in event %d, its page-mates in %d", id, e.GetSequence(), seq)
			}
			if !strings.HasPrefix(e.GetPrincipal(), "spiffe://alpha.liaison.test/analyst/") || e.GetOutcome() != "OK" {
				t.Errorf("event %d: principal %s outcome %s", e.GetSequence(), e.GetPrincipal(), e.GetOutcome())
			}
		}
		seqs[seq] = true
	}
	if len(seqs) != 2 {
		t.Errorf("two pages recorded in %d events, want one each", len(seqs))
	}
}

func TestBulkAudit_ExportLeads(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	// More than one page of the export (500 leads).
	created, _ := createLeads(t, leads, 620, 8, "export")
	stream, err := leads.ExportLeads(context.Background(), &liaisonv1.ExportLeadsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		exported = append(exported, resp.GetLead().GetId())
	}
	if len(exported) != len(created) {
		t.Fatalf("exported %d leads, created %d", len(exported), len(created))
	}
	bySeq := map[int64][]string{}
	events := map[int64]*liaisonv1.AuditEvent{}
	for _, id := range exported {
		e := baOneEvent(t, auditor, id, liaisonv1.LeadService_ExportLeads_FullMethodName)
		bySeq[e.GetSequence()] = append(bySeq[e.GetSequence()], id)
		events[e.GetSequence()] = e
	}
	for seq, ids := range bySeq {
		baRecords(t, events[seq], ids)
	}
	if len(bySeq) != 2 {
		t.Errorf("the export of %d leads recorded in %d events, want 2 (one per page of 500)", len(exported), len(bySeq))
	}
	t.Run("ByID", func(t *testing.T) {
		want := created[:3]
		stream, err := leads.ExportLeads(context.Background(), &liaisonv1.ExportLeadsRequest{Ids: want})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := stream.Recv(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		var seq int64
		for _, id := range want {
			evs := baEvents(t, auditor, id, liaisonv1.LeadService_ExportLeads_FullMethodName)
			if len(evs) != 2 {
				t.Fatalf("lead %s in %d export events, want 2 (the full export, then by id)", id, len(evs))
			}
			if seq == 0 {
				seq = evs[0].GetSequence()
				baRecords(t, evs[0], want)
			} else if evs[0].GetSequence() != seq {
				t.Errorf("lead %s in event %d, want %d", id, evs[0].GetSequence(), seq)
			}
		}
	})
}

func TestBulkAudit_WatchCancelled(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	feed := feedClient(t, n, "service")
	createLeads(t, leads, 5, 1, "feed")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := feed.Watch(ctx, &liaisonv1.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	const k = 3
	var got []string
	for len(got) < k {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if c := resp.GetChange(); c != nil {
			got = append(got, c.GetRecordId())
		}
	}
	cancel() // cut mid-way

	// One more delivered live, while the next stream is open.
	stream2, err := feed.Watch(context.Background(), &liaisonv1.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream2.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetChange() == nil {
			break // caught up
		}
	}
	more, _ := createLeads(t, leads, 1, 1, "live")
	for {
		resp, err := stream2.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetChange().GetRecordId() == more[0] {
			break
		}
	}

	for _, id := range got {
		evs := baEvents(t, auditor, id, liaisonv1.ChangeFeedService_Watch_FullMethodName)
		if len(evs) < 1 {
			t.Errorf("lead %s delivered by Watch, recorded in no Watch event", id)
		}
		for _, e := range evs {
			if !strings.HasPrefix(e.GetPrincipal(), "spiffe://alpha.liaison.test/service/") {
				t.Errorf("event %d principal %s", e.GetSequence(), e.GetPrincipal())
			}
		}
	}
	// The live delivery is in the log while the stream is still open.
	nodetest.Eventually(t, 5*time.Second, func() error {
		if evs := baEvents(t, auditor, more[0], liaisonv1.ChangeFeedService_Watch_FullMethodName); len(evs) != 1 {
			return fmt.Errorf("live change of %s in %d Watch events, want 1", more[0], len(evs))
		}
		return nil
	})
}

func TestBulkAudit_RecordFilter(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	ctx := context.Background()
	created, _ := createLeads(t, leads, 3, 1, "filter")
	slices.Sort(created) // UUIDv7: creation order
	x := created[0]
	if _, err := leads.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: x}); err != nil {
		t.Fatal(err)
	}
	// A page with x, and one without it.
	if _, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{PageSize: 1000}); err != nil {
		t.Fatal(err)
	}
	first, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{PageSize: 1, PageToken: first.GetNextPageToken()}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range baEvents(t, auditor, x, "") {
		got = append(got, e.GetAction()+" "+e.GetOutcome())
	}
	// ListLeads is newest first: the page of one holding the newest lead
	// does not hold x (the oldest); the second page of one does not either.
	var want []string
	want = append(want, liaisonv1.LeadService_ListLeads_FullMethodName+" OK") // the page of 1000
	want = append(want, liaisonv1.LeadService_GetLead_FullMethodName+" OK")
	want = append(want, liaisonv1.LeadService_CreateLead_FullMethodName+" OK")
	if order := pageOrder(t, leads); order[0] == x || order[1] == x {
		t.Fatalf("list order %v puts %s on an early page", order, x)
	}
	if !slices.Equal(got, want) {
		t.Errorf("events about %s:\n got %q\nwant %q", x, got, want)
	}
	t.Run("Unknown", func(t *testing.T) {
		if evs := baEvents(t, auditor, "0190f1c2-0000-7000-8000-00000000dead", ""); len(evs) != 0 {
			t.Errorf("%d events about a record that never existed", len(evs))
		}
	})
}

// pageOrder is the order ListLeads returns the leads in.
func pageOrder(t *testing.T, leads liaisonv1.LeadServiceClient) []string {
	t.Helper()
	resp, err := leads.ListLeads(context.Background(), &liaisonv1.ListLeadsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range resp.GetLeads() {
		ids = append(ids, l.GetId())
	}
	return ids
}

// TestBulkAudit_OtherBulkReads: cases, case entries, manifests and person
// search hits are recorded by id like lead pages.
func TestBulkAudit_OtherBulkReads(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	ctx := context.Background()
	cases := liaisonv1.NewCaseServiceClient(n.Conn(t, "analyst"))
	manifests := liaisonv1.NewManifestServiceClient(n.Conn(t, "analyst"))
	search := liaisonv1.NewSearchServiceClient(n.Conn(t, "analyst"))
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))

	var caseIDs []string
	for i := range 3 {
		c, err := cases.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: newCase(fmt.Sprintf("case %d", i))})
		if err != nil {
			t.Fatal(err)
		}
		caseIDs = append(caseIDs, c.GetCase().GetId())
	}
	var entryIDs []string
	for i := range 2 {
		e, err := cases.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: caseIDs[0], Entry: note(fmt.Sprintf("note %d", i))})
		if err != nil {
			t.Fatal(err)
		}
		entryIDs = append(entryIDs, e.GetEntry().GetId())
	}
	m, err := manifests.CreateManifest(ctx, &liaisonv1.CreateManifestRequest{Manifest: &liaisonv1.Manifest{
		ReceivingAgency: "bravo", LegalBasis: "Readmission agreement alpha–bravo, art. 5",
	}})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := cases.ListCases(ctx, &liaisonv1.ListCasesRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cases.ListCaseEntries(ctx, &liaisonv1.ListCaseEntriesRequest{CaseId: caseIDs[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := manifests.ListManifests(ctx, &liaisonv1.ListManifestsRequest{}); err != nil {
		t.Fatal(err)
	}
	hits, err := search.SearchPersons(ctx, &liaisonv1.SearchPersonsRequest{Name: "Chen Wei"})
	if err != nil {
		t.Fatal(err)
	}
	var hitIDs []string
	for _, h := range hits.GetHits() {
		hitIDs = append(hitIDs, h.GetRecordId())
	}
	if len(hitIDs) != 3 {
		t.Fatalf("search hits in %v, want the 3 cases", hitIDs)
	}

	for _, id := range caseIDs {
		baRecords(t, baOneEvent(t, auditor, id, liaisonv1.CaseService_ListCases_FullMethodName), caseIDs)
		baRecords(t, baOneEvent(t, auditor, id, liaisonv1.SearchService_SearchPersons_FullMethodName), hitIDs)
	}
	for _, id := range entryIDs {
		baRecords(t, baOneEvent(t, auditor, id, liaisonv1.CaseService_ListCaseEntries_FullMethodName), entryIDs)
	}
	baRecords(t, baOneEvent(t, auditor, m.GetManifest().GetId(), liaisonv1.ManifestService_ListManifests_FullMethodName), []string{m.GetManifest().GetId()})
}
