package leads

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/validate"
)

// testServer is the lead service of agency alpha on a real SQLite file.
func testServer(t *testing.T) (*Server, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "alpha.db"), store.Options{Synchronous: "normal", Agency: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := validate.New()
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Store: st, Validator: v, Agency: "alpha", Partners: []string{"bravo"}, ReviewAfter: 365 * 24 * time.Hour}), st
}

const analystID = "spiffe://alpha.liaison.test/analyst/alice"

// callCtx is the context of a call by alpha's analyst, as the interceptors
// make it, with the call's audit record.
func callCtx() (context.Context, *audit.Call) {
	ctx := identity.NewContext(context.Background(), identity.Identity{Agency: "alpha", Role: identity.Analyst, Name: "alice", ID: analystID})
	call := &audit.Call{Agency: "alpha", Principal: analystID, Role: "analyst", Action: importMethod, RequestID: "test"}
	return audit.NewContext(ctx, call), call
}

func importLead(title string) *liaisonv1.Lead {
	return &liaisonv1.Lead{
		Title:      title,
		Summary:    "Recruiter advertises crossings on messaging apps",
		CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
		Evaluation: &liaisonv1.Evaluation{
			SourceReliability:   liaisonv1.SourceReliability_SOURCE_RELIABILITY_B,
			InformationAccuracy: liaisonv1.InformationAccuracy_INFORMATION_ACCURACY_2,
		},
		Handling: &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0},
		Subjects: []*liaisonv1.Person{{
			Names:        []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}},
			PhoneNumbers: []*liaisonv1.PhoneNumber{{Number: "+66 81 234 5678"}},
			Documents:    []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "e12-345 67", IssuingCountry: "CHN"}},
		}},
	}
}

// recordedEvent writes the call's event as the interceptor would after the
// handler (a no-op if the handler's write recorded it) and returns the
// newest event of the log.
func recordedEvent(t *testing.T, st *store.Store, ctx context.Context, call *audit.Call) audit.Event {
	t.Helper()
	if !call.Recorded() {
		if err := st.RecordCall(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := st.ListAuditEvents(context.Background(), store.AuditFilter{}, 0, 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("audit events: %v %v", evs, err)
	}
	return evs[0]
}

func TestServer_ImportLeads(t *testing.T) {
	t.Parallel()
	s, st := testServer(t)
	const (
		rid1 = "0190f1c2-0000-7000-8000-000000000001"
		rid2 = "0190f1c2-0000-7000-8000-000000000002"
		rid3 = "0190f1c2-0000-7000-8000-000000000003"
		rid4 = "0190f1c2-0000-7000-8000-000000000004"
		rid5 = "0190f1c2-0000-7000-8000-000000000005"
	)
	noTitle := importLead("")
	nationalPhone := importLead("national phone")
	nationalPhone.Subjects[0].PhoneNumbers[0].Number = "081 234 5678"
	items := []*liaisonv1.ImportItem{
		{Line: 1, RequestId: rid1, Lead: importLead("Kupang boats")},
		{Line: 2, RequestId: rid2, Lead: noTitle},
		{Line: 3, RequestId: rid3, Lead: nationalPhone},
		{Line: 4, RequestId: rid4},
		// The same request twice in one call: created once.
		{Line: 5, RequestId: rid5, Lead: importLead("Batam ferries")},
		{Line: 6, RequestId: rid5, Lead: importLead("Batam ferries")},
		// A request id reused for another lead.
		{Line: 7, RequestId: rid1, Lead: importLead("something else")},
	}
	ctx, call := callCtx()
	resp, err := s.ImportLeads(ctx, &liaisonv1.ImportLeadsRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	const (
		created  = liaisonv1.ImportOutcome_IMPORT_OUTCOME_CREATED
		already  = liaisonv1.ImportOutcome_IMPORT_OUTCOME_ALREADY_IMPORTED
		rejected = liaisonv1.ImportOutcome_IMPORT_OUTCOME_REJECTED
	)
	got := resp.GetResults()
	if len(got) != len(items) {
		t.Fatalf("%d results for %d items", len(got), len(items))
	}
	id1, id5 := got[0].GetLeadId(), got[4].GetLeadId()
	want := []*liaisonv1.ImportResult{
		{Line: 1, Outcome: created, LeadId: id1},
		{Line: 2, Outcome: rejected, Code: "INVALID_ARGUMENT", Message: "lead.title: must be at least 1 characters [string.min_len]",
			FieldErrors: []*liaisonv1.FieldError{{Field: "lead.title", Description: "must be at least 1 characters [string.min_len]"}}},
		{Line: 3, Outcome: rejected, Code: "INVALID_ARGUMENT",
			Message: `lead.subjects[0].phone_numbers[0].number: "081 234 5678" is not in international format (+…); give its region`,
			FieldErrors: []*liaisonv1.FieldError{{Field: "lead.subjects[0].phone_numbers[0].number",
				Description: `"081 234 5678" is not in international format (+…); give its region`}}},
		{Line: 4, Outcome: rejected, Code: "INVALID_ARGUMENT", Message: "lead: value is required [required]",
			FieldErrors: []*liaisonv1.FieldError{{Field: "lead", Description: "value is required [required]"}}},
		{Line: 5, Outcome: created, LeadId: id5},
		{Line: 6, Outcome: already, LeadId: id5},
		{Line: 7, Outcome: rejected, Code: "ALREADY_EXISTS", Message: "request_id " + rid1 + " was already used for a different request"},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if id1 == "" || id5 == "" || id1 == id5 {
		t.Errorf("lead ids %q and %q", id1, id5)
	}
	if e := recordedEvent(t, st, ctx, call); e.Resource != "leads" || e.Outcome != "OK" ||
		e.Detail != "created 2, already imported 1, rejected 4 of 7 (lines 1-7)" {
		t.Errorf("audit event: resource %q outcome %q detail %q", e.Resource, e.Outcome, e.Detail)
	}

	// Stored as CreateLead stores a lead: a normalised draft of alpha.
	l, err := st.Lead(context.Background(), id1)
	if err != nil {
		t.Fatal(err)
	}
	if l.GetOriginAgency() != "alpha" || l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_DRAFT || l.GetVersion() != 1 ||
		l.GetCreatedBy() != analystID || l.GetReviewDate() == nil || l.GetCreateTime() == nil {
		t.Errorf("stored lead: %v", l)
	}
	p := l.GetSubjects()[0]
	if p.GetId() == "" || p.GetPhoneNumbers()[0].GetNumber() != "+66812345678" || p.GetDocuments()[0].GetNumber() != "E1234567" {
		t.Errorf("subject not normalised: %v", p)
	}

	// Again: nothing is created twice.
	ctx, call = callCtx()
	again, err := s.ImportLeads(ctx, &liaisonv1.ImportLeadsRequest{Items: []*liaisonv1.ImportItem{items[0], items[4]}})
	if err != nil {
		t.Fatal(err)
	}
	want = []*liaisonv1.ImportResult{{Line: 1, Outcome: already, LeadId: id1}, {Line: 5, Outcome: already, LeadId: id5}}
	if diff := cmp.Diff(want, again.GetResults(), protocmp.Transform()); diff != "" {
		t.Errorf("re-import (-want +got):\n%s", diff)
	}
	if e := recordedEvent(t, st, ctx, call); e.Detail != "created 0, already imported 2, rejected 0 of 2 (lines 1-5)" {
		t.Errorf("audit detail of the re-import: %q", e.Detail)
	}
	leads, err := st.ListLeads(context.Background(), store.LeadFilter{}, "", 100)
	if err != nil || len(leads) != 2 {
		t.Errorf("%d leads stored, want 2 (%v)", len(leads), err)
	}
}

// A call whose every item is rejected writes nothing; the interceptor
// records it, with the detail the handler set.
func TestServer_ImportLeads_AllRejected(t *testing.T) {
	t.Parallel()
	s, st := testServer(t)
	ctx, call := callCtx()
	resp, err := s.ImportLeads(ctx, &liaisonv1.ImportLeadsRequest{Items: []*liaisonv1.ImportItem{
		{Line: 9, RequestId: "0190f1c2-0000-7000-8000-000000000009", Lead: importLead("")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.GetResults(); len(r) != 1 || r[0].GetOutcome() != liaisonv1.ImportOutcome_IMPORT_OUTCOME_REJECTED {
		t.Errorf("results: %v", r)
	}
	if call.Recorded() {
		t.Error("the handler recorded a call that wrote nothing")
	}
	if e := recordedEvent(t, st, ctx, call); e.Detail != "created 0, already imported 0, rejected 1 of 1 (line 9)" {
		t.Errorf("audit detail: %q", e.Detail)
	}
}

// CreateLead and ImportLeads share the creation of a lead, not their
// request ids: the same id in both is two requests.
func TestServer_ImportLeads_RequestIDsApartFromCreate(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t)
	const rid = "0190f1c2-0000-7000-8000-000000000042"
	ctx, _ := callCtx()
	c, err := s.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: importLead("created"), RequestId: rid})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ = callCtx()
	resp, err := s.ImportLeads(ctx, &liaisonv1.ImportLeadsRequest{Items: []*liaisonv1.ImportItem{{Line: 1, RequestId: rid, Lead: importLead("imported")}}})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.GetResults()[0]
	if r.GetOutcome() != liaisonv1.ImportOutcome_IMPORT_OUTCOME_CREATED || r.GetLeadId() == c.GetLead().GetId() {
		t.Errorf("import after a create with the same request id: %v", r)
	}
	// Both stamped alike by the shared code.
	ctx, _ = callCtx()
	in := importLead("created")
	again, err := s.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: in, RequestId: rid})
	if err != nil || !proto.Equal(again.GetLead(), c.GetLead()) {
		t.Errorf("retried create: %v %v", again, err)
	}
}
