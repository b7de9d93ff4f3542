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

// vmManifest is a manifest that uses every field with a rule, validly.
// Each case below breaks exactly one rule of a copy of it.
func vmManifest() *liaisonv1.Manifest {
	return &liaisonv1.Manifest{
		ReceivingAgency: "bravo",
		LegalBasis:      "Readmission agreement alpha–bravo, art. 5",
		Transport: &liaisonv1.Transport{
			Mode: liaisonv1.TransportMode_TRANSPORT_MODE_AIR, Carrier: "Charter Air", VehicleNumber: "CA 123",
			DeparturePlace: "Alpha City", DepartureTime: timestamppb.New(time.Now().Add(72 * time.Hour)),
			ArrivalPlace: "Bravo Port", ArrivalTime: timestamppb.New(time.Now().Add(76 * time.Hour)),
		},
		Escorts: []*liaisonv1.Escort{
			{Name: "Escort One", Role: liaisonv1.EscortRole_ESCORT_ROLE_ESCORT, Agency: "alpha"},
			{Name: "Dr Medic", Role: liaisonv1.EscortRole_ESCORT_ROLE_MEDICAL},
		},
	}
}

// vmRule is one broken rule of a manifest, with the path of its
// violation.
type vmRule struct {
	name   string
	breaks func(m *liaisonv1.Manifest)
	field  string
}

var vmManifestRules = []vmRule{
	{"ReceivingAgencyEmpty", func(m *liaisonv1.Manifest) { m.ReceivingAgency = "" }, "manifest.receiving_agency"},
	{"ReceivingAgencyUpperCase", func(m *liaisonv1.Manifest) { m.ReceivingAgency = "Bravo" }, "manifest.receiving_agency"},
	{"ReceivingAgencyTooShort", func(m *liaisonv1.Manifest) { m.ReceivingAgency = "b" }, "manifest.receiving_agency"},
	{"ReceivingAgencyTooLong", func(m *liaisonv1.Manifest) { m.ReceivingAgency = vldRepeat("b", 32) }, "manifest.receiving_agency"},
	{"ReceivingAgencyLeadingDigit", func(m *liaisonv1.Manifest) { m.ReceivingAgency = "1bravo" }, "manifest.receiving_agency"},
	{"ReceivingAgencySpace", func(m *liaisonv1.Manifest) { m.ReceivingAgency = "bravo " }, "manifest.receiving_agency"},
	{"LegalBasisEmpty", func(m *liaisonv1.Manifest) { m.LegalBasis = "" }, "manifest.legal_basis"},
	{"LegalBasisTooLong", func(m *liaisonv1.Manifest) { m.LegalBasis = vldRepeat("l", 501) }, "manifest.legal_basis"},
	{"LegalBasisTooLongThai", func(m *liaisonv1.Manifest) { m.LegalBasis = vldRepeat("ก", 501) }, "manifest.legal_basis"},
	{"TransportModeUndefined", func(m *liaisonv1.Manifest) { m.Transport.Mode = 99 }, "manifest.transport.mode"},
	{"TransportCarrierTooLong", func(m *liaisonv1.Manifest) { m.Transport.Carrier = vldRepeat("c", 101) }, "manifest.transport.carrier"},
	{"TransportVehicleNumberTooLong", func(m *liaisonv1.Manifest) { m.Transport.VehicleNumber = vldRepeat("9", 41) }, "manifest.transport.vehicle_number"},
	{"TransportDeparturePlaceTooLong", func(m *liaisonv1.Manifest) { m.Transport.DeparturePlace = vldRepeat("d", 201) }, "manifest.transport.departure_place"},
	{"TransportArrivalPlaceTooLong", func(m *liaisonv1.Manifest) { m.Transport.ArrivalPlace = vldRepeat("ก", 201) }, "manifest.transport.arrival_place"},
	{"EscortsTooMany", func(m *liaisonv1.Manifest) { m.Escorts = repeatMsg(m.Escorts[0], 51) }, "manifest.escorts"},
	{"EscortNameEmpty", func(m *liaisonv1.Manifest) { m.Escorts[0].Name = "" }, "manifest.escorts[0].name"},
	{"EscortNameTooLong", func(m *liaisonv1.Manifest) { m.Escorts[1].Name = vldRepeat("n", 201) }, "manifest.escorts[1].name"},
	{"EscortRoleUnspecified", func(m *liaisonv1.Manifest) { m.Escorts[1].Role = 0 }, "manifest.escorts[1].role"},
	{"EscortRoleUndefined", func(m *liaisonv1.Manifest) { m.Escorts[0].Role = 99 }, "manifest.escorts[0].role"},
	{"EscortAgencyUpperCase", func(m *liaisonv1.Manifest) { m.Escorts[0].Agency = "Alpha" }, "manifest.escorts[0].agency"},
	{"EscortAgencyTooShort", func(m *liaisonv1.Manifest) { m.Escorts[0].Agency = "a" }, "manifest.escorts[0].agency"},
	{"EscortAgencyTooLong", func(m *liaisonv1.Manifest) { m.Escorts[1].Agency = vldRepeat("a", 32) }, "manifest.escorts[1].agency"},
}

// vmPerson is a person of a manifest that uses every field with a rule,
// validly: its identity is vldLead's first subject.
func vmPerson() *liaisonv1.ManifestPerson {
	return &liaisonv1.ManifestPerson{
		Identity:     vldLead().Subjects[0],
		Fitness:      liaisonv1.Fitness_FITNESS_FIT_WITH_MEDICAL_ESCORT,
		MedicalNeeds: &liaisonv1.MedicalNeeds{CareOnArrival: "insulin twice a day", MedicationRequired: true},
		Vulnerabilities: []liaisonv1.Vulnerability{
			liaisonv1.Vulnerability_VULNERABILITY_VICTIM_OF_TRAFFICKING, liaisonv1.Vulnerability_VULNERABILITY_SERIOUS_ILLNESS,
		},
	}
}

// vmPersonRule is one broken rule of a person, with the path of its
// violation; loose if the rule may be reported at a parent or child path
// too (the Person rules shared with leads).
type vmPersonRule struct {
	name   string
	breaks func(p *liaisonv1.ManifestPerson)
	field  string
	loose  bool
}

// vmPersonRules are the rules of ManifestPerson, and (under "Identity/")
// every rule of leadRules about a lead's first subject, applied to the
// person's identity.
var vmPersonRules = func() []vmPersonRule {
	rules := []vmPersonRule{
		{name: "IdentityMissing", breaks: func(p *liaisonv1.ManifestPerson) { p.Identity = nil }, field: "person.identity"},
		{name: "FitnessUnspecified", breaks: func(p *liaisonv1.ManifestPerson) { p.Fitness = 0 }, field: "person.fitness"},
		{name: "FitnessUndefined", breaks: func(p *liaisonv1.ManifestPerson) { p.Fitness = 99 }, field: "person.fitness"},
		{name: "CareOnArrivalTooLong", breaks: func(p *liaisonv1.ManifestPerson) { p.MedicalNeeds.CareOnArrival = vldRepeat("c", 1001) }, field: "person.medical_needs.care_on_arrival"},
		{name: "CareOnArrivalTooLongThai", breaks: func(p *liaisonv1.ManifestPerson) { p.MedicalNeeds.CareOnArrival = vldRepeat("ก", 1001) }, field: "person.medical_needs.care_on_arrival"},
		{name: "VulnerabilityUnspecified", breaks: func(p *liaisonv1.ManifestPerson) { p.Vulnerabilities = []liaisonv1.Vulnerability{0} }, field: "person.vulnerabilities[0]"},
		{name: "VulnerabilityUndefined", breaks: func(p *liaisonv1.ManifestPerson) { p.Vulnerabilities = []liaisonv1.Vulnerability{1, 99} }, field: "person.vulnerabilities[1]"},
		{name: "VulnerabilitiesDuplicate", breaks: func(p *liaisonv1.ManifestPerson) { p.Vulnerabilities = []liaisonv1.Vulnerability{2, 3, 2} }, field: "person.vulnerabilities"},
		{name: "VulnerabilitiesTooMany", breaks: func(p *liaisonv1.ManifestPerson) {
			p.Vulnerabilities = []liaisonv1.Vulnerability{1, 2, 3, 4, 5, 6, 1}
		}, field: "person.vulnerabilities"},
	}
	for _, lr := range leadRules {
		rest, ok := strings.CutPrefix(lr.field, "lead.subjects[0]")
		if !ok {
			continue
		}
		rules = append(rules, vmPersonRule{
			name: "Identity/" + lr.name,
			breaks: func(p *liaisonv1.ManifestPerson) {
				l := &liaisonv1.Lead{Subjects: []*liaisonv1.Person{p.Identity}}
				lr.breaks(l)
				p.Identity = l.Subjects[0]
			},
			field: "person.identity" + rest,
			loose: true,
		})
	}
	return rules
}()

// vmScreening is a screening that uses every field with a rule, validly.
func vmScreening() *liaisonv1.Screening {
	return &liaisonv1.Screening{
		Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_DECIDED, Assessment: liaisonv1.Assessment_ASSESSMENT_CLEARED,
		AssessingOfficer: "officer Ana Lima", BestInterestsDetermined: true, BestInterestsReference: "BID-2026-17",
		Notes: "interviewed with an interpreter",
	}
}

// wantOnlyViolation asserts err is INVALID_ARGUMENT whose BadRequest
// field violations are all at field, exactly (one rule may be broken
// twice, e.g. a list both too long and with a duplicate); ruleID, if not
// empty, is named in one of them.
func wantOnlyViolation(t *testing.T, err error, field, ruleID string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v (%v), want InvalidArgument at %q", st.Code(), err, field)
	}
	var fields, descs []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
				descs = append(descs, v.GetDescription())
			}
		}
	}
	if len(fields) == 0 {
		t.Fatalf("no field violations (%s)", st.Message())
	}
	for _, f := range fields {
		if f != field {
			t.Errorf("violations at %q, want only at %q (%s)", fields, field, st.Message())
			break
		}
	}
	if ruleID != "" && !slices.ContainsFunc(descs, func(d string) bool { return strings.Contains(d, ruleID) }) {
		t.Errorf("no violation names rule %s: %q", ruleID, descs)
	}
}

// vmCase is one request with one defect, sent by a role that may call it,
// against records in a state in which the request without its defect
// would be carried out.
type vmCase struct {
	name  string
	call  func(ctx context.Context) error
	field string
	// loose accepts violations at parents or children of field too;
	// rule is a rule id a violation must name.
	loose bool
	rule  string
}

func vmRun(t *testing.T, cases []vmCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.call(context.Background())
			if tc.loose {
				wantViolation(t, err, tc.field)
				return
			}
			wantOnlyViolation(t, err, tc.field, tc.rule)
		})
	}
}

// TestValidation_CreateManifest sends CreateManifest with each single
// defect, and checks afterwards that none of the refused calls left a
// manifest behind or claimed the request id.
func TestValidation_CreateManifest(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	manifests := liaisonv1.NewManifestServiceClient(node.Conn(t, "analyst"))
	ctx := context.Background()
	const requestID = "0190f1c2-0000-7000-8000-0000000000a5"

	create := func(edit func(r *liaisonv1.CreateManifestRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.CreateManifestRequest{Manifest: vmManifest(), RequestId: requestID}
			edit(r)
			_, err := manifests.CreateManifest(ctx, r)
			return err
		}
	}
	tests := []vmCase{
		{name: "RequestIdNotUUID", call: create(func(r *liaisonv1.CreateManifestRequest) { r.RequestId = "retry-1" }), field: "request_id"},
		{name: "ManifestMissing", call: create(func(r *liaisonv1.CreateManifestRequest) { r.Manifest = nil }), field: "manifest"},
		// The service's rules: the receiving agency is a partner of this
		// node (not this node's own agency), and persons come one at a time.
		{name: "ReceivingAgencyNotAPartner", call: create(func(r *liaisonv1.CreateManifestRequest) { r.Manifest.ReceivingAgency = "charlie" }), field: "manifest.receiving_agency"},
		{name: "ReceivingAgencyOwnAgency", call: create(func(r *liaisonv1.CreateManifestRequest) { r.Manifest.ReceivingAgency = "alpha" }), field: "manifest.receiving_agency"},
		{name: "PersonsGiven", call: create(func(r *liaisonv1.CreateManifestRequest) {
			r.Manifest.Persons = []*liaisonv1.ManifestPerson{vmPerson()}
		}), field: "manifest.persons"},
	}
	for _, mr := range vmManifestRules {
		tests = append(tests, vmCase{name: mr.name, call: create(func(r *liaisonv1.CreateManifestRequest) { mr.breaks(r.Manifest) }), field: mr.field})
	}
	t.Run("Rejects", func(t *testing.T) { vmRun(t, tests) })

	list, err := manifests.ListManifests(ctx, &liaisonv1.ListManifestsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.GetManifests()); n != 0 {
		t.Fatalf("after %d refused creates there are %d manifests, want none", len(tests), n)
	}
	// The request without its defect goes through, with the same
	// request_id: the refused attempts did not claim it.
	if _, err := manifests.CreateManifest(ctx, &liaisonv1.CreateManifestRequest{Manifest: vmManifest(), RequestId: requestID}); err != nil {
		t.Fatalf("the valid base request: %v", err)
	}
}

// TestValidation_UpdateManifest: the merged manifest of an update is held
// to the same rules as a new one, the update itself to its own; a refused
// update changes nothing. Each case updates a draft of its own.
func TestValidation_UpdateManifest(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	manifests := liaisonv1.NewManifestServiceClient(node.Conn(t, "analyst"))
	ctx := context.Background()

	// A case edits a copy of vmManifest carrying the draft's id and etag,
	// and names paths.
	type updateCase struct {
		name  string
		edit  func(r *liaisonv1.UpdateManifestRequest)
		paths []string
		field string
		code  codes.Code
	}
	keep := func(*liaisonv1.UpdateManifestRequest) {}
	patch := func(f func(m *liaisonv1.Manifest)) func(*liaisonv1.UpdateManifestRequest) {
		return func(r *liaisonv1.UpdateManifestRequest) { f(r.Manifest) }
	}
	tests := []updateCase{
		{"UpdatePathsMissing", keep, nil, "update_mask", codes.InvalidArgument},
		{"UpdatePathsTooMany", keep, []string{"legal_basis", "transport", "escorts", "escorts"}, "update_mask.paths[3]", codes.InvalidArgument},
		{"UpdatePathsDuplicate", keep, []string{"legal_basis", "legal_basis"}, "update_mask.paths[1]", codes.InvalidArgument},
		{"UpdatePathReceivingAgency", patch(func(m *liaisonv1.Manifest) { m.ReceivingAgency = "charlie" }), []string{"receiving_agency"}, "update_mask.paths[0]", codes.InvalidArgument},
		{"UpdatePathState", patch(func(m *liaisonv1.Manifest) { m.State = liaisonv1.ManifestState_MANIFEST_STATE_SCHEDULED }), []string{"legal_basis", "state"}, "update_mask.paths[1]", codes.InvalidArgument},
		{"UpdatePathPersons", patch(func(m *liaisonv1.Manifest) { m.Persons = []*liaisonv1.ManifestPerson{vmPerson()} }), []string{"persons"}, "update_mask.paths[0]", codes.InvalidArgument},
		{"UpdatePathHistory", keep, []string{"history"}, "update_mask.paths[0]", codes.InvalidArgument},
		{"UpdatePathOriginAgency", patch(func(m *liaisonv1.Manifest) { m.OriginAgency = "bravo" }), []string{"origin_agency"}, "update_mask.paths[0]", codes.InvalidArgument},
		{"UpdatePathUnknown", keep, []string{"colour"}, "update_mask.paths[0]", codes.InvalidArgument},
		{"UpdatePathNested", keep, []string{"transport.carrier"}, "update_mask.paths[0]", codes.InvalidArgument},
		{"UpdatePathJSONName", keep, []string{"legalBasis"}, "update_mask.paths[0]", codes.InvalidArgument},
		// The service's rules: the change names its manifest and the
		// version it is based on.
		{"ManifestMissing", func(r *liaisonv1.UpdateManifestRequest) { r.Manifest = nil }, []string{"legal_basis"}, "manifest.etag", codes.InvalidArgument},
		{"EtagMissing", patch(func(m *liaisonv1.Manifest) { m.Etag = "" }), []string{"legal_basis"}, "manifest.etag", codes.InvalidArgument},
		{"IdMissing", patch(func(m *liaisonv1.Manifest) { m.Id = "" }), []string{"legal_basis"}, "manifest.id", codes.InvalidArgument},
		{"IdNotUUID", patch(func(m *liaisonv1.Manifest) { m.Id = "manifest-1" }), []string{"legal_basis"}, "manifest.id", codes.InvalidArgument},
		{"EtagStale", patch(func(m *liaisonv1.Manifest) { m.Etag = "stale" }), []string{"legal_basis"}, "", codes.Aborted},
	}
	for _, mr := range vmManifestRules {
		top := strings.TrimPrefix(mr.field, "manifest.")
		top, _, _ = strings.Cut(top, ".")
		top, _, _ = strings.Cut(top, "[")
		if top == "receiving_agency" {
			continue // not a field an update changes (UpdatePathReceivingAgency)
		}
		tests = append(tests, updateCase{mr.name, patch(mr.breaks), []string{top}, mr.field, codes.InvalidArgument})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			created, err := manifests.CreateManifest(ctx, &liaisonv1.CreateManifestRequest{Manifest: vmManifest()})
			if err != nil {
				t.Fatal(err)
			}
			cur := created.GetManifest()
			p := vmManifest()
			p.Id, p.Etag = cur.GetId(), cur.GetEtag()
			req := &liaisonv1.UpdateManifestRequest{Manifest: p}
			if tc.paths != nil {
				req.UpdateMask = &fieldmaskpb.FieldMask{Paths: tc.paths}
			}
			tc.edit(req)
			_, err = manifests.UpdateManifest(ctx, req)
			if tc.code == codes.InvalidArgument {
				wantOnlyViolation(t, err, tc.field, "")
			} else if status.Code(err) != tc.code {
				t.Errorf("got %v, want %v", err, tc.code)
			}
			got, err := manifests.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: cur.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got.GetManifest(), cur) {
				t.Errorf("after a refused update the manifest is %v, was %v", got.GetManifest(), cur)
			}
		})
	}
}

// vmState is what a refused call must leave unchanged of manifest id: its
// version and state on both nodes, the actions bravo proposed about it,
// and alpha's screenings of its persons.
func vmState(t *testing.T, alpha, bravo *manNode, id string) string {
	t.Helper()
	ctx := context.Background()
	a, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprintf("alpha: %s v%d, %d screenings", a.GetManifest().GetState(), a.GetManifest().GetVersion(), len(a.GetScreenings()))
	for _, p := range a.GetManifest().GetPersons() {
		if sc := a.GetScreenings()[p.GetId()]; sc != nil {
			s += fmt.Sprintf(" [%s %s %s]", p.GetId(), sc.GetClaim(), sc.GetRecordTime().AsTime())
		}
	}
	b, err := bravo.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: id})
	switch status.Code(err) {
	case codes.NotFound:
		return s + "; bravo: none"
	case codes.OK:
		return s + fmt.Sprintf("; bravo: %s v%d, %d actions", b.GetManifest().GetState(), b.GetManifest().GetVersion(), len(b.GetPendingActions()))
	}
	t.Fatal(err)
	return ""
}

// TestValidation_ManifestRequests covers the rules of ManifestService's
// other request messages, each sent where the request without its defect
// would be carried out, and checks that no refused call changed anything.
func TestValidation_ManifestRequests(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	out := mfxFlow{alpha, bravo}
	ctx := context.Background()

	// A draft with two persons and a hold on the first; a proposed, an
	// accepted and a departed manifest.
	draft, dp := out.draft(t, 2, true)
	d := draft.GetId()
	hold, err := alpha.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: d, PersonId: dp[0], Reason: "checking"})
	if err != nil {
		t.Fatal(err)
	}
	prop, pp := out.at(t, liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, 2)
	acc, _ := out.at(t, liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED, 1)
	transit, tp := out.at(t, liaisonv1.ManifestState_MANIFEST_STATE_IN_TRANSIT, 1)
	p, a, tr := prop.GetId(), acc.GetId(), transit.GetId()
	ids := []string{d, p, a, tr}
	before := map[string]string{}
	for _, id := range ids {
		before[id] = vmState(t, alpha, bravo, id)
	}

	long := vldRepeat("r", 1001)
	addPerson := func(edit func(r *liaisonv1.AddPersonRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.AddPersonRequest{ManifestId: d, Person: vmPerson()}
			edit(r)
			_, err := alpha.analyst.AddPerson(ctx, r)
			return err
		}
	}
	updatePerson := func(edit func(r *liaisonv1.UpdatePersonRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			person := vmPerson()
			person.Id = dp[1]
			r := &liaisonv1.UpdatePersonRequest{ManifestId: d, Person: person}
			edit(r)
			_, err := alpha.analyst.UpdatePerson(ctx, r)
			return err
		}
	}
	screen := func(edit func(r *liaisonv1.RecordScreeningRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.RecordScreeningRequest{ManifestId: d, PersonId: dp[1], Screening: vmScreening()}
			edit(r)
			_, err := alpha.analyst.RecordScreening(ctx, r)
			return err
		}
	}
	review := func(edit func(r *liaisonv1.ReviewPersonRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.ReviewPersonRequest{ManifestId: p, PersonId: pp[0], Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_NOT_CONFIRMED, Reason: "no record"}
			edit(r)
			_, err := bravo.supervisor.ReviewPerson(ctx, r)
			return err
		}
	}
	schedule := func(edit func(r *liaisonv1.ScheduleManifestRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.ScheduleManifestRequest{Id: a, Transport: vmManifest().GetTransport()}
			edit(r)
			_, err := alpha.supervisor.ScheduleManifest(ctx, r)
			return err
		}
	}
	handover := func(edit func(r *liaisonv1.RecordHandoverRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.RecordHandoverRequest{ManifestId: tr, PersonId: tp[0], Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_NOT_HANDED_OVER, Reason: "taken to hospital"}
			edit(r)
			_, err := bravo.supervisor.RecordHandover(ctx, r)
			return err
		}
	}
	cancelBy := func(n *manNode, r *liaisonv1.CancelManifestRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := n.supervisor.CancelManifest(ctx, r); return err }
	}
	withdraw := func(edit func(r *liaisonv1.WithdrawPersonRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.WithdrawPersonRequest{ManifestId: p, PersonId: pp[1], Reason: "appeal lodged"}
			edit(r)
			_, err := alpha.supervisor.WithdrawPerson(ctx, r)
			return err
		}
	}
	placeHold := func(n *manNode, manifest, person string, edit func(r *liaisonv1.PlaceHoldRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.PlaceHoldRequest{ManifestId: manifest, PersonId: person, Reason: "threats reported"}
			edit(r)
			_, err := n.analyst.PlaceHold(ctx, r)
			return err
		}
	}
	liftHold := func(edit func(r *liaisonv1.LiftHoldRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.LiftHoldRequest{ManifestId: d, PersonId: dp[0], HoldId: hold.GetHoldId(), Reason: "checked"}
			edit(r)
			_, err := alpha.supervisor.LiftHold(ctx, r)
			return err
		}
	}

	separate := func(edit func(r *liaisonv1.SeparatePersonsRequest)) func(context.Context) error {
		return func(ctx context.Context) error {
			r := &liaisonv1.SeparatePersonsRequest{ManifestId: d, PersonId: dp[0], OtherManifestId: d, OtherPersonId: dp[1], Reason: "fingerprints differ"}
			edit(r)
			_, err := alpha.supervisor.SeparatePersons(ctx, r)
			return err
		}
	}

	tests := []vmCase{
		{name: "GetManifest/IdEmpty", call: func(ctx context.Context) error {
			_, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{})
			return err
		}, field: "id"},
		{name: "GetManifest/IdNotUUID", call: func(ctx context.Context) error {
			_, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: "manifest-1"})
			return err
		}, field: "id"},
		{name: "GetManifest/IdWithoutHyphens", call: func(ctx context.Context) error {
			_, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: strings.ReplaceAll(d, "-", "")})
			return err
		}, field: "id"},
		{name: "ListManifestHistory/IdNotUUID", call: func(ctx context.Context) error {
			_, err := alpha.analyst.ListManifestHistory(ctx, &liaisonv1.ListManifestHistoryRequest{Id: d[:35]})
			return err
		}, field: "id"},
		{name: "ProposeManifest/IdEmpty", call: func(ctx context.Context) error {
			_, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{})
			return err
		}, field: "id"},
		{name: "AcceptManifest/IdNotUUID", call: func(ctx context.Context) error {
			_, err := bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: "{" + p + "}"})
			return err
		}, field: "id"},
		{name: "DepartManifest/IdNotUUID", call: func(ctx context.Context) error {
			_, err := alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: "manifest-1"})
			return err
		}, field: "id"},
	}
	list := func(r *liaisonv1.ListManifestsRequest) func(context.Context) error {
		return func(ctx context.Context) error { _, err := alpha.analyst.ListManifests(ctx, r); return err }
	}
	tests = append(tests, []vmCase{
		{name: "ListManifests/PageSizeOver1000", call: list(&liaisonv1.ListManifestsRequest{PageSize: 1001}), field: "page_size"},
		{name: "ListManifests/PageSizeNegative", call: list(&liaisonv1.ListManifestsRequest{PageSize: -1}), field: "page_size"},
		{name: "ListManifests/PageTokenTooLong", call: list(&liaisonv1.ListManifestsRequest{PageToken: vldRepeat("t", 513)}), field: "page_token"},
		{name: "ListManifests/PageTokenForged", call: list(&liaisonv1.ListManifestsRequest{PageToken: "not-a-token"}), field: "page_token"},
		{name: "ListManifests/StateUndefined", call: list(&liaisonv1.ListManifestsRequest{State: 99}), field: "state"},
		{name: "ListManifests/OriginAgencyUpperCase", call: list(&liaisonv1.ListManifestsRequest{OriginAgency: "Alpha"}), field: "origin_agency"},
		{name: "ListManifests/OriginAgencyTooShort", call: list(&liaisonv1.ListManifestsRequest{OriginAgency: "a"}), field: "origin_agency"},
		{name: "ListManifests/ReceivingAgencyTooLong", call: list(&liaisonv1.ListManifestsRequest{ReceivingAgency: vldRepeat("b", 32)}), field: "receiving_agency"},
		{name: "ListManifests/ReceivingAgencySpace", call: list(&liaisonv1.ListManifestsRequest{ReceivingAgency: "bravo "}), field: "receiving_agency"},

		{name: "AddPerson/ManifestIdEmpty", call: addPerson(func(r *liaisonv1.AddPersonRequest) { r.ManifestId = "" }), field: "manifest_id"},
		{name: "AddPerson/ManifestIdNotUUID", call: addPerson(func(r *liaisonv1.AddPersonRequest) { r.ManifestId = "manifest-1" }), field: "manifest_id"},
		{name: "AddPerson/PersonMissing", call: addPerson(func(r *liaisonv1.AddPersonRequest) { r.Person = nil }), field: "person"},

		{name: "UpdatePerson/ManifestIdNotUUID", call: updatePerson(func(r *liaisonv1.UpdatePersonRequest) { r.ManifestId = "manifest-1" }), field: "manifest_id"},
		{name: "UpdatePerson/PersonMissing", call: updatePerson(func(r *liaisonv1.UpdatePersonRequest) { r.Person = nil }), field: "person"},
		// The service's rule: the person names who is updated.
		{name: "UpdatePerson/PersonIdEmpty", call: updatePerson(func(r *liaisonv1.UpdatePersonRequest) { r.Person.Id = "" }), field: "person.id"},
		{name: "UpdatePerson/PersonIdNotUUID", call: updatePerson(func(r *liaisonv1.UpdatePersonRequest) { r.Person.Id = "person-2" }), field: "person.id"},

		{name: "RemovePerson/ManifestIdNotUUID", call: func(ctx context.Context) error {
			_, err := alpha.analyst.RemovePerson(ctx, &liaisonv1.RemovePersonRequest{ManifestId: "manifest-1", PersonId: dp[1]})
			return err
		}, field: "manifest_id"},
		{name: "RemovePerson/PersonIdEmpty", call: func(ctx context.Context) error {
			_, err := alpha.analyst.RemovePerson(ctx, &liaisonv1.RemovePersonRequest{ManifestId: d})
			return err
		}, field: "person_id"},

		{name: "RecordScreening/ManifestIdNotUUID", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.ManifestId = "manifest-1" }), field: "manifest_id"},
		{name: "RecordScreening/PersonIdNotUUID", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.PersonId = "person-2" }), field: "person_id"},
		{name: "RecordScreening/ScreeningMissing", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.Screening = nil }), field: "screening"},
		{name: "RecordScreening/ClaimUnspecified", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.Screening.Claim = 0 }), field: "screening.claim"},
		{name: "RecordScreening/ClaimUndefined", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.Screening.Claim = 99 }), field: "screening.claim"},
		{name: "RecordScreening/AssessmentUnspecified", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.Screening.Assessment = 0 }), field: "screening.assessment"},
		{name: "RecordScreening/AssessmentUndefined", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.Screening.Assessment = 3 }), field: "screening.assessment"},
		{name: "RecordScreening/AssessingOfficerEmpty", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.Screening.AssessingOfficer = "" }), field: "screening.assessing_officer"},
		{name: "RecordScreening/AssessingOfficerTooLong", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.Screening.AssessingOfficer = vldRepeat("o", 201) }), field: "screening.assessing_officer"},
		{name: "RecordScreening/BestInterestsReferenceTooLong", call: screen(func(r *liaisonv1.RecordScreeningRequest) {
			r.Screening.BestInterestsReference = vldRepeat("b", 201)
		}), field: "screening.best_interests_reference"},
		{name: "RecordScreening/NotesTooLong", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.Screening.Notes = vldRepeat("n", 5001) }), field: "screening.notes"},
		{name: "RecordScreening/NotesTooLongThai", call: screen(func(r *liaisonv1.RecordScreeningRequest) { r.Screening.Notes = vldRepeat("ก", 5001) }), field: "screening.notes"},

		{name: "ReviewPerson/ManifestIdNotUUID", call: review(func(r *liaisonv1.ReviewPersonRequest) { r.ManifestId = "manifest-1" }), field: "manifest_id"},
		{name: "ReviewPerson/PersonIdEmpty", call: review(func(r *liaisonv1.ReviewPersonRequest) { r.PersonId = "" }), field: "person_id"},
		{name: "ReviewPerson/NationalityUnspecified", call: review(func(r *liaisonv1.ReviewPersonRequest) { r.Nationality = 0 }), field: "nationality"},
		{name: "ReviewPerson/NationalityPending", call: review(func(r *liaisonv1.ReviewPersonRequest) {
			r.Nationality = liaisonv1.NationalityStatus_NATIONALITY_STATUS_PENDING
		}), field: "nationality"},
		{name: "ReviewPerson/NationalityUndefined", call: review(func(r *liaisonv1.ReviewPersonRequest) { r.Nationality = 99 }), field: "nationality"},
		{name: "ReviewPerson/NotConfirmedWithoutReason", call: review(func(r *liaisonv1.ReviewPersonRequest) { r.Reason = "" }), field: "", rule: "review.reason"},
		{name: "ReviewPerson/NotConfirmedBlankReason", call: review(func(r *liaisonv1.ReviewPersonRequest) { r.Reason = "  " }), field: "", rule: "review.reason"},
		{name: "ReviewPerson/ReasonTooLong", call: review(func(r *liaisonv1.ReviewPersonRequest) { r.Reason = long }), field: "reason"},

		{name: "ScheduleManifest/IdNotUUID", call: schedule(func(r *liaisonv1.ScheduleManifestRequest) { r.Id = "manifest-1" }), field: "id"},
		{name: "ScheduleManifest/TransportMissing", call: schedule(func(r *liaisonv1.ScheduleManifestRequest) { r.Transport = nil }), field: "transport"},
		{name: "ScheduleManifest/ModeUndefined", call: schedule(func(r *liaisonv1.ScheduleManifestRequest) { r.Transport.Mode = 9 }), field: "transport.mode"},
		{name: "ScheduleManifest/CarrierTooLong", call: schedule(func(r *liaisonv1.ScheduleManifestRequest) { r.Transport.Carrier = vldRepeat("c", 101) }), field: "transport.carrier"},
		{name: "ScheduleManifest/VehicleNumberTooLong", call: schedule(func(r *liaisonv1.ScheduleManifestRequest) { r.Transport.VehicleNumber = vldRepeat("9", 41) }), field: "transport.vehicle_number"},
		{name: "ScheduleManifest/DeparturePlaceTooLong", call: schedule(func(r *liaisonv1.ScheduleManifestRequest) { r.Transport.DeparturePlace = vldRepeat("d", 201) }), field: "transport.departure_place"},
		{name: "ScheduleManifest/ArrivalPlaceTooLong", call: schedule(func(r *liaisonv1.ScheduleManifestRequest) { r.Transport.ArrivalPlace = vldRepeat("a", 201) }), field: "transport.arrival_place"},
		// The service's rule: a transfer is scheduled for a time.
		{name: "ScheduleManifest/DepartureTimeMissing", call: schedule(func(r *liaisonv1.ScheduleManifestRequest) { r.Transport.DepartureTime = nil }), field: "transport.departure_time"},

		{name: "RecordHandover/ManifestIdNotUUID", call: handover(func(r *liaisonv1.RecordHandoverRequest) { r.ManifestId = "manifest-1" }), field: "manifest_id"},
		{name: "RecordHandover/PersonIdNotUUID", call: handover(func(r *liaisonv1.RecordHandoverRequest) { r.PersonId = "person-1" }), field: "person_id"},
		{name: "RecordHandover/StatusUnspecified", call: handover(func(r *liaisonv1.RecordHandoverRequest) { r.Status = 0 }), field: "status"},
		{name: "RecordHandover/StatusPending", call: handover(func(r *liaisonv1.RecordHandoverRequest) { r.Status = liaisonv1.HandoverStatus_HANDOVER_STATUS_PENDING }), field: "status"},
		{name: "RecordHandover/StatusUndefined", call: handover(func(r *liaisonv1.RecordHandoverRequest) { r.Status = 99 }), field: "status"},
		{name: "RecordHandover/NotHandedOverWithoutReason", call: handover(func(r *liaisonv1.RecordHandoverRequest) { r.Reason = "" }), field: "", rule: "handover.reason"},
		{name: "RecordHandover/NotHandedOverBlankReason", call: handover(func(r *liaisonv1.RecordHandoverRequest) { r.Reason = " " }), field: "", rule: "handover.reason"},
		{name: "RecordHandover/ReasonTooLong", call: handover(func(r *liaisonv1.RecordHandoverRequest) { r.Reason = long }), field: "reason"},

		{name: "CancelManifest/IdNotUUID", call: cancelBy(alpha, &liaisonv1.CancelManifestRequest{Id: "manifest-1", Reason: "flight cancelled"}), field: "id"},
		{name: "CancelManifest/ReasonEmpty", call: cancelBy(alpha, &liaisonv1.CancelManifestRequest{Id: p}), field: "reason"},
		{name: "CancelManifest/ReasonBlank", call: cancelBy(alpha, &liaisonv1.CancelManifestRequest{Id: p, Reason: "  "}), field: "reason"},
		{name: "CancelManifest/ReasonTooLong", call: cancelBy(alpha, &liaisonv1.CancelManifestRequest{Id: p, Reason: long}), field: "reason"},
		{name: "CancelManifest/ReceivingSideReasonEmpty", call: cancelBy(bravo, &liaisonv1.CancelManifestRequest{Id: p}), field: "reason"},

		{name: "WithdrawPerson/ManifestIdNotUUID", call: withdraw(func(r *liaisonv1.WithdrawPersonRequest) { r.ManifestId = "manifest-1" }), field: "manifest_id"},
		{name: "WithdrawPerson/PersonIdNotUUID", call: withdraw(func(r *liaisonv1.WithdrawPersonRequest) { r.PersonId = "person-2" }), field: "person_id"},
		{name: "WithdrawPerson/ReasonEmpty", call: withdraw(func(r *liaisonv1.WithdrawPersonRequest) { r.Reason = "" }), field: "reason"},
		{name: "WithdrawPerson/ReasonBlank", call: withdraw(func(r *liaisonv1.WithdrawPersonRequest) { r.Reason = "\t" }), field: "reason"},
		{name: "WithdrawPerson/ReasonTooLong", call: withdraw(func(r *liaisonv1.WithdrawPersonRequest) { r.Reason = long }), field: "reason"},

		{name: "PlaceHold/ManifestIdNotUUID", call: placeHold(alpha, d, dp[1], func(r *liaisonv1.PlaceHoldRequest) { r.ManifestId = "manifest-1" }), field: "manifest_id"},
		{name: "PlaceHold/PersonIdNotUUID", call: placeHold(alpha, d, dp[1], func(r *liaisonv1.PlaceHoldRequest) { r.PersonId = "person-2" }), field: "person_id"},
		{name: "PlaceHold/ReasonEmpty", call: placeHold(alpha, d, dp[1], func(r *liaisonv1.PlaceHoldRequest) { r.Reason = "" }), field: "reason"},
		{name: "PlaceHold/ReasonBlank", call: placeHold(alpha, d, dp[1], func(r *liaisonv1.PlaceHoldRequest) { r.Reason = " " }), field: "reason"},
		{name: "PlaceHold/ReasonTooLong", call: placeHold(alpha, d, dp[1], func(r *liaisonv1.PlaceHoldRequest) { r.Reason = long }), field: "reason"},
		{name: "PlaceHold/ReceivingSideReasonEmpty", call: placeHold(bravo, p, pp[0], func(r *liaisonv1.PlaceHoldRequest) { r.Reason = "" }), field: "reason"},

		{name: "LiftHold/ManifestIdNotUUID", call: liftHold(func(r *liaisonv1.LiftHoldRequest) { r.ManifestId = "manifest-1" }), field: "manifest_id"},
		{name: "LiftHold/PersonIdNotUUID", call: liftHold(func(r *liaisonv1.LiftHoldRequest) { r.PersonId = "person-1" }), field: "person_id"},
		{name: "LiftHold/HoldIdEmpty", call: liftHold(func(r *liaisonv1.LiftHoldRequest) { r.HoldId = "" }), field: "hold_id"},
		{name: "LiftHold/HoldIdNotUUID", call: liftHold(func(r *liaisonv1.LiftHoldRequest) { r.HoldId = "hold-1" }), field: "hold_id"},
		{name: "LiftHold/ReasonEmpty", call: liftHold(func(r *liaisonv1.LiftHoldRequest) { r.Reason = "" }), field: "reason"},
		{name: "LiftHold/ReasonBlank", call: liftHold(func(r *liaisonv1.LiftHoldRequest) { r.Reason = " " }), field: "reason"},
		{name: "LiftHold/ReasonTooLong", call: liftHold(func(r *liaisonv1.LiftHoldRequest) { r.Reason = long }), field: "reason"},

		{name: "SeparatePersons/ManifestIdNotUUID", call: separate(func(r *liaisonv1.SeparatePersonsRequest) { r.ManifestId = "manifest-1" }), field: "manifest_id"},
		{name: "SeparatePersons/PersonIdNotUUID", call: separate(func(r *liaisonv1.SeparatePersonsRequest) { r.PersonId = "person-1" }), field: "person_id"},
		{name: "SeparatePersons/OtherManifestIdEmpty", call: separate(func(r *liaisonv1.SeparatePersonsRequest) { r.OtherManifestId = "" }), field: "other_manifest_id"},
		{name: "SeparatePersons/OtherPersonIdNotUUID", call: separate(func(r *liaisonv1.SeparatePersonsRequest) { r.OtherPersonId = "person-2" }), field: "other_person_id"},
		{name: "SeparatePersons/SamePerson", call: separate(func(r *liaisonv1.SeparatePersonsRequest) { r.OtherPersonId = r.PersonId }), field: "other_person_id"},
		{name: "SeparatePersons/ReasonEmpty", call: separate(func(r *liaisonv1.SeparatePersonsRequest) { r.Reason = "" }), field: "reason"},
		{name: "SeparatePersons/ReasonBlank", call: separate(func(r *liaisonv1.SeparatePersonsRequest) { r.Reason = " " }), field: "reason"},
		{name: "SeparatePersons/ReasonTooLong", call: separate(func(r *liaisonv1.SeparatePersonsRequest) { r.Reason = long }), field: "reason"},
	}...)
	// Every rule of a person, as AddPerson and UpdatePerson take it.
	for _, pr := range vmPersonRules {
		tests = append(tests,
			vmCase{name: "AddPerson/" + pr.name, call: addPerson(func(r *liaisonv1.AddPersonRequest) { pr.breaks(r.Person) }), field: pr.field, loose: pr.loose},
			vmCase{name: "UpdatePerson/" + pr.name, call: updatePerson(func(r *liaisonv1.UpdatePersonRequest) { pr.breaks(r.Person) }), field: pr.field, loose: pr.loose})
	}
	t.Run("Rejects", func(t *testing.T) { vmRun(t, tests) })

	// Well-formed, but naming what does not exist: NOT_FOUND.
	unknown := uuid.Must(uuid.NewV7()).String()
	for _, nf := range []struct {
		name string
		call func() error
	}{
		{"GetManifest", func() error {
			_, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: unknown})
			return err
		}},
		{"UpdatePerson", func() error {
			person := vmPerson()
			person.Id = unknown
			_, err := alpha.analyst.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: d, Person: person})
			return err
		}},
		{"RemovePerson", func() error {
			_, err := alpha.analyst.RemovePerson(ctx, &liaisonv1.RemovePersonRequest{ManifestId: d, PersonId: unknown})
			return err
		}},
		{"LiftHold", func() error {
			_, err := alpha.supervisor.LiftHold(ctx, &liaisonv1.LiftHoldRequest{ManifestId: d, PersonId: dp[0], HoldId: unknown, Reason: "checked"})
			return err
		}},
	} {
		t.Run("NotFound/"+nf.name, func(t *testing.T) {
			if err := nf.call(); status.Code(err) != codes.NotFound {
				t.Errorf("got %v, want NotFound", err)
			}
		})
	}

	for _, id := range ids {
		if got := vmState(t, alpha, bravo, id); got != before[id] {
			t.Errorf("after refused calls manifest %s is %s, was %s", id, got, before[id])
		}
	}
	if l, err := alpha.analyst.ListManifests(ctx, &liaisonv1.ListManifestsRequest{}); err != nil || len(l.GetManifests()) != len(ids) {
		t.Errorf("alpha holds %d manifests (%v), want %d", len(l.GetManifests()), err, len(ids))
	}
}

// TestValidation_ManifestAccepts: each base request the cases above break
// is itself valid, and values at the edge of a rule are accepted.
func TestValidation_ManifestAccepts(t *testing.T) {
	t.Parallel()
	node := startAlpha(t)
	ctx := context.Background()
	manifests := liaisonv1.NewManifestServiceClient(node.Conn(t, "analyst"))
	creates := []struct {
		name string
		edit func(m *liaisonv1.Manifest)
	}{
		{"Base", func(*liaisonv1.Manifest) {}},
		{"Minimal", func(m *liaisonv1.Manifest) { *m = liaisonv1.Manifest{ReceivingAgency: "bravo", LegalBasis: "x"} }},
		{"LegalBasisOf500ThaiChars", func(m *liaisonv1.Manifest) { m.LegalBasis = vldRepeat("ก", 500) }},
		{"TransportAtLimits", func(m *liaisonv1.Manifest) {
			m.Transport = &liaisonv1.Transport{Mode: liaisonv1.TransportMode_TRANSPORT_MODE_RAIL, Carrier: vldRepeat("c", 100), VehicleNumber: vldRepeat("9", 40),
				DeparturePlace: vldRepeat("d", 200), ArrivalPlace: vldRepeat("ก", 200)}
		}},
		{"FiftyEscorts", func(m *liaisonv1.Manifest) { m.Escorts = repeatMsg(m.Escorts[0], 50) }},
		{"EscortAtLimits", func(m *liaisonv1.Manifest) {
			m.Escorts = []*liaisonv1.Escort{{Name: vldRepeat("n", 200), Role: liaisonv1.EscortRole_ESCORT_ROLE_OBSERVER, Agency: "b" + vldRepeat("9", 30)}}
		}},
		{"OutputOnlyFieldsIgnored", func(m *liaisonv1.Manifest) {
			m.State, m.Version, m.CancelReason = liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, 42, "x"
		}},
	}
	var draft string
	for _, tt := range creates {
		t.Run("CreateManifest/"+tt.name, func(t *testing.T) {
			m := vmManifest()
			tt.edit(m)
			r, err := manifests.CreateManifest(ctx, &liaisonv1.CreateManifestRequest{Manifest: m})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got := r.GetManifest(); got.GetState() != liaisonv1.ManifestState_MANIFEST_STATE_DRAFT || got.GetVersion() != 1 || got.GetCancelReason() != "" {
				t.Errorf("created as %s v%d (cancel reason %q)", got.GetState(), got.GetVersion(), got.GetCancelReason())
			}
			draft = r.GetManifest().GetId()
		})
	}
	persons := []struct {
		name string
		edit func(p *liaisonv1.ManifestPerson)
	}{
		{"Base", func(*liaisonv1.ManifestPerson) {}},
		{"Minimal", func(p *liaisonv1.ManifestPerson) {
			*p = liaisonv1.ManifestPerson{Identity: &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: "Doe"}}}, Fitness: liaisonv1.Fitness_FITNESS_UNKNOWN}
		}},
		{"AllSixVulnerabilities", func(p *liaisonv1.ManifestPerson) { p.Vulnerabilities = []liaisonv1.Vulnerability{1, 2, 3, 4, 5, 6} }},
		{"CareOnArrivalOf1000ThaiChars", func(p *liaisonv1.ManifestPerson) { p.MedicalNeeds.CareOnArrival = vldRepeat("ก", 1000) }},
		{"Unfit", func(p *liaisonv1.ManifestPerson) { p.Fitness = liaisonv1.Fitness_FITNESS_UNFIT }},
	}
	var person string
	for _, tt := range persons {
		t.Run("AddPerson/"+tt.name, func(t *testing.T) {
			p := vmPerson()
			tt.edit(p)
			r, err := manifests.AddPerson(ctx, &liaisonv1.AddPersonRequest{ManifestId: draft, Person: p})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			person = r.GetPerson().GetId()
		})
	}
	screenings := []struct {
		name string
		edit func(s *liaisonv1.Screening)
	}{
		{"Base", func(*liaisonv1.Screening) {}},
		{"AtLimits", func(s *liaisonv1.Screening) {
			s.AssessingOfficer, s.BestInterestsReference, s.Notes = vldRepeat("o", 200), vldRepeat("b", 200), vldRepeat("ก", 5000)
		}},
		{"Minimal", func(s *liaisonv1.Screening) {
			*s = liaisonv1.Screening{Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING, Assessment: liaisonv1.Assessment_ASSESSMENT_CONCERN, AssessingOfficer: "o"}
		}},
	}
	for _, tt := range screenings {
		t.Run("RecordScreening/"+tt.name, func(t *testing.T) {
			s := vmScreening()
			tt.edit(s)
			if _, err := manifests.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: draft, PersonId: person, Screening: s}); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
	t.Run("UpdateManifest/AllThreePaths", func(t *testing.T) {
		g, err := manifests.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: draft})
		if err != nil {
			t.Fatal(err)
		}
		patch := vmManifest()
		patch.Id, patch.Etag, patch.Escorts = draft, g.GetManifest().GetEtag(), repeatMsg(patch.Escorts[1], 50)
		r, err := manifests.UpdateManifest(ctx, &liaisonv1.UpdateManifestRequest{Manifest: patch, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"escorts", "transport", "legal_basis"}}})
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if len(r.GetManifest().GetEscorts()) != 50 || r.GetManifest().GetVersion() != g.GetManifest().GetVersion()+1 {
			t.Errorf("updated to %d escorts, version %d", len(r.GetManifest().GetEscorts()), r.GetManifest().GetVersion())
		}
	})
	t.Run("Lists/PageSize1000", func(t *testing.T) {
		if _, err := manifests.ListManifests(ctx, &liaisonv1.ListManifestsRequest{PageSize: 1000, State: liaisonv1.ManifestState_MANIFEST_STATE_DRAFT,
			OriginAgency: "alpha", ReceivingAgency: "bravo"}); err != nil {
			t.Error(err)
		}
	})
}

// TestValidation_ManifestPreconditions: the state rules of manifests that
// manifests_test.go does not already show, each FAILED_PRECONDITION naming
// its rule (and, for the state rule, the manifest's current state), and
// none leaving anything behind on either node.
func TestValidation_ManifestPreconditions(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	out := mfxFlow{alpha, bravo}
	ctx := context.Background()
	const (
		proposedSt = liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED
		acceptedSt = liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED
		transitSt  = liaisonv1.ManifestState_MANIFEST_STATE_IN_TRANSIT
	)

	// The manifests the cases act on, each brought to its state once.
	empty, _ := out.draft(t, 0, false)
	draft, dp := out.draft(t, 1, true)
	prop, pp := out.at(t, proposedSt, 2)
	acc, ap := out.at(t, acceptedSt, 1)
	// In transit, with the first of two persons handed over.
	transit, tp := out.at(t, transitSt, 2)
	out.handover(t, transit.GetId(), tp[0])
	// Completed.
	done, cp := out.at(t, transitSt, 1)
	out.handover(t, done.GetId(), cp[0])
	home := waitManifest(t, alpha, done.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, 0)
	waitManifest(t, bravo, done.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, home.GetVersion())
	// Cancelled as a draft.
	cancelled, xp := out.draft(t, 1, true)
	if _, err := alpha.supervisor.CancelManifest(ctx, &liaisonv1.CancelManifestRequest{Id: cancelled.GetId(), Reason: "plans changed"}); err != nil {
		t.Fatal(err)
	}
	// Cancelled as a draft, with a hold on its person.
	cancelledHeld, hp := out.draft(t, 1, true)
	heldHold, err := alpha.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: cancelledHeld.GetId(), PersonId: hp[0], Reason: "checking"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.supervisor.CancelManifest(ctx, &liaisonv1.CancelManifestRequest{Id: cancelledHeld.GetId(), Reason: "plans changed"}); err != nil {
		t.Fatal(err)
	}
	// Proposed, nobody's nationality confirmed.
	nobody, np := out.at(t, proposedSt, 1)
	out.review(t, nobody.GetId(), np, liaisonv1.NationalityStatus_NATIONALITY_STATUS_NOT_CONFIRMED)
	// Proposed, the second person withdrawn.
	wd, wp := out.at(t, proposedSt, 2)
	if _, err := alpha.supervisor.WithdrawPerson(ctx, &liaisonv1.WithdrawPersonRequest{ManifestId: wd.GetId(), PersonId: wp[1], Reason: "appeal lodged"}); err != nil {
		t.Fatal(err)
	}
	out.waitPersons(t, bravo, wd.GetId(), func(p *liaisonv1.ManifestPerson) bool {
		return p.GetId() != wp[1] || p.GetStatus() == liaisonv1.PersonStatus_PERSON_STATUS_WITHDRAWN
	})
	// A hold alpha placed on the proposed manifest and lifted.
	hold, err := alpha.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: prop.GetId(), PersonId: pp[1], Reason: "checking"})
	if err != nil {
		t.Fatal(err)
	}
	lifted, err := alpha.supervisor.LiftHold(ctx, &liaisonv1.LiftHoldRequest{ManifestId: prop.GetId(), PersonId: pp[1], HoldId: hold.GetHoldId(), Reason: "checked"})
	if err != nil {
		t.Fatal(err)
	}
	waitManifest(t, bravo, prop.GetId(), proposedSt, lifted.GetManifest().GetVersion())

	etag := func(t *testing.T, id string) string {
		t.Helper()
		g, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		return g.GetManifest().GetEtag()
	}
	personOf := func(t *testing.T, id, person string) *liaisonv1.ManifestPerson {
		t.Helper()
		g, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range g.GetManifest().GetPersons() {
			if p.GetId() == person {
				return proto.Clone(p).(*liaisonv1.ManifestPerson)
			}
		}
		t.Fatalf("manifest %s has no person %s", id, person)
		return nil
	}
	onManifest := func(id string) string { return "manifests/" + id }
	onPerson := func(id string) string { return "persons/" + id }
	reason := "no longer needed"
	type pcase struct {
		name     string
		manifest string
		// call makes the refused call; it returns the rule and subject of
		// the one violation it must report, the state the message must
		// name ("" for no check), and its error.
		call func(t *testing.T) (rule, subject, state string, err error)
	}
	stateRule := func(id, state string, err error) (string, string, string, error) {
		return "manifest.state", onManifest(id), state, err
	}
	tests := []pcase{
		{"ProposeManifest/NoPersons", empty.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: empty.GetId()})
			return "manifest.no_persons", onManifest(empty.GetId()), "", err
		}},
		{"ProposeManifest/Proposed", prop.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: prop.GetId()})
			return stateRule(prop.GetId(), "proposed", err)
		}},
		{"ProposeManifest/Cancelled", cancelled.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: cancelled.GetId()})
			return stateRule(cancelled.GetId(), "cancelled", err)
		}},
		{"UpdateManifest/Proposed", prop.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.analyst.UpdateManifest(ctx, &liaisonv1.UpdateManifestRequest{
				Manifest: &liaisonv1.Manifest{Id: prop.GetId(), Etag: etag(t, prop.GetId()), LegalBasis: "another agreement"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"legal_basis"}}})
			return stateRule(prop.GetId(), "proposed", err)
		}},
		{"AddPerson/Proposed", prop.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.analyst.AddPerson(ctx, &liaisonv1.AddPersonRequest{ManifestId: prop.GetId(), Person: manPerson(9)})
			return stateRule(prop.GetId(), "proposed", err)
		}},
		{"RemovePerson/Accepted", acc.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.analyst.RemovePerson(ctx, &liaisonv1.RemovePersonRequest{ManifestId: acc.GetId(), PersonId: ap[0]})
			return stateRule(acc.GetId(), "accepted", err)
		}},
		{"UpdatePerson/InTransit", transit.GetId(), func(t *testing.T) (string, string, string, error) {
			p := personOf(t, transit.GetId(), tp[1])
			p.Fitness = liaisonv1.Fitness_FITNESS_UNFIT
			_, err := alpha.analyst.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: transit.GetId(), Person: p})
			return stateRule(transit.GetId(), "in transit", err)
		}},
		{"ScheduleManifest/Draft", draft.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: draft.GetId(), Transport: &liaisonv1.Transport{DepartureTime: timestamppb.Now()}})
			return stateRule(draft.GetId(), "draft", err)
		}},
		{"ScheduleManifest/Proposed", prop.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: prop.GetId(), Transport: &liaisonv1.Transport{DepartureTime: timestamppb.Now()}})
			return stateRule(prop.GetId(), "proposed", err)
		}},
		{"ScheduleManifest/InTransit", transit.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: transit.GetId(), Transport: &liaisonv1.Transport{DepartureTime: timestamppb.Now()}})
			return stateRule(transit.GetId(), "in transit", err)
		}},
		{"DepartManifest/Draft", draft.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: draft.GetId()})
			return stateRule(draft.GetId(), "draft", err)
		}},
		{"DepartManifest/Accepted", acc.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: acc.GetId()})
			return stateRule(acc.GetId(), "accepted", err)
		}},
		{"DepartManifest/Completed", done.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: done.GetId()})
			return stateRule(done.GetId(), "completed", err)
		}},
		{"ReviewPerson/Accepted", acc.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.supervisor.ReviewPerson(ctx, &liaisonv1.ReviewPersonRequest{ManifestId: acc.GetId(), PersonId: ap[0], Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED})
			return stateRule(acc.GetId(), "accepted", err)
		}},
		{"AcceptManifest/Accepted", acc.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: acc.GetId()})
			return stateRule(acc.GetId(), "accepted", err)
		}},
		{"AcceptManifest/InTransit", transit.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: transit.GetId()})
			return stateRule(transit.GetId(), "in transit", err)
		}},
		{"AcceptManifest/NobodyConfirmed", nobody.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: nobody.GetId()})
			return "manifest.nobody_confirmed", onManifest(nobody.GetId()), "", err
		}},
		{"RecordHandover/Accepted", acc.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: acc.GetId(), PersonId: ap[0], Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER})
			return stateRule(acc.GetId(), "accepted", err)
		}},
		{"RecordHandover/Completed", done.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: done.GetId(), PersonId: cp[0], Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER})
			return stateRule(done.GetId(), "completed", err)
		}},
		{"RecordHandover/AlreadyRecorded", transit.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: transit.GetId(), PersonId: tp[0],
				Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_NOT_HANDED_OVER, Reason: "changed our mind"})
			return "person.handover_recorded", onPerson(tp[0]), "", err
		}},
		{"CancelManifest/InTransitBySender", transit.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.CancelManifest(ctx, &liaisonv1.CancelManifestRequest{Id: transit.GetId(), Reason: reason})
			return stateRule(transit.GetId(), "in transit", err)
		}},
		{"CancelManifest/InTransitByReceiver", transit.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.supervisor.CancelManifest(ctx, &liaisonv1.CancelManifestRequest{Id: transit.GetId(), Reason: reason})
			return stateRule(transit.GetId(), "in transit", err)
		}},
		{"CancelManifest/CompletedByReceiver", done.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.supervisor.CancelManifest(ctx, &liaisonv1.CancelManifestRequest{Id: done.GetId(), Reason: reason})
			return stateRule(done.GetId(), "completed", err)
		}},
		{"CancelManifest/Cancelled", cancelled.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.CancelManifest(ctx, &liaisonv1.CancelManifestRequest{Id: cancelled.GetId(), Reason: reason})
			return stateRule(cancelled.GetId(), "cancelled", err)
		}},
		{"RecordScreening/Completed", done.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: done.GetId(), PersonId: cp[0], Screening: cleared})
			return stateRule(done.GetId(), "completed", err)
		}},
		{"RecordScreening/Cancelled", cancelled.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: cancelled.GetId(), PersonId: xp[0], Screening: cleared})
			return stateRule(cancelled.GetId(), "cancelled", err)
		}},
		{"WithdrawPerson/Draft", draft.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.WithdrawPerson(ctx, &liaisonv1.WithdrawPersonRequest{ManifestId: draft.GetId(), PersonId: dp[0], Reason: reason})
			return stateRule(draft.GetId(), "a draft", err)
		}},
		{"WithdrawPerson/Completed", done.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.WithdrawPerson(ctx, &liaisonv1.WithdrawPersonRequest{ManifestId: done.GetId(), PersonId: cp[0], Reason: reason})
			return stateRule(done.GetId(), "completed", err)
		}},
		{"WithdrawPerson/AfterHandover", transit.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.WithdrawPerson(ctx, &liaisonv1.WithdrawPersonRequest{ManifestId: transit.GetId(), PersonId: tp[0], Reason: reason})
			return "person.handover_recorded", onPerson(tp[0]), "", err
		}},
		{"WithdrawPerson/Twice", wd.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.WithdrawPerson(ctx, &liaisonv1.WithdrawPersonRequest{ManifestId: wd.GetId(), PersonId: wp[1], Reason: reason})
			return "person.withdrawn", onPerson(wp[1]), "", err
		}},
		{"UpdatePerson/Withdrawn", wd.GetId(), func(t *testing.T) (string, string, string, error) {
			p := personOf(t, wd.GetId(), wp[1])
			p.Fitness = liaisonv1.Fitness_FITNESS_UNFIT
			_, err := alpha.analyst.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: wd.GetId(), Person: p})
			return "person.withdrawn", onPerson(wp[1]), "", err
		}},
		{"UpdatePerson/IdentityOfProposed", prop.GetId(), func(t *testing.T) (string, string, string, error) {
			p := personOf(t, prop.GetId(), pp[0])
			p.Identity.Nationalities = []string{"THA"}
			_, err := alpha.analyst.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: prop.GetId(), Person: p})
			return "person.identity_fixed", onPerson(pp[0]), "", err
		}},
		{"PlaceHold/Completed", done.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: done.GetId(), PersonId: cp[0], Reason: reason})
			return stateRule(done.GetId(), "completed", err)
		}},
		{"PlaceHold/CompletedByReceiver", done.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: done.GetId(), PersonId: cp[0], Reason: reason})
			return stateRule(done.GetId(), "completed", err)
		}},
		{"PlaceHold/AfterHandover", transit.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: transit.GetId(), PersonId: tp[0], Reason: reason})
			return "person.handover_recorded", onPerson(tp[0]), "", err
		}},
		{"PlaceHold/AfterHandoverByReceiver", transit.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: transit.GetId(), PersonId: tp[0], Reason: reason})
			return "person.handover_recorded", onPerson(tp[0]), "", err
		}},
		{"PlaceHold/WithdrawnByReceiver", wd.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := bravo.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: wd.GetId(), PersonId: wp[1], Reason: reason})
			return "person.withdrawn", onPerson(wp[1]), "", err
		}},
		{"LiftHold/AlreadyLifted", prop.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.LiftHold(ctx, &liaisonv1.LiftHoldRequest{ManifestId: prop.GetId(), PersonId: pp[1], HoldId: hold.GetHoldId(), Reason: "again"})
			return "hold.lifted", onPerson(pp[1]), "", err
		}},
		// A cancelled manifest changes no more: its holds are not lifted
		// either (nobody is moved by it).
		{"LiftHold/Cancelled", cancelledHeld.GetId(), func(t *testing.T) (string, string, string, error) {
			_, err := alpha.supervisor.LiftHold(ctx, &liaisonv1.LiftHoldRequest{ManifestId: cancelledHeld.GetId(), PersonId: hp[0], HoldId: heldHold.GetHoldId(), Reason: reason})
			return stateRule(cancelledHeld.GetId(), "cancelled", err)
		}},
		// hold.exists cannot be reached through the API: a hold's id is
		// chosen by the node that places it (PlaceHold takes none).
	}
	before := map[string]string{}
	for _, tc := range tests {
		if _, ok := before[tc.manifest]; !ok {
			before[tc.manifest] = vmState(t, alpha, bravo, tc.manifest)
		}
	}
	t.Run("Refuses", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				rule, subject, state, err := tc.call(t)
				wantPrecondition(t, err, rule, subject)
				if msg := status.Convert(err).Message(); state != "" && !strings.Contains(msg, " is "+state) {
					t.Errorf("the refusal does not name the manifest's state %q: %s", state, msg)
				}
			})
		}
	})
	for id, b := range before {
		if got := vmState(t, alpha, bravo, id); got != b {
			t.Errorf("after refused calls manifest %s is %s, was %s", id, got, b)
		}
	}
}

// TestValidation_ManifestCancelledDraftNeverSent: a draft is never sent to
// the receiving agency, nor a draft cancelled — not even when something
// happens to it after its cancellation. Lifting a hold on a manifest
// cancelled as a draft must be refused (as every other change of a
// cancelled manifest is), and in no case may it write the draft, with its
// persons' identities and medical needs, to the partner's outbox.
func TestValidation_ManifestCancelledDraftNeverSent(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	m, ps := mfxFlow{alpha, bravo}.draft(t, 1, true)
	hold, err := alpha.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: m.GetId(), PersonId: ps[0], Reason: "checking"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := alpha.supervisor.CancelManifest(ctx, &liaisonv1.CancelManifestRequest{Id: m.GetId(), Reason: "plans changed"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = alpha.supervisor.LiftHold(ctx, &liaisonv1.LiftHoldRequest{ManifestId: m.GetId(), PersonId: ps[0], HoldId: hold.GetHoldId(), Reason: "no longer needed"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("lifting a hold on a cancelled draft: %v, want FailedPrecondition (manifest.state)", err)
	}
	if g, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()}); err != nil || g.GetManifest().GetVersion() != c.GetManifest().GetVersion() {
		t.Errorf("the cancelled manifest changed: version %d, was %d (%v)", g.GetManifest().GetVersion(), c.GetManifest().GetVersion(), err)
	}
	if rows := outboxRows(t, alpha.Cfg.Database.Path, m.GetId()); len(rows) != 0 {
		t.Errorf("a draft that was never proposed was written for the partner: %v", rows)
	}
	// And so bravo never holds it (checked once the relay had time to
	// deliver anything that was written).
	time.Sleep(time.Second)
	if g, err := bravo.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()}); status.Code(err) != codes.NotFound {
		t.Errorf("bravo holds alpha's never-proposed draft: %v %v", g.GetManifest(), err)
	}
}

// TestValidation_ManifestUpdatePersonKeepsIdentity: a person's identity
// keeps its id across updates (Person.id: "stable across updates of the
// record"), so that a person updated with the identity they were added
// with — as a client holding a person file sends it, without the id the
// node gave it — stays the same person: in a draft the identity's id does
// not change, and once proposed only a real change of the identity counts
// as one (person.identity_fixed), not an id the node itself just chose.
func TestValidation_ManifestUpdatePersonKeepsIdentity(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	m, ps := mfxFlow{alpha, bravo}.draft(t, 1, true)
	identityID := func() string {
		t.Helper()
		g, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		return g.GetManifest().GetPersons()[0].GetIdentity().GetId()
	}
	// The person as the client first sent it, with a new fitness.
	update := func(f liaisonv1.Fitness) error {
		p := manPerson(0)
		p.Id, p.Fitness = ps[0], f
		_, err := alpha.analyst.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: m.GetId(), Person: p})
		return err
	}
	was := identityID()
	if err := update(liaisonv1.Fitness_FITNESS_FIT_WITH_MEDICAL_ESCORT); err != nil {
		t.Fatal(err)
	}
	if now := identityID(); now != was {
		t.Errorf("updating the person's fitness in a draft changed the id of their identity from %s to %s", was, now)
	}
	if _, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: m.GetId()}); err != nil {
		t.Fatal(err)
	}
	if err := update(liaisonv1.Fitness_FITNESS_FIT); err != nil {
		t.Errorf("updating only the fitness of a person of a proposed manifest: %v", err)
	}
}
