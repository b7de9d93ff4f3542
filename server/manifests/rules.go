package manifests

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/persons"
	"github.com/liaison-exchange/liaison/server/records"
	"github.com/liaison-exchange/liaison/server/store"
)

// The workflow is a set of rules over a manifest. Each takes the actor —
// the agency and officer acting — and either changes the manifest or
// returns the broken rule. The sending node runs them for its own officers
// and for the receiving agency's proposals alike, so one rule set decides.
//
// Messages of rules the receiving agency can break travel back to it in a
// receipt: they never mention screenings, claims or assessments.

type actor struct {
	agency, principal string
	at                time.Time
}

const (
	draft     = liaisonv1.ManifestState_MANIFEST_STATE_DRAFT
	proposed  = liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED
	accepted  = liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED
	scheduled = liaisonv1.ManifestState_MANIFEST_STATE_SCHEDULED
	inTransit = liaisonv1.ManifestState_MANIFEST_STATE_IN_TRANSIT
	completed = liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED
	cancelled = liaisonv1.ManifestState_MANIFEST_STATE_CANCELLED

	included  = liaisonv1.PersonStatus_PERSON_STATUS_INCLUDED
	withdrawn = liaisonv1.PersonStatus_PERSON_STATUS_WITHDRAWN
	excluded  = liaisonv1.PersonStatus_PERSON_STATUS_EXCLUDED

	handoverPending = liaisonv1.HandoverStatus_HANDOVER_STATUS_PENDING
)

func stateName(s liaisonv1.ManifestState) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.String(), "MANIFEST_STATE_")), "_", " ")
}

func mres(id string) string { return "manifests/" + id }

func pres(id string) string { return "persons/" + id }

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// record appends a step to the history both agencies see.
func record(m *liaisonv1.Manifest, a actor, action, personID, note string) {
	m.History = append(m.History, &liaisonv1.ManifestEvent{
		Time: timestamppb.New(a.at), Agency: a.agency, Principal: a.principal, Action: action,
		PersonId: personID, Note: note, State: m.GetState(),
	})
}

// inState refuses an action in any other state than the ones listed.
func inState(m *liaisonv1.Manifest, action string, allowed ...liaisonv1.ManifestState) error {
	if slices.Contains(allowed, m.GetState()) {
		return nil
	}
	names := make([]string, len(allowed))
	for i, s := range allowed {
		names[i] = stateName(s)
	}
	return errs.Precondition("manifest.state", mres(m.GetId()), "manifest %s is %s; %s needs it %s",
		m.GetId(), stateName(m.GetState()), action, strings.Join(names, " or "))
}

func sendingOnly(m *liaisonv1.Manifest, a actor, action string) error {
	if a.agency != m.GetOriginAgency() {
		return errs.Precondition("manifest.sending_agency_only", mres(m.GetId()),
			"only the sending agency %s can %s manifest %s", m.GetOriginAgency(), action, m.GetId())
	}
	return nil
}

func receivingOnly(m *liaisonv1.Manifest, a actor, action string) error {
	if a.agency != m.GetReceivingAgency() {
		return errs.Precondition("manifest.receiving_agency_only", mres(m.GetId()),
			"only the receiving agency %s can %s manifest %s", m.GetReceivingAgency(), action, m.GetId())
	}
	return nil
}

func findPerson(m *liaisonv1.Manifest, id string) (*liaisonv1.ManifestPerson, error) {
	for _, p := range m.GetPersons() {
		if p.GetId() == id {
			return p, nil
		}
	}
	return nil, errs.NotFoundf("manifest %s has no person %s", m.GetId(), id)
}

// displayName names a person in error messages on the sending node.
func displayName(p *liaisonv1.ManifestPerson) string {
	for _, n := range p.GetIdentity().GetNames() {
		if n.GetLatinFamilyName()+n.GetLatinGivenNames() != "" {
			return strings.TrimSpace(n.GetLatinFamilyName() + " " + n.GetLatinGivenNames())
		}
		return strings.TrimSpace(n.GetFamilyName() + " " + n.GetGivenNames())
	}
	return p.GetId()
}

func activeHolds(p *liaisonv1.ManifestPerson) []*liaisonv1.ProtectionHold {
	var out []*liaisonv1.ProtectionHold
	for _, h := range p.GetHolds() {
		if h.GetLiftTime() == nil {
			out = append(out, h)
		}
	}
	return out
}

// Safeguards are checked for every included person before a manifest is
// proposed, scheduled or departed; departure also requires that no
// included person is on a protection hold. Each broken rule is reported
// with the person and what would clear it.
func safeguards(m *liaisonv1.Manifest, screenings map[string]*liaisonv1.Screening, departing bool) []errs.Violation {
	var vs []errs.Violation
	for _, p := range m.GetPersons() {
		if p.GetStatus() != included {
			continue
		}
		bad := func(rule, what string) {
			vs = append(vs, errs.Violation{Type: rule, Subject: pres(p.GetId()), Description: displayName(p) + ": " + what})
		}
		sc := screenings[p.GetId()]
		switch {
		case sc == nil:
			bad("safeguard.screening_missing", "no protection screening is recorded; record one (RecordScreening)")
		default:
			if sc.GetClaim() == liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING {
				bad("safeguard.claim_pending", "an asylum or protection claim is pending; the person cannot be moved before it is decided — withdraw them from the manifest")
			}
			if sc.GetAssessment() == liaisonv1.Assessment_ASSESSMENT_CONCERN {
				bad("safeguard.protection_concern", "the non-refoulement assessment found a concern; withdraw them from the manifest")
			}
			if slices.Contains(p.GetVulnerabilities(), liaisonv1.Vulnerability_VULNERABILITY_UNACCOMPANIED_MINOR) && !sc.GetBestInterestsDetermined() {
				bad("safeguard.best_interests_missing", "an unaccompanied minor without a best-interests determination; record it in the screening")
			}
		}
		switch p.GetFitness() {
		case liaisonv1.Fitness_FITNESS_UNFIT:
			bad("safeguard.unfit", "unfit to travel; update fitness once a medical assessment clears them, or withdraw them")
		case liaisonv1.Fitness_FITNESS_UNKNOWN, liaisonv1.Fitness_FITNESS_UNSPECIFIED:
			bad("safeguard.fitness_unknown", "fitness to travel is not assessed; assess it and update the person")
		}
		if departing {
			for _, h := range activeHolds(p) {
				bad("safeguard.protection_hold", fmt.Sprintf("on a protection hold placed by %s; only %s can lift it", h.GetPlacedByAgency(), h.GetPlacedByAgency()))
			}
		}
	}
	return vs
}

// checkSafeguards checks the rules of each person on the manifest, and
// what holds back their individual elsewhere (ind: individualViolations).
func checkSafeguards(m *liaisonv1.Manifest, screenings map[string]*liaisonv1.Screening, ind []errs.Violation, departing bool, step string) error {
	return errs.Preconditions(fmt.Sprintf("manifest %s cannot be %s: protection safeguards", m.GetId(), step), append(safeguards(m, screenings, departing), ind...))
}

func propose(m *liaisonv1.Manifest, screenings map[string]*liaisonv1.Screening, ind []errs.Violation, a actor) error {
	if err := sendingOnly(m, a, "propose"); err != nil {
		return err
	}
	if err := inState(m, "proposing", draft); err != nil {
		return err
	}
	n, err := someoneIncluded(m)
	if err != nil {
		return err
	}
	if err := checkSafeguards(m, screenings, ind, false, "proposed"); err != nil {
		return err
	}
	for _, p := range m.GetPersons() {
		p.Nationality = &liaisonv1.NationalityCheck{Status: liaisonv1.NationalityStatus_NATIONALITY_STATUS_PENDING}
		p.Handover = handoverPending
	}
	m.State = proposed
	record(m, a, "proposed", "", fmt.Sprintf("%d persons", n))
	return nil
}

// someoneIncluded counts the persons included, refusing a manifest with
// nobody left on it (cancel it instead).
func someoneIncluded(m *liaisonv1.Manifest) (int, error) {
	n := 0
	for _, p := range m.GetPersons() {
		if p.GetStatus() == included {
			n++
		}
	}
	if n == 0 {
		return 0, errs.Precondition("manifest.no_persons", mres(m.GetId()), "manifest %s has nobody included on it; cancel it instead", m.GetId())
	}
	return n, nil
}

func review(m *liaisonv1.Manifest, personID string, nat liaisonv1.NationalityStatus, reason string, a actor) error {
	if err := receivingOnly(m, a, "review persons of"); err != nil {
		return err
	}
	if err := inState(m, "reviewing a person", proposed); err != nil {
		return err
	}
	p, err := findPerson(m, personID)
	if err != nil {
		return err
	}
	if p.GetStatus() == withdrawn {
		return errs.Precondition("person.withdrawn", pres(personID), "person %s was withdrawn from manifest %s", personID, m.GetId())
	}
	p.Nationality = &liaisonv1.NationalityCheck{Status: nat, Reason: reason, ReviewedBy: a.principal, ReviewTime: timestamppb.New(a.at)}
	note := "nationality confirmed"
	p.Status = included
	if nat == liaisonv1.NationalityStatus_NATIONALITY_STATUS_NOT_CONFIRMED {
		p.Status = excluded
		note = "nationality not confirmed: " + reason
	}
	record(m, a, "person_reviewed", personID, note)
	return nil
}

func accept(m *liaisonv1.Manifest, a actor) error {
	if err := receivingOnly(m, a, "accept"); err != nil {
		return err
	}
	if err := inState(m, "accepting", proposed); err != nil {
		return err
	}
	var vs []errs.Violation
	confirmed := 0
	for _, p := range m.GetPersons() {
		switch {
		case p.GetStatus() == withdrawn:
		case p.GetNationality().GetStatus() == liaisonv1.NationalityStatus_NATIONALITY_STATUS_PENDING:
			vs = append(vs, errs.Violation{Type: "manifest.review_incomplete", Subject: pres(p.GetId()),
				Description: fmt.Sprintf("person %s is not reviewed yet; review their nationality first", p.GetId())})
		case p.GetStatus() == included:
			confirmed++
		}
	}
	if err := errs.Preconditions(fmt.Sprintf("manifest %s cannot be accepted", m.GetId()), vs); err != nil {
		return err
	}
	if confirmed == 0 {
		return errs.Precondition("manifest.nobody_confirmed", mres(m.GetId()), "no person's nationality is confirmed on manifest %s; cancel it instead", m.GetId())
	}
	m.State = accepted
	record(m, a, "accepted", "", fmt.Sprintf("%d persons confirmed", confirmed))
	return nil
}

func schedule(m *liaisonv1.Manifest, screenings map[string]*liaisonv1.Screening, ind []errs.Violation, t *liaisonv1.Transport, a actor) error {
	if err := sendingOnly(m, a, "schedule"); err != nil {
		return err
	}
	if err := inState(m, "scheduling", accepted); err != nil {
		return err
	}
	if t.GetDepartureTime() == nil {
		return errs.Invalid("transport.departure_time", "required to schedule a transfer")
	}
	if _, err := someoneIncluded(m); err != nil {
		return err
	}
	if err := checkSafeguards(m, screenings, ind, false, "scheduled"); err != nil {
		return err
	}
	m.Transport = t
	m.State = scheduled
	record(m, a, "scheduled", "", strings.TrimSpace(fmt.Sprintf("departure %s %s %s", fmtTime(t.GetDepartureTime().AsTime()), t.GetCarrier(), t.GetVehicleNumber())))
	return nil
}

func depart(m *liaisonv1.Manifest, screenings map[string]*liaisonv1.Screening, ind []errs.Violation, a actor) error {
	if err := sendingOnly(m, a, "depart"); err != nil {
		return err
	}
	if err := inState(m, "departure", scheduled); err != nil {
		return err
	}
	if _, err := someoneIncluded(m); err != nil {
		return err
	}
	if err := checkSafeguards(m, screenings, ind, true, "departed"); err != nil {
		return err
	}
	m.State = inTransit
	record(m, a, "departed", "", "")
	return completeIfDone(m, a)
}

func handover(m *liaisonv1.Manifest, personID string, st liaisonv1.HandoverStatus, reason string, a actor) error {
	if err := receivingOnly(m, a, "record handovers of"); err != nil {
		return err
	}
	if err := inState(m, "a handover", inTransit); err != nil {
		return err
	}
	p, err := findPerson(m, personID)
	if err != nil {
		return err
	}
	switch {
	case p.GetStatus() == withdrawn:
		return errs.Precondition("person.withdrawn", pres(personID), "person %s was withdrawn from manifest %s", personID, m.GetId())
	case p.GetStatus() == excluded:
		return errs.Precondition("person.excluded", pres(personID), "person %s is excluded (nationality not confirmed)", personID)
	case p.GetHandover() != handoverPending:
		return errs.Precondition("person.handover_recorded", pres(personID), "the handover of person %s is already recorded", personID)
	}
	if hs := activeHolds(p); len(hs) > 0 {
		return errs.Precondition("safeguard.protection_hold", pres(personID),
			"person %s is on a protection hold placed by %s; only %s can lift it", personID, hs[0].GetPlacedByAgency(), hs[0].GetPlacedByAgency())
	}
	p.Handover, p.HandoverReason = st, reason
	action := "handed_over"
	if st == liaisonv1.HandoverStatus_HANDOVER_STATUS_NOT_HANDED_OVER {
		action = "not_handed_over"
	}
	record(m, a, action, personID, reason)
	return completeIfDone(m, a)
}

// completeIfDone completes a manifest in transit once every included
// person's handover is recorded.
func completeIfDone(m *liaisonv1.Manifest, a actor) error {
	if m.GetState() != inTransit {
		return nil
	}
	for _, p := range m.GetPersons() {
		if p.GetStatus() == included && p.GetHandover() == handoverPending {
			return nil
		}
	}
	m.State = completed
	record(m, a, "completed", "", "")
	return nil
}

func cancel(m *liaisonv1.Manifest, reason string, a actor) error {
	if a.agency != m.GetOriginAgency() && a.agency != m.GetReceivingAgency() {
		return errs.Precondition("manifest.not_a_party", mres(m.GetId()), "%s is not a party to manifest %s", a.agency, m.GetId())
	}
	allowed := []liaisonv1.ManifestState{proposed, accepted, scheduled}
	if a.agency == m.GetOriginAgency() {
		allowed = append([]liaisonv1.ManifestState{draft}, allowed...)
	}
	if err := inState(m, "cancelling", allowed...); err != nil {
		return err
	}
	m.State, m.CancelledByAgency, m.CancelReason = cancelled, a.agency, reason
	record(m, a, "cancelled", "", reason)
	return nil
}

// withdraw takes a person off the manifest. Its reason is not part of the
// manifest: the caller keeps it as a local note.
func withdraw(m *liaisonv1.Manifest, personID string, a actor) error {
	if err := sendingOnly(m, a, "withdraw persons from"); err != nil {
		return err
	}
	if m.GetState() == draft {
		return errs.Precondition("manifest.state", mres(m.GetId()), "manifest %s is a draft; remove the person instead (RemovePerson)", m.GetId())
	}
	if err := inState(m, "withdrawing a person", proposed, accepted, scheduled, inTransit); err != nil {
		return err
	}
	p, err := findPerson(m, personID)
	if err != nil {
		return err
	}
	if p.GetStatus() == withdrawn {
		return errs.Precondition("person.withdrawn", pres(personID), "person %s is already withdrawn", personID)
	}
	if p.GetHandover() != handoverPending {
		return errs.Precondition("person.handover_recorded", pres(personID), "person %s was already handed over (or not): too late to withdraw", personID)
	}
	p.Status = withdrawn
	record(m, a, "person_withdrawn", personID, "")
	return completeIfDone(m, a)
}

// placeHold puts a protection hold on a person; holdID is chosen by the
// placing node (so it can lift it later).
func placeHold(m *liaisonv1.Manifest, personID, holdID string, a actor) error {
	if a.agency != m.GetOriginAgency() && a.agency != m.GetReceivingAgency() {
		return errs.Precondition("manifest.not_a_party", mres(m.GetId()), "%s is not a party to manifest %s", a.agency, m.GetId())
	}
	if err := holdState(m, a, "a protection hold"); err != nil {
		return err
	}
	p, err := findPerson(m, personID)
	if err != nil {
		return err
	}
	if p.GetStatus() == withdrawn {
		return errs.Precondition("person.withdrawn", pres(personID), "person %s was withdrawn from manifest %s", personID, m.GetId())
	}
	if p.GetHandover() != handoverPending && m.GetState() != draft {
		return errs.Precondition("person.handover_recorded", pres(personID), "the handover of person %s is already recorded", personID)
	}
	if !ids.Valid(holdID) {
		return errs.Invalid("hold_id", "must be a UUID")
	}
	for _, h := range p.GetHolds() {
		if h.GetId() == holdID {
			return errs.Precondition("hold.exists", pres(personID), "hold %s already exists", holdID)
		}
	}
	p.Holds = append(p.Holds, &liaisonv1.ProtectionHold{Id: holdID, PlacedByAgency: a.agency, PlaceTime: timestamppb.New(a.at)})
	record(m, a, "hold_placed", personID, "by "+a.agency)
	return nil
}

// holdState allows holds from proposal to transit (and on the sender's
// own draft): never on a cancelled or completed manifest.
func holdState(m *liaisonv1.Manifest, a actor, action string) error {
	allowed := []liaisonv1.ManifestState{proposed, accepted, scheduled, inTransit}
	if a.agency == m.GetOriginAgency() {
		allowed = append([]liaisonv1.ManifestState{draft}, allowed...)
	}
	return inState(m, action, allowed...)
}

func liftHold(m *liaisonv1.Manifest, personID, holdID string, a actor) error {
	if err := holdState(m, a, "lifting a protection hold"); err != nil {
		return err
	}
	p, err := findPerson(m, personID)
	if err != nil {
		return err
	}
	for _, h := range p.GetHolds() {
		if h.GetId() != holdID {
			continue
		}
		if h.GetLiftTime() != nil {
			return errs.Precondition("hold.lifted", pres(personID), "hold %s was already lifted", holdID)
		}
		if h.GetPlacedByAgency() != a.agency {
			return errs.Precondition("hold.not_yours", pres(personID), "hold %s was placed by %s; only %s can lift it", holdID, h.GetPlacedByAgency(), h.GetPlacedByAgency())
		}
		h.LiftTime = timestamppb.New(a.at)
		record(m, a, "hold_lifted", personID, "by "+a.agency)
		return nil
	}
	return errs.NotFoundf("person %s has no hold %s", personID, holdID)
}

// screeningWithdraws says whether a screening takes its person off an
// active manifest at once.
func screeningWithdraws(m *liaisonv1.Manifest, p *liaisonv1.ManifestPerson, sc *liaisonv1.Screening) bool {
	risky := sc.GetClaim() == liaisonv1.ClaimStatus_CLAIM_STATUS_PENDING || sc.GetAssessment() == liaisonv1.Assessment_ASSESSMENT_CONCERN
	active := slices.Contains([]liaisonv1.ManifestState{proposed, accepted, scheduled, inTransit}, m.GetState())
	return risky && active && p.GetStatus() != withdrawn && p.GetHandover() == handoverPending
}

// onceEach refuses an update mask naming a field more than once.
func onceEach(paths []string) []errs.FieldViolation {
	var bad []errs.FieldViolation
	for i, p := range paths {
		if slices.Contains(paths[:i], p) {
			bad = append(bad, errs.FieldViolation{Field: fmt.Sprintf("update_mask.paths[%d]", i), Description: fmt.Sprintf("%q is named more than once", p)})
		}
	}
	return bad
}

// notHome refuses changes to a manifest another node sends.
func (s *Server) notHome(m *liaisonv1.Manifest, _ string) error {
	return records.HomeOnly(m, s.agency, mres(m.GetId()),
		"manifest %s is homed on %s's node (the sending agency); this node can only propose actions to it", m.GetId(), m.GetOriginAgency())
}

// share sends the receiving agency the manifest as it may see it, if the
// manifest was ever proposed: a draft, or a draft cancelled, is never sent,
// whatever happens to it afterwards.
func (s *Server) share(tx *store.Tx, m *liaisonv1.Manifest) error {
	if !everProposed(m) {
		return nil
	}
	_, err := tx.AppendOutbox(store.Outgoing{Receiver: m.GetReceivingAgency(), Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST,
		RecordID: m.GetId(), RecordVersion: m.GetVersion(), Payload: ReceivingView(m)})
	return err
}

// everProposed says whether a manifest ever left the draft.
func everProposed(m *liaisonv1.Manifest) bool {
	for _, e := range m.GetHistory() {
		if e.GetAction() == "proposed" {
			return true
		}
	}
	return false
}

// ReceivingView is what the receiving agency may see of a manifest: no
// person withdrawn is identified (only that they were withdrawn), medical
// needs only for persons included. Screenings, claims, assessments and the
// reasons for withdrawals are not in a Manifest at all.
//
// Nor does it name an officer: each step is shown as done by the agency and
// role (neutralPrincipal), and every withdrawal — and the completion a
// withdrawal can bring about — by the sending agency alone, with no note,
// so that a withdrawal looks the same whoever and whatever caused it (an
// analyst's screening, a hold, a supervisor's decision). The real actor
// and cause stay in this node's notes.
func ReceivingView(m *liaisonv1.Manifest) *liaisonv1.Manifest {
	v := proto.Clone(m).(*liaisonv1.Manifest)
	v.Etag = ""
	v.CreatedBy = neutralPrincipal(v.GetOriginAgency(), v.GetCreatedBy())
	for _, e := range v.GetHistory() {
		switch e.GetAction() {
		case "person_withdrawn", "completed":
			e.Principal = e.GetAgency()
			if e.GetAction() == "person_withdrawn" {
				e.Note = ""
			}
		default:
			e.Principal = neutralPrincipal(e.GetAgency(), e.GetPrincipal())
		}
	}
	for i, p := range v.GetPersons() {
		switch p.GetStatus() {
		case withdrawn:
			v.Persons[i] = &liaisonv1.ManifestPerson{Id: p.GetId(), Status: withdrawn}
		case included:
		default:
			p.MedicalNeeds = nil
		}
		if n := v.Persons[i].GetNationality(); n.GetReviewedBy() != "" {
			n.ReviewedBy = neutralPrincipal(m.GetReceivingAgency(), n.GetReviewedBy())
		}
	}
	return v
}

// neutralPrincipal is an officer as a partner may see them: the agency and
// the role ("alpha/supervisor"), never the name. A principal that is not
// an officer's SPIFFE ID is shown as the agency.
func neutralPrincipal(agency, principal string) string {
	u, err := url.Parse(principal)
	if err != nil || u.Scheme != "spiffe" {
		return agency
	}
	role, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if role == "" {
		return agency
	}
	return agency + "/" + role
}

func pendingAction(r store.ManifestActionRow) *liaisonv1.PendingAction {
	return &liaisonv1.PendingAction{Id: r.Action.GetId(), Action: actionName(r.Action.GetKind()), PersonId: r.Action.GetPersonId(),
		State: r.State, Reason: r.Reason, CreateTime: r.Action.GetCreateTime()}
}

// preparePerson checks and normalises a person for a draft.
func preparePerson(p *liaisonv1.ManifestPerson) error {
	return errs.InvalidFields(persons.Normalize(p.GetIdentity(), "person.identity"))
}

// screenings reads what the safeguards of a manifest check: its persons'
// screenings, and what holds back the individual of each person included
// on other manifests.
func (s *Server) screenings(tx *store.Tx, m *liaisonv1.Manifest) (map[string]*liaisonv1.Screening, []errs.Violation, error) {
	sc, err := tx.Screenings(m.GetId())
	if err != nil {
		return nil, nil, err
	}
	ind, err := s.individualViolations(tx, m, sc)
	if err != nil {
		return nil, nil, err
	}
	return sc, ind, nil
}

func actionName(k liaisonv1.ManifestActionKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "MANIFEST_ACTION_KIND_"))
}

func enumWord(s, prefix string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s, prefix)), "_", " ")
}

// run applies an action with the workflow's rules to a manifest.
func run(m *liaisonv1.Manifest, act *liaisonv1.ManifestAction, a actor) error {
	switch act.GetKind() {
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_REVIEW:
		return review(m, act.GetPersonId(), act.GetNationality(), act.GetReason(), a)
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_ACCEPT:
		return accept(m, a)
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_HANDOVER:
		return handover(m, act.GetPersonId(), act.GetHandover(), act.GetReason(), a)
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_CANCEL:
		return cancel(m, act.GetReason(), a)
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_PLACE_HOLD:
		return placeHold(m, act.GetPersonId(), act.GetHoldId(), a)
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_LIFT_HOLD:
		return liftHold(m, act.GetPersonId(), act.GetHoldId(), a)
	}
	return errs.Invalid("kind", "unknown manifest action %s", act.GetKind())
}
