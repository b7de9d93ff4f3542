package leads

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/handling"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/persons"
	"github.com/liaison-exchange/liaison/server/records"
	"github.com/liaison-exchange/liaison/server/store"
)

// The rules of leads: what a new lead is, who may change one and when,
// what partners receive of it, and how its content is deleted.

// reviewPeriod is how long a lead of these crime areas is kept before
// review: the longest configured for any of them, else the default.
func (s *Server) reviewPeriod(areas []liaisonv1.CrimeArea) time.Duration {
	var d time.Duration
	for _, a := range areas {
		d = max(d, s.reviewByArea[a])
	}
	if d == 0 {
		return s.reviewAfter
	}
	return d
}

func resource(id string) string { return "leads/" + id }

// insertNew stores lead — checked and normalised — as a new draft of this
// node created by createdBy. The lead gets its id first, so the caller
// can name it even if the insert fails.
func (s *Server) insertNew(tx *store.Tx, lead *liaisonv1.Lead, createdBy string) error {
	records.Born(lead, s.agency, tx.Now())
	lead.Status = liaisonv1.LeadStatus_LEAD_STATUS_DRAFT
	lead.ReleasedTo = nil
	lead.CreatedBy = createdBy
	lead.WithdrawTime, lead.WithdrawReason = nil, ""
	if lead.ReviewDate == nil {
		d := tx.Now().Add(s.reviewPeriod(lead.GetCrimeAreas()))
		lead.ReviewDate = &liaisonv1.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}
	}
	return tx.InsertLead(lead)
}

// notHome refuses action on a partner's lead.
func (s *Server) notHome(l *liaisonv1.Lead, action string) error {
	return records.HomeOnly(l, s.agency, resource(l.GetId()),
		"lead %s belongs to %s; only %s's node can %s it", l.GetId(), l.GetOriginAgency(), l.GetOriginAgency(), action)
}

// live refuses action on a withdrawn lead.
func live(l *liaisonv1.Lead, action string) error {
	if l.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
		return errs.Precondition("lead.withdrawn", resource(l.GetId()), "lead %s is withdrawn and can no longer %s", l.GetId(), map[string]string{
			"update": "be updated", "release": "be released", "withdraw": "be withdrawn again",
		}[action])
	}
	return nil
}

// sendToPartners writes the new version of a released lead to the outbox
// of each partner, in the same transaction as the change.
func sendToPartners(tx *store.Tx, l *liaisonv1.Lead, partners []string) error {
	for _, p := range partners {
		if _, err := tx.AppendOutbox(records.Upsert(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, p, l, ReplicaView(l, p))); err != nil {
			return err
		}
	}
	return nil
}

// ReplicaView is what a partner receives of a lead: the lead as it is,
// except that it does not learn which other partners hold it.
func ReplicaView(l *liaisonv1.Lead, partner string) *liaisonv1.Lead {
	c := proto.Clone(l).(*liaisonv1.Lead)
	c.Etag = ""
	c.ReleasedTo = []string{partner}
	c.Restriction = nil // computed where the record is served, never sent
	return c
}

// DeleteContent deletes the content of cur, an own lead, in tx: the lead
// is kept as a tombstone (id, origin, review date; status withdrawn, next
// version; the person index and the change feed follow), and every
// partner it was released to is sent a tombstone, as for a withdrawal.
// It returns the tombstone.
func DeleteContent(tx *store.Tx, cur *liaisonv1.Lead) (*liaisonv1.Lead, error) {
	now := timestamppb.New(tx.Now())
	gone := &liaisonv1.Lead{
		Id: cur.GetId(), OriginAgency: cur.GetOriginAgency(), Status: liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN,
		Version: cur.GetVersion() + 1, UpdateTime: now, ReviewDate: cur.GetReviewDate(),
	}
	if err := tx.DeleteLeadContent(gone, cur.GetVersion()); err != nil {
		return nil, err
	}
	// The same tombstone a withdrawal sends: the partner deletes its copy
	// and the content of the envelopes it received, and receipts it.
	return gone, records.ShareTombstone(tx, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, gone, now, cur.GetReleasedTo())
}

// normalize normalises every subject of a lead, and drops a restriction
// a caller sent (it is output only, computed when a lead is served).
func normalize(l *liaisonv1.Lead) error {
	l.Restriction = nil
	var bad []errs.FieldViolation
	for i, p := range l.GetSubjects() {
		bad = append(bad, persons.Normalize(p, fmt.Sprintf("lead.subjects[%d]", i))...)
	}
	return errs.InvalidFields(bad)
}

// prepareImport checks an item's lead as CreateLead's request is checked
// (its field rules, with paths under "lead"), and returns it normalised,
// with the fingerprint of the lead as sent for the idempotency check.
func (s *Server) prepareImport(l *liaisonv1.Lead) (*liaisonv1.Lead, []byte, error) {
	if l == nil {
		// Worded as protovalidate words CreateLeadRequest's required lead.
		return nil, nil, errs.InvalidFields([]errs.FieldViolation{{Field: "lead", Description: "value is required [required]"}})
	}
	if err := s.validator.Validate(l, "lead"); err != nil {
		return nil, nil, err
	}
	hash, err := store.RequestHash(l)
	if err != nil {
		return nil, nil, err
	}
	lead := proto.Clone(l).(*liaisonv1.Lead)
	if err := normalize(lead); err != nil {
		return nil, nil, err
	}
	return lead, hash, nil
}

// reject records err, an error the caller caused, as the result of an item.
func reject(r *liaisonv1.ImportResult, err error) {
	r.Outcome = liaisonv1.ImportOutcome_IMPORT_OUTCOME_REJECTED
	r.Code = errs.CodeName(err)
	r.Message = err.Error()
	var e *errs.Error
	if errors.As(err, &e) {
		for _, v := range e.FieldViolations {
			r.FieldErrors = append(r.FieldErrors, &liaisonv1.FieldError{Field: v.Field, Description: v.Description})
		}
	}
}

// importDetail is the audit detail of an import: "created 3, already
// imported 1, rejected 2 of 6 (lines 1-6)". Items not yet decided count
// as neither.
func importDetail(results []*liaisonv1.ImportResult) string {
	var created, already, rejected int
	var first, last int64
	for i, r := range results {
		switch r.GetOutcome() {
		case liaisonv1.ImportOutcome_IMPORT_OUTCOME_CREATED:
			created++
		case liaisonv1.ImportOutcome_IMPORT_OUTCOME_ALREADY_IMPORTED:
			already++
		case liaisonv1.ImportOutcome_IMPORT_OUTCOME_REJECTED:
			rejected++
		}
		if i == 0 || r.GetLine() < first {
			first = r.GetLine()
		}
		last = max(last, r.GetLine())
	}
	d := fmt.Sprintf("created %d, already imported %d, rejected %d of %d", created, already, rejected, len(results))
	switch {
	case last == 0:
	case first == last:
		d += fmt.Sprintf(" (line %d)", first)
	default:
		d += fmt.Sprintf(" (lines %d-%d)", first, last)
	}
	return d
}

// exportBlock says why a lead may not be exported ("" if it may): the
// handling policy's answer for ExportLeads. It attaches the lead's
// restriction, so that what is exported carries its code.
func (s *Server) exportBlock(ctx context.Context, l *liaisonv1.Lead) (string, error) {
	caller, _ := identity.FromContext(ctx)
	why, err := s.policy.Block(ctx, handling.ExportLeads, caller, l)
	if err != nil || why != "" {
		return why, err
	}
	_, err = s.policy.Serve(ctx, handling.ExportLeads, caller, l)
	return "", err
}

// HandlingName is the short name of a handling code ("H2").
func HandlingName(c liaisonv1.HandlingCode) string { return handling.Name(c) }

func idsOf(leads []*liaisonv1.Lead) []string {
	out := make([]string, len(leads))
	for i, l := range leads {
		out[i] = l.GetId()
	}
	return out
}
