package main

import (
	"fmt"
	"io"
	"strings"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

var manifestColumns = []string{"ID", "FROM", "TO", "STATE", "VERSION", "PERSONS", "UPDATED", "LEGAL BASIS"}

// manifestTable lists manifests; PERSONS is "included/on the manifest".
func manifestTable(w io.Writer, ms []*liaisonv1.Manifest) {
	row(w, manifestColumns...)
	for _, m := range ms {
		included := 0
		for _, p := range m.GetPersons() {
			if p.GetStatus() == liaisonv1.PersonStatus_PERSON_STATUS_INCLUDED {
				included++
			}
		}
		row(w, m.GetId(), m.GetOriginAgency(), m.GetReceivingAgency(), enumName(m.GetState()), fmt.Sprint(m.GetVersion()),
			fmt.Sprintf("%d/%d", included, len(m.GetPersons())), timestamp(m.GetUpdateTime()), truncate(m.GetLegalBasis(), 50))
	}
}

// manifestDetail is the view of one manifest: its header, a table of its
// persons with every status, then — with the response of GetManifest —
// the screenings (on the sending node only: they never leave it) and this
// node's pending actions (on the receiving node), and the history.
func (c *cli) manifestDetail(w io.Writer, m *liaisonv1.Manifest, get *liaisonv1.GetManifestResponse) {
	kv := func(k, v string) {
		if v != "" {
			row(w, k, v)
		}
	}
	home := m.GetOriginAgency()
	kv("ID:", m.GetId())
	kv("FROM → TO:", home+" → "+m.GetReceivingAgency())
	kv("HOME:", c.originLabel(home, fmt.Sprintf("replica: %s's node is the home; this agency's actions are proposals it applies", home)))
	kv("STATE:", enumName(m.GetState()))
	kv("VERSION:", fmt.Sprint(m.GetVersion()))
	kv("ETAG:", m.GetEtag())
	kv("LEGAL BASIS:", m.GetLegalBasis())
	kv("TRANSPORT:", orDash(transportText(m.GetTransport())))
	for i, e := range m.GetEscorts() {
		row(w, onFirst(i, "ESCORTS:"), escortText(e))
	}
	created := timestamp(m.GetCreateTime())
	if m.GetCreatedBy() != "" {
		created += " by " + m.GetCreatedBy()
	}
	kv("CREATED:", created)
	kv("UPDATED:", timestamp(m.GetUpdateTime()))
	if m.GetState() == liaisonv1.ManifestState_MANIFEST_STATE_CANCELLED || m.GetCancelledByAgency() != "" {
		kv("CANCELLED BY:", orDash(m.GetCancelledByAgency()))
		kv("CANCEL REASON:", orDash(m.GetCancelReason()))
	}

	// Lines without a tab between the sections: each table aligns on its
	// own.
	fmt.Fprintf(w, "\nPERSONS: %d\n", len(m.GetPersons()))
	if len(m.GetPersons()) > 0 {
		manifestPersonTable(w, m)
	}
	manifestHoldTable(w, m)
	if get != nil && c.showScreenings(m, get) {
		fmt.Fprintln(w, "\nSCREENINGS (this node only; never sent to a partner):")
		manifestScreeningTable(w, m, get.GetScreenings())
	}
	if get != nil && len(get.GetPendingActions()) > 0 {
		fmt.Fprintf(w, "\nPENDING ACTIONS: this agency's actions, proposed to %s (the home node), which applies or rejects them\n", home)
		row(w, "ACTION", "PERSON", "STATE", "PROPOSED", "REASON")
		for _, a := range get.GetPendingActions() {
			row(w, a.GetAction(), orDash(a.GetPersonId()), a.GetState(), timestamp(a.GetCreateTime()), orDash(a.GetReason()))
		}
	}
	if len(m.GetHistory()) > 0 {
		fmt.Fprintln(w, "\nHISTORY:")
		manifestHistoryTable(w, m.GetHistory())
	}
}

// showScreenings says whether the screenings section belongs in the view:
// on the sending agency's node only. The node sends none elsewhere; this
// keeps the section (even its "not screened" rows) off a receiving node's
// screen too.
func (c *cli) showScreenings(m *liaisonv1.Manifest, get *liaisonv1.GetManifestResponse) bool {
	if own := c.callerAgency(); own != "" {
		return own == m.GetOriginAgency()
	}
	return len(get.GetScreenings()) > 0
}

var manifestPersonColumns = []string{"ID", "NAME", "NATIONALITY", "FITNESS", "VULNERABILITIES", "STATUS", "HANDOVER", "HOLDS"}

// manifestPersonTable lists a manifest's persons with every status, and
// below the table what the statuses alone do not say: the reasons of the
// receiving agency, and medical needs.
func manifestPersonTable(w io.Writer, m *liaisonv1.Manifest) {
	row(w, manifestPersonColumns...)
	var notes []string
	for _, p := range m.GetPersons() {
		vs := make([]string, 0, len(p.GetVulnerabilities()))
		for _, v := range p.GetVulnerabilities() {
			vs = append(vs, enumName(v))
		}
		row(w, p.GetId(), orDash(manifestPersonName(p)), enumName(p.GetNationality().GetStatus()), enumName(p.GetFitness()),
			orDash(strings.Join(vs, ",")), enumName(p.GetStatus()), enumName(p.GetHandover()), holdsText(p))
		if n := p.GetNationality(); n.GetStatus() == liaisonv1.NationalityStatus_NATIONALITY_STATUS_NOT_CONFIRMED {
			notes = append(notes, fmt.Sprintf("person %s: nationality not confirmed by %s: %s", p.GetId(), m.GetReceivingAgency(), orDash(n.GetReason())))
		}
		if p.GetHandover() == liaisonv1.HandoverStatus_HANDOVER_STATUS_NOT_HANDED_OVER {
			notes = append(notes, fmt.Sprintf("person %s: not handed over: %s", p.GetId(), orDash(p.GetHandoverReason())))
		}
		if mn := medicalText(p.GetMedicalNeeds()); mn != "" {
			notes = append(notes, fmt.Sprintf("person %s: medical needs: %s", p.GetId(), mn))
		}
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
}

// manifestPersonName is the first name of a person, as written with its
// transliteration; "" for a person withdrawn (a partner's copy keeps only
// that they were).
func manifestPersonName(p *liaisonv1.ManifestPerson) string {
	names := p.GetIdentity().GetNames()
	if len(names) == 0 {
		return ""
	}
	return personName(names[0])
}

// holdsText is "held by AGENCY[, AGENCY]" for the holds in force, else
// "lifted" if there were any, else "-".
func holdsText(p *liaisonv1.ManifestPerson) string {
	var by []string
	for _, h := range p.GetHolds() {
		if h.GetLiftTime() == nil {
			by = append(by, h.GetPlacedByAgency())
		}
	}
	switch {
	case len(by) > 0:
		return "HELD by " + strings.Join(by, ", ")
	case len(p.GetHolds()) > 0:
		return "lifted"
	}
	return "-"
}

// manifestHoldTable lists every protection hold, with the id lift-hold
// takes; nothing if there are none.
func manifestHoldTable(w io.Writer, m *liaisonv1.Manifest) {
	first := true
	for _, p := range m.GetPersons() {
		for _, h := range p.GetHolds() {
			if first {
				fmt.Fprintln(w, "\nHOLDS (lifted only by the agency that placed them):")
				row(w, "PERSON", "HOLD", "PLACED BY", "PLACED", "LIFTED")
				first = false
			}
			lifted := "in force"
			if h.GetLiftTime() != nil {
				lifted = timestamp(h.GetLiftTime())
			}
			row(w, p.GetId(), h.GetId(), h.GetPlacedByAgency(), timestamp(h.GetPlaceTime()), lifted)
		}
	}
}

var manifestScreeningColumns = []string{"PERSON", "CLAIM", "ASSESSMENT", "OFFICER", "BID", "RECORDED"}

// manifestScreeningTable lists the screening of every person, in the
// manifest's order; a person without one is "NOT SCREENED".
func manifestScreeningTable(w io.Writer, m *liaisonv1.Manifest, screenings map[string]*liaisonv1.Screening) {
	row(w, manifestScreeningColumns...)
	for _, p := range m.GetPersons() {
		sc, ok := screenings[p.GetId()]
		if !ok {
			row(w, p.GetId(), "NOT SCREENED", "-", "-", "-", "-")
			continue
		}
		bid := "no"
		if sc.GetBestInterestsDetermined() {
			bid = "yes"
			if sc.GetBestInterestsReference() != "" {
				bid += " (" + sc.GetBestInterestsReference() + ")"
			}
		}
		recorded := timestamp(sc.GetRecordTime())
		if sc.GetRecordedBy() != "" {
			recorded += " by " + shortAuthor(sc.GetRecordedBy())
		}
		row(w, p.GetId(), enumName(sc.GetClaim()), enumName(sc.GetAssessment()), orDash(sc.GetAssessingOfficer()), bid, recorded)
	}
}

var manifestHistoryColumns = []string{"TIME", "AGENCY", "OFFICER", "ACTION", "PERSON", "NOTE", "STATE"}

// manifestHistoryTable lists the steps of a manifest in order; OFFICER is
// the SPIFFE ID's path ("supervisor/sam"), AGENCY gives the rest.
func manifestHistoryTable(w io.Writer, events []*liaisonv1.ManifestEvent) {
	row(w, manifestHistoryColumns...)
	for _, e := range events {
		row(w, timestamp(e.GetTime()), orDash(e.GetAgency()), orDash(shortAuthor(e.GetPrincipal())), e.GetAction(),
			orDash(e.GetPersonId()), orDash(truncate(e.GetNote(), 80)), enumName(e.GetState()))
	}
}

// transportText is a transport in one line: "air, Charter Air CA 123,
// Alpha City 2026-03-01T08:00:00Z → Bravo Port".
func transportText(t *liaisonv1.Transport) string {
	if t == nil {
		return ""
	}
	var parts []string
	if t.GetMode() != 0 {
		parts = append(parts, enumName(t.GetMode()))
	}
	if v := strings.TrimSpace(t.GetCarrier() + " " + t.GetVehicleNumber()); v != "" {
		parts = append(parts, v)
	}
	end := func(place, at string) string { return strings.TrimSpace(place + " " + at) }
	dep, arr := "", ""
	if t.GetDepartureTime() != nil {
		dep = timestamp(t.GetDepartureTime())
	}
	if t.GetArrivalTime() != nil {
		arr = timestamp(t.GetArrivalTime())
	}
	from, to := end(t.GetDeparturePlace(), dep), end(t.GetArrivalPlace(), arr)
	if from != "" || to != "" {
		parts = append(parts, orDash(from)+" → "+orDash(to))
	}
	return strings.Join(parts, ", ")
}

// escortText is "Name (role, agency)".
func escortText(e *liaisonv1.Escort) string {
	more := []string{enumName(e.GetRole())}
	if e.GetAgency() != "" {
		more = append(more, e.GetAgency())
	}
	return e.GetName() + " (" + strings.Join(more, ", ") + ")"
}

// medicalText says what a person needs on arrival; "" for nothing.
func medicalText(mn *liaisonv1.MedicalNeeds) string {
	var parts []string
	if mn.GetCareOnArrival() != "" {
		parts = append(parts, mn.GetCareOnArrival())
	}
	if mn.GetMobilityAssistance() {
		parts = append(parts, "mobility assistance")
	}
	if mn.GetMedicationRequired() {
		parts = append(parts, "medication required")
	}
	return strings.Join(parts, "; ")
}

// manifestPendingLine says what became of an action this node proposed to
// the manifest's home node: "proposed to alpha: review of person X
// (pending — alpha applies it)".
func manifestPendingLine(a *liaisonv1.PendingAction, manifestID, home string) string {
	if home == "" {
		home = "the sending agency"
	}
	var what string
	switch p := a.GetPersonId(); a.GetAction() {
	case "review":
		what = "review of person " + p
	case "accept":
		what = "acceptance of manifest " + manifestID
	case "handover":
		what = "handover of person " + p
	case "cancel":
		what = "cancellation of manifest " + manifestID
	case "place_hold":
		what = "protection hold on person " + p
	case "lift_hold":
		what = "lifting of a protection hold on person " + p
	default:
		what = strings.TrimSpace(a.GetAction() + " " + p)
	}
	switch a.GetState() {
	case "pending":
		return fmt.Sprintf("proposed to %s: %s (pending — %s applies it)", home, what, home)
	case "applied":
		return fmt.Sprintf("proposed to %s: %s (applied by %s)", home, what, home)
	case "rejected":
		return fmt.Sprintf("proposed to %s: %s (REJECTED by %s: %s)", home, what, home, orDash(a.GetReason()))
	}
	return fmt.Sprintf("proposed to %s: %s (%s)", home, what, a.GetState())
}

// manifestScreeningRecorded confirms a screening, and says so loudly if
// it took the person off the manifest.
func manifestScreeningRecorded(w io.Writer, manifestID, personID string, resp *liaisonv1.RecordScreeningResponse) {
	sc := resp.GetScreening()
	s := fmt.Sprintf("screening of person %s recorded (kept on this node only): claim %s, assessment %s by %s",
		personID, enumName(sc.GetClaim()), enumName(sc.GetAssessment()), sc.GetAssessingOfficer())
	if sc.GetBestInterestsDetermined() {
		s += ", best interests determined"
		if sc.GetBestInterestsReference() != "" {
			s += " (" + sc.GetBestInterestsReference() + ")"
		}
	}
	fmt.Fprintln(w, s)
	if resp.GetPersonWithdrawn() {
		fmt.Fprintf(w, "person %s was WITHDRAWN from manifest %s: the screening found a pending claim or a protection concern (the partner learns only that the person was withdrawn)\n", personID, manifestID)
	}
}
