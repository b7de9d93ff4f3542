package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// ---- manifests in a given state, either way between a pair -------------------

// mfxFlow drives manifests from home (the sending agency's node) to
// partner (the receiving agency's), each step by the side whose step it
// is, waiting until both nodes hold its result.
type mfxFlow struct{ home, partner *manNode }

// draft creates a draft on home with n persons (manPerson), each screened
// cleared if screen.
func (f mfxFlow) draft(t *testing.T, n int, screen bool) (*liaisonv1.Manifest, []string) {
	t.Helper()
	ctx := context.Background()
	r, err := f.home.analyst.CreateManifest(ctx, &liaisonv1.CreateManifestRequest{Manifest: &liaisonv1.Manifest{
		ReceivingAgency: f.partner.Agency, LegalBasis: "Readmission agreement, art. 5",
	}})
	if err != nil {
		t.Fatal(err)
	}
	m := r.GetManifest()
	var ids []string
	for i := range n {
		p, err := f.home.analyst.AddPerson(ctx, &liaisonv1.AddPersonRequest{ManifestId: m.GetId(), Person: manPerson(i)})
		if err != nil {
			t.Fatal(err)
		}
		m = p.GetManifest()
		ids = append(ids, p.GetPerson().GetId())
		if screen {
			if _, err := f.home.analyst.RecordScreening(ctx, &liaisonv1.RecordScreeningRequest{ManifestId: m.GetId(), PersonId: p.GetPerson().GetId(), Screening: cleared}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return m, ids
}

// propose proposes a draft and waits until the partner holds it.
func (f mfxFlow) propose(t *testing.T, id string) *liaisonv1.Manifest {
	t.Helper()
	r, err := f.home.supervisor.ProposeManifest(context.Background(), &liaisonv1.ProposeManifestRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	waitManifest(t, f.partner, id, liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, r.GetManifest().GetVersion())
	return r.GetManifest()
}

// review has the partner review persons with nat, and waits until its
// copy shows every review applied.
func (f mfxFlow) review(t *testing.T, id string, persons []string, nat liaisonv1.NationalityStatus) {
	t.Helper()
	ctx := context.Background()
	for _, p := range persons {
		req := &liaisonv1.ReviewPersonRequest{ManifestId: id, PersonId: p, Nationality: nat}
		if nat == liaisonv1.NationalityStatus_NATIONALITY_STATUS_NOT_CONFIRMED {
			req.Reason = "no record in the civil registry"
		}
		if _, err := f.partner.supervisor.ReviewPerson(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	f.waitPersons(t, f.partner, id, func(p *liaisonv1.ManifestPerson) bool {
		return !slices.Contains(persons, p.GetId()) || p.GetNationality().GetStatus() == nat
	})
}

// waitPersons waits until every person of n's copy of manifest id meets
// ok.
func (f mfxFlow) waitPersons(t *testing.T, n *manNode, id string, ok func(*liaisonv1.ManifestPerson) bool) *liaisonv1.Manifest {
	t.Helper()
	var m *liaisonv1.Manifest
	nodetest.Eventually(t, 20*time.Second, func() error {
		r, err := n.analyst.GetManifest(context.Background(), &liaisonv1.GetManifestRequest{Id: id})
		if err != nil {
			return err
		}
		m = r.GetManifest()
		for _, p := range m.GetPersons() {
			if !ok(p) {
				return fmt.Errorf("person %s on %s's copy of %s: %v", p.GetId(), n.Agency, id, p)
			}
		}
		return nil
	})
	return m
}

// accept has the partner accept, and waits until both nodes hold the
// accepted manifest.
func (f mfxFlow) accept(t *testing.T, id string) *liaisonv1.Manifest {
	t.Helper()
	if _, err := f.partner.supervisor.AcceptManifest(context.Background(), &liaisonv1.AcceptManifestRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	m := waitManifest(t, f.home, id, liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED, 0)
	waitManifest(t, f.partner, id, liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED, m.GetVersion())
	return m
}

func (f mfxFlow) schedule(t *testing.T, id string) *liaisonv1.Manifest {
	t.Helper()
	r, err := f.home.supervisor.ScheduleManifest(context.Background(), &liaisonv1.ScheduleManifestRequest{Id: id, Transport: &liaisonv1.Transport{
		Mode: liaisonv1.TransportMode_TRANSPORT_MODE_AIR, VehicleNumber: "CA 123", DepartureTime: timestamppb.New(time.Now().Add(48 * time.Hour)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	waitManifest(t, f.partner, id, liaisonv1.ManifestState_MANIFEST_STATE_SCHEDULED, r.GetManifest().GetVersion())
	return r.GetManifest()
}

func (f mfxFlow) depart(t *testing.T, id string) *liaisonv1.Manifest {
	t.Helper()
	r, err := f.home.supervisor.DepartManifest(context.Background(), &liaisonv1.DepartManifestRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	waitManifest(t, f.partner, id, liaisonv1.ManifestState_MANIFEST_STATE_IN_TRANSIT, r.GetManifest().GetVersion())
	return r.GetManifest()
}

// handover has the partner hand person over, and waits until its copy
// shows it.
func (f mfxFlow) handover(t *testing.T, id, person string) *liaisonv1.Manifest {
	t.Helper()
	if _, err := f.partner.supervisor.RecordHandover(context.Background(), &liaisonv1.RecordHandoverRequest{ManifestId: id, PersonId: person,
		Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER}); err != nil {
		t.Fatal(err)
	}
	return f.waitPersons(t, f.partner, id, func(p *liaisonv1.ManifestPerson) bool {
		return p.GetId() != person || p.GetHandover() == liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER
	})
}

// at returns a manifest of n screened persons, each confirmed once
// reviewed, brought to state (draft, proposed, accepted, scheduled or in
// transit), as the home node holds it; both nodes hold its last version.
func (f mfxFlow) at(t *testing.T, state liaisonv1.ManifestState, n int) (*liaisonv1.Manifest, []string) {
	t.Helper()
	m, ids := f.draft(t, n, true)
	steps := []struct {
		state liaisonv1.ManifestState
		do    func() *liaisonv1.Manifest
	}{
		{liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, func() *liaisonv1.Manifest { return f.propose(t, m.GetId()) }},
		{liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED, func() *liaisonv1.Manifest {
			f.review(t, m.GetId(), ids, liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED)
			return f.accept(t, m.GetId())
		}},
		{liaisonv1.ManifestState_MANIFEST_STATE_SCHEDULED, func() *liaisonv1.Manifest { return f.schedule(t, m.GetId()) }},
		{liaisonv1.ManifestState_MANIFEST_STATE_IN_TRANSIT, func() *liaisonv1.Manifest { return f.depart(t, m.GetId()) }},
	}
	for _, s := range steps {
		if m.GetState() == state {
			break
		}
		m = s.do()
	}
	if m.GetState() != state {
		t.Fatalf("test bug: mfxFlow.at cannot bring a manifest to %s", state)
	}
	return m, ids
}

// ---- the manifests bench: ManifestService -------------------------------------

// amfFixture holds the manifests the matrix's requests name, on alpha (the
// node under test) of an alpha–bravo pair: alpha's own, and bravo's sent
// to alpha (for the receiving agency's methods).
type amfFixture struct {
	alpha, bravo *manNode
	out          mfxFlow // alpha → bravo
	in           mfxFlow // bravo → alpha
	// draft is an alpha draft with one person (draftPerson), named by
	// reads and by refused calls.
	draft, draftPerson string
	// Bravo's manifests to alpha: proposed (for ReviewPerson), proposed
	// with every person reviewed by alpha (AcceptManifest), in transit
	// (RecordHandover).
	inProposed, inReviewed, inTransit *liaisonv1.Manifest
	inPerson                          map[string]string
	// Alpha's manifests: accepted (ScheduleManifest), scheduled
	// (DepartManifest).
	outAccepted, outScheduled string
}

func amfSetup(t *testing.T) authzFixture {
	t.Helper()
	a, b := manPair(t)
	f := &amfFixture{alpha: a, bravo: b, out: mfxFlow{a, b}, in: mfxFlow{b, a}, inPerson: map[string]string{}}
	d, ids := f.out.draft(t, 1, true)
	f.draft, f.draftPerson = d.GetId(), ids[0]

	var ps []string
	f.inProposed, ps = f.in.at(t, liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, 1)
	f.inPerson[f.inProposed.GetId()] = ps[0]
	f.inReviewed, ps = f.in.at(t, liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED, 1)
	f.in.review(t, f.inReviewed.GetId(), ps, liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED)
	f.inTransit, ps = f.in.at(t, liaisonv1.ManifestState_MANIFEST_STATE_IN_TRANSIT, 1)
	f.inPerson[f.inTransit.GetId()] = ps[0]

	acc, _ := f.out.at(t, liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED, 1)
	f.outAccepted = acc.GetId()
	sch, _ := f.out.at(t, liaisonv1.ManifestState_MANIFEST_STATE_SCHEDULED, 1)
	f.outScheduled = sch.GetId()
	return f
}

// request is a request for method as p calls it, and the manifest it
// names ("" for none). For a caller the method is open to it is valid in
// every respect — a fresh manifest in the right state where the call
// changes one — so that nothing but authorization can refuse it; for the
// others it names the fixture's records.
func (f *amfFixture) request(t *testing.T, method string, allowed bool) (proto.Message, string) {
	t.Helper()
	ctx := context.Background()
	fresh := func(n int) (string, []string) {
		m, ids := f.out.draft(t, n, true)
		return m.GetId(), ids
	}
	draft, person := f.draft, f.draftPerson
	switch method {
	case liaisonv1.ManifestService_CreateManifest_FullMethodName:
		return &liaisonv1.CreateManifestRequest{Manifest: &liaisonv1.Manifest{ReceivingAgency: "bravo", LegalBasis: "authz matrix"}}, ""
	case liaisonv1.ManifestService_GetManifest_FullMethodName:
		return &liaisonv1.GetManifestRequest{Id: draft}, draft
	case liaisonv1.ManifestService_ListManifests_FullMethodName:
		return &liaisonv1.ListManifestsRequest{PageSize: 5}, ""
	case liaisonv1.ManifestService_UpdateManifest_FullMethodName:
		if allowed {
			draft, _ = fresh(0)
		}
		g, err := f.alpha.analyst.GetManifest(ctx, &liaisonv1.GetManifestRequest{Id: draft})
		if err != nil {
			t.Fatal(err)
		}
		return authzUpdateManifest(&liaisonv1.Manifest{Id: draft, Etag: g.GetManifest().GetEtag(), LegalBasis: "authz matrix (updated)"}, "legal_basis"), draft
	case liaisonv1.ManifestService_AddPerson_FullMethodName:
		if allowed {
			draft, _ = fresh(0)
		}
		return &liaisonv1.AddPersonRequest{ManifestId: draft, Person: manPerson(5)}, draft
	case liaisonv1.ManifestService_UpdatePerson_FullMethodName:
		var ids []string
		if allowed {
			draft, ids = fresh(1)
			person = ids[0]
		}
		p := manPerson(6)
		p.Id, p.Fitness = person, liaisonv1.Fitness_FITNESS_FIT_WITH_MEDICAL_ESCORT
		return &liaisonv1.UpdatePersonRequest{ManifestId: draft, Person: p}, draft
	case liaisonv1.ManifestService_RemovePerson_FullMethodName:
		var ids []string
		if allowed {
			draft, ids = fresh(1)
			person = ids[0]
		}
		return &liaisonv1.RemovePersonRequest{ManifestId: draft, PersonId: person}, draft
	case liaisonv1.ManifestService_RecordScreening_FullMethodName:
		return &liaisonv1.RecordScreeningRequest{ManifestId: draft, PersonId: person, Screening: cleared}, draft
	case liaisonv1.ManifestService_ProposeManifest_FullMethodName:
		if allowed {
			draft, _ = fresh(1)
		}
		return &liaisonv1.ProposeManifestRequest{Id: draft}, draft
	case liaisonv1.ManifestService_ReviewPerson_FullMethodName:
		id := f.inProposed.GetId()
		return &liaisonv1.ReviewPersonRequest{ManifestId: id, PersonId: f.inPerson[id], Nationality: liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED}, id
	case liaisonv1.ManifestService_AcceptManifest_FullMethodName:
		return &liaisonv1.AcceptManifestRequest{Id: f.inReviewed.GetId()}, f.inReviewed.GetId()
	case liaisonv1.ManifestService_ScheduleManifest_FullMethodName:
		return &liaisonv1.ScheduleManifestRequest{Id: f.outAccepted, Transport: &liaisonv1.Transport{DepartureTime: timestamppb.New(time.Now().Add(time.Hour))}}, f.outAccepted
	case liaisonv1.ManifestService_DepartManifest_FullMethodName:
		return &liaisonv1.DepartManifestRequest{Id: f.outScheduled}, f.outScheduled
	case liaisonv1.ManifestService_RecordHandover_FullMethodName:
		id := f.inTransit.GetId()
		return &liaisonv1.RecordHandoverRequest{ManifestId: id, PersonId: f.inPerson[id], Status: liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER}, id
	case liaisonv1.ManifestService_CancelManifest_FullMethodName:
		if allowed {
			draft, _ = fresh(0)
		}
		return &liaisonv1.CancelManifestRequest{Id: draft, Reason: "authz matrix"}, draft
	case liaisonv1.ManifestService_WithdrawPerson_FullMethodName:
		if allowed {
			var ids []string
			draft, ids = fresh(1)
			person = ids[0]
			if _, err := f.alpha.supervisor.ProposeManifest(ctx, &liaisonv1.ProposeManifestRequest{Id: draft}); err != nil {
				t.Fatal(err)
			}
		}
		return &liaisonv1.WithdrawPersonRequest{ManifestId: draft, PersonId: person, Reason: "authz matrix"}, draft
	case liaisonv1.ManifestService_PlaceHold_FullMethodName:
		return &liaisonv1.PlaceHoldRequest{ManifestId: draft, PersonId: person, Reason: "authz matrix"}, draft
	case liaisonv1.ManifestService_LiftHold_FullMethodName:
		hold := uuid.Must(uuid.NewV7()).String()
		if allowed {
			var ids []string
			draft, ids = fresh(1)
			person = ids[0]
			h, err := f.alpha.analyst.PlaceHold(ctx, &liaisonv1.PlaceHoldRequest{ManifestId: draft, PersonId: person, Reason: "to be lifted"})
			if err != nil {
				t.Fatal(err)
			}
			hold = h.GetHoldId()
		}
		return &liaisonv1.LiftHoldRequest{ManifestId: draft, PersonId: person, HoldId: hold, Reason: "authz matrix"}, draft
	case liaisonv1.ManifestService_ListManifestHistory_FullMethodName:
		return &liaisonv1.ListManifestHistoryRequest{Id: draft}, draft
	case liaisonv1.ManifestService_SeparatePersons_FullMethodName:
		other, ids := fresh(1)
		return &liaisonv1.SeparatePersonsRequest{ManifestId: draft, PersonId: person, OtherManifestId: other, OtherPersonId: ids[0], Reason: "authz matrix"}, draft
	}
	t.Fatalf("no valid request for %s: add one to amfFixture.request", method)
	return nil, ""
}

func (f *amfFixture) node() *nodetest.Node { return f.alpha.Node }

func (f *amfFixture) call(t *testing.T, conn *grpc.ClientConn, method string, _ authzPrincipal, allowed bool) (string, error) {
	t.Helper()
	req, manifest := f.request(t, method, allowed)
	err := invoke(t, conn, method, req)
	if manifest == "" {
		return "", err
	}
	return "manifests/" + manifest, err
}

// authzUpdateManifest asks to change the fields paths of manifest m, as
// set in m.
func authzUpdateManifest(m *liaisonv1.Manifest, paths ...string) *liaisonv1.UpdateManifestRequest {
	return &liaisonv1.UpdateManifestRequest{Manifest: m, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}
}
