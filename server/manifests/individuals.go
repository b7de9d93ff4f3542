package manifests

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/persons"
	"github.com/liaison-exchange/liaison/server/store"
)

// Safeguards follow the individual, not the manifest row. On the sending
// node, a person on a manifest is linked to every person on this node's
// other manifests that persons.Individual holds for the same individual:
// certainly (a document in common, or the same name and full date of
// birth) or possibly (the same name and birth year, nothing to tell them
// apart). Then:
//
//   - a pending claim or a protection concern (the individual's latest
//     screening, whichever manifest it was recorded on), or a protection
//     hold the sending agency placed on any of its rows, withdraws the
//     individual from every active manifest at once (withdrawIndividual),
//     refuses adding them to a manifest (AddPerson), and refuses
//     proposing, scheduling and departing any manifest they are still
//     included on (a draft, or a row not withdrawn in time);
//   - a possible match carrying one of these blocks the same steps until a
//     supervisor records that they are different people (SeparatePersons).
//
// Every block names the manifest, person and rule it comes from; none of
// it is part of a Manifest, so the partner never sees it. Links are
// worked out from this node's manifests when a rule needs them, never
// stored, and never made on a receiving node.
// activeStates are the states a person can still be moved from.
var activeStates = []liaisonv1.ManifestState{proposed, accepted, scheduled, inTransit}

// blocker is what holds an individual back: a rule broken on one row.
type blocker struct {
	manifestID, personID string
	rule, what           string
}

func (b blocker) String() string {
	return fmt.Sprintf("manifest %s, person %s: %s (%s)", b.manifestID, b.personID, b.rule, b.what)
}

// individuals is this node's manifests, read once per change, with their
// screenings read as needed.
type individuals struct {
	s          *Server
	tx         *store.Tx
	manifests  []*liaisonv1.Manifest
	screenings map[string]map[string]*liaisonv1.Screening
}

func (s *Server) individuals(tx *store.Tx) (*individuals, error) {
	ms, err := tx.OwnManifests()
	if err != nil {
		return nil, err
	}
	return &individuals{s: s, tx: tx, manifests: ms, screenings: map[string]map[string]*liaisonv1.Screening{}}, nil
}

func (in *individuals) screening(manifestID, personID string) (*liaisonv1.Screening, error) {
	sc, ok := in.screenings[manifestID]
	if !ok {
		var err error
		if sc, err = in.tx.Screenings(manifestID); err != nil {
			return nil, err
		}
		in.screenings[manifestID] = sc
	}
	return sc[personID], nil
}

// link is a person on another manifest linked to the one in question.
type link struct {
	m     *liaisonv1.Manifest
	p     *liaisonv1.ManifestPerson
	match persons.Match
}

// links are the persons on this node's manifests other than manifestID
// who are, or may be, the individual identity.
func (in *individuals) links(manifestID string, identity *liaisonv1.Person) []link {
	var out []link
	for _, m := range in.manifests {
		if m.GetId() == manifestID {
			continue
		}
		for _, q := range m.GetPersons() {
			if k := persons.Individual(identity, q.GetIdentity()); k != persons.NoMatch {
				out = append(out, link{m: m, p: q, match: k})
			}
		}
	}
	return out
}

// risky is the rule a screening breaks for the individual, if any.
func risky(sc *liaisonv1.Screening) (string, string) {
	switch {
	case sc.GetClaim() == liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING:
		return "safeguard.claim_pending", "an asylum or protection claim is pending"
	case sc.GetAssessment() == liaisonv1.Assessment_ASSESSMENT_CONCERN:
		return "safeguard.protection_concern", "the non-refoulement assessment found a concern"
	}
	return "", ""
}

// later says whether screening a was recorded after b (a tie counts as
// later, so that of two screenings of one instant the riskier decides).
func later(a, b *liaisonv1.Screening) bool {
	return !a.GetRecordTime().AsTime().Before(b.GetRecordTime().AsTime())
}

// holdsOf are the active holds the sending agency placed on a person of a
// manifest that is not over.
func (in *individuals) holdsOf(l link) []blocker {
	if l.m.GetState() == completed || l.m.GetState() == cancelled {
		return nil
	}
	var out []blocker
	for _, h := range activeHolds(l.p) {
		if h.GetPlacedByAgency() == in.s.agency {
			out = append(out, blocker{l.m.GetId(), l.p.GetId(), "safeguard.protection_hold", "on a protection hold placed by " + in.s.agency + " on " + fmtTime(h.GetPlaceTime().AsTime())})
		}
	}
	return out
}

// blockers are what holds back the individual of a person on manifestID
// (own is the person's own screening on it, nil for a person not added
// yet): from certain links, and from possible links not separated.
func (in *individuals) blockers(manifestID string, p *liaisonv1.ManifestPerson, own *liaisonv1.Screening, separated map[[2]store.PersonRef]bool) (certain, possible []blocker, err error) {
	ls := in.links(manifestID, p.GetIdentity())
	// The individual's latest screening decides: a newer one clears an
	// older claim, wherever either was recorded.
	var latest *liaisonv1.Screening
	var from link
	if own != nil {
		latest = own
	}
	for _, l := range ls {
		if l.match != persons.CertainMatch {
			continue
		}
		sc, err := in.screening(l.m.GetId(), l.p.GetId())
		if err != nil {
			return nil, nil, err
		}
		if sc != nil && (latest == nil || later(sc, latest)) {
			latest, from = sc, l
		}
		certain = append(certain, in.holdsOf(l)...)
	}
	if from.m != nil {
		if rule, what := risky(latest); rule != "" {
			certain = append([]blocker{{from.m.GetId(), from.p.GetId(), rule, what}}, certain...)
		}
	}
	for _, l := range ls {
		if l.match != persons.PossibleMatch || separated[[2]store.PersonRef{{ManifestID: manifestID, PersonID: p.GetId()}, {ManifestID: l.m.GetId(), PersonID: l.p.GetId()}}] {
			continue
		}
		sc, err := in.screening(l.m.GetId(), l.p.GetId())
		if err != nil {
			return nil, nil, err
		}
		if rule, what := risky(sc); rule != "" {
			possible = append(possible, blocker{l.m.GetId(), l.p.GetId(), rule, what})
		}
		possible = append(possible, in.holdsOf(l)...)
	}
	return certain, possible, nil
}

// violations are the individual-level safeguards a manifest breaks: for
// each person included on it, what holds their individual back elsewhere.
func (s *Server) individualViolations(tx *store.Tx, m *liaisonv1.Manifest, screenings map[string]*liaisonv1.Screening) ([]errs.Violation, error) {
	in, err := s.individuals(tx)
	if err != nil {
		return nil, err
	}
	separated, err := tx.Separations(m.GetId())
	if err != nil {
		return nil, err
	}
	var vs []errs.Violation
	for _, p := range m.GetPersons() {
		if p.GetStatus() != included {
			continue
		}
		certain, possible, err := in.blockers(m.GetId(), p, screenings[p.GetId()], separated)
		if err != nil {
			return nil, err
		}
		for _, b := range certain {
			vs = append(vs, errs.Violation{Type: "safeguard.same_person", Subject: pres(p.GetId()),
				Description: fmt.Sprintf("%s is the same individual as the person on %s; withdraw them, or clear it there first", displayName(p), b)})
		}
		for _, b := range possible {
			vs = append(vs, errs.Violation{Type: "safeguard.possible_match", Subject: pres(p.GetId()),
				Description: fmt.Sprintf("%s may be the same individual (same name and birth year, no document in common) as the person on %s; a supervisor who finds they are different people records it (SeparatePersons), or withdraw them", displayName(p), b)})
		}
	}
	return vs, nil
}

// checkIndividual refuses adding a person whose individual is held back
// on another manifest. A possible match does not refuse the addition (the
// person needs to be on the manifest to be separated); it blocks the
// manifest's proposal instead.
func (s *Server) checkIndividual(tx *store.Tx, manifestID string, p *liaisonv1.ManifestPerson) error {
	in, err := s.individuals(tx)
	if err != nil {
		return err
	}
	certain, _, err := in.blockers(manifestID, p, nil, nil)
	if err != nil {
		return err
	}
	var vs []errs.Violation
	for _, b := range certain {
		vs = append(vs, errs.Violation{Type: "safeguard.same_person", Subject: pres(b.personID),
			Description: fmt.Sprintf("%s is the same individual as the person on %s; they cannot be added to a manifest until it is cleared there", displayName(p), b)})
	}
	return errs.Preconditions(fmt.Sprintf("person cannot be added to manifest %s: protection safeguards", manifestID), vs)
}

// withdrawIndividual withdraws the individual of person p of manifest src
// from every other active manifest of this node that includes them, in
// the transaction that recorded the cause. What the partner sees of each
// withdrawal is what it sees of any other (ReceivingView); the cause and
// the officer are kept here as a local note.
func (s *Server) withdrawIndividual(tx *store.Tx, src *liaisonv1.Manifest, p *liaisonv1.ManifestPerson, cause string, a actor) error {
	in, err := s.individuals(tx)
	if err != nil {
		return err
	}
	for _, m := range in.manifests {
		if m.GetId() == src.GetId() || !slices.Contains(activeStates, m.GetState()) {
			continue
		}
		prev := m.GetVersion()
		changed := false
		for _, q := range m.GetPersons() {
			if q.GetStatus() == withdrawn || q.GetHandover() != handoverPending || persons.Individual(p.GetIdentity(), q.GetIdentity()) != persons.CertainMatch {
				continue
			}
			if err := withdraw(m, q.GetId(), a); err != nil {
				return err
			}
			if err := tx.AddManifestNote(m.GetId(), &liaisonv1.ManifestEvent{Time: timestamppb.New(a.at), Agency: a.agency, Principal: a.principal,
				Action: "withdrawal_reason", PersonId: q.GetId(), State: m.GetState(),
				Note: fmt.Sprintf("withdrawn automatically: the same individual (person %s on manifest %s) %s", p.GetId(), src.GetId(), cause)}); err != nil {
				return err
			}
			changed = true
		}
		if !changed {
			continue
		}
		m.Version, m.UpdateTime = prev+1, timestamppb.New(tx.Now())
		if err := tx.ReplaceManifest(m, prev); err != nil {
			return err
		}
		if err := s.share(tx, m); err != nil {
			return err
		}
	}
	return nil
}
