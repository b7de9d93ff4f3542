package leads

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/store"
)

// importMethod keys the request ids of imported items. They are kept apart
// from CreateLead's: an import's ids are derived from the content of its
// lines, a create's are chosen per call.
const importMethod = liaisonv1.LeadService_ImportLeads_FullMethodName

// ImportLeads implements liaisonv1.LeadServiceServer.
//
// Each item is checked on its own, outside the writer: its field rules,
// then normalisation. The items that pass are created together in one
// store.Write — one savepoint of a group commit for the whole request
// rather than a commit round trip per lead. Nothing in that write can fail
// because of one item: a request id reused with another payload is found
// before anything is written for it, so it rejects that item alone; any
// other failure is the node's and fails the call.
//
// The call is one audit event (resource "leads") whose detail counts what
// became of the items; each created lead carries its creator and creation
// time, and is in the change feed.
func (s *Server) ImportLeads(ctx context.Context, req *liaisonv1.ImportLeadsRequest) (*liaisonv1.ImportLeadsResponse, error) {
	items := req.GetItems()
	results := make([]*liaisonv1.ImportResult, len(items))
	type accepted struct {
		result    *liaisonv1.ImportResult
		requestID string
		lead      *liaisonv1.Lead
		hash      []byte
	}
	var todo []accepted
	for i, it := range items {
		results[i] = &liaisonv1.ImportResult{Line: it.GetLine()}
		lead, hash, err := s.prepareImport(it.GetLead())
		if err != nil {
			if errs.CodeOf(err) == errs.Internal {
				return nil, err
			}
			reject(results[i], err)
			continue
		}
		todo = append(todo, accepted{results[i], it.GetRequestId(), lead, hash})
	}
	audit.SetResource(ctx, "leads")
	// Said now in case nothing passed (then there is no write, and the
	// interceptor records the call), said again once the write knows more.
	before := importDetail(results)
	audit.SetDetail(ctx, before)
	if len(todo) == 0 {
		return &liaisonv1.ImportLeadsResponse{Results: results}, nil
	}
	caller, _ := identity.FromContext(ctx)
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		for _, a := range todo {
			prior, err := tx.SeenRequest(importMethod, a.requestID, a.hash)
			switch {
			case errs.CodeOf(err) == errs.AlreadyExists:
				reject(a.result, err)
				continue
			case err != nil:
				return err
			case prior != "":
				a.result.Outcome, a.result.LeadId = liaisonv1.ImportOutcome_IMPORT_OUTCOME_ALREADY_IMPORTED, prior
				continue
			}
			if err := s.insertNew(tx, a.lead, caller.ID, importMethod, a.requestID, a.hash); err != nil {
				return err
			}
			a.result.Outcome, a.result.LeadId = liaisonv1.ImportOutcome_IMPORT_OUTCOME_CREATED, a.lead.GetId()
		}
		audit.SetDetail(ctx, importDetail(results))
		return nil
	})
	if err != nil {
		audit.SetDetail(ctx, before) // nothing of the write stands
		return nil, err
	}
	return &liaisonv1.ImportLeadsResponse{Results: results}, nil
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

// insertNew stores lead — checked and normalised — as a new draft of this
// node created by createdBy, and remembers requestID (unless empty) as
// the request of method that created it. The lead gets its id first, so
// the caller can name it even if the insert fails.
func (s *Server) insertNew(tx *store.Tx, lead *liaisonv1.Lead, createdBy, method, requestID string, hash []byte) error {
	now := timestamppb.New(tx.Now())
	lead.Id = ids.New()
	lead.OriginAgency = s.agency
	lead.Version = 1
	lead.CreateTime, lead.UpdateTime = now, now
	lead.Status = liaisonv1.LeadStatus_LEAD_STATUS_DRAFT
	lead.ReleasedTo = nil
	lead.CreatedBy = createdBy
	lead.WithdrawTime, lead.WithdrawReason = nil, ""
	if lead.ReviewDate == nil {
		d := tx.Now().Add(s.reviewPeriod(lead.GetCrimeAreas()))
		lead.ReviewDate = &liaisonv1.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}
	}
	if err := tx.InsertLead(lead); err != nil {
		return err
	}
	if requestID == "" {
		return nil
	}
	return tx.RememberRequest(method, requestID, hash, lead.Id)
}
