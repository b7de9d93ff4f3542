package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

const mfManifestJSON = `{
  "legalBasis": "Readmission agreement alpha–bravo, art. 5",
  "escorts": [
    {"name": "Escort One", "role": "ESCORT_ROLE_ESCORT", "agency": "alpha"},
    {"name": "Dr Medic", "role": "ESCORT_ROLE_MEDICAL"}
  ]
}`

// mfPersonJSON is a person to add to a manifest: fit, with medical needs,
// and the given vulnerabilities (proto names).
func mfPersonJSON(i int, fitness string, vulnerabilities ...string) string {
	vs := `[]`
	if len(vulnerabilities) > 0 {
		vs = `["` + strings.Join(vulnerabilities, `", "`) + `"]`
	}
	return fmt.Sprintf(`{
  "identity": {
    "names": [{"familyName": "Nguyen%d", "givenNames": "Van"}],
    "nationalities": ["VNM"],
    "dateOfBirth": {"year": 1990, "month": 4, "day": %d},
    "sex": "SEX_MALE"
  },
  "fitness": "%s",
  "medicalNeeds": {"careOnArrival": "insulin twice a day for person %d", "medicationRequired": true},
  "vulnerabilities": %s
}`, i, i+1, fitness, i, vs)
}

// mfGet reads manifest id on p (as its analyst).
func (p *peer) mfGet(id string) (*liaisonv1.GetManifestResponse, error) {
	var resp liaisonv1.GetManifestResponse
	err := p.tryJSON("analyst", &resp, "manifests", "get", id)
	return &resp, err
}

// mfWait polls p's copy of manifest id until cond holds of it.
func (p *peer) mfWait(t *testing.T, id string, cond func(*liaisonv1.GetManifestResponse) error) *liaisonv1.GetManifestResponse {
	t.Helper()
	var resp *liaisonv1.GetManifestResponse
	eventually(t, func() error {
		var err error
		if resp, err = p.mfGet(id); err != nil {
			return err
		}
		return cond(resp)
	})
	return resp
}

// mfInState is a condition of mfWait: the manifest is in state, at least
// at version.
func mfInState(state liaisonv1.ManifestState, version int64) func(*liaisonv1.GetManifestResponse) error {
	return func(r *liaisonv1.GetManifestResponse) error {
		if m := r.GetManifest(); m.GetState() != state || m.GetVersion() < version {
			return fmt.Errorf("manifest is %s v%d, want %s v%d+", m.GetState(), m.GetVersion(), state, version)
		}
		return nil
	}
}

// mfPerson finds a person of a manifest.
func mfPerson(m *liaisonv1.Manifest, id string) *liaisonv1.ManifestPerson {
	for _, p := range m.GetPersons() {
		if p.GetId() == id {
			return p
		}
	}
	return nil
}

// mfSection is the block of a manifest's detail view that starts with
// title ("PERSONS:", "SCREENINGS", "HISTORY:"), or "" if there is none.
func mfSection(out, title string) string {
	for b := range strings.SplitSeq(out, "\n\n") {
		if strings.HasPrefix(b, title) {
			return b
		}
	}
	return ""
}

// mfRow is the line of a block that starts with key, or "".
func mfRow(block, key string) string {
	for _, l := range strings.Split(block, "\n") {
		if strings.HasPrefix(l, key) {
			return l
		}
	}
	return ""
}

// mfCreate creates a draft to bravo on p with a person per entry of
// persons (a person's JSON), and returns its id and the persons' ids.
func (p *peer) mfCreate(t *testing.T, persons ...string) (string, []string) {
	t.Helper()
	var created liaisonv1.CreateManifestResponse
	p.ctl(t, "analyst", "manifests", "create", "--to", "bravo", "-f", writeFile(t, mfManifestJSON), "-o", "json").wantCode(t, exitOK).decode(t, &created)
	id := created.GetManifest().GetId()
	var ids []string
	for _, js := range persons {
		var added liaisonv1.AddPersonResponse
		p.ctl(t, "analyst", "manifests", "add-person", id, "-f", writeFile(t, js), "-o", "json").wantCode(t, exitOK).decode(t, &added)
		ids = append(ids, added.GetPerson().GetId())
	}
	return id, ids
}

// mfScreenCleared records a cleared screening of person on p.
func (p *peer) mfScreenCleared(t *testing.T, id, person string, more ...string) result {
	t.Helper()
	args := append([]string{"manifests", "screen", id, person, "--claim", "none", "--assessment", "cleared", "--officer", "Ana Lima", "--notes", "interviewed with an interpreter"}, more...)
	return p.ctl(t, "analyst", args...).wantCode(t, exitOK)
}

// TestManifests_WalkThrough runs a manifest of three persons from draft to
// completion through the command line on both nodes, the way the two
// agencies' officers would, with a protection hold on the way.
func TestManifests_WalkThrough(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	const (
		draft      = liaisonv1.ManifestState_MANIFEST_STATE_DRAFT
		proposed   = liaisonv1.ManifestState_MANIFEST_STATE_PROPOSED
		acceptedSt = liaisonv1.ManifestState_MANIFEST_STATE_ACCEPTED
		inTransit  = liaisonv1.ManifestState_MANIFEST_STATE_IN_TRANSIT
		completed  = liaisonv1.ManifestState_MANIFEST_STATE_COMPLETED
	)

	// On alpha, the sending agency: the draft, its persons, their
	// screenings, the proposal.
	id, ps := alpha.mfCreate(t, mfPersonJSON(0, "FITNESS_FIT"), mfPersonJSON(1, "FITNESS_FIT_WITH_MEDICAL_ESCORT", "VULNERABILITY_ELDERLY"), mfPersonJSON(2, "FITNESS_FIT"))
	for _, p := range ps {
		r := alpha.mfScreenCleared(t, id, p)
		wantContains(t, "screen", r.stdout, "screening of person "+p+" recorded (kept on this node only): claim none, assessment cleared by Ana Lima")
	}
	r := alpha.ctl(t, "supervisor", "manifests", "propose", id).wantCode(t, exitOK)
	wantContains(t, "propose", r.stdout, "STATE:", "proposed")

	// On bravo, the receiving agency: the manifest appears; each person's
	// nationality is verified, one is not confirmed; bravo accepts. Each
	// is a proposal alpha applies.
	bravo.mfWait(t, id, mfInState(proposed, 0))
	review := func(person string, args ...string) {
		t.Helper()
		r := bravo.ctl(t, "supervisor", append([]string{"manifests", "review", id, person}, args...)...).wantCode(t, exitOK)
		if got, want := strings.TrimSpace(r.stdout), "proposed to alpha: review of person "+person+" (pending — alpha applies it)"; got != want {
			t.Errorf("review prints %q, want %q", got, want)
		}
	}
	review(ps[0], "--nationality", "confirmed")
	review(ps[1], "--nationality", "confirmed")
	review(ps[2], "--nationality", "not-confirmed", "--reason", "no record in the civil registry")
	bravo.mfWait(t, id, func(g *liaisonv1.GetManifestResponse) error {
		for _, p := range g.GetManifest().GetPersons() {
			if p.GetNationality().GetStatus() == liaisonv1.NationalityStatus_NATIONALITY_STATUS_PENDING {
				return fmt.Errorf("person %s not reviewed yet on bravo's copy", p.GetId())
			}
		}
		return nil
	})
	r = bravo.ctl(t, "supervisor", "manifests", "accept", id).wantCode(t, exitOK)
	if got, want := strings.TrimSpace(r.stdout), "proposed to alpha: acceptance of manifest "+id+" (pending — alpha applies it)"; got != want {
		t.Errorf("accept prints %q, want %q", got, want)
	}

	// Back on alpha: schedule and depart.
	alpha.mfWait(t, id, mfInState(acceptedSt, 0))
	departure := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	r = alpha.ctl(t, "supervisor", "manifests", "schedule", id, "--departure", departure, "--flight", "CA 123", "--carrier", "Charter Air",
		"--mode", "air", "--from", "Alpha City", "--to-place", "Bravo Port").wantCode(t, exitOK)
	wantContains(t, "schedule", r.stdout, "air, Charter Air CA 123, Alpha City "+departure+" → Bravo Port", "scheduled")
	r = alpha.ctl(t, "supervisor", "manifests", "depart", id).wantCode(t, exitOK)
	wantContains(t, "depart", r.stdout, "in-transit")

	// On bravo: a protection hold on the first person blocks their
	// handover, naming the rule and what clears it, until bravo lifts it.
	bravo.mfWait(t, id, mfInState(inTransit, 0))
	var held liaisonv1.PlaceHoldResponse
	bravo.ctl(t, "analyst", "manifests", "hold", id, ps[0], "--reason", "a relative reports threats", "-o", "json").wantCode(t, exitOK).decode(t, &held)
	if held.GetHoldId() == "" || held.GetAction().GetState() != "pending" {
		t.Fatalf("hold on the receiving node: %v", &held)
	}
	bravo.mfWait(t, id, func(g *liaisonv1.GetManifestResponse) error {
		if hs := mfPerson(g.GetManifest(), ps[0]).GetHolds(); len(hs) != 1 || hs[0].GetId() != held.GetHoldId() {
			return fmt.Errorf("hold not on bravo's copy yet: %v", hs)
		}
		return nil
	})
	r = bravo.ctl(t, "supervisor", "manifests", "handover", id, ps[0], "--status", "handed-over").wantCode(t, exitFailed)
	wantContains(t, "handover of a held person", r.stderr, "error: FAILED_PRECONDITION",
		"  rule safeguard.protection_hold on persons/"+ps[0]+": person "+ps[0]+" is on a protection hold placed by bravo; only bravo can lift it",
		"  to clear safeguard.protection_hold: liaisonctl manifests lift-hold "+id+" PERSON HOLD --reason TEXT")
	r = bravo.ctl(t, "supervisor", "manifests", "lift-hold", id, ps[0], held.GetHoldId(), "--reason", "threat assessed as low").wantCode(t, exitOK)
	if got, want := strings.TrimSpace(r.stdout), "proposed to alpha: lifting of a protection hold on person "+ps[0]+" (pending — alpha applies it)"; got != want {
		t.Errorf("lift-hold prints %q, want %q", got, want)
	}
	bravo.mfWait(t, id, func(g *liaisonv1.GetManifestResponse) error {
		if hs := mfPerson(g.GetManifest(), ps[0]).GetHolds(); len(hs) != 1 || hs[0].GetLiftTime() == nil {
			return fmt.Errorf("hold not lifted on bravo's copy yet: %v", hs)
		}
		return nil
	})
	r = bravo.ctl(t, "supervisor", "manifests", "handover", id, ps[0], "--status", "handed-over").wantCode(t, exitOK)
	if got, want := strings.TrimSpace(r.stdout), "proposed to alpha: handover of person "+ps[0]+" (pending — alpha applies it)"; got != want {
		t.Errorf("handover prints %q, want %q", got, want)
	}
	bravo.ctl(t, "supervisor", "manifests", "handover", id, ps[1], "--status", "not-handed-over", "--reason", "taken to hospital on arrival").wantCode(t, exitOK)

	// Every included person resolved: completed on both nodes, at the
	// same version.
	home := alpha.mfWait(t, id, mfInState(completed, 0)).GetManifest()
	bravo.mfWait(t, id, mfInState(completed, home.GetVersion()))
	bravo.mfWait(t, id, func(g *liaisonv1.GetManifestResponse) error {
		for _, a := range g.GetPendingActions() {
			if a.GetState() != "applied" {
				return fmt.Errorf("bravo's %s of %s is %s", a.GetAction(), a.GetPersonId(), a.GetState())
			}
		}
		return nil
	})

	t.Run("GetOnSendingNode", func(t *testing.T) {
		out := alpha.ctl(t, "analyst", "manifests", "get", id).wantCode(t, exitOK).stdout
		header := mfSection(out, "ID:")
		wantContains(t, "header", header, "FROM → TO:", "alpha → bravo", "alpha (own record)", "completed",
			"Readmission agreement alpha–bravo, art. 5", "air, Charter Air CA 123", "Escort One (escort, alpha)", "Dr Medic (medical)")
		persons := mfSection(out, "PERSONS: 3")
		if got := strings.Fields(mfRow(persons, "ID")); !slices.Equal(got, []string{"ID", "NAME", "NATIONALITY", "FITNESS", "VULNERABILITIES", "STATUS", "HANDOVER", "HOLDS"}) {
			t.Errorf("person table header %q", got)
		}
		for _, want := range []struct {
			person string
			cells  []string
		}{
			{ps[0], []string{"Nguyen0, Van", " confirmed ", " fit ", " included ", " handed-over ", " lifted"}},
			{ps[1], []string{"Nguyen1, Van", " confirmed ", " fit-with-medical-escort ", " elderly ", " included ", " not-handed-over ", " -"}},
			{ps[2], []string{"Nguyen2, Van", " not-confirmed ", " fit ", " excluded ", " pending "}},
		} {
			wantContains(t, "row of person "+want.person, mfRow(persons, want.person), want.cells...)
		}
		wantContains(t, "persons", persons,
			"person "+ps[2]+": nationality not confirmed by bravo: no record in the civil registry",
			"person "+ps[1]+": not handed over: taken to hospital on arrival",
			"person "+ps[0]+": medical needs: insulin twice a day for person 0; medication required")
		wantContains(t, "holds", mfSection(out, "HOLDS"), held.GetHoldId(), "bravo")

		screenings := mfSection(out, "SCREENINGS")
		if got := strings.Fields(mfRow(screenings, "PERSON")); !slices.Equal(got, []string{"PERSON", "CLAIM", "ASSESSMENT", "OFFICER", "BID", "RECORDED"}) {
			t.Errorf("screening table header %q in\n%s", got, screenings)
		}
		for _, p := range ps {
			wantContains(t, "screening of "+p, mfRow(screenings, p), " none ", " cleared ", " Ana Lima ", " no ", " by analyst/alice")
		}
		history := mfSection(out, "HISTORY:")
		for _, action := range []string{"created", "person_added", "proposed", "person_reviewed", "accepted", "scheduled", "departed",
			"hold_placed", "hold_lifted", "handed_over", "not_handed_over", "completed"} {
			if !strings.Contains(history, " "+action+" ") {
				t.Errorf("history has no %q step:\n%s", action, history)
			}
		}
	})

	t.Run("GetOnReceivingNode", func(t *testing.T) {
		out := bravo.ctl(t, "analyst", "manifests", "get", id).wantCode(t, exitOK).stdout
		if strings.Contains(out, "SCREENINGS") || strings.Contains(out, "Ana Lima") || strings.Contains(out, "NOT SCREENED") {
			t.Errorf("the receiving node shows screenings:\n%s", out)
		}
		wantContains(t, "header", mfSection(out, "ID:"), "alpha (replica: alpha's node is the home; this agency's actions are proposals it applies)")
		pending := mfSection(out, "PENDING ACTIONS")
		// 3 reviews, the acceptance, the hold and its lifting, 2 handovers.
		if n := len(lines(pending)) - 2; n != 8 {
			t.Errorf("%d pending actions listed, want 8:\n%s", n, pending)
		}
		if strings.Contains(pending, " pending ") || strings.Contains(pending, " rejected ") {
			t.Errorf("an action not applied:\n%s", pending)
		}
	})

	t.Run("History", func(t *testing.T) {
		out := alpha.ctl(t, "analyst", "manifests", "history", id).wantCode(t, exitOK).stdout
		ls := lines(out)
		if got := strings.Fields(ls[0]); !slices.Equal(got, []string{"TIME", "AGENCY", "OFFICER", "ACTION", "PERSON", "NOTE", "STATE"}) {
			t.Fatalf("history header %q", got)
		}
		actions := map[string]int{}
		for _, l := range ls[1:] {
			f := strings.Fields(l)
			if len(f) < 7 {
				t.Errorf("history row %q has %d fields", l, len(f))
				continue
			}
			if _, err := time.Parse(time.RFC3339, f[0]); err != nil {
				t.Errorf("history row %q: time %v", l, err)
			}
			if f[1] != "alpha" && f[1] != "bravo" {
				t.Errorf("history row %q: agency %q", l, f[1])
			}
			// alpha's own officers by name; bravo's under the pseudonym bravo's
			// node gave them for alpha (role and 16 hex digits), never a name.
			switch {
			case f[1] == "alpha" && (f[2] == "analyst/alice" || f[2] == "supervisor/sam"):
			case f[1] == "bravo" && pseudonymOfficer.MatchString(f[2]):
			default:
				t.Errorf("history row %q: officer %q", l, f[2])
			}
			actions[f[3]+" by "+f[1]]++
		}
		for step, n := range map[string]int{
			"created by alpha": 1, "person_added by alpha": 3, "screening_recorded by alpha": 3, "proposed by alpha": 1,
			"person_reviewed by bravo": 3, "accepted by bravo": 1, "scheduled by alpha": 1, "departed by alpha": 1,
			"hold_placed by bravo": 1, "hold_lifted by bravo": 1, "handed_over by bravo": 1, "not_handed_over by bravo": 1, "completed by bravo": 1,
		} {
			if actions[step] != n {
				t.Errorf("history has %d %q steps, want %d (all: %v)", actions[step], step, n, actions)
			}
		}
		// The receiving node's history has no screening step.
		if out := bravo.ctl(t, "analyst", "manifests", "history", id).wantCode(t, exitOK).stdout; strings.Contains(out, "screening") {
			t.Errorf("bravo's history mentions a screening:\n%s", out)
		}
	})

	t.Run("JSON", func(t *testing.T) {
		a, err := alpha.mfGet(id)
		if err != nil {
			t.Fatal(err)
		}
		b, err := bravo.mfGet(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.GetScreenings()) != 3 || len(b.GetScreenings()) != 0 {
			t.Errorf("screenings: %d on alpha, %d on bravo; want 3 and 0", len(a.GetScreenings()), len(b.GetScreenings()))
		}
		if a.GetManifest().GetVersion() != b.GetManifest().GetVersion() || b.GetManifest().GetState() != completed {
			t.Errorf("alpha v%d, bravo %s v%d", a.GetManifest().GetVersion(), b.GetManifest().GetState(), b.GetManifest().GetVersion())
		}
		var hist liaisonv1.ListManifestHistoryResponse
		if err := alpha.tryJSON("analyst", &hist, "manifests", "history", id); err != nil || len(hist.GetEvents()) == 0 {
			t.Errorf("history -o json: %v, %d events", err, len(hist.GetEvents()))
		}
	})

	t.Run("List", func(t *testing.T) {
		wantContains(t, "alpha's completed manifests to bravo", alpha.ctl(t, "analyst", "manifests", "list", "--state", "completed", "--to", "bravo").wantCode(t, exitOK).stdout, id)
		wantContains(t, "bravo's manifests from alpha", bravo.ctl(t, "analyst", "manifests", "list", "--from", "alpha").wantCode(t, exitOK).stdout, id+"  alpha  bravo  completed")
		if out := alpha.ctl(t, "analyst", "manifests", "list", "--state", draft.String()).wantCode(t, exitOK).stdout; strings.Contains(out, id) {
			t.Errorf("the completed manifest is listed as a draft:\n%s", out)
		}
		var list liaisonv1.ListManifestsResponse
		if err := alpha.tryJSON("analyst", &list, "manifests", "list", "--to", "bravo"); err != nil || len(list.GetManifests()) != 1 {
			t.Errorf("list -o json: %v, %d manifests", err, len(list.GetManifests()))
		}
	})
}

// TestManifests_SafeguardsAndEdits: on the sending node alone, a proposal
// the safeguards block lists each person, rule and what clears it; then
// the draft is put right with the edit commands, proposed, and edited on.
func TestManifests_SafeguardsAndEdits(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	sender := &peer{n.Node}
	id, ps := sender.mfCreate(t, mfPersonJSON(0, "FITNESS_FIT"), mfPersonJSON(1, "FITNESS_FIT"),
		mfPersonJSON(2, "FITNESS_UNFIT", "VULNERABILITY_MINOR", "VULNERABILITY_UNACCOMPANIED_MINOR"), mfPersonJSON(3, "FITNESS_FIT"))
	sender.mfScreenCleared(t, id, ps[0])
	sender.mfScreenCleared(t, id, ps[2])

	r := sender.ctl(t, "supervisor", "manifests", "propose", id).wantCode(t, exitFailed)
	wantContains(t, "refused proposal", r.stderr,
		"error: FAILED_PRECONDITION: manifest "+id+" cannot be proposed: protection safeguards: 4 rule(s) broken",
		"  rule safeguard.screening_missing on persons/"+ps[1]+": Nguyen1 Van: no protection screening is recorded; record one (RecordScreening)",
		"  rule safeguard.screening_missing on persons/"+ps[3]+": Nguyen3 Van: no protection screening is recorded",
		"  rule safeguard.best_interests_missing on persons/"+ps[2]+": Nguyen2 Van: an unaccompanied minor without a best-interests determination",
		"  rule safeguard.unfit on persons/"+ps[2]+": Nguyen2 Van: unfit to travel",
		"  to clear safeguard.screening_missing: liaisonctl manifests screen "+id+" PERSON --claim none|pending|decided --assessment cleared|concern --officer NAME",
		"  to clear safeguard.best_interests_missing: liaisonctl manifests screen "+id+" PERSON … --bid --bid-ref REF",
		"  to clear safeguard.unfit: liaisonctl manifests update-person "+id+" -f PERSON.json",
		"  request id: ")
	if r.stdout != "" {
		t.Errorf("a refused proposal printed %q", r.stdout)
	}

	// Put it right: screen, determine best interests, assess fitness
	// (from a file without the ids: the command names the person), and
	// remove the person nobody screened.
	sender.mfScreenCleared(t, id, ps[1])
	r = sender.mfScreenCleared(t, id, ps[2], "--bid", "--bid-ref", "BID-2026-17")
	wantContains(t, "screen with a BID", r.stdout, "best interests determined (BID-2026-17)")
	r = sender.ctl(t, "analyst", "manifests", "update-person", id, "--person", ps[2], "-f",
		writeFile(t, mfPersonJSON(2, "FITNESS_FIT_WITH_MEDICAL_ESCORT", "VULNERABILITY_MINOR", "VULNERABILITY_UNACCOMPANIED_MINOR"))).wantCode(t, exitOK)
	wantContains(t, "update-person", mfRow(r.stdout, ps[2]), " fit-with-medical-escort ", " minor,unaccompanied-minor ")
	r = sender.ctl(t, "analyst", "manifests", "remove-person", id, ps[3]).wantCode(t, exitOK)
	if persons := mfSection(r.stdout, "PERSONS: 3"); persons == "" || strings.Contains(persons, ps[3]) {
		t.Errorf("the removed person is still shown:\n%s", r.stdout)
	}

	// A draft's legal basis changes through a patch; a patch naming a
	// field an update cannot change is a usage error.
	r = sender.ctl(t, "analyst", "manifests", "update", id, "-f", writeFile(t, `{"legalBasis": "Readmission agreement, art. 7"}`)).wantCode(t, exitOK)
	wantContains(t, "update", r.stdout, "Readmission agreement, art. 7")
	r = sender.ctl(t, "analyst", "manifests", "update", id, "-f", writeFile(t, `{"state": "MANIFEST_STATE_PROPOSED"}`)).wantCode(t, exitUsage)
	wantContains(t, "update of the state", r.stderr, "state cannot be changed by an update; a draft's legal_basis, transport, escorts can")

	r = sender.ctl(t, "supervisor", "manifests", "propose", id).wantCode(t, exitOK)
	wantContains(t, "propose", mfSection(r.stdout, "ID:"), "proposed")

	// Once proposed, fitness may still change (from a file without the
	// identity's id: the person stays the same person).
	r = sender.ctl(t, "analyst", "manifests", "update-person", id, "--person", ps[0], "-f", writeFile(t, mfPersonJSON(0, "FITNESS_FIT_WITH_MEDICAL_ESCORT"))).wantCode(t, exitOK)
	wantContains(t, "update-person after proposal", mfRow(r.stdout, ps[0]), " fit-with-medical-escort ")

	// Hold, lift, withdraw, cancel.
	var held liaisonv1.PlaceHoldResponse
	sender.ctl(t, "analyst", "manifests", "hold", id, ps[0], "--reason", "new information from the family", "-o", "json").wantCode(t, exitOK).decode(t, &held)
	if held.GetHoldId() == "" || held.GetAction() != nil {
		t.Fatalf("hold on the sending node: %v", &held)
	}
	r = sender.ctl(t, "analyst", "manifests", "get", id).wantCode(t, exitOK)
	wantContains(t, "held person", mfRow(mfSection(r.stdout, "PERSONS:"), ps[0]), "HELD by alpha")
	wantContains(t, "hold table", mfRow(mfSection(r.stdout, "HOLDS"), ps[0]), held.GetHoldId(), "alpha", "in force")
	r = sender.ctl(t, "supervisor", "manifests", "lift-hold", id, ps[0], held.GetHoldId(), "--reason", "checked: no risk").wantCode(t, exitOK)
	wantContains(t, "lift-hold", r.stdout, "hold "+held.GetHoldId()+" on person "+ps[0]+" lifted")
	r = sender.ctl(t, "supervisor", "manifests", "withdraw", id, ps[1], "--reason", "lawyer lodged an appeal").wantCode(t, exitOK)
	wantContains(t, "withdraw", mfRow(mfSection(r.stdout, "PERSONS:"), ps[1]), " withdrawn ")
	r = sender.ctl(t, "supervisor", "manifests", "cancel", id, "--reason", "flight cancelled").wantCode(t, exitOK)
	wantContains(t, "cancel", mfSection(r.stdout, "ID:"), "cancelled", "CANCELLED BY:", "alpha", "CANCEL REASON:", "flight cancelled")

	// The local notes (reasons, screenings) are in this node's history.
	r = sender.ctl(t, "analyst", "manifests", "history", id).wantCode(t, exitOK)
	wantContains(t, "history", r.stdout, "lawyer lodged an appeal", "screening_recorded", "place_hold_reason", "cancelled")
}

// TestManifests_Usage: mistakes on the command line are caught before any
// call, with exit status 2 and what is wrong.
func TestManifests_Usage(t *testing.T) {
	t.Parallel()
	const id, person = "0190f1c2-0000-7000-8000-000000000001", "0190f1c2-0000-7000-8000-000000000002"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"CreateWithoutFile", []string{"manifests", "create", "--to", "bravo"}, "manifests create needs -f FILE"},
		{"ScreenWithoutFlags", []string{"manifests", "screen", id, person}, "manifests screen needs --claim, --assessment, --officer"},
		{"ScreenBadClaim", []string{"manifests", "screen", id, person, "--claim", "maybe", "--assessment", "cleared", "--officer", "x"}, `--claim: "maybe" is not one of none, pending, decided`},
		{"ScreenBadAssessment", []string{"manifests", "screen", id, person, "--claim", "none", "--assessment", "fine", "--officer", "x"}, `--assessment: "fine" is not one of cleared, concern`},
		{"ScreenBidRefWithoutBid", []string{"manifests", "screen", id, person, "--claim", "none", "--assessment", "cleared", "--officer", "x", "--bid-ref", "B-1"}, "give --bid too"},
		{"ReviewWithoutNationality", []string{"manifests", "review", id, person}, "manifests review needs --nationality confirmed|not-confirmed"},
		{"ReviewPending", []string{"manifests", "review", id, person, "--nationality", "pending"}, `--nationality: "pending" is not one of confirmed, not-confirmed`},
		{"ReviewNotConfirmedWithoutReason", []string{"manifests", "review", id, person, "--nationality", "not-confirmed"}, "--nationality not-confirmed needs --reason TEXT"},
		{"HandoverBadStatus", []string{"manifests", "handover", id, person, "--status", "pending"}, `--status: "pending" is not one of handed-over, not-handed-over`},
		{"HandoverNotHandedOverWithoutReason", []string{"manifests", "handover", id, person, "--status", "not-handed-over"}, "--status not-handed-over needs --reason TEXT"},
		{"ScheduleWithoutDeparture", []string{"manifests", "schedule", id, "--flight", "CA 1"}, "manifests schedule needs --departure TIME"},
		{"ScheduleBadDeparture", []string{"manifests", "schedule", id, "--departure", "tomorrow"}, `--departure: "tomorrow" is not an RFC 3339 time`},
		{"ScheduleBadMode", []string{"manifests", "schedule", id, "--departure", "2030-01-01T00:00:00Z", "--mode", "boat"}, `--mode: "boat" is not one of air, sea, land, rail`},
		{"ListBadState", []string{"manifests", "list", "--state", "lost"}, `--state: "lost" is not one of draft, proposed, accepted, scheduled, in-transit, completed, cancelled`},
		{"CancelWithoutReason", []string{"manifests", "cancel", id}, "manifests cancel needs --reason TEXT"},
		{"WithdrawWithoutReason", []string{"manifests", "withdraw", id, person, "--reason", " "}, "manifests withdraw needs --reason TEXT"},
		{"HoldWithoutReason", []string{"manifests", "hold", id, person}, "manifests hold needs --reason TEXT"},
		{"LiftHoldMissingHold", []string{"manifests", "lift-hold", id, person, "--reason", "x"}, "manifests lift-hold takes ID PERSON HOLD"},
		{"UpdatePersonWithoutFile", []string{"manifests", "update-person", id}, "manifests update-person needs -f FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ctl(t, "", tc.args...)
			r.wantCode(t, exitUsage)
			wantContains(t, "stderr", r.stderr, tc.want)
		})
	}
	t.Run("Help", func(t *testing.T) {
		r := ctl(t, "", "help", "manifests")
		r.wantCode(t, exitOK)
		wantContains(t, "help", r.stdout, "liaisonctl manifests create --to AGENCY -f FILE", "liaisonctl manifests screen ID PERSON --claim none|pending|decided",
			"liaisonctl manifests handover ID PERSON --status handed-over|not-handed-over", "liaisonctl manifests history ID")
	})
}

// TestManifests_Separate records, as a supervisor, that two persons of the
// same name and birth year on two manifests are different people; an
// analyst may not, and the decision shows in the sending node's history.
func TestManifests_Separate(t *testing.T) {
	t.Parallel()
	alpha, _ := startPair(t)
	person := `{"identity": {"names": [{"familyName": "Siregar", "givenNames": "Budi"}], "nationalities": ["IDN"], "dateOfBirth": {"year": 1990}}, "fitness": "FITNESS_FIT"}`
	a, pa := alpha.mfCreate(t, person)
	b, pb := alpha.mfCreate(t, person)
	args := []string{"manifests", "separate", a, pa[0], b, pb[0], "--reason", "fingerprints differ"}
	if r := alpha.ctl(t, "analyst", args...).wantCode(t, exitFailed); !strings.Contains(r.stderr, "PERMISSION_DENIED") {
		t.Fatalf("analyst: %s", r.stderr)
	}
	r := alpha.ctl(t, "supervisor", args...).wantCode(t, exitOK)
	if !strings.Contains(r.stdout, "recorded as different people") {
		t.Fatalf("stdout: %s", r.stdout)
	}
	var h liaisonv1.ListManifestHistoryResponse
	if err := alpha.tryJSON("analyst", &h, "manifests", "history", b); err != nil {
		t.Fatal(err)
	}
	if e := h.GetEvents()[len(h.GetEvents())-1]; e.GetAction() != "persons_separated" || !strings.Contains(e.GetNote(), "fingerprints differ") || !strings.Contains(e.GetPrincipal(), "/supervisor/") {
		t.Fatalf("history of %s ends with %v", b, e)
	}
	alpha.ctl(t, "supervisor", "manifests", "separate", a, pa[0], b, pb[0], "--reason", " ").wantCode(t, exitUsage)
}

// pseudonymOfficer is how a partner's officer appears: role/pseudonym.
var pseudonymOfficer = regexp.MustCompile(`^(analyst|supervisor)/[0-9a-f]{16}$`)
