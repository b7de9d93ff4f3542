package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// vldCaseRecord is a case that uses every field with a rule, validly. Its
// subjects are vldLead's, so that every Person rule of leadRules applies
// to them as well. Each case below breaks exactly one rule of a copy.
func vldCaseRecord() *liaisonv1.Case {
	return &liaisonv1.Case{
		Title:               "Kupang boat network",
		Summary:             "Joint investigation of sea crossings organised from Kupang.",
		CrimeAreas:          []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING, liaisonv1.CrimeArea_CRIME_AREA_DOCUMENT_FRAUD},
		Status:              liaisonv1.CaseStatus_CASE_STATUS_ACTIVE,
		OriginatorReference: "ALPHA-CASE-2024-0007",
		PartnerReferences: []*liaisonv1.PartnerReference{
			{Agency: "bravo", Reference: "BRAVO/OPS/118"},
			{Agency: "charlie-2", Reference: "C-9"},
		},
		Subjects: vldLead().Subjects,
	}
}

// caseRule is one broken rule of a case, with the path of its violation.
type caseRule struct {
	name   string
	breaks func(c *liaisonv1.Case)
	field  string
}

// caseRules are the rules of Case, and (under "Subject/") every rule of
// leadRules about a lead's subjects, applied to the case's subjects.
var caseRules = func() []caseRule {
	rules := []caseRule{
		{"TitleEmpty", func(c *liaisonv1.Case) { c.Title = "" }, "case.title"},
		{"TitleTooLong", func(c *liaisonv1.Case) { c.Title = vldRepeat("a", 201) }, "case.title"},
		{"TitleTooLongThai", func(c *liaisonv1.Case) { c.Title = vldRepeat("ก", 201) }, "case.title"},
		{"SummaryTooLong", func(c *liaisonv1.Case) { c.Summary = vldRepeat("s", 20001) }, "case.summary"},
		{"CrimeAreasEmpty", func(c *liaisonv1.Case) { c.CrimeAreas = nil }, "case.crime_areas"},
		{"CrimeAreasTooMany", func(c *liaisonv1.Case) { c.CrimeAreas = []liaisonv1.CrimeArea{1, 2, 3, 4, 5, 6, 1} }, "case.crime_areas"},
		{"CrimeAreasDuplicate", func(c *liaisonv1.Case) { c.CrimeAreas = []liaisonv1.CrimeArea{2, 2} }, "case.crime_areas"},
		{"CrimeAreaUnspecified", func(c *liaisonv1.Case) { c.CrimeAreas = []liaisonv1.CrimeArea{0} }, "case.crime_areas[0]"},
		{"CrimeAreaUndefined", func(c *liaisonv1.Case) { c.CrimeAreas = []liaisonv1.CrimeArea{1, 99} }, "case.crime_areas[1]"},
		{"StatusUndefined", func(c *liaisonv1.Case) { c.Status = 99 }, "case.status"},
		{"OriginatorReferenceTooLong", func(c *liaisonv1.Case) { c.OriginatorReference = vldRepeat("r", 101) }, "case.originator_reference"},
		{"PartnerReferencesTooMany", func(c *liaisonv1.Case) { c.PartnerReferences = repeatMsg(c.PartnerReferences[0], 21) }, "case.partner_references"},
		{"PartnerReferenceAgencyEmpty", func(c *liaisonv1.Case) { c.PartnerReferences[0].Agency = "" }, "case.partner_references[0].agency"},
		{"PartnerReferenceAgencyUpperCase", func(c *liaisonv1.Case) { c.PartnerReferences[0].Agency = "Bravo" }, "case.partner_references[0].agency"},
		{"PartnerReferenceAgencyTooShort", func(c *liaisonv1.Case) { c.PartnerReferences[1].Agency = "c" }, "case.partner_references[1].agency"},
		{"PartnerReferenceAgencyTooLong", func(c *liaisonv1.Case) { c.PartnerReferences[0].Agency = vldRepeat("b", 32) }, "case.partner_references[0].agency"},
		{"PartnerReferenceEmpty", func(c *liaisonv1.Case) { c.PartnerReferences[1].Reference = "" }, "case.partner_references[1].reference"},
		{"PartnerReferenceTooLong", func(c *liaisonv1.Case) { c.PartnerReferences[0].Reference = vldRepeat("9", 101) }, "case.partner_references[0].reference"},
		// A subject id must be a UUID in the form every other id has (the
		// form protovalidate's uuid rule accepts).
		{"SubjectIdInBraces", func(c *liaisonv1.Case) {
			c.Subjects[0].Id = "{0190f1c2-0000-7000-8000-00000000beef}"
		}, "case.subjects[0].id"},
		{"SubjectIdWithoutHyphens", func(c *liaisonv1.Case) { c.Subjects[0].Id = "0190f1c20000700080000000000beef0" }, "case.subjects[0].id"},
	}
	for _, lr := range leadRules {
		if lr.field != "lead.subjects" && !strings.HasPrefix(lr.field, "lead.subjects[") {
			continue
		}
		rules = append(rules, caseRule{
			name: "Subject/" + lr.name,
			breaks: func(c *liaisonv1.Case) {
				l := &liaisonv1.Lead{Subjects: c.Subjects}
				lr.breaks(l)
				c.Subjects = l.Subjects
			},
			field: "case." + strings.TrimPrefix(lr.field, "lead."),
		})
	}
	return rules
}()

// TestValidation_CreateCase sends CreateCase with each single defect, and
// checks afterwards that none of the refused calls left a case behind or
// claimed the request id.
func TestValidation_CreateCase(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	cases := liaisonv1.NewCaseServiceClient(node.Conn(t, "analyst"))
	ctx := context.Background()
	const requestID = "0190f1c2-0000-7000-8000-0000000000c5"

	type createCase struct {
		name   string
		breaks func(r *liaisonv1.CreateCaseRequest)
		field  string
	}
	tests := []createCase{
		{"RequestIdNotUUID", func(r *liaisonv1.CreateCaseRequest) { r.RequestId = "retry-1" }, "request_id"},
		{"CaseMissing", func(r *liaisonv1.CreateCaseRequest) { r.Case = nil }, "case"},
		// A case is closed by CloseCase only (the service's rule).
		{"StatusClosed", func(r *liaisonv1.CreateCaseRequest) { r.Case.Status = liaisonv1.CaseStatus_CASE_STATUS_CLOSED }, "case.status"},
	}
	for _, cr := range caseRules {
		tests = append(tests, createCase{cr.name, func(r *liaisonv1.CreateCaseRequest) { cr.breaks(r.Case) }, cr.field})
	}
	t.Run("Rejects", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				req := &liaisonv1.CreateCaseRequest{Case: vldCaseRecord(), RequestId: requestID}
				tc.breaks(req)
				_, err := cases.CreateCase(ctx, req)
				wantViolation(t, err, tc.field)
			})
		}
	})

	list, err := cases.ListCases(ctx, &liaisonv1.ListCasesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(list.GetCases()); got != 0 {
		t.Errorf("after %d refused creates there are %d cases, want none", len(tests), got)
		for _, c := range list.GetCases() {
			t.Logf("left behind: %q %v", c.GetTitle(), c.GetSubjects())
		}
		return
	}
	// The same request without its defect goes through, with the same
	// request_id: the refused attempts did not claim it.
	if _, err := cases.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: vldCaseRecord(), RequestId: requestID}); err != nil {
		t.Fatalf("the valid base request: %v", err)
	}
}

// TestValidation_UpdateCase: the merged case of an update is held to the
// same rules as a new one, the update itself to its own; a refused update
// changes nothing. Each case updates a case of its own.
func TestValidation_UpdateCase(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	cases := liaisonv1.NewCaseServiceClient(node.Conn(t, "analyst"))
	ctx := context.Background()

	// An update case edits a copy of the current case (whose subjects are
	// replaced by vldCaseRecord's, as a client would send them) and names
	// paths in the mask; nil paths means no update_mask at all.
	type updateCase struct {
		name  string
		edit  func(req *liaisonv1.UpdateCaseRequest)
		paths []string
		field string
	}
	keep := func(*liaisonv1.UpdateCaseRequest) {}
	patch := func(f func(*liaisonv1.Case)) func(*liaisonv1.UpdateCaseRequest) {
		return func(r *liaisonv1.UpdateCaseRequest) { f(r.Case) }
	}
	tests := []updateCase{
		{"UpdateMaskMissing", keep, nil, "update_mask"},
		{"UpdateMaskEmpty", keep, []string{}, "update_mask"},
		{"UpdateMaskId", patch(func(c *liaisonv1.Case) {}), []string{"id"}, "update_mask.paths[0]"},
		{"UpdateMaskOriginAgency", patch(func(c *liaisonv1.Case) { c.OriginAgency = "bravo" }), []string{"origin_agency"}, "update_mask.paths[0]"},
		{"UpdateMaskVersion", patch(func(c *liaisonv1.Case) { c.Version = 99 }), []string{"version"}, "update_mask.paths[0]"},
		{"UpdateMaskEtag", keep, []string{"etag"}, "update_mask.paths[0]"},
		{"UpdateMaskCreateTime", keep, []string{"create_time"}, "update_mask.paths[0]"},
		{"UpdateMaskLinkedLeadIds", patch(func(c *liaisonv1.Case) { c.LinkedLeadIds = []string{uuid.Must(uuid.NewV7()).String()} }), []string{"linked_lead_ids"}, "update_mask.paths[0]"},
		{"UpdateMaskSharedWith", patch(func(c *liaisonv1.Case) { c.SharedWith = []string{"bravo"} }), []string{"title", "shared_with"}, "update_mask.paths[1]"},
		{"UpdateMaskCreatedBy", patch(func(c *liaisonv1.Case) { c.CreatedBy = "spiffe://alpha.liaison.test/analyst/mallory" }), []string{"created_by"}, "update_mask.paths[0]"},
		{"UpdateMaskCloseReason", patch(func(c *liaisonv1.Case) { c.CloseReason = "done" }), []string{"close_reason"}, "update_mask.paths[0]"},
		{"UpdateMaskCloseTime", patch(func(c *liaisonv1.Case) { c.CloseTime = timestamppb.Now() }), []string{"close_time"}, "update_mask.paths[0]"},
		{"UpdateMaskUnknownField", keep, []string{"colour"}, "update_mask.paths[0]"},
		{"UpdateMaskNestedPath", keep, []string{"subjects.names"}, "update_mask.paths[0]"},
		{"CaseMissing", func(r *liaisonv1.UpdateCaseRequest) { r.Case = nil }, []string{"title"}, "case"},
		{"CaseIdEmpty", patch(func(c *liaisonv1.Case) { c.Id = "" }), []string{"title"}, "case.id"},
		{"CaseIdNotUUID", patch(func(c *liaisonv1.Case) { c.Id = "case-1" }), []string{"title"}, "case.id"},
		// The form GetCase's id rule refuses: the same id, written
		// otherwise, is no UUID here either.
		{"CaseIdInBraces", patch(func(c *liaisonv1.Case) { c.Id = "{" + c.Id + "}" }), []string{"title"}, "case.id"},
		{"CaseIdWithoutHyphens", patch(func(c *liaisonv1.Case) { c.Id = strings.ReplaceAll(c.Id, "-", "") }), []string{"title"}, "case.id"},
		{"EtagMissing", patch(func(c *liaisonv1.Case) { c.Etag = "" }), []string{"title"}, "case.etag"},
		// CloseCase closes a case, never an update.
		{"StatusClosed", patch(func(c *liaisonv1.Case) { c.Status = liaisonv1.CaseStatus_CASE_STATUS_CLOSED }), []string{"status"}, "case.status"},
	}
	// Every case rule, applied through the update mask naming the field it
	// breaks (the top-level field of its path).
	for _, cr := range caseRules {
		top := strings.TrimPrefix(cr.field, "case.")
		top, _, _ = strings.Cut(top, ".")
		top, _, _ = strings.Cut(top, "[")
		tests = append(tests, updateCase{cr.name, patch(cr.breaks), []string{top}, cr.field})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			created, err := cases.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: vldCaseRecord()})
			if err != nil {
				t.Fatal(err)
			}
			cur := created.GetCase()
			p := proto.Clone(cur).(*liaisonv1.Case)
			p.Subjects = vldCaseRecord().Subjects
			req := &liaisonv1.UpdateCaseRequest{Case: p}
			if tc.paths != nil {
				req.UpdateMask = &fieldmaskpb.FieldMask{Paths: tc.paths}
			}
			tc.edit(req)
			_, err = cases.UpdateCase(ctx, req)
			wantViolation(t, err, tc.field)

			got, err := cases.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: cur.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetCase().GetVersion() != cur.GetVersion() {
				t.Errorf("after a refused update the case is at version %d, want %d", got.GetCase().GetVersion(), cur.GetVersion())
			}
		})
	}
}

// vldEntry returns a valid entry of each kind; requestID is the request a
// response answers.
func vldEntry(kind liaisonv1.CaseEntryKind, requestID string) *liaisonv1.CaseEntry {
	e := &liaisonv1.CaseEntry{Kind: kind, Text: "Boat seen leaving Kupang at 02:00"}
	switch kind {
	case liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST:
		e.Request = &liaisonv1.RequestDetails{
			Urgency: liaisonv1.RequestUrgency_REQUEST_URGENCY_HIGH, RequestedOf: "bravo",
			DueTime: timestamppb.New(time.Now().Add(48 * time.Hour)),
		}
	case liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE:
		e.Response = &liaisonv1.ResponseDetails{RequestEntryId: requestID}
	case liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_OUTCOME:
		e.Outcome = &liaisonv1.OutcomeDetails{Kind: liaisonv1.OutcomeKind_OUTCOME_KIND_ARREST, Count: 2}
	}
	return e
}

const (
	kindNote     = liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_NOTE
	kindRequest  = liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST
	kindResponse = liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE
	kindOutcome  = liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_OUTCOME
)

// TestValidation_CaseRequests covers the rules of CaseService's other
// request messages, and checks that no refused call changed the case.
func TestValidation_CaseRequests(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	ctx := context.Background()
	analyst := liaisonv1.NewCaseServiceClient(node.Conn(t, "analyst"))
	supervisor := liaisonv1.NewCaseServiceClient(node.Conn(t, "supervisor"))

	// A case shared with bravo (bravo's node need not be up: the share
	// waits in the outbox), with one request owed by bravo.
	created, err := analyst.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: vldCaseRecord()})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetCase().GetId()
	if _, err := supervisor.ShareCase(ctx, &liaisonv1.ShareCaseRequest{Id: id, Partners: []string{"bravo"}}); err != nil {
		t.Fatal(err)
	}
	req, err := analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: id, Entry: vldEntry(kindRequest, "")})
	if err != nil {
		t.Fatal(err)
	}
	requestEntry := req.GetEntry().GetId()
	before, err := analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	lead, err := liaisonv1.NewLeadServiceClient(node.Conn(t, "analyst")).CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("to link")})
	if err != nil {
		t.Fatal(err)
	}
	leadID := lead.GetLead().GetId()

	// entry sends AddCaseEntry with a valid entry of kind, edited.
	entry := func(kind liaisonv1.CaseEntryKind, edit func(e *liaisonv1.CaseEntry)) func(context.Context) error {
		return func(ctx context.Context) error {
			e := vldEntry(kind, requestEntry)
			edit(e)
			_, err := analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: id, Entry: e})
			return err
		}
	}
	addReq := func(r *liaisonv1.AddCaseEntryRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.AddCaseEntry(ctx, r); return err }
	}
	get := func(r *liaisonv1.GetCaseRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.GetCase(ctx, r); return err }
	}
	list := func(r *liaisonv1.ListCasesRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.ListCases(ctx, r); return err }
	}
	share := func(r *liaisonv1.ShareCaseRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := supervisor.ShareCase(ctx, r); return err }
	}
	listEntries := func(r *liaisonv1.ListCaseEntriesRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.ListCaseEntries(ctx, r); return err }
	}
	link := func(r *liaisonv1.LinkLeadRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.LinkLead(ctx, r); return err }
	}
	unlink := func(r *liaisonv1.UnlinkLeadRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.UnlinkLead(ctx, r); return err }
	}
	closeCase := func(r *liaisonv1.CloseCaseRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := supervisor.CloseCase(ctx, r); return err }
	}
	reopen := func(r *liaisonv1.ReopenCaseRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := supervisor.ReopenCase(ctx, r); return err }
	}
	openRequests := func(r *liaisonv1.ListOpenRequestsRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := analyst.ListOpenRequests(ctx, r); return err }
	}
	manyPartners := make([]string, 21)
	for i := range manyPartners {
		manyPartners[i] = "agency-" + string(rune('a'+i))
	}
	reqDetails := func(f func(r *liaisonv1.RequestDetails)) func(e *liaisonv1.CaseEntry) {
		return func(e *liaisonv1.CaseEntry) { f(e.Request) }
	}
	outcome := func(f func(o *liaisonv1.OutcomeDetails)) func(e *liaisonv1.CaseEntry) {
		return func(e *liaisonv1.CaseEntry) { f(e.Outcome) }
	}
	// The valid details of each kind, to attach to an entry of another.
	validRequest := func() *liaisonv1.RequestDetails { return vldEntry(kindRequest, "").GetRequest() }
	validResponse := func() *liaisonv1.ResponseDetails { return vldEntry(kindResponse, requestEntry).GetResponse() }
	validOutcome := func() *liaisonv1.OutcomeDetails { return vldEntry(kindOutcome, "").GetOutcome() }

	tests := []vldCase{
		{name: "AddCaseEntry/CaseIdEmpty", call: addReq(&liaisonv1.AddCaseEntryRequest{Entry: note("n")}), field: "case_id"},
		{name: "AddCaseEntry/CaseIdNotUUID", call: addReq(&liaisonv1.AddCaseEntryRequest{CaseId: "case-1", Entry: note("n")}), field: "case_id"},
		{name: "AddCaseEntry/EntryMissing", call: addReq(&liaisonv1.AddCaseEntryRequest{CaseId: id}), field: "entry"},
		{name: "AddCaseEntry/RequestIdNotUUID", call: addReq(&liaisonv1.AddCaseEntryRequest{CaseId: id, Entry: note("n"), RequestId: "retry-1"}), field: "request_id"},
		{name: "AddCaseEntry/KindUnspecified", call: entry(kindNote, func(e *liaisonv1.CaseEntry) { e.Kind = 0 }), field: "entry.kind"},
		{name: "AddCaseEntry/KindUndefined", call: entry(kindNote, func(e *liaisonv1.CaseEntry) { e.Kind = 99 }), field: "entry.kind"},
		{name: "AddCaseEntry/TextEmpty", call: entry(kindNote, func(e *liaisonv1.CaseEntry) { e.Text = "" }), field: "entry.text"},
		{name: "AddCaseEntry/TextTooLong", call: entry(kindNote, func(e *liaisonv1.CaseEntry) { e.Text = vldRepeat("t", 10001) }), field: "entry.text"},
		{name: "AddCaseEntry/TextTooLongThai", call: entry(kindOutcome, func(e *liaisonv1.CaseEntry) { e.Text = vldRepeat("ก", 10001) }), field: "entry.text"},

		// case_entry.details_match_kind, each kind without its details and
		// with another kind's.
		{name: "AddCaseEntry/NoteWithRequestDetails", call: entry(kindNote, func(e *liaisonv1.CaseEntry) { e.Request = validRequest() }), field: "entry"},
		{name: "AddCaseEntry/NoteWithResponseDetails", call: entry(kindNote, func(e *liaisonv1.CaseEntry) { e.Response = validResponse() }), field: "entry"},
		{name: "AddCaseEntry/NoteWithOutcomeDetails", call: entry(kindNote, func(e *liaisonv1.CaseEntry) { e.Outcome = validOutcome() }), field: "entry"},
		{name: "AddCaseEntry/RequestWithoutDetails", call: entry(kindRequest, func(e *liaisonv1.CaseEntry) { e.Request = nil }), field: "entry"},
		{name: "AddCaseEntry/RequestWithResponseDetails", call: entry(kindRequest, func(e *liaisonv1.CaseEntry) { e.Response = validResponse() }), field: "entry"},
		{name: "AddCaseEntry/RequestWithOutcomeDetails", call: entry(kindRequest, func(e *liaisonv1.CaseEntry) { e.Outcome = validOutcome() }), field: "entry"},
		{name: "AddCaseEntry/ResponseWithoutDetails", call: entry(kindResponse, func(e *liaisonv1.CaseEntry) { e.Response = nil }), field: "entry"},
		{name: "AddCaseEntry/ResponseWithRequestDetails", call: entry(kindResponse, func(e *liaisonv1.CaseEntry) { e.Request = validRequest() }), field: "entry"},
		{name: "AddCaseEntry/OutcomeWithoutDetails", call: entry(kindOutcome, func(e *liaisonv1.CaseEntry) { e.Outcome = nil }), field: "entry"},
		{name: "AddCaseEntry/OutcomeWithResponseDetails", call: entry(kindOutcome, func(e *liaisonv1.CaseEntry) { e.Response = validResponse() }), field: "entry"},
		{name: "AddCaseEntry/RequestWithOnlyResponseDetails", call: entry(kindResponse, func(e *liaisonv1.CaseEntry) {
			e.Kind, e.Request = kindRequest, nil
		}), field: "entry"},

		// RequestDetails
		{name: "AddCaseEntry/RequestUrgencyUnspecified", call: entry(kindRequest, reqDetails(func(r *liaisonv1.RequestDetails) { r.Urgency = 0 })), field: "entry.request.urgency"},
		{name: "AddCaseEntry/RequestUrgencyUndefined", call: entry(kindRequest, reqDetails(func(r *liaisonv1.RequestDetails) { r.Urgency = 99 })), field: "entry.request.urgency"},
		{name: "AddCaseEntry/RequestedOfUpperCase", call: entry(kindRequest, reqDetails(func(r *liaisonv1.RequestDetails) { r.RequestedOf = "Bravo" })), field: "entry.request.requested_of"},
		{name: "AddCaseEntry/RequestedOfTooShort", call: entry(kindRequest, reqDetails(func(r *liaisonv1.RequestDetails) { r.RequestedOf = "b" })), field: "entry.request.requested_of"},
		{name: "AddCaseEntry/RequestedOfSpace", call: entry(kindRequest, reqDetails(func(r *liaisonv1.RequestDetails) { r.RequestedOf = "bravo " })), field: "entry.request.requested_of"},
		// The service's rules: the agency asked is a party of the case,
		// and not the one asking; the answer is due after the question.
		{name: "AddCaseEntry/RequestedOfNotAParty", call: entry(kindRequest, reqDetails(func(r *liaisonv1.RequestDetails) { r.RequestedOf = "charlie" })), field: "entry.request.requested_of"},
		{name: "AddCaseEntry/RequestedOfOwnAgency", call: entry(kindRequest, reqDetails(func(r *liaisonv1.RequestDetails) { r.RequestedOf = "alpha" })), field: "entry.request.requested_of"},
		{name: "AddCaseEntry/RequestDueTimePast", call: entry(kindRequest, reqDetails(func(r *liaisonv1.RequestDetails) {
			r.DueTime = timestamppb.New(time.Now().Add(-time.Hour))
		})), field: "entry.request.due_time"},

		// ResponseDetails
		{name: "AddCaseEntry/ResponseRequestEntryIdEmpty", call: entry(kindResponse, func(e *liaisonv1.CaseEntry) { e.Response.RequestEntryId = "" }), field: "entry.response.request_entry_id"},
		{name: "AddCaseEntry/ResponseRequestEntryIdNotUUID", call: entry(kindResponse, func(e *liaisonv1.CaseEntry) { e.Response.RequestEntryId = "entry-1" }), field: "entry.response.request_entry_id"},

		// OutcomeDetails
		{name: "AddCaseEntry/OutcomeKindUnspecified", call: entry(kindOutcome, outcome(func(o *liaisonv1.OutcomeDetails) { o.Kind = 0 })), field: "entry.outcome.kind"},
		{name: "AddCaseEntry/OutcomeKindUndefined", call: entry(kindOutcome, outcome(func(o *liaisonv1.OutcomeDetails) { o.Kind = 99 })), field: "entry.outcome.kind"},
		{name: "AddCaseEntry/OutcomeCountZero", call: entry(kindOutcome, outcome(func(o *liaisonv1.OutcomeDetails) { o.Count = 0 })), field: "entry.outcome.count"},
		{name: "AddCaseEntry/OutcomeCountNegative", call: entry(kindOutcome, outcome(func(o *liaisonv1.OutcomeDetails) { o.Count = -3 })), field: "entry.outcome.count"},
		{name: "AddCaseEntry/OutcomeCountTooHigh", call: entry(kindOutcome, outcome(func(o *liaisonv1.OutcomeDetails) { o.Count = 1000001 })), field: "entry.outcome.count"},

		{name: "GetCase/IdEmpty", call: get(&liaisonv1.GetCaseRequest{}), field: "id"},
		{name: "GetCase/IdNotUUID", call: get(&liaisonv1.GetCaseRequest{Id: "case-1"}), field: "id"},
		{name: "GetCase/IdTruncated", call: get(&liaisonv1.GetCaseRequest{Id: id[:35]}), field: "id"},
		{name: "GetCase/IdWithoutHyphens", call: get(&liaisonv1.GetCaseRequest{Id: strings.ReplaceAll(id, "-", "")}), field: "id"},

		{name: "ListCases/PageSizeOver1000", call: list(&liaisonv1.ListCasesRequest{PageSize: 1001}), field: "page_size"},
		{name: "ListCases/PageSizeNegative", call: list(&liaisonv1.ListCasesRequest{PageSize: -1}), field: "page_size"},
		{name: "ListCases/PageTokenTooLong", call: list(&liaisonv1.ListCasesRequest{PageToken: vldRepeat("t", 513)}), field: "page_token"},
		{name: "ListCases/PageTokenForged", call: list(&liaisonv1.ListCasesRequest{PageToken: "not-a-token"}), field: "page_token"},
		{name: "ListCases/StatusUndefined", call: list(&liaisonv1.ListCasesRequest{Status: 99}), field: "status"},
		{name: "ListCases/CrimeAreaUndefined", call: list(&liaisonv1.ListCasesRequest{CrimeArea: 99}), field: "crime_area"},
		{name: "ListCases/OriginAgencyUpperCase", call: list(&liaisonv1.ListCasesRequest{OriginAgency: "Bravo"}), field: "origin_agency"},
		{name: "ListCases/OriginAgencyTooShort", call: list(&liaisonv1.ListCasesRequest{OriginAgency: "b"}), field: "origin_agency"},
		{name: "ListCases/SharedWithUpperCase", call: list(&liaisonv1.ListCasesRequest{SharedWith: "BRAVO"}), field: "shared_with"},
		{name: "ListCases/SharedWithTooLong", call: list(&liaisonv1.ListCasesRequest{SharedWith: vldRepeat("b", 32)}), field: "shared_with"},

		{name: "ShareCase/IdEmpty", call: share(&liaisonv1.ShareCaseRequest{Partners: []string{"bravo"}}), field: "id"},
		{name: "ShareCase/IdNotUUID", call: share(&liaisonv1.ShareCaseRequest{Id: "case-1", Partners: []string{"bravo"}}), field: "id"},
		{name: "ShareCase/PartnersEmpty", call: share(&liaisonv1.ShareCaseRequest{Id: id}), field: "partners"},
		{name: "ShareCase/PartnersTooMany", call: share(&liaisonv1.ShareCaseRequest{Id: id, Partners: manyPartners}), field: "partners"},
		{name: "ShareCase/PartnersDuplicate", call: share(&liaisonv1.ShareCaseRequest{Id: id, Partners: []string{"bravo", "bravo"}}), field: "partners"},
		{name: "ShareCase/PartnerUpperCase", call: share(&liaisonv1.ShareCaseRequest{Id: id, Partners: []string{"Bravo"}}), field: "partners[0]"},
		{name: "ShareCase/PartnerTooShort", call: share(&liaisonv1.ShareCaseRequest{Id: id, Partners: []string{"bravo", "b"}}), field: "partners[1]"},
		{name: "ShareCase/PartnerNotConfigured", call: share(&liaisonv1.ShareCaseRequest{Id: id, Partners: []string{"charlie"}}), field: "partners[0]"},
		{name: "ShareCase/SecondPartnerNotConfigured", call: share(&liaisonv1.ShareCaseRequest{Id: id, Partners: []string{"bravo", "charlie"}}), field: "partners[1]"},
		{name: "ShareCase/OwnAgency", call: share(&liaisonv1.ShareCaseRequest{Id: id, Partners: []string{"alpha"}}), field: "partners[0]"},

		{name: "ListCaseEntries/CaseIdEmpty", call: listEntries(&liaisonv1.ListCaseEntriesRequest{}), field: "case_id"},
		{name: "ListCaseEntries/CaseIdNotUUID", call: listEntries(&liaisonv1.ListCaseEntriesRequest{CaseId: "case-1"}), field: "case_id"},
		{name: "ListCaseEntries/PageSizeOver1000", call: listEntries(&liaisonv1.ListCaseEntriesRequest{CaseId: id, PageSize: 1001}), field: "page_size"},
		{name: "ListCaseEntries/PageSizeNegative", call: listEntries(&liaisonv1.ListCaseEntriesRequest{CaseId: id, PageSize: -1}), field: "page_size"},
		{name: "ListCaseEntries/PageTokenTooLong", call: listEntries(&liaisonv1.ListCaseEntriesRequest{CaseId: id, PageToken: vldRepeat("t", 513)}), field: "page_token"},
		{name: "ListCaseEntries/PageTokenForged", call: listEntries(&liaisonv1.ListCaseEntriesRequest{CaseId: id, PageToken: "bm9wZQ"}), field: "page_token"},

		{name: "LinkLead/CaseIdEmpty", call: link(&liaisonv1.LinkLeadRequest{LeadId: leadID}), field: "case_id"},
		{name: "LinkLead/CaseIdNotUUID", call: link(&liaisonv1.LinkLeadRequest{CaseId: "case-1", LeadId: leadID}), field: "case_id"},
		{name: "LinkLead/LeadIdEmpty", call: link(&liaisonv1.LinkLeadRequest{CaseId: id}), field: "lead_id"},
		{name: "LinkLead/LeadIdNotUUID", call: link(&liaisonv1.LinkLeadRequest{CaseId: id, LeadId: "lead-1"}), field: "lead_id"},
		{name: "UnlinkLead/CaseIdNotUUID", call: unlink(&liaisonv1.UnlinkLeadRequest{CaseId: "case-1", LeadId: leadID}), field: "case_id"},
		{name: "UnlinkLead/LeadIdEmpty", call: unlink(&liaisonv1.UnlinkLeadRequest{CaseId: id}), field: "lead_id"},
		{name: "UnlinkLead/LeadIdNotUUID", call: unlink(&liaisonv1.UnlinkLeadRequest{CaseId: id, LeadId: leadID[:30]}), field: "lead_id"},

		{name: "CloseCase/IdNotUUID", call: closeCase(&liaisonv1.CloseCaseRequest{Id: "case-1", Reason: "r"}), field: "id"},
		{name: "CloseCase/ReasonMissing", call: closeCase(&liaisonv1.CloseCaseRequest{Id: id}), field: "reason"},
		{name: "CloseCase/ReasonBlank", call: closeCase(&liaisonv1.CloseCaseRequest{Id: id, Reason: "   "}), field: "reason"},
		{name: "CloseCase/ReasonTooLong", call: closeCase(&liaisonv1.CloseCaseRequest{Id: id, Reason: vldRepeat("r", 1001)}), field: "reason"},
		{name: "ReopenCase/IdNotUUID", call: reopen(&liaisonv1.ReopenCaseRequest{Id: "case-1", Reason: "r"}), field: "id"},
		{name: "ReopenCase/ReasonMissing", call: reopen(&liaisonv1.ReopenCaseRequest{Id: id}), field: "reason"},
		{name: "ReopenCase/ReasonBlank", call: reopen(&liaisonv1.ReopenCaseRequest{Id: id, Reason: "\u3000"}), field: "reason"},
		{name: "ReopenCase/ReasonTooLong", call: reopen(&liaisonv1.ReopenCaseRequest{Id: id, Reason: vldRepeat("r", 1001)}), field: "reason"},

		{name: "ListOpenRequests/DirectionUndefined", call: openRequests(&liaisonv1.ListOpenRequestsRequest{Direction: 99}), field: "direction"},
		{name: "ListOpenRequests/PageSizeOver1000", call: openRequests(&liaisonv1.ListOpenRequestsRequest{PageSize: 1001}), field: "page_size"},
		{name: "ListOpenRequests/PageSizeNegative", call: openRequests(&liaisonv1.ListOpenRequestsRequest{PageSize: -1}), field: "page_size"},
	}
	t.Run("Rejects", func(t *testing.T) { runCases(t, tests) })

	after, err := analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.GetCase(), after.GetCase()
	if a.GetVersion() != b.GetVersion() || a.GetStatus() != b.GetStatus() || !slices.Equal(a.GetSharedWith(), []string{"bravo"}) || len(a.GetLinkedLeadIds()) != 0 {
		t.Errorf("after refused calls the case is version %d (was %d), %v, shared with %v, linked to %v",
			a.GetVersion(), b.GetVersion(), a.GetStatus(), a.GetSharedWith(), a.GetLinkedLeadIds())
	}
	if after.GetEntryCount() != before.GetEntryCount() || after.GetOpenRequestCount() != before.GetOpenRequestCount() {
		t.Errorf("after refused entries the case has %d entries (%d open requests), want %d (%d)",
			after.GetEntryCount(), after.GetOpenRequestCount(), before.GetEntryCount(), before.GetOpenRequestCount())
	}
}

// TestValidation_CaseAccepts: each base request the cases above break is
// itself valid, and values at the edge of a rule are accepted.
func TestValidation_CaseAccepts(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	ctx := context.Background()
	cases := liaisonv1.NewCaseServiceClient(node.Conn(t, "analyst"))
	created, err := cases.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: vldCaseRecord()})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetCase().GetId()
	if _, err := liaisonv1.NewCaseServiceClient(node.Conn(t, "supervisor")).ShareCase(ctx, &liaisonv1.ShareCaseRequest{Id: id, Partners: []string{"bravo"}}); err != nil {
		t.Fatal(err)
	}

	creates := []struct {
		name string
		edit func(c *liaisonv1.Case)
	}{
		{"Base", func(*liaisonv1.Case) {}},
		{"Minimal", func(c *liaisonv1.Case) {
			*c = liaisonv1.Case{Title: "t", CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_OTHER}}
		}},
		{"TitleOf200ThaiChars", func(c *liaisonv1.Case) { c.Title = vldRepeat("ก", 200) }},
		{"SummaryOf20000Chars", func(c *liaisonv1.Case) { c.Summary = vldRepeat("s", 20000) }},
		{"AllCrimeAreas", func(c *liaisonv1.Case) { c.CrimeAreas = []liaisonv1.CrimeArea{1, 2, 3, 4, 5, 6} }},
		{"StatusUnspecified", func(c *liaisonv1.Case) { c.Status = 0 }},
		{"StatusOpen", func(c *liaisonv1.Case) { c.Status = liaisonv1.CaseStatus_CASE_STATUS_OPEN }},
		{"StatusSuspended", func(c *liaisonv1.Case) { c.Status = liaisonv1.CaseStatus_CASE_STATUS_SUSPENDED }},
		{"TwentyPartnerReferences", func(c *liaisonv1.Case) { c.PartnerReferences = repeatMsg(c.PartnerReferences[0], 20) }},
		{"PartnerReferenceOf100Chars", func(c *liaisonv1.Case) { c.PartnerReferences[0].Reference = vldRepeat("9", 100) }},
		{"OriginatorReferenceOf100Chars", func(c *liaisonv1.Case) { c.OriginatorReference = vldRepeat("r", 100) }},
		{"HundredSubjects", func(c *liaisonv1.Case) { c.Subjects = repeatMsg(c.Subjects[0], 100) }},
		{"SubjectIdGiven", func(c *liaisonv1.Case) { c.Subjects[0].Id = "0190f1c2-0000-7000-8000-00000000beef" }},
	}
	for _, tt := range creates {
		t.Run("CreateCase/"+tt.name, func(t *testing.T) {
			t.Parallel()
			c := vldCaseRecord()
			tt.edit(c)
			if _, err := cases.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: c}); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}

	entries := []struct {
		name  string
		entry func() *liaisonv1.CaseEntry
	}{
		{"Note", func() *liaisonv1.CaseEntry { return vldEntry(kindNote, "") }},
		{"Request", func() *liaisonv1.CaseEntry { return vldEntry(kindRequest, "") }},
		{"RequestWithDefaults", func() *liaisonv1.CaseEntry {
			return &liaisonv1.CaseEntry{Kind: kindRequest, Text: "who owns the boat?", Request: &liaisonv1.RequestDetails{Urgency: liaisonv1.RequestUrgency_REQUEST_URGENCY_URGENT}}
		}},
		{"Outcome", func() *liaisonv1.CaseEntry { return vldEntry(kindOutcome, "") }},
		{"OutcomeCount1", func() *liaisonv1.CaseEntry {
			e := vldEntry(kindOutcome, "")
			e.Outcome.Count = 1
			return e
		}},
		{"OutcomeCountMillion", func() *liaisonv1.CaseEntry {
			e := vldEntry(kindOutcome, "")
			e.Outcome = &liaisonv1.OutcomeDetails{Kind: liaisonv1.OutcomeKind_OUTCOME_KIND_ASSETS_SEIZED, Count: 1000000}
			return e
		}},
		{"TextOf10000ThaiChars", func() *liaisonv1.CaseEntry {
			e := vldEntry(kindNote, "")
			e.Text = vldRepeat("ก", 10000)
			return e
		}},
	}
	for _, tt := range entries {
		t.Run("AddCaseEntry/"+tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := cases.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: id, Entry: tt.entry(), RequestId: uuid.Must(uuid.NewV7()).String()}); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
	t.Run("Lists/PageSize1000", func(t *testing.T) {
		t.Parallel()
		if _, err := cases.ListCases(ctx, &liaisonv1.ListCasesRequest{PageSize: 1000, Status: liaisonv1.CaseStatus_CASE_STATUS_CLOSED, OriginAgency: "alpha", SharedWith: "bravo"}); err != nil {
			t.Error(err)
		}
		if _, err := cases.ListCaseEntries(ctx, &liaisonv1.ListCaseEntriesRequest{CaseId: id, PageSize: 1000}); err != nil {
			t.Error(err)
		}
		if _, err := cases.ListOpenRequests(ctx, &liaisonv1.ListOpenRequestsRequest{PageSize: 1000, Direction: liaisonv1.RequestDirection_REQUEST_DIRECTION_OWED_TO_US}); err != nil {
			t.Error(err)
		}
	})
}

// wantPrecondition asserts err is FAILED_PRECONDITION with exactly one
// google.rpc.PreconditionFailure violation, of type rule about subject.
func wantPrecondition(t *testing.T, err error, rule, subject string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition {
		t.Fatalf("got %v (%v), want FailedPrecondition %s", st.Code(), err, rule)
	}
	var got []string
	for _, d := range st.Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok {
			for _, v := range pf.GetViolations() {
				got = append(got, v.GetType()+" "+v.GetSubject())
			}
		}
	}
	if want := rule + " " + subject; len(got) != 1 || got[0] != want {
		t.Errorf("precondition violations %q, want exactly %q (%s)", got, want, st.Message())
	}
}

// TestValidation_CasePreconditions: the state rules of cases, each
// FAILED_PRECONDITION naming its rule, and none leaving anything behind.
func TestValidation_CasePreconditions(t *testing.T) {
	t.Parallel()
	alpha, bravo := casePair(t)
	ctx := context.Background()
	shared := sharedCase(t, alpha, bravo, "shared for preconditions")
	if _, err := alpha.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: shared.GetId(), Entry: note("a note, not a request")}); err != nil {
		t.Fatal(err)
	}
	noteID := waitSameEntries(t, alpha, bravo, shared.GetId(), 1)[0].GetId()
	alphaLeads := liaisonv1.NewLeadServiceClient(alpha.Conn(t, "analyst"))
	alphaLeadsSup := liaisonv1.NewLeadServiceClient(alpha.Conn(t, "supervisor"))
	bravoLeads := liaisonv1.NewLeadServiceClient(bravo.Conn(t, "analyst"))
	bravoLead, err := bravoLeads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("bravo's own lead")})
	if err != nil {
		t.Fatal(err)
	}

	fresh := func(t *testing.T) *liaisonv1.Case {
		t.Helper()
		c, err := alpha.analyst.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: newCase("precondition")})
		if err != nil {
			t.Fatal(err)
		}
		return c.GetCase()
	}
	closed := func(t *testing.T) *liaisonv1.Case {
		t.Helper()
		c, err := alpha.supervisor.CloseCase(ctx, &liaisonv1.CloseCaseRequest{Id: fresh(t).GetId(), Reason: "done"})
		if err != nil {
			t.Fatal(err)
		}
		return c.GetCase()
	}
	// state is what a refused call must leave unchanged: the case's
	// version and status and its number of entries, on node n.
	state := func(t *testing.T, n *caseNode, id string) string {
		t.Helper()
		g, err := n.analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("version %d, %v, %d entries, linked %v, shared with %v",
			g.GetCase().GetVersion(), g.GetCase().GetStatus(), g.GetEntryCount(), g.GetCase().GetLinkedLeadIds(), g.GetCase().GetSharedWith())
	}

	sharedID := func(*testing.T) string { return shared.GetId() }
	freshID := func(t *testing.T) string { return fresh(t).GetId() }
	closedID := func(t *testing.T) string { return closed(t).GetId() }
	onCase := func(id string) string { return "cases/" + id }
	tests := []struct {
		name string
		n    *caseNode
		// setup returns the case the call is made on, of node n.
		setup func(t *testing.T) string
		// call makes the refused call and returns the rule and subject of
		// the violation it must report, and its error.
		call func(t *testing.T, id string) (rule, subject string, err error)
	}{
		{"AddCaseEntry/ClosedCase", alpha, closedID, func(t *testing.T, id string) (string, string, error) {
			_, err := alpha.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: id, Entry: note("too late")})
			return "case.closed", onCase(id), err
		}},
		{"AddCaseEntry/ClosedCaseOutcome", alpha, closedID, func(t *testing.T, id string) (string, string, error) {
			_, err := alpha.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: id, Entry: vldEntry(kindOutcome, "")})
			return "case.closed", onCase(id), err
		}},
		{"AddCaseEntry/ResponseToMissingRequest", alpha, sharedID, func(t *testing.T, id string) (string, string, error) {
			_, err := alpha.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: id, Entry: response("answer", uuid.Must(uuid.NewV7()).String())})
			return "response.request_not_found", onCase(id), err
		}},
		{"AddCaseEntry/ResponseToANote", bravo, sharedID, func(t *testing.T, id string) (string, string, error) {
			_, err := bravo.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: id, Entry: response("answer", noteID)})
			return "response.request_not_found", onCase(id), err
		}},
		{"AddCaseEntry/RequestOnUnsharedCase", alpha, freshID, func(t *testing.T, id string) (string, string, error) {
			_, err := alpha.analyst.AddCaseEntry(ctx, &liaisonv1.AddCaseEntryRequest{CaseId: id, Entry: request("anyone?", liaisonv1.RequestUrgency_REQUEST_URGENCY_NORMAL)})
			return "request.no_partner", onCase(id), err
		}},
		{"UpdateCase/PartnersReplica", bravo, sharedID, func(t *testing.T, id string) (string, string, error) {
			g, err := bravo.analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: id})
			if err != nil {
				t.Fatal(err)
			}
			_, err = bravo.analyst.UpdateCase(ctx, &liaisonv1.UpdateCaseRequest{
				Case:       &liaisonv1.Case{Id: id, Etag: g.GetCase().GetEtag(), Title: "ours now"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
			})
			return "record.home_node_only", onCase(id), err
		}},
		{"ShareCase/PartnersReplica", bravo, sharedID, func(t *testing.T, id string) (string, string, error) {
			_, err := bravo.supervisor.ShareCase(ctx, &liaisonv1.ShareCaseRequest{Id: id, Partners: []string{"alpha"}})
			return "record.home_node_only", onCase(id), err
		}},
		{"CloseCase/PartnersReplica", bravo, sharedID, func(t *testing.T, id string) (string, string, error) {
			_, err := bravo.supervisor.CloseCase(ctx, &liaisonv1.CloseCaseRequest{Id: id, Reason: "we are done"})
			return "record.home_node_only", onCase(id), err
		}},
		{"ReopenCase/PartnersReplica", bravo, sharedID, func(t *testing.T, id string) (string, string, error) {
			_, err := bravo.supervisor.ReopenCase(ctx, &liaisonv1.ReopenCaseRequest{Id: id, Reason: "again"})
			return "record.home_node_only", onCase(id), err
		}},
		{"LinkLead/PartnersReplica", bravo, sharedID, func(t *testing.T, id string) (string, string, error) {
			_, err := bravo.analyst.LinkLead(ctx, &liaisonv1.LinkLeadRequest{CaseId: id, LeadId: bravoLead.GetLead().GetId()})
			return "record.home_node_only", onCase(id), err
		}},
		{"UnlinkLead/PartnersReplica", bravo, sharedID, func(t *testing.T, id string) (string, string, error) {
			_, err := bravo.analyst.UnlinkLead(ctx, &liaisonv1.UnlinkLeadRequest{CaseId: id, LeadId: bravoLead.GetLead().GetId()})
			return "record.home_node_only", onCase(id), err
		}},
		{"ReopenCase/OpenCase", alpha, freshID, func(t *testing.T, id string) (string, string, error) {
			_, err := alpha.supervisor.ReopenCase(ctx, &liaisonv1.ReopenCaseRequest{Id: id, Reason: "again"})
			return "case.not_closed", onCase(id), err
		}},
		{"CloseCase/Twice", alpha, closedID, func(t *testing.T, id string) (string, string, error) {
			_, err := alpha.supervisor.CloseCase(ctx, &liaisonv1.CloseCaseRequest{Id: id, Reason: "again"})
			return "case.closed", onCase(id), err
		}},
		{"UpdateCase/StatusOfClosedCase", alpha, closedID, func(t *testing.T, id string) (string, string, error) {
			g, err := alpha.analyst.GetCase(ctx, &liaisonv1.GetCaseRequest{Id: id})
			if err != nil {
				t.Fatal(err)
			}
			_, err = alpha.analyst.UpdateCase(ctx, &liaisonv1.UpdateCaseRequest{
				Case:       &liaisonv1.Case{Id: id, Etag: g.GetCase().GetEtag(), Status: liaisonv1.CaseStatus_CASE_STATUS_ACTIVE},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
			})
			return "case.closed", onCase(id), err
		}},
		{"LinkLead/WithdrawnLead", alpha, freshID, func(t *testing.T, id string) (string, string, error) {
			l, err := alphaLeads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: newLead("to be withdrawn")})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := alphaLeadsSup.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: l.GetLead().GetId(), Reason: "wrong"}); err != nil {
				t.Fatal(err)
			}
			_, err = alpha.analyst.LinkLead(ctx, &liaisonv1.LinkLeadRequest{CaseId: id, LeadId: l.GetLead().GetId()})
			return "lead.withdrawn", "leads/" + l.GetLead().GetId(), err
		}},
	}
	sharedBefore := map[*caseNode]string{alpha: state(t, alpha, shared.GetId()), bravo: state(t, bravo, shared.GetId())}
	t.Run("Refuses", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				id := tc.setup(t)
				before := state(t, tc.n, id)
				rule, subject, err := tc.call(t, id)
				wantPrecondition(t, err, rule, subject)
				// The shared case is checked after every call on it.
				if id != shared.GetId() {
					if got := state(t, tc.n, id); got != before {
						t.Errorf("after the refused call the case is %s, was %s", got, before)
					}
				}
			})
		}
	})
	for n, before := range sharedBefore {
		if got := state(t, n, shared.GetId()); got != before {
			t.Errorf("after refused calls %s's copy of the shared case is %s, was %s", n.Agency, got, before)
		}
	}
}
