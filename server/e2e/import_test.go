package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

const (
	importCreated  = liaisonv1.ImportOutcome_IMPORT_OUTCOME_CREATED
	importAlready  = liaisonv1.ImportOutcome_IMPORT_OUTCOME_ALREADY_IMPORTED
	importRejected = liaisonv1.ImportOutcome_IMPORT_OUTCOME_REJECTED
)

// importRID is the request id of item n of a test.
func importRID(n int) string { return fmt.Sprintf("0190f1c2-0000-7000-8000-%012d", n) }

// importSubjectLead is newLead with a subject whose phone and document the
// node normalises.
func importSubjectLead(title, phone string) *liaisonv1.Lead {
	l := newLead(title)
	l.Subjects = []*liaisonv1.Person{{
		Names:        []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}},
		PhoneNumbers: []*liaisonv1.PhoneNumber{{Number: phone}},
		Documents:    []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "e12 345-67", IssuingCountry: "CHN"}},
	}}
	return l
}

// TestImport_Items: one call with good, bad and repeated items gets a
// result per item, in order; one audit event counts them; a second call
// creates nothing.
func TestImport_Items(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	ctx := context.Background()
	noTitle := newLead("")
	noTitle.Summary = ""
	items := []*liaisonv1.ImportItem{
		{Line: 1, RequestId: importRID(1), Lead: importSubjectLead("Kupang boats", "+66 81 234 5678")},
		{Line: 2, RequestId: importRID(2), Lead: noTitle},
		{Line: 4, RequestId: importRID(4), Lead: importSubjectLead("national phone", "081 234 5678")},
		{Line: 5, RequestId: importRID(5), Lead: newLead("Batam ferries")},
		{Line: 7, RequestId: importRID(1), Lead: importSubjectLead("Kupang boats", "+66 81 234 5678")},
		{Line: 8, RequestId: importRID(5), Lead: newLead("not Batam ferries")},
		{Line: 9, RequestId: importRID(9)},
	}
	resp, err := leads.ImportLeads(ctx, &liaisonv1.ImportLeadsRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetResults()
	if len(got) != len(items) {
		t.Fatalf("%d results for %d items", len(got), len(items))
	}
	id1, id5 := got[0].GetLeadId(), got[3].GetLeadId()
	fe := func(field, desc string) *liaisonv1.FieldError {
		return &liaisonv1.FieldError{Field: field, Description: desc}
	}
	want := []*liaisonv1.ImportResult{
		{Line: 1, Outcome: importCreated, LeadId: id1},
		{Line: 2, Outcome: importRejected, Code: "INVALID_ARGUMENT", Message: "lead: a lead needs at least one subject or a summary [lead.subject_or_summary] (and 1 more)",
			FieldErrors: []*liaisonv1.FieldError{
				fe("lead", "a lead needs at least one subject or a summary [lead.subject_or_summary]"),
				fe("lead.title", "must be at least 1 characters [string.min_len]"),
			}},
		{Line: 4, Outcome: importRejected, Code: "INVALID_ARGUMENT",
			Message:     `lead.subjects[0].phone_numbers[0].number: "081 234 5678" is not in international format (+…); give its region`,
			FieldErrors: []*liaisonv1.FieldError{fe("lead.subjects[0].phone_numbers[0].number", `"081 234 5678" is not in international format (+…); give its region`)}},
		{Line: 5, Outcome: importCreated, LeadId: id5},
		{Line: 7, Outcome: importAlready, LeadId: id1},
		{Line: 8, Outcome: importRejected, Code: "ALREADY_EXISTS", Message: "request_id " + importRID(5) + " was already used for a different request"},
		{Line: 9, Outcome: importRejected, Code: "INVALID_ARGUMENT", Message: "lead: value is required [required]",
			FieldErrors: []*liaisonv1.FieldError{fe("lead", "value is required [required]")}},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}

	// Created as CreateLead creates: a normalised draft of the caller.
	l, err := leads.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: id1})
	if err != nil {
		t.Fatal(err)
	}
	p := l.GetLead().GetSubjects()[0]
	if l.GetLead().GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_DRAFT || l.GetLead().GetCreatedBy() != "spiffe://alpha.liaison.test/analyst/alice" ||
		p.GetPhoneNumbers()[0].GetNumber() != "+66812345678" || p.GetDocuments()[0].GetNumber() != "E1234567" {
		t.Errorf("imported lead: %v", l.GetLead())
	}

	// The call is one audit event, counting what became of its items.
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	events := func() []*liaisonv1.AuditEvent {
		t.Helper()
		r, err := auditor.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Action: liaisonv1.LeadService_ImportLeads_FullMethodName, PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetEvents()
	}
	ev := events()
	if len(ev) != 1 || ev[0].GetResource() != "leads" || ev[0].GetOutcome() != "OK" ||
		ev[0].GetDetail() != "created 2, already imported 1, rejected 4 of 7 (lines 1-9)" {
		t.Errorf("audit events of the import: %v", ev)
	}

	t.Run("Again", func(t *testing.T) {
		again, err := leads.ImportLeads(ctx, &liaisonv1.ImportLeadsRequest{Items: items})
		if err != nil {
			t.Fatal(err)
		}
		want[0].Outcome, want[3].Outcome = importAlready, importAlready
		if diff := cmp.Diff(want, again.GetResults(), protocmp.Transform()); diff != "" {
			t.Errorf("results of the second call (-want +got):\n%s", diff)
		}
		list, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{})
		if err != nil || len(list.GetLeads()) != 2 {
			t.Errorf("%d leads after importing twice, want 2 (%v)", len(list.GetLeads()), err)
		}
		if ev := events(); len(ev) != 2 || ev[0].GetDetail() != "created 0, already imported 3, rejected 4 of 7 (lines 1-9)" {
			t.Errorf("audit events: %v", ev)
		}
	})
	t.Run("BadCall", func(t *testing.T) {
		// The call's own rules fail the whole call, at the item's path.
		many := make([]*liaisonv1.ImportItem, 1001)
		for i := range many {
			many[i] = &liaisonv1.ImportItem{Line: int64(i + 1), RequestId: importRID(10000 + i), Lead: newLead("x")}
		}
		for name, tc := range map[string]struct {
			items []*liaisonv1.ImportItem
			field string
		}{
			"NoItems":       {nil, "items"},
			"TooMany":       {many, "items"},
			"BadRequestID":  {[]*liaisonv1.ImportItem{{Line: 1, RequestId: "42", Lead: newLead("x")}}, "items[0].request_id"},
			"NoRequestID":   {[]*liaisonv1.ImportItem{{Line: 1, Lead: newLead("x")}}, "items[0].request_id"},
			"NegativeLine":  {[]*liaisonv1.ImportItem{{Line: -1, RequestId: importRID(3), Lead: newLead("x")}}, "items[0].line"},
			"SecondItemBad": {[]*liaisonv1.ImportItem{{Line: 1, RequestId: importRID(3), Lead: newLead("x")}, {Line: 2, RequestId: "{" + importRID(3) + "}"}}, "items[1].request_id"},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := leads.ImportLeads(ctx, &liaisonv1.ImportLeadsRequest{Items: tc.items})
				if status.Code(err) != codes.InvalidArgument {
					t.Fatalf("got %v, want InvalidArgument", err)
				}
				var fields []string
				for _, d := range status.Convert(err).Details() {
					if br, ok := d.(*errdetails.BadRequest); ok {
						for _, v := range br.GetFieldViolations() {
							fields = append(fields, v.GetField())
						}
					}
				}
				if len(fields) != 1 || fields[0] != tc.field {
					t.Errorf("violations at %v, want %s", fields, tc.field)
				}
			})
		}
		list, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{})
		if err != nil || len(list.GetLeads()) != 2 {
			t.Errorf("%d leads after refused calls, want 2 (%v)", len(list.GetLeads()), err)
		}
	})
}

// TestImport_ConcurrentCallsCreateOnce: the same items imported by several
// callers at once are created once.
func TestImport_ConcurrentCallsCreateOnce(t *testing.T) {
	t.Parallel()
	n := startAlpha(t)
	items := make([]*liaisonv1.ImportItem, 300)
	for i := range items {
		items[i] = &liaisonv1.ImportItem{Line: int64(i + 1), RequestId: importRID(i + 1), Lead: newLead(fmt.Sprintf("lead %d", i))}
	}
	const callers = 4
	var wg sync.WaitGroup
	created := make([]int, callers)
	ids := make([]map[int64]string, callers)
	for c := range callers {
		role := []string{"analyst", "supervisor", "service", "analyst"}[c]
		leads := liaisonv1.NewLeadServiceClient(n.Conn(t, role))
		wg.Go(func() {
			ids[c] = map[int64]string{}
			for start := 0; start < len(items); start += 50 { // each caller in its own batches
				resp, err := leads.ImportLeads(context.Background(), &liaisonv1.ImportLeadsRequest{Items: items[start : start+50]})
				if err != nil {
					t.Error(err)
					return
				}
				for _, r := range resp.GetResults() {
					if r.GetOutcome() == importCreated {
						created[c]++
					}
					ids[c][r.GetLine()] = r.GetLeadId()
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for c := range callers {
		total += created[c]
		if diff := cmp.Diff(ids[0], ids[c]); diff != "" {
			t.Errorf("caller %d was told of other leads (-caller 0 +caller %d):\n%s", c, c, diff)
		}
	}
	if total != len(items) {
		t.Errorf("%d leads created by %d callers importing the same %d items, want %d", total, callers, len(items), len(items))
	}
}

// TestImport_ExportRefusesH2Replica: leads imported on alpha and released
// to bravo; bravo's export writes the H0 one and refuses the H2 one,
// naming its code.
func TestImport_ExportRefusesH2Replica(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, nil)
	alpha, bravo := clients(t, a), clients(t, b)
	ctx := context.Background()
	resp, err := alpha.analyst.ImportLeads(ctx, &liaisonv1.ImportLeadsRequest{Items: []*liaisonv1.ImportItem{
		{Line: 1, RequestId: importRID(1), Lead: permLead("open", liaisonv1.HandlingCode_HANDLING_CODE_H0)},
		{Line: 2, RequestId: importRID(2), Lead: permLead("closed", liaisonv1.HandlingCode_HANDLING_CODE_H2)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range resp.GetResults() {
		if r.GetOutcome() != importCreated {
			t.Fatalf("import: %v", r)
		}
		if _, err := alpha.supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: r.GetLeadId(), Partners: []string{"bravo"}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.GetLeadId())
	}
	open, closed := ids[0], ids[1]
	nodetest.Eventually(t, 15*time.Second, func() error {
		for _, id := range ids {
			if _, err := bravo.analyst.GetLead(ctx, &liaisonv1.GetLeadRequest{Id: id}); err != nil {
				return err
			}
		}
		return nil
	})
	exported, refused, err := permExport(t, liaisonv1.NewLeadServiceClient(b.Conn(t, "service")), &liaisonv1.ExportLeadsRequest{OriginAgency: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	if len(exported) != 1 || exported[0] != open {
		t.Errorf("exported %v, want only %s", exported, open)
	}
	if len(refused) != 1 || refused[0].GetId() != closed || refused[0].GetHandlingCode() != liaisonv1.HandlingCode_HANDLING_CODE_H2 ||
		!strings.Contains(refused[0].GetReason(), "handling code H2 of alpha forbids export") {
		t.Errorf("refused %v, want %s refused for H2", refused, closed)
	}
	// alpha, the originator, exports its own H2 lead.
	exported, refused, err = permExport(t, alpha.analyst, &liaisonv1.ExportLeadsRequest{})
	if err != nil || len(exported) != 2 || len(refused) != 0 {
		t.Errorf("alpha's export: exported %v refused %v (%v)", exported, refused, err)
	}
}
