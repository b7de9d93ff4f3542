package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// The safeguards follow the individual, not the manifest row: a person is
// linked on the sending node to every other person on its manifests with
// the same document (type, number, issuing country), or the same name and
// full date of birth; same name and birth year without a document in
// common is a possible match.

// indPerson is a person of the tests below: Budi Siregar, born on dob
// ("1990-03-04", or "1990" for a year only), with a passport if doc is set.
func indPerson(dob, doc string) *liaisonv1.ManifestPerson {
	p := &liaisonv1.ManifestPerson{
		Identity: &liaisonv1.Person{
			Names:         []*liaisonv1.PersonName{{FamilyName: "Siregar", GivenNames: "Budi"}},
			Nationalities: []string{"IDN"},
		},
		Fitness: liaisonv1.Fitness_FITNESS_FIT,
	}
	var y, m, d int32
	fmt.Sscanf(dob, "%d-%d-%d", &y, &m, &d)
	p.Identity.DateOfBirth = &liaisonv1.Date{Year: y, Month: m, Day: d}
	if doc != "" {
		p.Identity.Documents = []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: doc, IssuingCountry: "IDN"}}
	}
	return p
}

// addScreened adds a person to a draft and records a cleared screening.
func addScreened(t *testing.T, alpha *manNode, manifestID string, p *liaisonv1.ManifestPerson) string {
	t.Helper()
	ctx := context.Background()
	r, err := alpha.analyst.AddPerson(ctx, &liaisonv1.AddPersonRequest{ManifestId: manifestID, Person: p})
	if err != nil {
		t.Fatal(err)
	}
	id := r.GetPerson().GetId()
	if _, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: manifestID, PersonId: id, Screening: cleared}); err != nil {
		t.Fatal(err)
	}
	return id
}

// toAccepted proposes a manifest, has bravo confirm every person and
// accept it, and waits until alpha holds it accepted.
func toAccepted(t *testing.T, alpha, bravo *manNode, id string) {
	t.Helper()
	ctx := context.Background()
	p, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	copy := waitManifest(t, bravo, id, liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, p.GetManifest().GetVersion())
	for _, person := range copy.GetPersons() {
		if _, err := bravo.supervisor.ReviewPerson(ctx, &liaisonv1.ReviewPersonRequest{ManifestId: id, PersonId: person.GetId(),
			Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED}); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.Eventually(t, 20*time.Second, func() error {
		_, err := bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: id})
		return err
	})
	waitManifest(t, alpha, id, liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED, 0)
}

var someTransport = &liaisonv1.Transport{Mode: liaisonv1.TransportMode_TRANSPORT_MODE_AIR, Carrier: "Charter Air", VehicleNumber: "CA 9",
	DepartureTime: timestamppb.New(time.Now().Add(48 * time.Hour))}

func personStatus(m *liaisonv1.Manifest, id string) liaisonv1.PersonStatus {
	for _, p := range m.GetPersons() {
		if p.GetId() == id {
			return p.GetStatus()
		}
	}
	return liaisonv1.PersonStatus_PERSON_STATUS_UNSPECIFIED
}

// waitWithdrawn waits until n's copy of a manifest shows person withdrawn.
func waitWithdrawn(t *testing.T, n *manNode, manifestID, personID string) *liaisonv1.Manifest {
	t.Helper()
	var m *liaisonv1.Manifest
	nodetest.Eventually(t, 20*time.Second, func() error {
		r, err := n.analyst.GetManifest(context.Background(), &liaisonv1.GetManifestRequest{Id: manifestID})
		if err != nil {
			return err
		}
		m = r.GetManifest()
		if st := personStatus(m, personID); st != liaisonv1.PersonStatus_PERSON_STATUS_WITHDRAWN {
			return fmt.Errorf("%s: person %s on manifest %s is %s", n.Agency, personID, manifestID, st)
		}
		return nil
	})
	return m
}

// blockNames checks that err is FAILED_PRECONDITION with a violation of
// rule on subject whose description names the manifest and rule it comes
// from.
func blockNames(t *testing.T, err error, rule, subject, fromManifest, fromRule string) {
	t.Helper()
	v := violationsOf(t, err)
	d, ok := v[rule+" "+subject]
	if !ok {
		t.Fatalf("no %s on %s in %v", rule, subject, v)
	}
	if !strings.Contains(d, fromManifest) || !strings.Contains(d, fromRule) {
		t.Fatalf("%s on %s says %q; want it to name manifest %s and rule %s", rule, subject, d, fromManifest, fromRule)
	}
}

func TestManifests_ClaimFollowsTheIndividual(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	// The same passport on two manifests, written differently.
	a, _ := draftWith(t, alpha, 1, true)
	pa := addScreened(t, alpha, a.GetId(), indPerson("1990-03-04", "B 1234567"))
	b, _ := draftWith(t, alpha, 1, true)
	pb := addScreened(t, alpha, b.GetId(), indPerson("1990-03-04", "b-1234-567"))
	// A third, still a draft: nothing can be withdrawn from it.
	c, _ := draftWith(t, alpha, 1, true)
	pc := addScreened(t, alpha, c.GetId(), indPerson("1990-03-04", "B1234567"))
	toAccepted(t, alpha, bravo, a.GetId())
	toAccepted(t, alpha, bravo, b.GetId())

	// An analyst records a pending claim on manifest A.
	r, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: a.GetId(), PersonId: pa, Screening: &liaisonv1.Screening{
		Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING, Assessment: liaisonv1.Assessment_ASSESSMENT_CLEARED, AssessingOfficer: "officer Ana Lima"}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.GetPersonWithdrawn() {
		t.Fatal("the person was not withdrawn from the manifest the claim was recorded on")
	}
	// Withdrawn on both, on both nodes.
	for _, n := range []*manNode{alpha, bravo} {
		waitWithdrawn(t, n, a.GetId(), pa)
		waitWithdrawn(t, n, b.GetId(), pb)
	}
	// The draft cannot be proposed: the block names the claim's manifest
	// and rule.
	_, err = alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: c.GetId()})
	blockNames(t, err, "safeguard.same_person", "persons/"+pc, a.GetId(), "safeguard.claim_pending")
	// Manifest B goes on without the person.
	if _, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: b.GetId(), Transport: someTransport}); err != nil {
		t.Fatal(err)
	}
	// Alpha's own history keeps who did it and why; bravo's copy does not.
	h, err := alpha.analyst.ListManifestHistory(ctx, &liaisonv1.ListManifestHistoryRequest{Id: b.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range h.GetEvents() {
		if e.GetAction() == "withdrawal_reason" && e.GetPersonId() == pb && strings.Contains(e.GetNote(), a.GetId()) && strings.Contains(e.GetPrincipal(), "/analyst/") {
			found = true
		}
	}
	if !found {
		t.Fatalf("alpha's history of manifest B has no local note naming manifest A and the analyst: %v", h.GetEvents())
	}
	// One passport is one individual: no supervisor can separate them.
	_, err = alpha.supervisor.SeparatePersons(ctx, &liaisonv1.SeparatePersonsRequest{ManifestId: c.GetId(), PersonId: pc, OtherManifestId: a.GetId(), OtherPersonId: pa, Reason: "looks different"})
	if v := violationsOf(t, err); v["person.same_individual persons/"+pc] == "" {
		t.Fatalf("separating one individual: %v", v)
	}
}

func TestManifests_PendingClaimBlocksAddingTheIndividual(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	a, _ := draftWith(t, alpha, 1, true)
	pa := addScreened(t, alpha, a.GetId(), indPerson("1990-03-04", "B1234567"))
	toAccepted(t, alpha, bravo, a.GetId())
	if _, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: a.GetId(), PersonId: pa, Screening: &liaisonv1.Screening{
		Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING, Assessment: liaisonv1.Assessment_ASSESSMENT_CLEARED, AssessingOfficer: "officer Ana Lima"}}); err != nil {
		t.Fatal(err)
	}
	d, _ := draftWith(t, alpha, 1, true)
	// By document, and by name and full date of birth without one.
	for _, p := range []*liaisonv1.ManifestPerson{indPerson("1990-03-04", "B1234567"), indPerson("1990-03-04", "")} {
		_, err := alpha.analyst.AddPerson(ctx, &liaisonv1.AddPersonRequest{ManifestId: d.GetId(), Person: p})
		blockNames(t, err, "safeguard.same_person", "persons/"+pa, a.GetId(), "safeguard.claim_pending")
	}
	// A concern recorded for the individual blocks too; once the claim is
	// decided and the assessment cleared, the person can be added again.
	if _, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: a.GetId(), PersonId: pa, Screening: &liaisonv1.Screening{
		Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_DECIDED, Assessment: liaisonv1.Assessment_ASSESSMENT_CONCERN, AssessingOfficer: "officer Ana Lima"}}); err != nil {
		t.Fatal(err)
	}
	_, err := alpha.analyst.AddPerson(ctx, &liaisonv1.AddPersonRequest{ManifestId: d.GetId(), Person: indPerson("1990-03-04", "B1234567")})
	blockNames(t, err, "safeguard.same_person", "persons/"+pa, a.GetId(), "safeguard.protection_concern")
	if _, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: a.GetId(), PersonId: pa, Screening: &liaisonv1.Screening{
		Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_DECIDED, Assessment: liaisonv1.Assessment_ASSESSMENT_CLEARED, AssessingOfficer: "officer Ana Lima"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.analyst.AddPerson(ctx, &liaisonv1.AddPersonRequest{ManifestId: d.GetId(), Person: indPerson("1990-03-04", "B1234567")}); err != nil {
		t.Fatalf("adding the person once cleared: %v", err)
	}
}

func TestManifests_PossibleMatchBlocksUntilSeparated(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	// A: the person with a full date of birth. B (to be scheduled) and C
	// (to be departed): the same name, the same birth year only, no
	// document — perhaps the same individual, perhaps not.
	a, _ := draftWith(t, alpha, 1, true)
	pa := addScreened(t, alpha, a.GetId(), indPerson("1990-03-04", ""))
	b, _ := draftWith(t, alpha, 1, true)
	pb := addScreened(t, alpha, b.GetId(), indPerson("1990", ""))
	c, _ := draftWith(t, alpha, 1, true)
	pc := addScreened(t, alpha, c.GetId(), indPerson("1990", ""))
	toAccepted(t, alpha, bravo, b.GetId())
	toAccepted(t, alpha, bravo, c.GetId())
	if _, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: c.GetId(), Transport: someTransport}); err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: a.GetId(), PersonId: pa, Screening: &liaisonv1.Screening{
		Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING, Assessment: liaisonv1.Assessment_ASSESSMENT_CLEARED, AssessingOfficer: "officer Ana Lima"}}); err != nil {
		t.Fatal(err)
	}
	// Not certain, so not withdrawn — but neither scheduled nor departed.
	_, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: b.GetId(), Transport: someTransport})
	blockNames(t, err, "safeguard.possible_match", "persons/"+pb, a.GetId(), "safeguard.claim_pending")
	_, err = alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: c.GetId()})
	blockNames(t, err, "safeguard.possible_match", "persons/"+pc, a.GetId(), "safeguard.claim_pending")

	// Only a supervisor can say they are different people.
	sep := &liaisonv1.SeparatePersonsRequest{ManifestId: b.GetId(), PersonId: pb, OtherManifestId: a.GetId(), OtherPersonId: pa,
		Reason: "fingerprints compared: different persons"}
	if _, err := alpha.analyst.SeparatePersons(ctx, sep); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("an analyst separating persons: %v, want PERMISSION_DENIED", err)
	}
	if _, err := alpha.supervisor.SeparatePersons(ctx, sep); err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: b.GetId(), Transport: someTransport}); err != nil {
		t.Fatalf("schedule after the supervisor separated the persons: %v", err)
	}
	// C's person was not separated: still blocked.
	_, err = alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: c.GetId()})
	blockNames(t, err, "safeguard.possible_match", "persons/"+pc, a.GetId(), "safeguard.claim_pending")

	// The decision is audited, under manifest B.
	audit := liaisonv1.NewAuditServiceClient(alpha.Conn(t, "auditor"))
	ev, err := audit.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Action: liaisonv1.ManifestService_SeparatePersons_FullMethodName, Outcome: "OK"})
	if err != nil {
		t.Fatal(err)
	}
	ok := false
	for _, e := range ev.GetEvents() {
		if e.GetRole() == "supervisor" && e.GetResource() == "manifests/"+b.GetId() && strings.Contains(e.GetDetail(), pa) {
			ok = true
		}
	}
	if !ok {
		t.Fatalf("no audit event of the separation: %v", ev.GetEvents())
	}
}

func TestManifests_ManifestPersonsSearchableOnTheSendingNodeOnly(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	a, _ := draftWith(t, alpha, 1, true)
	pa := addScreened(t, alpha, a.GetId(), indPerson("1990-03-04", "B1234567"))
	search := func(n *manNode, req *liaisonv1.SearchPersonsRequest) []*liaisonv1.PersonHit {
		t.Helper()
		r, err := liaisonv1.NewSearchServiceClient(n.Conn(t, "analyst")).SearchPersons(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return r.GetHits()
	}
	for _, req := range []*liaisonv1.SearchPersonsRequest{{Name: "Budi Siregar"}, {Document: "b-1234567"}} {
		hits := search(alpha, req)
		if len(hits) != 1 || hits[0].GetRecordKind() != liaisonv1.RecordKind_RECORD_KIND_MANIFEST || hits[0].GetRecordId() != a.GetId() {
			t.Fatalf("alpha, search %v: %v; want the person on manifest %s", req, hits, a.GetId())
		}
	}
	// Bravo sees the manifest once proposed — and still finds no one by
	// search; a withdrawn person is not even shown.
	toAccepted(t, alpha, bravo, a.GetId())
	if _, err := alpha.supervisor.WithdrawPerson(ctx, &liaisonv1.WithdrawPersonRequest{ManifestId: a.GetId(), PersonId: pa, Reason: "checking"}); err != nil {
		t.Fatal(err)
	}
	waitWithdrawn(t, bravo, a.GetId(), pa)
	for _, req := range []*liaisonv1.SearchPersonsRequest{{Name: "Budi Siregar"}, {Document: "B1234567"}} {
		if hits := search(bravo, req); len(hits) != 0 {
			t.Fatalf("bravo, search %v: %v", req, hits)
		}
	}
	// Alpha still finds the withdrawn person: it is on alpha's manifest.
	if hits := search(alpha, &liaisonv1.SearchPersonsRequest{Document: "B1234567"}); len(hits) != 1 {
		t.Fatalf("alpha after the withdrawal: %v", hits)
	}
}
