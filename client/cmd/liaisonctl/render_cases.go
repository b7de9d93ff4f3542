package main

import (
	"fmt"
	"io"
	"strings"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

var caseColumns = []string{"ID", "ORIGIN", "STATUS", "VERSION", "CRIME AREAS", "SHARED WITH", "LEADS", "UPDATED", "TITLE"}

// caseTable lists cases; LEADS counts the linked leads.
func caseTable(w io.Writer, cs []*liaisonv1.Case) {
	row(w, caseColumns...)
	for _, c := range cs {
		row(w, c.GetId(), c.GetOriginAgency(), enumName(c.GetStatus()), fmt.Sprint(c.GetVersion()), crimeAreas(c.GetCrimeAreas()),
			orDash(strings.Join(c.GetSharedWith(), ",")), fmt.Sprint(len(c.GetLinkedLeadIds())), timestamp(c.GetUpdateTime()), c.GetTitle())
	}
}

// caseDetail is the key/value view of one case. With the response of
// GetCase, the subjects are those it merged from the case and its linked
// leads, each with where it appears, followed by the case's counts;
// without, the case's own subjects.
func (c *cli) caseDetail(w io.Writer, cs *liaisonv1.Case, get *liaisonv1.GetCaseResponse) {
	kv := func(k, v string) {
		if v != "" {
			row(w, k, v)
		}
	}
	home := cs.GetOriginAgency()
	kv("ID:", cs.GetId())
	kv("ORIGIN:", c.originLabel(home, fmt.Sprintf("replica: %s's node is the home; entries written here are proposals it applies", home)))
	kv("STATUS:", enumName(cs.GetStatus()))
	kv("VERSION:", fmt.Sprint(cs.GetVersion()))
	kv("ETAG:", cs.GetEtag())
	kv("TITLE:", cs.GetTitle())
	if cs.GetSummary() != "" {
		for i, line := range strings.Split(cs.GetSummary(), "\n") {
			row(w, onFirst(i, "SUMMARY:"), line)
		}
	}
	kv("CRIME AREAS:", crimeAreas(cs.GetCrimeAreas()))
	kv("REFERENCE:", cs.GetOriginatorReference())
	for i, r := range cs.GetPartnerReferences() {
		row(w, onFirst(i, "PARTNER REFS:"), r.GetAgency()+": "+r.GetReference())
	}
	kv("SHARED WITH:", strings.Join(cs.GetSharedWith(), ", "))
	for i, id := range cs.GetLinkedLeadIds() {
		row(w, onFirst(i, "LINKED LEADS:"), id)
	}
	created := timestamp(cs.GetCreateTime())
	if cs.GetCreatedBy() != "" {
		created += " by " + cs.GetCreatedBy()
	}
	kv("CREATED:", created)
	kv("CONTACT:", contact(cs.GetContact()))
	kv("UPDATED:", timestamp(cs.GetUpdateTime()))
	if cs.GetCloseTime() != nil {
		kv("CLOSED:", timestamp(cs.GetCloseTime()))
		kv("CLOSE REASON:", cs.GetCloseReason())
	}

	if get == nil {
		if len(cs.GetSubjects()) > 0 {
			// A line without a tab: the subjects align among themselves.
			fmt.Fprintf(w, "SUBJECTS: %d\n", len(cs.GetSubjects()))
		}
		for i, p := range cs.GetSubjects() {
			person(w, fmt.Sprintf("  [%d] ", i+1), p)
		}
		return
	}
	if len(get.GetSubjects()) > 0 {
		fmt.Fprintf(w, "SUBJECTS: %d, each person once\n", len(get.GetSubjects()))
	}
	for i, s := range get.GetSubjects() {
		head := fmt.Sprintf("  [%d] ", i+1)
		person(w, head, s.GetPerson())
		row(w, strings.Repeat(" ", len(head))+"sources:", strings.Join(s.GetSources(), ", "))
	}
	// A blank line: the counts align among themselves.
	fmt.Fprintln(w)
	row(w, "ENTRIES:", fmt.Sprint(get.GetEntryCount()))
	row(w, "OPEN REQUESTS:", fmt.Sprint(get.GetOpenRequestCount()))
}

var entryColumns = []string{"#", "ID", "STATE", "AGENCY", "AUTHOR", "KIND", "WRITTEN", "DETAILS", "TEXT"}

// entryTable lists entries in the home node's order; a rejected entry's
// reason follows the table.
func entryTable(w io.Writer, es []*liaisonv1.CaseEntry) {
	row(w, entryColumns...)
	var rejected []*liaisonv1.CaseEntry
	for _, e := range es {
		seq := "-"
		if e.GetSequence() > 0 {
			seq = fmt.Sprint(e.GetSequence())
		}
		if e.GetState() == liaisonv1.EntryState_ENTRY_STATE_REJECTED {
			rejected = append(rejected, e)
		}
		row(w, seq, e.GetId(), enumName(e.GetState()), e.GetAgency(), orDash(shortAuthor(e.GetAuthor())), enumName(e.GetKind()),
			timestamp(e.GetCreateTime()), entryDetails(e), truncate(e.GetText(), 60))
	}
	if len(rejected) > 0 {
		fmt.Fprintln(w)
	}
	for _, e := range rejected {
		fmt.Fprintf(w, "entry %s REJECTED by the case's home node: %s\n", e.GetId(), orDash(e.GetRejectionReason()))
	}
}

// entryDetails says in a few words what is particular to an entry's kind:
// a request's urgency, deadline, debtor and whether it was answered; the
// request a response answers; an outcome's kind and count.
func entryDetails(e *liaisonv1.CaseEntry) string {
	switch e.GetKind() {
	case liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST:
		r := e.GetRequest()
		s := fmt.Sprintf("%s, due %s, owed by %s, ", enumName(r.GetUrgency()), timestamp(r.GetDueTime()), orDash(r.GetRequestedOf()))
		if r.GetAnswered() {
			return s + "answered by " + r.GetAnsweredByEntryId()
		}
		return s + "open"
	case liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE:
		return "answers " + e.GetResponse().GetRequestEntryId()
	case liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_OUTCOME:
		return outcome(e.GetOutcome())
	}
	return "-"
}

func outcome(o *liaisonv1.OutcomeDetails) string {
	return fmt.Sprintf("%s × %d", enumName(o.GetKind()), o.GetCount())
}

// entryState is where an entry stands, in words: "applied #7",
// "pending (the home node alpha has not applied it yet)", "REJECTED:
// reason". home is the case's home agency, if known.
func entryState(e *liaisonv1.CaseEntry, home string) string {
	switch e.GetState() {
	case liaisonv1.EntryState_ENTRY_STATE_APPLIED:
		if e.GetSequence() == 0 {
			// The receipt of a proposal can come before its ordered copy.
			return "applied (its position has not arrived yet)"
		}
		return fmt.Sprintf("applied #%d", e.GetSequence())
	case liaisonv1.EntryState_ENTRY_STATE_PENDING:
		if home == "" {
			return "pending (the case's home node has not applied it yet)"
		}
		return fmt.Sprintf("pending (the home node %s has not applied it yet)", home)
	case liaisonv1.EntryState_ENTRY_STATE_REJECTED:
		return "REJECTED: " + orDash(e.GetRejectionReason())
	}
	return enumName(e.GetState())
}

// entryDetail is the key/value view of one entry.
func entryDetail(w io.Writer, e *liaisonv1.CaseEntry, home string) {
	kv := func(k, v string) {
		if v != "" {
			row(w, k, v)
		}
	}
	kv("ID:", e.GetId())
	kv("CASE:", e.GetCaseId())
	kv("STATE:", entryState(e, home))
	kv("KIND:", enumName(e.GetKind()))
	kv("AGENCY:", e.GetAgency())
	kv("AUTHOR:", e.GetAuthor())
	kv("WRITTEN:", timestamp(e.GetCreateTime()))
	if e.GetApplyTime() != nil {
		kv("APPLIED:", timestamp(e.GetApplyTime()))
	}
	if r := e.GetRequest(); r != nil {
		kv("URGENCY:", enumName(r.GetUrgency()))
		kv("DUE:", timestamp(r.GetDueTime()))
		kv("OWED BY:", orDash(r.GetRequestedOf()))
		answered := "no"
		if r.GetAnswered() {
			answered = "by entry " + r.GetAnsweredByEntryId() + " at " + timestamp(r.GetAnswerTime())
		}
		kv("ANSWERED:", answered)
	}
	if r := e.GetResponse(); r != nil {
		kv("RESPONDS TO:", r.GetRequestEntryId())
	}
	if o := e.GetOutcome(); o != nil {
		kv("OUTCOME:", outcome(o))
	}
	for i, line := range strings.Split(e.GetText(), "\n") {
		row(w, onFirst(i, "TEXT:"), line)
	}
}

// shortAuthor is an author's SPIFFE ID without the trust domain
// ("analyst/alice"), which the agency column already gives.
//
// A partner's officer arrives as "<agency>/<role>/<pseudonym>" (their names
// stay on their node); the AGENCY column already names the agency.
func shortAuthor(id string) string {
	if rest, ok := strings.CutPrefix(id, "spiffe://"); ok {
		if _, path, ok := strings.Cut(rest, "/"); ok {
			return path
		}
	}
	if parts := strings.Split(id, "/"); len(parts) == 3 {
		return parts[1] + "/" + parts[2]
	}
	return id
}
