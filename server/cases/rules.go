package cases

// The rules of cases: who may change a case, what partners receive of it,
// and the rules every entry meets.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/persons"
	"github.com/liaison-exchange/liaison/server/records"
	"github.com/liaison-exchange/liaison/server/store"
)

// home refuses changes to a partner's case.
func (s *Server) home(c *liaisonv1.Case, action string) error {
	return records.HomeOnly(c, s.agency, resource(c.GetId()),
		"case %s is homed on %s's node; only %s can %s it (entries can be proposed with AddCaseEntry)", c.GetId(), c.GetOriginAgency(), c.GetOriginAgency(), action)
}

// ReplicaView is what a partner receives of a case: the case, shared with
// it alone as far as it can tell, listing only linked leads it holds.
func (s *Server) replicaView(tx *store.Tx, c *liaisonv1.Case, partner string) (*liaisonv1.Case, error) {
	v := proto.Clone(c).(*liaisonv1.Case)
	v.Etag = ""
	v.SharedWith = []string{partner}
	v.LinkedLeadIds = nil
	for _, id := range c.GetLinkedLeadIds() {
		l, err := tx.Lead(id)
		if errs.CodeOf(err) == errs.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		if l.GetOriginAgency() == partner || (l.GetOriginAgency() == s.agency && slices.Contains(l.GetReleasedTo(), partner)) {
			v.LinkedLeadIds = append(v.LinkedLeadIds, id)
		}
	}
	return v, nil
}

func (s *Server) sendCase(tx *store.Tx, c *liaisonv1.Case, partner string) error {
	v, err := s.replicaView(tx, c, partner)
	if err != nil {
		return err
	}
	_, err = tx.AppendOutbox(records.Upsert(liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE, partner, c, v))
	return err
}

func sendEntry(tx *store.Tx, e *liaisonv1.CaseEntry, partner string) error {
	_, err := tx.AppendOutbox(store.Outgoing{Receiver: partner, Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY,
		RecordID: e.GetId(), RecordVersion: e.GetSequence(), Payload: e})
	return err
}

func kindName(k liaisonv1.CaseEntryKind) string {
	return map[liaisonv1.CaseEntryKind]string{
		liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_NOTE: "note", liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST: "request",
		liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE: "response", liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_OUTCOME: "outcome",
	}[k]
}

// parties are the agencies of a case: its home and the partners it is
// shared with.
func parties(c *liaisonv1.Case) []string {
	return append([]string{c.GetOriginAgency()}, c.GetSharedWith()...)
}

// prepare completes a new entry (a request's deadline and debtor) and
// checks the rules every entry must meet, wherever it is written. The home
// node checks them again when it applies a proposal.
func (s *Server) prepare(tx *store.Tx, c *liaisonv1.Case, e *liaisonv1.CaseEntry) error {
	if c.GetStatus() == liaisonv1.CaseStatus_CASE_STATUS_CLOSED {
		return errs.Precondition("case.closed", resource(c.GetId()), "case %s is closed; entries can no longer be added", c.GetId())
	}
	switch e.GetKind() {
	case liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST:
		r := e.GetRequest()
		r.Answered, r.AnsweredByEntryId, r.AnswerTime = false, "", nil
		if r.GetRequestedOf() == "" {
			var others []string
			for _, a := range parties(c) {
				if a != e.GetAgency() {
					others = append(others, a)
				}
			}
			switch len(others) {
			case 0:
				return errs.Precondition("request.no_partner", resource(c.GetId()), "case %s is not shared with any partner; share it before requesting assistance", c.GetId())
			case 1:
				r.RequestedOf = others[0]
			default:
				return errs.Invalid("entry.request.requested_of", "the case is shared with several agencies (%v); name the one asked", others)
			}
		}
		if r.GetRequestedOf() == e.GetAgency() {
			return errs.Invalid("entry.request.requested_of", "an agency does not request assistance of itself")
		}
		if !slices.Contains(parties(c), r.GetRequestedOf()) {
			return errs.Invalid("entry.request.requested_of", "%q is not a party to case %s (parties: %v)", r.GetRequestedOf(), c.GetId(), parties(c))
		}
		written := e.GetCreateTime().AsTime()
		if r.GetDueTime() == nil {
			r.DueTime = timestamppb.New(written.Add(DefaultDeadline[r.GetUrgency()]))
		} else if !r.GetDueTime().AsTime().After(written) {
			return errs.Invalid("entry.request.due_time", "must be after the time the request is written (%s)", written.Format(time.RFC3339))
		}
	case liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE:
		req, err := tx.CaseEntry(e.GetResponse().GetRequestEntryId())
		if errs.CodeOf(err) == errs.NotFound || (err == nil && (req.GetCaseId() != c.GetId() || req.GetKind() != liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST)) {
			return errs.Precondition("response.request_not_found", resource(c.GetId()),
				"case %s has no request %s to answer", c.GetId(), e.GetResponse().GetRequestEntryId())
		}
		if err != nil {
			return err
		}
		switch {
		case req.GetState() == liaisonv1.EntryState_ENTRY_STATE_REJECTED:
			return errs.Precondition("response.request_not_found", resource(c.GetId()), "request %s was rejected by the case's home node", req.GetId())
		case req.GetRequest().GetAnswered():
			return errs.Precondition("request.closed", resource(c.GetId()), "request %s was already answered by entry %s", req.GetId(), req.GetRequest().GetAnsweredByEntryId())
		case req.GetRequest().GetRequestedOf() != e.GetAgency():
			return errs.Precondition("response.wrong_agency", resource(c.GetId()),
				"request %s is owed by %s; only %s can answer it", req.GetId(), req.GetRequest().GetRequestedOf(), req.GetRequest().GetRequestedOf())
		}
	}
	return nil
}

// applyHere orders an entry on the home node: it takes the case's next
// position, closes the request a response answers, and goes to every
// partner the case is shared with.
func (s *Server) applyHere(tx *store.Tx, c *liaisonv1.Case, e *liaisonv1.CaseEntry) error {
	if e.GetKind() == liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE {
		// A request not yet applied cannot be answered.
		req, err := tx.CaseEntry(e.GetResponse().GetRequestEntryId())
		if err != nil {
			return err
		}
		if req.GetState() != liaisonv1.EntryState_ENTRY_STATE_APPLIED {
			return errs.Precondition("request.pending", resource(c.GetId()), "request %s is not yet applied by the case's home node", req.GetId())
		}
	}
	seq, err := tx.NextCaseSequence(c.GetId())
	if err != nil {
		return err
	}
	e.Sequence, e.State, e.ApplyTime = seq, liaisonv1.EntryState_ENTRY_STATE_APPLIED, timestamppb.New(tx.Now())
	if err := tx.PutCaseEntry(e); err != nil {
		return err
	}
	if err := closeRequest(tx, e); err != nil {
		return err
	}
	for _, p := range c.GetSharedWith() {
		if err := sendEntry(tx, e, p); err != nil {
			return err
		}
	}
	return nil
}

// closeRequest marks the request a response answers as answered. Both nodes
// do it when they apply the response, so both close it. A response closes
// only a REQUEST of its own case.
func closeRequest(tx *store.Tx, e *liaisonv1.CaseEntry) error {
	if e.GetKind() != liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE {
		return nil
	}
	id := e.GetResponse().GetRequestEntryId()
	req, err := tx.CaseEntry(id)
	if errs.CodeOf(err) == errs.NotFound || (err == nil && (req.GetCaseId() != e.GetCaseId() || req.GetKind() != liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST)) {
		return errs.Precondition("response.request_not_found", resource(e.GetCaseId()), "case %s has no request %s to answer", e.GetCaseId(), id)
	}
	if err != nil {
		return err
	}
	r := req.GetRequest()
	r.Answered, r.AnsweredByEntryId, r.AnswerTime = true, e.GetId(), e.GetApplyTime()
	return tx.PutCaseEntry(req)
}

// mergedSubjects lists the persons of a case and of its linked leads, each
// person once, with where it appears.
func (s *Server) mergedSubjects(ctx context.Context, c *liaisonv1.Case) ([]*liaisonv1.CaseSubject, error) {
	var out []*liaisonv1.CaseSubject
	add := func(p *liaisonv1.Person, source string) {
		for _, cs := range out {
			if samePerson(cs.GetPerson(), p) {
				if !slices.Contains(cs.Sources, source) {
					cs.Sources = append(cs.Sources, source)
				}
				return
			}
		}
		out = append(out, &liaisonv1.CaseSubject{Person: p, Sources: []string{source}})
	}
	for _, p := range c.GetSubjects() {
		add(p, "case")
	}
	for _, id := range c.GetLinkedLeadIds() {
		l, err := s.store.Lead(ctx, id)
		if errs.CodeOf(err) == errs.NotFound {
			continue // a linked lead this node does not hold
		}
		if err != nil {
			return nil, err
		}
		for _, p := range l.GetSubjects() {
			add(p, "leads/"+id)
		}
	}
	return out, nil
}

// samePerson says whether two records name the same person: the same person
// id, a shared document number or phone number, or the same name words and
// the same known date of birth.
func samePerson(a, b *liaisonv1.Person) bool {
	if a.GetId() != "" && a.GetId() == b.GetId() {
		return true
	}
	for _, da := range a.GetDocuments() {
		for _, db := range b.GetDocuments() {
			if da.GetNumber() == db.GetNumber() {
				return true
			}
		}
	}
	for _, pa := range a.GetPhoneNumbers() {
		for _, pb := range b.GetPhoneNumbers() {
			if pa.GetNumber() == pb.GetNumber() {
				return true
			}
		}
	}
	da, db := a.GetDateOfBirth(), b.GetDateOfBirth()
	if da == nil || db == nil || !proto.Equal(da, db) {
		return false
	}
	for _, fa := range persons.NameForms(a) {
		for _, fb := range persons.NameForms(b) {
			if sameWords(fa.Words, fb.Words) {
				return true
			}
		}
	}
	return false
}

func sameWords(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func statusName(s liaisonv1.CaseStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "CASE_STATUS_"))
}

// normalize normalises every subject of a case.
func normalize(c *liaisonv1.Case) error {
	var bad []errs.FieldViolation
	for i, p := range c.GetSubjects() {
		bad = append(bad, persons.Normalize(p, fmt.Sprintf("case.subjects[%d]", i))...)
	}
	return errs.InvalidFields(bad)
}
