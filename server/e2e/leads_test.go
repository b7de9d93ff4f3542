package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

func newLead(title string) *liaisonv1.Lead {
	return &liaisonv1.Lead{
		Title:      title,
		Summary:    "Recruiter advertises crossings on messaging apps",
		CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
		Evaluation: &liaisonv1.Evaluation{
			SourceReliability:   liaisonv1.SourceReliability_SOURCE_RELIABILITY_B,
			InformationAccuracy: liaisonv1.InformationAccuracy_INFORMATION_ACCURACY_2,
		},
		Handling: &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0},
	}
}

func startAlpha(t *testing.T) *nodetest.Node {
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	return nodetest.Start(t, pki, pki.Config("alpha", t.TempDir(), "bravo"), nil)
}

func TestLeads_IdempotentCreate(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	ctx := context.Background()
	req := &liaisonv1.CreateLeadRequest{Lead: newLead("Kupang boats"), RequestId: "0190f1c2-0000-7000-8000-000000000001"}
	first, err := leads.CreateLead(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := leads.CreateLead(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first.GetLead(), again.GetLead(), protocmp.Transform()); diff != "" {
		t.Errorf("retry returned another lead (-first +retry):\n%s", diff)
	}
	list, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(list.GetLeads()); got != 1 {
		t.Errorf("after a retried create there are %d leads, want 1", got)
	}
	req.Lead.Title = "Something else"
	_, err = leads.CreateLead(ctx, req)
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("same request_id, other payload: got %v, want AlreadyExists", err)
	}
}

func TestLeads_StaleEtag(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	ctx := context.Background()
	created, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("v1")})
	if err != nil {
		t.Fatal(err)
	}
	l := created.GetLead()
	upd := func(title, etag string) error {
		_, err := leads.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{
			Lead:       &liaisonv1.Lead{Id: l.GetId(), Etag: etag, Title: title},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
		})
		return err
	}
	if err := upd("v2", l.GetEtag()); err != nil {
		t.Fatalf("update with current etag: %v", err)
	}
	if err := upd("v3", l.GetEtag()); status.Code(err) != codes.Aborted {
		t.Fatalf("update with stale etag: got %v, want Aborted", err)
	}
	got, err := leads.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: l.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetLead().GetTitle() != "v2" || got.GetLead().GetVersion() != 2 {
		t.Errorf("after one good and one stale update: title %q version %d, want v2 / 2", got.GetLead().GetTitle(), got.GetLead().GetVersion())
	}
}

func TestLeads_PaginationWithConcurrentInserts(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	ctx := context.Background()
	const existing = 2500
	want := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 10; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < existing/10; i++ {
				r, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("page me")})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[r.GetLead().GetId()] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(want) != existing {
		t.Fatalf("created %d leads, want %d", len(want), existing)
	}

	// Insert more leads while paging: paging starts once the first of
	// them is in.
	stop := make(chan struct{})
	inserted := make(chan int)
	started := make(chan struct{})
	go func() {
		n := 0
		defer func() { inserted <- n }()
		defer func() {
			if n == 0 {
				close(started)
			}
		}()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("concurrent")}); err != nil {
				t.Error(err)
				return
			}
			if n++; n == 1 {
				close(started)
			}
		}
	}()
	<-started
	seen := map[string]int{}
	token := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages of 37 for 2,500 leads")
		}
		resp, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{PageSize: 37, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range resp.GetLeads() {
			seen[l.GetId()]++
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	close(stop)
	during := <-inserted
	t.Logf("%d leads inserted while paging", during)
	if during < 2 {
		t.Fatalf("%d leads inserted while paging: the pages were not read under concurrent inserts", during)
	}
	for id, c := range seen {
		if c > 1 {
			t.Errorf("lead %s listed %d times", id, c)
		}
	}
	for id := range want {
		if seen[id] == 0 {
			t.Errorf("lead %s, present before paging began, was skipped", id)
		}
	}
	// A token is bound to its filters.
	first, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, err = leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{PageSize: 5, PageToken: first.GetNextPageToken(), Status: liaisonv1.LeadStatus_LEAD_STATUS_RELEASED})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("token reused with other filters: %v, want InvalidArgument", err)
	}
}

// outboxRows reads the envelopes written for a record from the node's
// database file.
func outboxRows(t *testing.T, dbPath, recordID string) []string {
	t.Helper()
	d, err := sql.Open("sqlite3", "file:"+dbPath+"?_query_only=on")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rows, err := d.Query("SELECT partner, seq, kind, record_version FROM outbox WHERE record_id = ? ORDER BY partner, seq", recordID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var partner string
		var seq, kind, version int64
		if err := rows.Scan(&partner, &seq, &kind, &version); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s#%d %s v%d", partner, seq, liaisonv1.EnvelopeKind(kind), version))
	}
	return out
}

func TestLeads_ReleaseAndWithdraw(t *testing.T) {
	t.Parallel()
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	n := nodetest.Start(t, pki, cfg, nil)
	analyst := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	supervisor := liaisonv1.NewLeadServiceClient(n.Conn(t, "supervisor"))
	ctx := context.Background()
	created, err := analyst.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("release me")})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetLead().GetId()

	if _, err := analyst.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo"}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("release by an analyst: %v, want PermissionDenied", err)
	}
	if _, err := supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"charlie"}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("release to a non-partner: %v, want InvalidArgument", err)
	}
	if got := outboxRows(t, cfg.Database.Path, id); len(got) != 0 {
		t.Fatalf("refused releases wrote envelopes: %v", got)
	}
	rel, err := supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo"}})
	if err != nil {
		t.Fatal(err)
	}
	if l := rel.GetLead(); l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_RELEASED || !slices.Equal(l.GetReleasedTo(), []string{"bravo"}) || l.GetVersion() != 2 {
		t.Fatalf("after release: status %v released_to %v version %d", l.GetStatus(), l.GetReleasedTo(), l.GetVersion())
	}
	// Releasing again to the same partner changes nothing.
	again, err := supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo"}})
	if err != nil || again.GetLead().GetVersion() != 2 {
		t.Fatalf("second release: version %d, err %v; want version 2", again.GetLead().GetVersion(), err)
	}
	if got, want := outboxRows(t, cfg.Database.Path, id), []string{"bravo#1 ENVELOPE_KIND_LEAD v2"}; !slices.Equal(got, want) {
		t.Fatalf("outbox after release: %v, want %v", got, want)
	}

	// An update of a released lead goes to the partner too.
	upd, err := analyst.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{
		Lead:       &liaisonv1.Lead{Id: id, Etag: rel.GetLead().GetEtag(), Summary: "new facts"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}},
	})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := analyst.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: id, Reason: "source burned"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("withdraw by an analyst: %v, want PermissionDenied", err)
	}
	wd, err := supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: id, Reason: "source burned", Etag: upd.GetLead().GetEtag()})
	if err != nil {
		t.Fatal(err)
	}
	if l := wd.GetLead(); l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN || l.GetWithdrawReason() != "source burned" || l.GetWithdrawTime() == nil {
		t.Fatalf("after withdraw: %v", l)
	}
	want := []string{"bravo#1 ENVELOPE_KIND_LEAD v2", "bravo#2 ENVELOPE_KIND_LEAD v3", "bravo#3 ENVELOPE_KIND_LEAD_TOMBSTONE v4"}
	if got := outboxRows(t, cfg.Database.Path, id); !slices.Equal(got, want) {
		t.Fatalf("outbox after update and withdrawal: %v, want %v", got, want)
	}
	for name, call := range map[string]func() error{
		"withdraw again": func() error {
			_, err := supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: id, Reason: "again"})
			return err
		},
		"update": func() error {
			_, err := analyst.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{
				Lead: &liaisonv1.Lead{Id: id, Etag: wd.GetLead().GetEtag(), Title: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
			})
			return err
		},
		"release": func() error {
			_, err := supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: id, Partners: []string{"bravo"}})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("%s after withdrawal: %v, want FailedPrecondition", name, err)
		}
	}
	if _, err := supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: "0190f1c2-0000-7000-8000-00000000abcd", Reason: "x"}); status.Code(err) != codes.NotFound {
		t.Errorf("withdraw of an unknown lead: %v, want NotFound", err)
	}
}
