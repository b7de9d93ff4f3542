package manifests

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
)

// Every safeguard rule, at each step that checks it: the step is refused
// with FAILED_PRECONDITION naming the rule and the person (and only that
// person), the manifest is left as it was, and once the cause is cleared
// the same step goes through. The end-to-end tests show the rules through
// the API at proposal; this covers every rule at schedule and departure
// too, which a full two-node run per case would make slow.
func TestWorkflow_EverySafeguardBlocksEveryStep(t *testing.T) {
	sending := actor{agency: "alpha", principal: "spiffe://alpha.liaison.test/supervisor/sam", at: time.Now()}
	type step struct {
		name  string
		state liaisonv1.ManifestState
		next  liaisonv1.ManifestState
		run   func(*liaisonv1.Manifest, map[string]*liaisonv1.Screening) error
	}
	steps := []step{
		{"propose", draft, proposed, func(m *liaisonv1.Manifest, sc map[string]*liaisonv1.Screening) error {
			return propose(m, sc, nil, sending)
		}},
		{"schedule", accepted, scheduled, func(m *liaisonv1.Manifest, sc map[string]*liaisonv1.Screening) error {
			return schedule(m, sc, nil, &liaisonv1.Transport{DepartureTime: timestamppb.New(sending.at.Add(24 * time.Hour)), Carrier: "XX", VehicleNumber: "XX123"}, sending)
		}},
		{"depart", scheduled, inTransit, func(m *liaisonv1.Manifest, sc map[string]*liaisonv1.Screening) error {
			return depart(m, sc, nil, sending)
		}},
	}
	type rule struct {
		rule string
		// hold only blocks departure.
		onlyAtDeparture bool
		// breakIt makes person p (with screening sc) break the rule; clear
		// undoes it.
		breakIt, clear func(p *liaisonv1.ManifestPerson, sc map[string]*liaisonv1.Screening)
	}
	rules := []rule{
		{rule: "safeguard.screening_missing",
			breakIt: func(p *liaisonv1.ManifestPerson, sc map[string]*liaisonv1.Screening) { delete(sc, p.GetId()) },
			clear: func(p *liaisonv1.ManifestPerson, sc map[string]*liaisonv1.Screening) {
				sc[p.GetId()] = clearScreening()
			}},
		{rule: "safeguard.claim_pending",
			breakIt: func(p *liaisonv1.ManifestPerson, sc map[string]*liaisonv1.Screening) {
				sc[p.GetId()].Claim = liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING
			},
			clear: func(p *liaisonv1.ManifestPerson, sc map[string]*liaisonv1.Screening) {
				sc[p.GetId()].Claim = liaisonv1.ClaimStatus_CLAIM_STATUS_DECIDED
			}},
		{rule: "safeguard.protection_concern",
			breakIt: func(p *liaisonv1.ManifestPerson, sc map[string]*liaisonv1.Screening) {
				sc[p.GetId()].Assessment = liaisonv1.Assessment_ASSESSMENT_CONCERN
			},
			clear: func(p *liaisonv1.ManifestPerson, sc map[string]*liaisonv1.Screening) {
				sc[p.GetId()].Assessment = liaisonv1.Assessment_ASSESSMENT_CLEARED
			}},
		{rule: "safeguard.best_interests_missing",
			breakIt: func(p *liaisonv1.ManifestPerson, sc map[string]*liaisonv1.Screening) {
				p.Vulnerabilities = []liaisonv1.Vulnerability{liaisonv1.Vulnerability_VULNERABILITY_UNACCOMPANIED_MINOR}
			},
			clear: func(p *liaisonv1.ManifestPerson, sc map[string]*liaisonv1.Screening) {
				sc[p.GetId()].BestInterestsDetermined = true
			}},
		{rule: "safeguard.unfit",
			breakIt: func(p *liaisonv1.ManifestPerson, _ map[string]*liaisonv1.Screening) {
				p.Fitness = liaisonv1.Fitness_FITNESS_UNFIT
			},
			clear: func(p *liaisonv1.ManifestPerson, _ map[string]*liaisonv1.Screening) {
				p.Fitness = liaisonv1.Fitness_FITNESS_FIT_WITH_MEDICAL_ESCORT
			}},
		{rule: "safeguard.fitness_unknown",
			breakIt: func(p *liaisonv1.ManifestPerson, _ map[string]*liaisonv1.Screening) {
				p.Fitness = liaisonv1.Fitness_FITNESS_UNKNOWN
			},
			clear: func(p *liaisonv1.ManifestPerson, _ map[string]*liaisonv1.Screening) {
				p.Fitness = liaisonv1.Fitness_FITNESS_FIT
			}},
		{rule: "safeguard.protection_hold", onlyAtDeparture: true,
			breakIt: func(p *liaisonv1.ManifestPerson, _ map[string]*liaisonv1.Screening) {
				p.Holds = append(p.Holds, &liaisonv1.ProtectionHold{Id: "h1", PlacedByAgency: "bravo", PlaceTime: timestamppb.New(sending.at)})
			},
			clear: func(p *liaisonv1.ManifestPerson, _ map[string]*liaisonv1.Screening) {
				p.Holds[len(p.Holds)-1].LiftTime = timestamppb.New(sending.at)
			}},
	}
	for _, r := range rules {
		for _, s := range steps {
			t.Run(strings.TrimPrefix(r.rule, "safeguard.")+"/"+s.name, func(t *testing.T) {
				m, sc := cleanManifest(s.state)
				who := m.GetPersons()[1]
				r.breakIt(who, sc)
				before := proto.Clone(m)
				err := s.run(m, sc)
				if r.onlyAtDeparture && s.state != scheduled {
					if err != nil {
						t.Fatalf("%s refused for a rule that only blocks departure: %v", s.name, err)
					}
					return
				}
				var e *errs.Error
				if !errors.As(err, &e) || e.Code != errs.FailedPrecondition {
					t.Fatalf("%s with %s broken: got %v, want FAILED_PRECONDITION", s.name, r.rule, err)
				}
				if len(e.Violations) != 1 {
					t.Fatalf("violations %+v, want exactly one (for %s)", e.Violations, who.GetId())
				}
				v := e.Violations[0]
				if v.Type != r.rule || v.Subject != "persons/"+who.GetId() || !strings.HasPrefix(v.Description, "Somchai Jaidee: ") {
					t.Errorf("violation %+v, want type %s for persons/%s, described by name", v, r.rule, who.GetId())
				}
				if !proto.Equal(m, before) {
					t.Errorf("a refused %s changed the manifest:\n%v\nwas\n%v", s.name, m, before)
				}
				r.clear(who, sc)
				if err := s.run(m, sc); err != nil {
					t.Fatalf("%s after clearing %s: %v", s.name, r.rule, err)
				}
				if m.GetState() != s.next {
					t.Errorf("state %v after %s, want %v", m.GetState(), s.name, s.next)
				}
			})
		}
	}
}

// A person no longer included (withdrawn, or excluded by the receiving
// agency) is not checked: the rules are about who travels.
func TestWorkflow_SafeguardsSkipPersonsNotIncluded(t *testing.T) {
	for _, st := range []liaisonv1.PersonStatus{withdrawn, excluded} {
		m, sc := cleanManifest(scheduled)
		p := m.GetPersons()[1]
		p.Status = st
		p.Fitness = liaisonv1.Fitness_FITNESS_UNFIT
		delete(sc, p.GetId())
		if vs := safeguards(m, sc, true); len(vs) != 0 {
			t.Errorf("%v person: violations %+v, want none", st, vs)
		}
	}
}

// cleanManifest is a manifest of alpha's to bravo in state st with two
// included persons, fit and cleared, and their screenings.
func cleanManifest(st liaisonv1.ManifestState) (*liaisonv1.Manifest, map[string]*liaisonv1.Screening) {
	person := func(id, family, given string) *liaisonv1.ManifestPerson {
		return &liaisonv1.ManifestPerson{
			Id:       id,
			Identity: &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: family, GivenNames: given}}},
			Fitness:  liaisonv1.Fitness_FITNESS_FIT,
			Status:   included,
			Handover: handoverPending,
		}
	}
	m := &liaisonv1.Manifest{
		Id: "m1", OriginAgency: "alpha", ReceivingAgency: "bravo", LegalBasis: "readmission agreement", State: st,
		Persons: []*liaisonv1.ManifestPerson{person("p1", "Nguyen", "Van Duc"), person("p2", "Somchai", "Jaidee")},
	}
	return m, map[string]*liaisonv1.Screening{"p1": clearScreening(), "p2": clearScreening()}
}

func clearScreening() *liaisonv1.Screening {
	return &liaisonv1.Screening{Claim: liaisonv1.ClaimStatus_CLAIM_STATUS_NONE, Assessment: liaisonv1.Assessment_ASSESSMENT_CLEARED, AssessingOfficer: "Ana Lima"}
}

// Each transition belongs to one agency: the other one (and a third) is
// refused with FAILED_PRECONDITION naming the rule, in the state where
// the right agency would succeed, and the manifest is left as it was.
func TestWorkflow_EachTransitionBelongsToOneAgency(t *testing.T) {
	now := time.Now()
	alpha := actor{agency: "alpha", principal: "spiffe://alpha.liaison.test/supervisor/sam", at: now}
	bravo := actor{agency: "bravo", principal: "spiffe://bravo.liaison.test/supervisor/bea", at: now}
	charlie := actor{agency: "charlie", principal: "spiffe://charlie.liaison.test/supervisor/cy", at: now}
	departure := &liaisonv1.Transport{DepartureTime: timestamppb.New(now.Add(24 * time.Hour))}
	confirmed := liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED
	handedOver := liaisonv1.HandoverStatus_HANDOVER_STATUS_HANDED_OVER
	tests := []struct {
		name  string
		state liaisonv1.ManifestState
		run   func(*liaisonv1.Manifest, map[string]*liaisonv1.Screening, actor) error
		right actor
		rule  string
		// reviewed: every person's nationality is confirmed (else pending
		// once proposed).
		reviewed bool
	}{
		{"propose", draft, func(m *liaisonv1.Manifest, sc map[string]*liaisonv1.Screening, a actor) error {
			return propose(m, sc, nil, a)
		}, alpha, "manifest.sending_agency_only", false},
		{"review", proposed, func(m *liaisonv1.Manifest, _ map[string]*liaisonv1.Screening, a actor) error {
			return review(m, "p1", confirmed, "", a)
		}, bravo, "manifest.receiving_agency_only", false},
		{"accept", proposed, func(m *liaisonv1.Manifest, _ map[string]*liaisonv1.Screening, a actor) error { return accept(m, a) }, bravo, "manifest.receiving_agency_only", true},
		{"schedule", accepted, func(m *liaisonv1.Manifest, sc map[string]*liaisonv1.Screening, a actor) error {
			return schedule(m, sc, nil, departure, a)
		}, alpha, "manifest.sending_agency_only", false},
		{"depart", scheduled, func(m *liaisonv1.Manifest, sc map[string]*liaisonv1.Screening, a actor) error {
			return depart(m, sc, nil, a)
		}, alpha, "manifest.sending_agency_only", false},
		{"handover", inTransit, func(m *liaisonv1.Manifest, _ map[string]*liaisonv1.Screening, a actor) error {
			return handover(m, "p1", handedOver, "", a)
		}, bravo, "manifest.receiving_agency_only", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fresh := func() (*liaisonv1.Manifest, map[string]*liaisonv1.Screening) {
				m, sc := cleanManifest(tc.state)
				reviewed(m, tc.state, tc.reviewed)
				return m, sc
			}
			wrong := []actor{alpha, charlie}
			if tc.right.agency == "alpha" {
				wrong = []actor{bravo, charlie}
			}
			for _, a := range wrong {
				m, sc := fresh()
				before := proto.Clone(m)
				err := tc.run(m, sc, a)
				var e *errs.Error
				if !errors.As(err, &e) || e.Code != errs.FailedPrecondition || len(e.Violations) != 1 || e.Violations[0].Type != tc.rule {
					t.Errorf("%s by %s: got %v, want FAILED_PRECONDITION %s", tc.name, a.agency, err, tc.rule)
				}
				if !proto.Equal(m, before) {
					t.Errorf("a refused %s by %s changed the manifest", tc.name, a.agency)
				}
			}
			m, sc := fresh()
			if err := tc.run(m, sc, tc.right); err != nil {
				t.Errorf("%s by %s: %v", tc.name, tc.right.agency, err)
			}
		})
	}
	// Cancelling is for either party, never a third.
	m, _ := cleanManifest(proposed)
	var e *errs.Error
	if err := cancel(m, "no", charlie); !errors.As(err, &e) || e.Violations[0].Type != "manifest.not_a_party" {
		t.Errorf("cancel by charlie: %v, want manifest.not_a_party", err)
	}
	for _, a := range []actor{alpha, bravo} {
		m, _ := cleanManifest(proposed)
		if err := cancel(m, "no", a); err != nil || m.GetState() != cancelled || m.GetCancelledByAgency() != a.agency {
			t.Errorf("cancel by %s: %v, state %v", a.agency, err, m.GetState())
		}
	}
}

// reviewed gives the persons of a manifest in state st a nationality
// check: none in a draft, confirmed if confirmed or after acceptance, else
// pending.
func reviewed(m *liaisonv1.Manifest, st liaisonv1.ManifestState, confirmed bool) {
	if st == draft {
		return
	}
	status := liaisonv1.NationalityStatus_NATIONALITY_STATUS_PENDING
	if confirmed || st != proposed {
		status = liaisonv1.NationalityStatus_NATIONALITY_STATUS_CONFIRMED
	}
	for _, p := range m.GetPersons() {
		p.Nationality = &liaisonv1.NationalityCheck{Status: status}
	}
}
