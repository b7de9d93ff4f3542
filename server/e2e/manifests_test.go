package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

type manNode struct {
	*nodetest.Node
	analyst, supervisor liaisonv1.ManifestServiceClient
}

func manPair(t *testing.T) (*manNode, *manNode) {
	a, b := nodetest.Pair(t, nil)
	mk := func(n *nodetest.Node) *manNode {
		return &manNode{Node: n, analyst: liaisonv1.NewManifestServiceClient(n.Conn(t, "analyst")),
			supervisor: liaisonv1.NewManifestServiceClient(n.Conn(t, "supervisor"))}
	}
	return mk(a), mk(b)
}

func manPerson(i int, v ...liaisonv1.Vulnerability) *liaisonv1.ManifestPerson {
	return &liaisonv1.ManifestPerson{
		Identity: &liaisonv1.Person{
			Names:         []*liaisonv1.PersonName{{FamilyName: fmt.Sprintf("Person%03d", i), GivenNames: "Test"}},
			Nationalities: []string{"IDN"},
		},
		Fitness:         liaisonv1.Fitness_FITNESS_FIT,
		MedicalNeeds:    &liaisonv1.MedicalNeeds{CareOnArrival: fmt.Sprintf("insulin for person %d", i), MedicationRequired: true},
		Vulnerabilities: v,
	}
}

var cleared = &liaisonv1.Screening{Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_NONE, Assessment: liaisonv1.Assessment_ASSESSMENT_CLEARED,
	AssessingOfficer: "officer Ana Lima", Notes: "interviewed with an interpreter"}

// draftWith creates a draft manifest to bravo on alpha with n persons, each
// screened cleared unless unscreened.
func draftWith(t *testing.T, alpha *manNode, n int, screen bool) (*liaisonv1.Manifest, []string) {
	t.Helper()
	ctx := context.Background()
	r, err := alpha.analyst.CreateManifest(ctx, &liaisonv1.CreateManifestRequest{Manifest: &liaisonv1.Manifest{
		ReceivingAgency: "bravo", LegalBasis: "Readmission agreement alpha–bravo, art. 5",
		Escorts: []*liaisonv1.Escort{{Name: "Escort One", Role: liaisonv1.EscortRole_ESCORT_ROLE_ESCORT, Agency: "alpha"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m := r.GetManifest()
	var ids []string
	for i := 0; i < n; i++ {
		p, err := alpha.analyst.AddPerson(ctx, &liaisonv1.AddPersonRequest{ManifestId: m.GetId(), Person: manPerson(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.GetPerson().GetId())
		if screen {
			if _, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: m.GetId(), PersonId: p.GetPerson().GetId(), Screening: cleared}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return m, ids
}

// waitManifest waits until n holds manifest id in state (and at least version).
func waitManifest(t *testing.T, n *manNode, id string, state liaisonv1.ManifestState, version int64) *liaisonv1.Manifest {
	t.Helper()
	var m *liaisonv1.Manifest
	nodetest.Eventually(t, 20*time.Second, func() error {
		r, err := n.analyst.GetManifest(context.Background(), &liaisonv1.GetManifestRequest{Id: id})
		if err != nil {
			return err
		}
		m = r.GetManifest()
		if m.GetState() != state || m.GetVersion() < version {
			return fmt.Errorf("%s holds manifest %s %s v%d; want %s v%d+", n.Agency, id, m.GetState(), m.GetVersion(), state, version)
		}
		return nil
	})
	return m
}

func violationsOf(t *testing.T, err error) map[string]string {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != codes.FailedPrecondition {
		t.Fatalf("got %v, want FAILED_PRECONDITION", err)
	}
	out := map[string]string{}
	for _, d := range st.Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok {
			for _, v := range pf.GetViolations() {
				out[v.GetType()+" "+v.GetSubject()] = v.GetDescription()
			}
		}
	}
	return out
}

// runToArrival proposes, reviews (confirming all but notConfirmed), accepts,
// schedules and departs a manifest of screened persons; it returns the
// manifest as alpha holds it when in transit.
func runToArrival(t *testing.T, alpha, bravo *manNode, m *liaisonv1.Manifest, ids []string, notConfirmed map[string]bool) *liaisonv1.Manifest {
	t.Helper()
	ctx := context.Background()
	p, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: m.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, p.GetManifest().GetVersion())
	for _, id := range ids {
		req := &liaisonv1.ReviewPersonRequest{ManifestId: m.GetId(), PersonId: id, Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED}
		if notConfirmed[id] {
			req.Nationality, req.Reason = liaisonv1.NationalityStatus_NATIONALITY_STATUS_NOT_CONFIRMED, "no record in the civil registry"
		}
		if _, err := bravo.supervisor.ReviewPerson(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	// Every review applied on alpha before accepting.
	nodetest.Eventually(t, 20*time.Second, func() error {
		r, err := bravo.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
		if err != nil {
			return err
		}
		for _, p := range r.GetManifest().GetPersons() {
			if p.GetNationality().GetStatus() == liaisonv1.NationalityStatus_NATIONALITY_STATUS_PENDING {
				return fmt.Errorf("person %s not reviewed yet on bravo's copy", p.GetId())
			}
		}
		return nil
	})
	if _, err := bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: m.GetId()}); err != nil {
		t.Fatal(err)
	}
	acc := waitManifest(t, alpha, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED, 0)
	if _, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: m.GetId(), Transport: &liaisonv1.Transport{
		Mode: liaisonv1.TransportMode_TRANSPORT_MODE_AIR, Carrier: "Charter Air", VehicleNumber: "CA 123", DeparturePlace: "Alpha City",
		DepartureTime: timestamppb.New(time.Now().Add(48 * time.Hour)), ArrivalPlace: "Bravo Port",
	}}); err != nil {
		t.Fatal(err)
	}
	d, err := alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: m.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	_ = acc
	return waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_IN_TRANSIT, d.GetManifest().GetVersion())
}

func TestManifests_HappyPathFortyPersons(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	m, ids := draftWith(t, alpha, 40, true)
	runToArrival(t, alpha, bravo, m, ids, nil)
	for _, id := range ids {
		if _, err := bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: m.GetId(), PersonId: id, Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER}); err != nil {
			t.Fatal(err)
		}
	}
	home := waitManifest(t, alpha, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, 0)
	copy := waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, home.GetVersion())
	if home.GetVersion() != copy.GetVersion() {
		t.Fatalf("completed at version %d on alpha, %d on bravo", home.GetVersion(), copy.GetVersion())
	}
	for _, p := range copy.GetPersons() {
		if p.GetHandover() != liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER || p.GetNationality().GetStatus() != liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED {
			t.Fatalf("person on bravo's copy: %v", p)
		}
	}
	// Every receiving-side action was receipted per person, and applied.
	r, err := bravo.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.GetPendingActions()); n != 81 { // 40 reviews, 1 acceptance, 40 handovers
		t.Fatalf("bravo recorded %d actions, want 81", n)
	}
	nodetest.Eventually(t, 10*time.Second, func() error {
		r, err := bravo.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
		if err != nil {
			return err
		}
		for _, a := range r.GetPendingActions() {
			if a.GetState() != "applied" {
				return fmt.Errorf("action %s (%s) is %s", a.GetId(), a.GetAction(), a.GetState())
			}
		}
		return nil
	})
	h, err := alpha.analyst.ListManifestHistory(ctx, &liaisonv1.ListManifestHistoryRequest{Id: m.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range h.GetEvents() {
		actions[e.GetAction()]++
		if e.GetAgency() == "" || e.GetTime() == nil || (e.GetPrincipal() == "" && e.GetAction() != "completed") {
			t.Errorf("history event without agency, officer or time: %v", e)
		}
	}
	for a, n := range map[string]int{"created": 1, "person_added": 40, "screening_recorded": 40, "proposed": 1, "person_reviewed": 40,
		"accepted": 1, "scheduled": 1, "departed": 1, "handed_over": 40, "completed": 1} {
		if actions[a] != n {
			t.Errorf("history has %d %q events, want %d", actions[a], a, n)
		}
	}
}

func TestManifests_NotConfirmedExcludedStillCompletes(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	m, ids := draftWith(t, alpha, 3, true)
	inTransit := runToArrival(t, alpha, bravo, m, ids, map[string]bool{ids[1]: true})
	for _, p := range inTransit.GetPersons() {
		if p.GetId() == ids[1] && (p.GetStatus() != liaisonv1.PersonStatus_PERSON_STATUS_EXCLUDED || p.GetMedicalNeeds() != nil) {
			t.Fatalf("person not confirmed: %v (excluded, without medical needs, expected)", p)
		}
	}
	_, err := bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: m.GetId(), PersonId: ids[1], Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER})
	if v := violationsOf(t, err); v["person.excluded persons/"+ids[1]] == "" {
		t.Fatalf("handover of an excluded person: %v", v)
	}
	for _, id := range []string{ids[0], ids[2]} {
		if _, err := bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: m.GetId(), PersonId: id, Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER}); err != nil {
			t.Fatal(err)
		}
	}
	home := waitManifest(t, alpha, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, 0)
	waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, home.GetVersion())
}

// TestManifests_Safeguards: each rule blocks propose (and schedule or
// depart where it can arise then), names the person and the rule, and
// clearing it unblocks.
func TestManifests_Safeguards(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	screen := func(m *liaisonv1.Manifest, id string, sc *liaisonv1.Screening) {
		t.Helper()
		if _, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: m.GetId(), PersonId: id, Screening: sc}); err != nil {
			t.Fatal(err)
		}
	}
	propose := func(m *liaisonv1.Manifest) error {
		_, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: m.GetId()})
		return err
	}
	for _, tc := range []struct {
		name  string
		rule  string
		setup func(m *liaisonv1.Manifest, id string)
		clear func(m *liaisonv1.Manifest, id string)
	}{
		{"NoScreening", "safeguard.screening_missing",
			func(m *liaisonv1.Manifest, id string) {},
			func(m *liaisonv1.Manifest, id string) { screen(m, id, cleared) }},
		{"PendingClaim", "safeguard.claim_pending",
			func(m *liaisonv1.Manifest, id string) {
				screen(m, id, &liaisonv1.Screening{Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING, Assessment: liaisonv1.Assessment_ASSESSMENT_CLEARED, AssessingOfficer: "o"})
			},
			func(m *liaisonv1.Manifest, id string) {
				screen(m, id, &liaisonv1.Screening{Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_DECIDED, Assessment: liaisonv1.Assessment_ASSESSMENT_CLEARED, AssessingOfficer: "o"})
			}},
		{"ProtectionConcern", "safeguard.protection_concern",
			func(m *liaisonv1.Manifest, id string) {
				screen(m, id, &liaisonv1.Screening{Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_NONE, Assessment: liaisonv1.Assessment_ASSESSMENT_CONCERN, AssessingOfficer: "o"})
			},
			func(m *liaisonv1.Manifest, id string) { screen(m, id, cleared) }},
		{"UnaccompaniedMinorWithoutBID", "safeguard.best_interests_missing",
			func(m *liaisonv1.Manifest, id string) {
				p := manPerson(9, liaisonv1.Vulnerability_VULNERABILITY_UNACCOMPANIED_MINOR)
				p.Id = id
				if _, err := alpha.analyst.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: m.GetId(), Person: p}); err != nil {
					t.Fatal(err)
				}
			},
			func(m *liaisonv1.Manifest, id string) {
				sc := proto.Clone(cleared).(*liaisonv1.Screening)
				sc.BestInterestsDetermined, sc.BestInterestsReference = true, "BID-2026-17"
				screen(m, id, sc)
			}},
		{"UnfitToTravel", "safeguard.unfit",
			func(m *liaisonv1.Manifest, id string) {
				p := manPerson(9)
				p.Id, p.Fitness = id, liaisonv1.Fitness_FITNESS_UNFIT
				if _, err := alpha.analyst.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: m.GetId(), Person: p}); err != nil {
					t.Fatal(err)
				}
			},
			func(m *liaisonv1.Manifest, id string) {
				p := manPerson(9)
				p.Id, p.Fitness = id, liaisonv1.Fitness_FITNESS_FIT_WITH_MEDICAL_ESCORT
				if _, err := alpha.analyst.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: m.GetId(), Person: p}); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ids := draftWith(t, alpha, 2, true)
			id := ids[1]
			if tc.rule == "safeguard.screening_missing" {
				// A fresh person with no screening at all.
				p, err := alpha.analyst.AddPerson(ctx, &liaisonv1.AddPersonRequest{ManifestId: m.GetId(), Person: manPerson(7)})
				if err != nil {
					t.Fatal(err)
				}
				id = p.GetPerson().GetId()
			}
			tc.setup(m, id)
			v := violationsOf(t, propose(m))
			desc, ok := v[tc.rule+" persons/"+id]
			if !ok || len(v) != 1 {
				t.Fatalf("propose blocked with %v; want exactly %s on person %s", v, tc.rule, id)
			}
			if !strings.Contains(desc, "Person") {
				t.Errorf("the violation does not name the person: %q", desc)
			}
			tc.clear(m, id)
			if err := propose(m); err != nil {
				t.Fatalf("propose after clearing %s: %v", tc.rule, err)
			}
		})
	}

	// The rules hold again at schedule and departure: a person who falls
	// ill after acceptance cannot be scheduled or departed.
	t.Run("UnfitBlocksScheduleAndDeparture", func(t *testing.T) {
		m, ids := draftWith(t, alpha, 2, true)
		if _, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: m.GetId()}); err != nil {
			t.Fatal(err)
		}
		waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, 0)
		for _, id := range ids {
			if _, err := bravo.supervisor.ReviewPerson(ctx, &liaisonv1.ReviewPersonRequest{ManifestId: m.GetId(), PersonId: id, Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED}); err != nil {
				t.Fatal(err)
			}
		}
		nodetest.Eventually(t, 10*time.Second, func() error {
			_, err := bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: m.GetId()})
			return err
		})
		acc := waitManifest(t, alpha, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED, 0)
		// The identity the receiving agency verified is fixed.
		p0 := proto.Clone(acc.GetPersons()[0]).(*liaisonv1.ManifestPerson)
		p0.Identity.Names[0].FamilyName = "Someone Else"
		_, err := alpha.analyst.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: m.GetId(), Person: p0})
		if v := violationsOf(t, err); v["person.identity_fixed persons/"+ids[0]] == "" {
			t.Fatalf("changing a verified identity: %v", v)
		}
		setFitness := func(f liaisonv1.Fitness) {
			t.Helper()
			cur, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			p := proto.Clone(cur.GetManifest().GetPersons()[1]).(*liaisonv1.ManifestPerson)
			p.Fitness = f
			if _, err := alpha.analyst.UpdatePerson(ctx, &liaisonv1.UpdatePersonRequest{ManifestId: m.GetId(), Person: p}); err != nil {
				t.Fatal(err)
			}
		}
		setFitness(liaisonv1.Fitness_FITNESS_UNFIT)
		transport := &liaisonv1.Transport{DepartureTime: timestamppb.New(time.Now().Add(time.Hour))}
		_, err = alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: m.GetId(), Transport: transport})
		if v := violationsOf(t, err); v["safeguard.unfit persons/"+ids[1]] == "" || len(v) != 1 {
			t.Fatalf("schedule with an unfit person: %v", v)
		}
		setFitness(liaisonv1.Fitness_FITNESS_FIT)
		if _, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: m.GetId(), Transport: transport}); err != nil {
			t.Fatalf("schedule after the person is fit again: %v", err)
		}
		setFitness(liaisonv1.Fitness_FITNESS_UNFIT)
		_, err = alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: m.GetId()})
		if v := violationsOf(t, err); v["safeguard.unfit persons/"+ids[1]] == "" || len(v) != 1 {
			t.Fatalf("departure with an unfit person: %v", v)
		}
		setFitness(liaisonv1.Fitness_FITNESS_FIT_WITH_MEDICAL_ESCORT)
		if _, err := alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: m.GetId()}); err != nil {
			t.Fatalf("departure after the person is fit with a medical escort: %v", err)
		}
	})

	// A hold blocks departure until the side that placed it lifts it.
	t.Run("HoldBlocksDeparture", func(t *testing.T) {
		m, ids := draftWith(t, alpha, 2, true)
		if _, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: m.GetId()}); err != nil {
			t.Fatal(err)
		}
		waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, 0)
		for _, id := range ids {
			if _, err := bravo.supervisor.ReviewPerson(ctx, &liaisonv1.ReviewPersonRequest{ManifestId: m.GetId(), PersonId: id, Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED}); err != nil {
				t.Fatal(err)
			}
		}
		nodetest.Eventually(t, 10*time.Second, func() error {
			_, err := bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: m.GetId()})
			return err
		})
		waitManifest(t, alpha, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED, 0)
		hold, err := alpha.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: m.GetId(), PersonId: ids[0], Reason: "new information from the family"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: m.GetId(), Transport: &liaisonv1.Transport{DepartureTime: timestamppb.New(time.Now().Add(time.Hour))}}); err != nil {
			t.Fatal(err)
		}
		_, err = alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: m.GetId()})
		if v := violationsOf(t, err); v["safeguard.protection_hold persons/"+ids[0]] == "" || len(v) != 1 {
			t.Fatalf("departure with a held person: %v", v)
		}
		if _, err := alpha.supervisor.LiftHold(ctx, &liaisonv1.LiftHoldRequest{ManifestId: m.GetId(), PersonId: ids[0], HoldId: hold.GetHoldId(), Reason: "checked: no risk"}); err != nil {
			t.Fatal(err)
		}
		if _, err := alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: m.GetId()}); err != nil {
			t.Fatalf("departure after lifting the hold: %v", err)
		}
	})
}

func TestManifests_PendingClaimWithdrawsPerson(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	m, ids := draftWith(t, alpha, 3, true)
	if _, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: m.GetId()}); err != nil {
		t.Fatal(err)
	}
	waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, 0)
	r, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: m.GetId(), PersonId: ids[2], Screening: &liaisonv1.Screening{
		Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING, Assessment: liaisonv1.Assessment_ASSESSMENT_CLEARED, AssessingOfficer: "officer Ana Lima",
		Notes: "claimed asylum at the detention centre",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.GetPersonWithdrawn() {
		t.Fatal("a pending claim on a proposed manifest did not withdraw the person")
	}
	var seen *liaisonv1.ManifestPerson
	nodetest.Eventually(t, 10*time.Second, func() error {
		g, err := bravo.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
		if err != nil {
			return err
		}
		for _, p := range g.GetManifest().GetPersons() {
			if p.GetId() == ids[2] && p.GetStatus() == liaisonv1.PersonStatus_PERSON_STATUS_WITHDRAWN {
				seen = p
				return nil
			}
		}
		return fmt.Errorf("bravo does not see the withdrawal yet")
	})
	if !proto.Equal(seen, &liaisonv1.ManifestPerson{Id: ids[2], Status: liaisonv1.PersonStatus_PERSON_STATUS_WITHDRAWN}) {
		t.Fatalf("bravo's copy of the withdrawn person shows more than \"withdrawn\": %v", seen)
	}
	g, err := bravo.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.GetScreenings()) != 0 {
		t.Fatalf("bravo's GetManifest returned screenings: %v", g.GetScreenings())
	}
	h, err := bravo.analyst.ListManifestHistory(ctx, &liaisonv1.ListManifestHistoryRequest{Id: m.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.GetEvents() {
		if e.GetPersonId() == ids[2] && e.GetAction() == "person_withdrawn" && e.GetNote() != "" {
			t.Fatalf("bravo's history gives a reason for the withdrawal: %q", e.GetNote())
		}
	}
	// The person can be neither reviewed nor handed over any more.
	_, err = bravo.supervisor.ReviewPerson(ctx, &liaisonv1.ReviewPersonRequest{ManifestId: m.GetId(), PersonId: ids[2], Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED})
	if v := violationsOf(t, err); v["person.withdrawn persons/"+ids[2]] == "" {
		t.Fatalf("review of a withdrawn person: %v", v)
	}
}

// screeningWords are the words of screening data a test records; none may
// ever appear in what alpha sends bravo.
var screeningWords = []string{"officer Ana Lima", "interviewed with an interpreter", "claimed asylum", "fears persecution", "BID-2026", "pending claim", "protection concern"}

// TestManifests_NoScreeningDataLeavesTheSendingNode runs manifests through
// their whole life with claims, concerns, screenings, holds, withdrawals (by
// a screening, across manifests, and by a supervisor) and a separation of
// persons, a marker written into every screening, claim, concern, hold,
// withdrawal and separation field. Then it inspects every envelope alpha
// wrote for bravo, bravo's whole database files, bravo's log and what
// bravo serves: neither the marker nor the principal of an alpha officer
// appears anywhere, and every withdrawal has the same neutral shape.
func TestManifests_NoScreeningDataLeavesTheSendingNode(t *testing.T) {
	t.Parallel()
	var bravoLog syncBuffer
	a, b := nodetest.Pair(t, func(c *config.Config) {
		if c.Agency == "bravo" {
			nodetest.CaptureLog(c, &bravoLog)
		}
	})
	mk := func(n *nodetest.Node) *manNode {
		return &manNode{Node: n, analyst: liaisonv1.NewManifestServiceClient(n.Conn(t, "analyst")),
			supervisor: liaisonv1.NewManifestServiceClient(n.Conn(t, "supervisor"))}
	}
	alpha, bravo := mk(a), mk(b)
	ctx := context.Background()
	const marker = "MKR-5f2c9e"
	marked := func(claim liaisonv1.ClaimStatus, as liaisonv1.Assessment) *liaisonv1.Screening {
		return &liaisonv1.Screening{Claim: claim, Assessment: as, AssessingOfficer: "officer " + marker, Notes: marker + " claimed asylum on arrival",
			BestInterestsDetermined: true, BestInterestsReference: marker + "-BID"}
	}
	none, ok, pending := liaisonv1.ClaimStatus_CLAIM_STATUS_NONE, liaisonv1.Assessment_ASSESSMENT_CLEARED, liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING
	m, ids := draftWith(t, alpha, 4, true)
	// The same individual (one passport) on m and on m2; a possible match
	// of another (same name and birth year) on both, separated below.
	m2, _ := draftWith(t, alpha, 1, true)
	x1 := addScreened(t, alpha, m.GetId(), indPerson("1990-03-04", "C7654321"))
	x2 := addScreened(t, alpha, m2.GetId(), indPerson("1990-03-04", "C 765 4321"))
	y1 := addScreened(t, alpha, m.GetId(), indPerson("1985-01-02", ""))
	y2 := addScreened(t, alpha, m2.GetId(), indPerson("1985", ""))
	for _, id := range append(slices.Clone(ids), x1, y1) {
		if _, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: m.GetId(), PersonId: id, Screening: marked(none, ok)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []*liaisonv1.Manifest{m, m2} {
		if _, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: id.GetId()}); err != nil {
			t.Fatal(err)
		}
		waitManifest(t, bravo, id.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, 0)
	}
	// By an analyst: a pending claim, a concern, and a pending claim of the
	// individual on both manifests; a hold with a reason.
	for _, c := range []struct {
		person string
		sc     *liaisonv1.Screening
	}{{ids[1], marked(pending, ok)}, {ids[2], marked(none, liaisonv1.Assessment_ASSESSMENT_CONCERN)}, {x1, marked(pending, ok)}} {
		if _, err := alpha.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: m.GetId(), PersonId: c.person, Screening: c.sc}); err != nil {
			t.Fatal(err)
		}
	}
	waitWithdrawn(t, bravo, m2.GetId(), x2)
	hold, err := alpha.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: m.GetId(), PersonId: ids[3], Reason: marker + " fears persecution, checking"})
	if err != nil {
		t.Fatal(err)
	}
	// By a supervisor: the hold lifted, the possible match separated.
	if _, err := alpha.supervisor.LiftHold(ctx, &liaisonv1.LiftHoldRequest{ManifestId: m.GetId(), PersonId: ids[3], HoldId: hold.GetHoldId(), Reason: marker + " protection concern ruled out"}); err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.supervisor.SeparatePersons(ctx, &liaisonv1.SeparatePersonsRequest{ManifestId: m.GetId(), PersonId: y1, OtherManifestId: m2.GetId(), OtherPersonId: y2,
		Reason: marker + " different fingerprints"}); err != nil {
		t.Fatal(err)
	}
	// Bravo's own hold, with bravo's own reason.
	if _, err := bravo.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: m2.GetId(), PersonId: y2, Reason: "bravo checks the family"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{ids[0], ids[3], y1} {
		if _, err := bravo.supervisor.ReviewPerson(ctx, &liaisonv1.ReviewPersonRequest{ManifestId: m.GetId(), PersonId: id, Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED}); err != nil {
			t.Fatal(err)
		}
	}
	nodetest.Eventually(t, 10*time.Second, func() error {
		_, err := bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: m.GetId()})
		return err
	})
	waitManifest(t, alpha, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED, 0)
	if _, err := alpha.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: m.GetId(), Transport: &liaisonv1.Transport{DepartureTime: timestamppb.New(time.Now().Add(time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: m.GetId()}); err != nil {
		t.Fatal(err)
	}
	// By a supervisor: a withdrawal with a reason.
	if _, err := alpha.supervisor.WithdrawPerson(ctx, &liaisonv1.WithdrawPersonRequest{ManifestId: m.GetId(), PersonId: ids[3], Reason: marker + " pending claim lodged by a lawyer"}); err != nil {
		t.Fatal(err)
	}
	waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_IN_TRANSIT, 0)
	for _, id := range []string{ids[0], y1} {
		if _, err := bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: m.GetId(), PersonId: id, Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER}); err != nil {
			t.Fatal(err)
		}
	}
	home := waitManifest(t, alpha, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, 0)
	waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, home.GetVersion())
	home2, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m2.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	waitManifest(t, bravo, m2.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, home2.GetManifest().GetVersion())

	// What must never reach bravo: the marker, the screening words, and the
	// principal of any alpha officer.
	var secrets []string
	for _, p := range certs.DevPrincipals {
		secrets = append(secrets, certs.PrincipalID("alpha", p.Role, p.Name), "alpha.liaison.test/"+p.Role+"/"+p.Name)
	}
	secrets = append(append(secrets, marker), screeningWords...)
	leaks := func(where string, b []byte) {
		t.Helper()
		for _, w := range secrets {
			if bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(w))) {
				t.Errorf("%s contains %q", where, w)
			}
		}
	}

	// Every envelope alpha wrote for bravo.
	rows, err := openDB(t, alpha.Cfg.Database.Path).Query("SELECT seq, envelope FROM outbox WHERE partner = 'bravo' ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var seq int64
		var raw []byte
		if err := rows.Scan(&seq, &raw); err != nil {
			t.Fatal(err)
		}
		n++
		env := &liaisonv1.Envelope{}
		if err := proto.Unmarshal(raw, env); err != nil {
			t.Fatal(err)
		}
		leaks(fmt.Sprintf("envelope %d", seq), raw)
		if env.GetKind() != liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST {
			t.Errorf("envelope %d is a %s", seq, env.GetKind())
			continue
		}
		pm := &liaisonv1.Manifest{}
		if err := proto.Unmarshal(env.GetPayload(), pm); err != nil {
			t.Fatal(err)
		}
		// Field by field: no message or field of the screening family, and
		// withdrawn persons reduced to their id.
		walk(pm.ProtoReflect(), func(fd protoreflect.FieldDescriptor) {
			name := strings.ToLower(string(fd.Name()))
			for _, bad := range []string{"screen", "claim", "assess", "best_interests", "separat"} {
				if strings.Contains(name, bad) {
					t.Errorf("envelope %d carries field %s", seq, fd.FullName())
				}
			}
		})
		for _, p := range pm.GetPersons() {
			if p.GetStatus() == liaisonv1.PersonStatus_PERSON_STATUS_WITHDRAWN && !proto.Equal(p, &liaisonv1.ManifestPerson{Id: p.GetId(), Status: p.GetStatus()}) {
				t.Errorf("envelope %d shows more of withdrawn person %s than that it was withdrawn: %v", seq, p.GetId(), p)
			}
			if p.GetStatus() != liaisonv1.PersonStatus_PERSON_STATUS_INCLUDED && p.GetMedicalNeeds() != nil {
				t.Errorf("envelope %d carries medical needs of person %s, who is not included", seq, p.GetId())
			}
		}
		checkSharedHistory(t, fmt.Sprintf("envelope %d", seq), pm)
	}
	if n < 10 {
		t.Fatalf("only %d envelopes inspected", n)
	}
	// What alpha answered bravo's actions, as bravo stored it.
	reasons, err := openDB(t, bravo.Cfg.Database.Path).Query("SELECT receipt_reason FROM outbox WHERE partner = 'alpha'")
	if err != nil {
		t.Fatal(err)
	}
	defer reasons.Close()
	for reasons.Next() {
		var r string
		if err := reasons.Scan(&r); err != nil {
			t.Fatal(err)
		}
		leaks("a receipt to bravo", []byte(r))
	}

	// What bravo serves.
	served := func(what string, msg proto.Message, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("bravo %s: %v", what, err)
		}
		b, err := protojson.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		leaks("bravo's "+what, b)
	}
	for _, id := range []string{m.GetId(), m2.GetId()} {
		g, err := bravo.supervisor.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: id})
		served("GetManifest", g, err)
		checkSharedHistory(t, "bravo's copy of "+id, g.GetManifest())
		h, err := bravo.supervisor.ListManifestHistory(ctx, &liaisonv1.ListManifestHistoryRequest{Id: id})
		served("ListManifestHistory", h, err)
	}
	lm, err := bravo.supervisor.ListManifests(ctx, &liaisonv1.ListManifestsRequest{})
	served("ListManifests", lm, err)
	sr, err := liaisonv1.NewSearchServiceClient(bravo.Conn(t, "analyst")).SearchPersons(ctx, &liaisonv1.SearchPersonsRequest{Name: "Siregar"})
	served("SearchPersons", sr, err)
	auditor := liaisonv1.NewAuditServiceClient(bravo.Conn(t, "auditor"))
	for token := ""; ; {
		ev, err := auditor.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{PageSize: 1000, PageToken: token})
		served("ListAuditEvents", ev, err)
		if token = ev.GetNextPageToken(); token == "" {
			break
		}
	}
	// What bravo logged, and everything bravo's database files hold.
	leaks("bravo's log", []byte(bravoLog.String()))
	if bravoLog.String() == "" {
		t.Error("bravo's log was not captured")
	}
	var dbBytes []byte
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(bravo.Cfg.Database.Path + suffix)
		if err != nil && !(suffix != "" && os.IsNotExist(err)) {
			t.Fatal(err)
		}
		leaks("bravo's database file "+filepath.Base(bravo.Cfg.Database.Path+suffix), b)
		dbBytes = append(dbBytes, b...)
	}
	// A control: the files do hold what bravo was sent (an included
	// person's name), so the search above reads the data.
	if !bytes.Contains(dbBytes, []byte("Siregar")) {
		t.Error("bravo's database files do not hold the name of a person on its copy: the inspection reads nothing")
	}

	// Alpha's own view keeps who did what: the analyst's withdrawals by
	// screening, the supervisor's by hand.
	h, err := alpha.analyst.ListManifestHistory(ctx, &liaisonv1.ListManifestHistoryRequest{Id: m.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]string{}
	for _, e := range h.GetEvents() {
		if e.GetAction() == "person_withdrawn" {
			by[e.GetPersonId()] = e.GetPrincipal()
		}
	}
	if !strings.Contains(by[ids[1]], "/analyst/") || !strings.Contains(by[ids[3]], "/supervisor/") {
		t.Errorf("alpha's own history of the withdrawals: %v", by)
	}
	t.Logf("%d envelopes, bravo's database (%s), log (%d bytes) and API inspected: no marker, no officer of alpha", n, bravo.Cfg.Database.Path, len(bravoLog.String()))
}

// checkSharedHistory checks the history a partner sees: no event names an
// officer, and every withdrawal has the same shape whatever caused it — the
// sending agency as the actor, no note.
func checkSharedHistory(t *testing.T, where string, m *liaisonv1.Manifest) {
	t.Helper()
	if strings.Contains(m.GetCreatedBy(), "spiffe://") {
		t.Errorf("%s: created by %q", where, m.GetCreatedBy())
	}
	for _, p := range m.GetPersons() {
		if strings.Contains(p.GetNationality().GetReviewedBy(), "spiffe://") {
			t.Errorf("%s: person %s reviewed by %q", where, p.GetId(), p.GetNationality().GetReviewedBy())
		}
	}
	for _, e := range m.GetHistory() {
		if strings.Contains(e.GetPrincipal(), "spiffe://") {
			t.Errorf("%s: event %s by %q names an officer", where, e.GetAction(), e.GetPrincipal())
		}
		if e.GetAction() == "person_withdrawn" && (e.GetAgency() != m.GetOriginAgency() || e.GetPrincipal() != m.GetOriginAgency() || e.GetNote() != "") {
			t.Errorf("%s: a withdrawal shows agency %q, principal %q, note %q; want the sending agency only", where, e.GetAgency(), e.GetPrincipal(), e.GetNote())
		}
	}
}

// walk calls fn for every populated field of m, recursively.
func walk(m protoreflect.Message, fn func(protoreflect.FieldDescriptor)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fn(fd)
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				walk(v.List().Get(i).Message(), fn)
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Message() != nil {
					walk(mv.Message(), fn)
				}
				return true
			})
		case fd.Message() != nil:
			walk(v.Message(), fn)
		}
		return true
	})
}

func TestManifests_ReceivingSideHoldBlocksOnlyThatPerson(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	m, ids := draftWith(t, alpha, 3, true)
	runToArrival(t, alpha, bravo, m, ids, nil)
	hold, err := bravo.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: m.GetId(), PersonId: ids[1], Reason: "a relative reports threats in the home village"})
	if err != nil {
		t.Fatal(err)
	}
	// The hold is applied by alpha and comes back on bravo's copy.
	nodetest.Eventually(t, 10*time.Second, func() error {
		g, err := bravo.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
		if err != nil {
			return err
		}
		for _, p := range g.GetManifest().GetPersons() {
			if p.GetId() == ids[1] && len(p.GetHolds()) == 1 && p.GetHolds()[0].GetPlacedByAgency() == "bravo" {
				return nil
			}
		}
		return fmt.Errorf("hold not on bravo's copy yet")
	})
	// Alpha cannot lift bravo's hold.
	_, err = alpha.supervisor.LiftHold(ctx, &liaisonv1.LiftHoldRequest{ManifestId: m.GetId(), PersonId: ids[1], HoldId: hold.GetHoldId(), Reason: "we see no risk"})
	if v := violationsOf(t, err); v["hold.not_yours persons/"+ids[1]] == "" {
		t.Fatalf("alpha lifting bravo's hold: %v", v)
	}
	// The held person cannot be handed over; the others can.
	_, err = bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: m.GetId(), PersonId: ids[1], Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER})
	if v := violationsOf(t, err); v["safeguard.protection_hold persons/"+ids[1]] == "" {
		t.Fatalf("handover of a held person: %v", v)
	}
	for _, id := range []string{ids[0], ids[2]} {
		if _, err := bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: m.GetId(), PersonId: id, Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER}); err != nil {
			t.Fatal(err)
		}
	}
	waitManifest(t, alpha, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_IN_TRANSIT, 0)
	// bravo lifts its own hold; then the handover goes through and the
	// manifest completes on both nodes.
	if _, err := bravo.supervisor.LiftHold(ctx, &liaisonv1.LiftHoldRequest{ManifestId: m.GetId(), PersonId: ids[1], HoldId: hold.GetHoldId(), Reason: "threat assessed, low"}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, func() error {
		_, err := bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: m.GetId(), PersonId: ids[1], Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER})
		return err
	})
	home := waitManifest(t, alpha, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, 0)
	waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED, home.GetVersion())
	// bravo's hold reason stayed on bravo.
	raw, err := openDB(t, alpha.Cfg.Database.Path).Query("SELECT note FROM manifest_notes")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for raw.Next() {
		var note string
		raw.Scan(&note)
		if strings.Contains(note, "threats in the home village") {
			t.Fatal("bravo's hold reason reached alpha")
		}
	}
}

func TestManifests_WrongAgencyOrRole(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	m, ids := draftWith(t, alpha, 1, true)
	wantCode := func(name string, err error, code codes.Code) {
		t.Helper()
		if status.Code(err) != code {
			t.Errorf("%s: %v, want %s", name, err, code)
		}
	}
	// Wrong role: analysts make no transitions.
	_, err := alpha.analyst.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: m.GetId()})
	wantCode("propose by an analyst", err, codes.PermissionDenied)
	if _, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: m.GetId()}); err != nil {
		t.Fatal(err)
	}
	waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, 0)
	_, err = bravo.analyst.ReviewPerson(ctx, &liaisonv1.ReviewPersonRequest{ManifestId: m.GetId(), PersonId: ids[0], Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED})
	wantCode("review by an analyst", err, codes.PermissionDenied)
	_, err = bravo.analyst.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: m.GetId()})
	wantCode("accept by an analyst", err, codes.PermissionDenied)
	// Wrong agency: each side's transitions refused to the other.
	_, err = alpha.supervisor.ReviewPerson(ctx, &liaisonv1.ReviewPersonRequest{ManifestId: m.GetId(), PersonId: ids[0], Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED})
	if v := violationsOf(t, err); len(v) != 1 || v["manifest.receiving_agency_only manifests/"+m.GetId()] == "" {
		t.Errorf("review by the sending agency: %v", v)
	}
	_, err = alpha.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: m.GetId()})
	if v := violationsOf(t, err); v["manifest.receiving_agency_only manifests/"+m.GetId()] == "" {
		t.Errorf("accept by the sending agency: %v", v)
	}
	_, err = bravo.supervisor.ScheduleManifest(ctx, &liaisonv1.ScheduleManifestRequest{Id: m.GetId(), Transport: &liaisonv1.Transport{DepartureTime: timestamppb.Now()}})
	if v := violationsOf(t, err); v["record.home_node_only manifests/"+m.GetId()] == "" {
		t.Errorf("schedule by the receiving agency: %v", v)
	}
	_, err = bravo.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: m.GetId()})
	if v := violationsOf(t, err); v["record.home_node_only manifests/"+m.GetId()] == "" {
		t.Errorf("depart by the receiving agency: %v", v)
	}
	_, err = bravo.supervisor.WithdrawPerson(ctx, &liaisonv1.WithdrawPersonRequest{ManifestId: m.GetId(), PersonId: ids[0], Reason: "x"})
	if v := violationsOf(t, err); v["record.home_node_only manifests/"+m.GetId()] == "" {
		t.Errorf("withdrawal by the receiving agency: %v", v)
	}
	_, err = bravo.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: m.GetId(), PersonId: ids[0], Screening: cleared})
	if v := violationsOf(t, err); v["manifest.sending_agency_only manifests/"+m.GetId()] == "" {
		t.Errorf("screening by the receiving agency: %v", v)
	}
	// Out of state: names the current state.
	_, err = alpha.supervisor.DepartManifest(ctx, &liaisonv1.DepartManifestRequest{Id: m.GetId()})
	st, _ := status.FromError(err)
	if st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "is proposed") {
		t.Errorf("departure of a proposed manifest: %v", err)
	}
	_, err = bravo.supervisor.RecordHandover(ctx, &liaisonv1.RecordHandoverRequest{ManifestId: m.GetId(), PersonId: ids[0], Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER})
	if v := violationsOf(t, err); v["manifest.state manifests/"+m.GetId()] == "" {
		t.Errorf("handover of a proposed manifest: %v", v)
	}
	// Accepting before every person is reviewed.
	_, err = bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: m.GetId()})
	if v := violationsOf(t, err); v["manifest.review_incomplete persons/"+ids[0]] == "" {
		t.Errorf("acceptance before review: %v", v)
	}
}

func TestManifests_ConcurrentCancelAndAcceptResolveToOneOutcome(t *testing.T) {
	t.Parallel()
	alpha, bravo := manPair(t)
	ctx := context.Background()
	outcomes := map[liaisonv1.ManifestState]int{}
	accepts := map[string]int{} // what became of bravo's accept
	for round := 0; round < 4; round++ {
		m, ids := draftWith(t, alpha, 1, true)
		if _, err := alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: m.GetId()}); err != nil {
			t.Fatal(err)
		}
		waitManifest(t, bravo, m.GetId(), liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, 0)
		if _, err := bravo.supervisor.ReviewPerson(ctx, &liaisonv1.ReviewPersonRequest{ManifestId: m.GetId(), PersonId: ids[0], Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED}); err != nil {
			t.Fatal(err)
		}
		nodetest.Eventually(t, 10*time.Second, func() error {
			g, err := bravo.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
			if err != nil {
				return err
			}
			if g.GetManifest().GetPersons()[0].GetNationality().GetStatus() != liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED {
				return fmt.Errorf("review not applied yet")
			}
			return nil
		})
		var wg sync.WaitGroup
		var acceptErr, cancelErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, acceptErr = bravo.supervisor.AcceptManifest(ctx, &liaisonv1.AcceptManifestRequest{Id: m.GetId()})
		}()
		go func() {
			defer wg.Done()
			_, cancelErr = alpha.supervisor.CancelManifest(ctx, &liaisonv1.CancelManifestRequest{Id: m.GetId(), Reason: "flight cancelled"})
		}()
		wg.Wait()
		// The home node decides; both nodes converge on one outcome.
		var final *liaisonv1.Manifest
		var acceptAction *liaisonv1.PendingAction
		nodetest.Eventually(t, 10*time.Second, func() error {
			a, err := alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
			if err != nil {
				return err
			}
			b, err := bravo.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: m.GetId()})
			if err != nil {
				return err
			}
			acceptAction = nil
			for _, pa := range b.GetPendingActions() {
				if pa.GetState() == "pending" {
					return fmt.Errorf("bravo's action %s still pending", pa.GetAction())
				}
				if pa.GetAction() == "accept" {
					acceptAction = pa
				}
			}
			if a.GetManifest().GetVersion() != b.GetManifest().GetVersion() || a.GetManifest().GetState() != b.GetManifest().GetState() {
				return fmt.Errorf("alpha %s v%d, bravo %s v%d", a.GetManifest().GetState(), a.GetManifest().GetVersion(), b.GetManifest().GetState(), b.GetManifest().GetVersion())
			}
			final = a.GetManifest()
			return nil
		})
		if final.GetState() != liaisonv1.ManifestState_MANIFEST_STATE_CANCELLED && final.GetState() != liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED {
			t.Fatalf("round %d ended %s", round, final.GetState())
		}
		// Each call's fate agrees with the outcome: a cancel that went
		// through ends cancelled, one refused ends accepted. bravo's
		// accept is a proposal: refused by bravo itself if alpha's cancel
		// reached it first, else rejected by alpha with a reason, or
		// applied and in the history.
		if cancelErr == nil && final.GetState() != liaisonv1.ManifestState_MANIFEST_STATE_CANCELLED {
			t.Errorf("round %d: alpha's cancel succeeded but the manifest ended %s", round, final.GetState())
		}
		if cancelErr != nil && (status.Code(cancelErr) != codes.FailedPrecondition || final.GetState() != liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED) {
			t.Errorf("round %d: alpha's cancel refused with %v, manifest ended %s", round, cancelErr, final.GetState())
		}
		accepted := slices.ContainsFunc(final.GetHistory(), func(e *liaisonv1.ManifestEvent) bool { return e.GetAction() == "accepted" })
		switch {
		case acceptErr != nil:
			if status.Code(acceptErr) != codes.FailedPrecondition || final.GetState() != liaisonv1.ManifestState_MANIFEST_STATE_CANCELLED || acceptAction != nil {
				t.Errorf("round %d: bravo's accept refused with %v, manifest ended %s, accept action %v", round, acceptErr, final.GetState(), acceptAction)
			}
		case acceptAction == nil:
			t.Errorf("round %d: bravo's accept was proposed but bravo lists no accept action", round)
		case acceptAction.GetState() == "rejected" && (acceptAction.GetReason() == "" || accepted):
			t.Errorf("round %d: accept rejected (reason %q) but accepted in the history: %v", round, acceptAction.GetReason(), accepted)
		case acceptAction.GetState() == "applied" && !accepted:
			t.Errorf("round %d: accept applied but not in the history", round)
		}
		outcomes[final.GetState()]++
		if acceptErr != nil {
			accepts["refused by bravo"]++
		} else {
			accepts[acceptAction.GetState()]++
		}
	}
	t.Logf("outcomes: %v; bravo's accept: %v", outcomes, accepts)
}
