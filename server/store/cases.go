package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/gen/db"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
)

func caseBody(c *liaisonv1.Case) ([]byte, error) {
	cc := proto.Clone(c).(*liaisonv1.Case)
	cc.Etag = ""
	c.Etag = Etag(c.GetId(), c.GetVersion()) // the etag of the version written (not stored)
	return marshalDet.Marshal(cc)
}

// writeCaseSets keeps the share and link tables, the person index and the
// change feed in step with a case's body. Only this node's own cases fill
// the link table (which keeps leads from retention): a partner's case
// links by reference, in its body, and never pins what this node holds.
func (t *Tx) writeCaseSets(c *liaisonv1.Case, action string) error {
	if err := t.feed(liaisonv1.ChangeKind_CHANGE_KIND_CASE, c.GetId(), c.GetVersion(), c.GetOriginAgency(), action); err != nil {
		return err
	}
	for _, p := range c.GetSharedWith() {
		if err := t.q.AddCaseShare(t.ctx, db.AddCaseShareParams{CaseID: c.GetId(), Partner: p}); err != nil {
			return err
		}
	}
	if err := t.q.SetCaseLinks(t.ctx, c.GetId()); err != nil {
		return err
	}
	if c.GetOriginAgency() != t.s.opts.Agency {
		return t.IndexPersons(caseIndex(c))
	}
	for _, l := range c.GetLinkedLeadIds() {
		if err := t.q.AddCaseLink(t.ctx, db.AddCaseLinkParams{CaseID: c.GetId(), LeadID: l}); err != nil {
			return err
		}
	}
	return t.IndexPersons(caseIndex(c))
}

// InsertCase stores a new case (own, or a replica arriving).
func (t *Tx) InsertCase(c *liaisonv1.Case) error {
	body, err := caseBody(c)
	if err != nil {
		return err
	}
	if err := t.q.InsertCase(t.ctx, db.InsertCaseParams{
		ID: c.GetId(), OriginAgency: c.GetOriginAgency(), Status: int64(c.GetStatus()), CrimeMask: CrimeMask(c.GetCrimeAreas()),
		Version: c.GetVersion(), CreateTime: c.GetCreateTime().AsTime().UnixMicro(), UpdateTime: c.GetUpdateTime().AsTime().UnixMicro(), Body: body,
	}); err != nil {
		return err
	}
	return t.writeCaseSets(c, t.ownOr(c.GetOriginAgency(), "created", "replica"))
}

// ReplaceCase writes a new version of a case if the stored one is still
// prevVersion (else ABORTED).
func (t *Tx) ReplaceCase(c *liaisonv1.Case, prevVersion int64) error {
	body, err := caseBody(c)
	if err != nil {
		return err
	}
	n, err := t.q.UpdateCase(t.ctx, db.UpdateCaseParams{
		ID: c.GetId(), PrevVersion: prevVersion, Status: int64(c.GetStatus()), CrimeMask: CrimeMask(c.GetCrimeAreas()),
		Version: c.GetVersion(), UpdateTime: c.GetUpdateTime().AsTime().UnixMicro(), Body: body,
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.New(errs.Aborted, "case %s was changed concurrently; read it again and retry", c.GetId())
	}
	return t.writeCaseSets(c, t.ownOr(c.GetOriginAgency(), "updated", "replica"))
}

// OverwriteCase replaces a case whatever version is stored (drift repair),
// inserting it if absent.
func (t *Tx) OverwriteCase(c *liaisonv1.Case) error {
	body, err := caseBody(c)
	if err != nil {
		return err
	}
	n, err := t.q.OverwriteCase(t.ctx, db.OverwriteCaseParams{
		ID: c.GetId(), OriginAgency: c.GetOriginAgency(), Status: int64(c.GetStatus()), CrimeMask: CrimeMask(c.GetCrimeAreas()),
		Version: c.GetVersion(), UpdateTime: c.GetUpdateTime().AsTime().UnixMicro(), Body: body,
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return t.InsertCase(c)
	}
	return t.writeCaseSets(c, "repaired")
}

func decodeCase(id string, b []byte, err error) (*liaisonv1.Case, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no case %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	c := &liaisonv1.Case{}
	if err := proto.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("decode case %s: %w", id, err)
	}
	c.Etag = Etag(c.GetId(), c.GetVersion())
	return c, nil
}

// Case reads a case inside the transaction.
func (t *Tx) Case(id string) (*liaisonv1.Case, error) {
	b, err := t.q.GetCase(t.ctx, id)
	return decodeCase(id, b, err)
}

// Case reads a case.
func (s *Store) Case(ctx context.Context, id string) (*liaisonv1.Case, error) {
	b, err := s.rq.GetCase(ctx, id)
	return decodeCase(id, b, err)
}

// CaseFilter selects cases in ListCases.
type CaseFilter struct {
	Status       liaisonv1.CaseStatus
	CrimeArea    liaisonv1.CrimeArea
	OriginAgency string
	SharedWith   string
	UpdatedAfter time.Time
}

// ListCases returns up to limit cases older than beforeID, newest first.
func (s *Store) ListCases(ctx context.Context, f CaseFilter, beforeID string, limit int) ([]*liaisonv1.Case, error) {
	after := int64(-1 << 62)
	if !f.UpdatedAfter.IsZero() {
		after = f.UpdatedAfter.UnixMicro()
	}
	rows, err := s.rq.ListCases(ctx, db.ListCasesParams{
		Status: int64(f.Status), CrimeMask: CrimeMask([]liaisonv1.CrimeArea{f.CrimeArea}), OriginAgency: f.OriginAgency,
		SharedWith: f.SharedWith, UpdatedAfter: after, BeforeID: beforeID, PageLimit: int64(limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	out := make([]*liaisonv1.Case, 0, len(rows))
	for _, r := range rows {
		c, err := decodeCase(r.ID, r.Body, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CaseLink is a case that links a lead.
type CaseLink struct {
	CaseID string
	Status liaisonv1.CaseStatus
}

// CasesLinkingLead lists the cases that keep a lead from being purged:
// this node's own cases linking it.
func (t *Tx) CasesLinkingLead(leadID string) ([]CaseLink, error) {
	return casesLinkingLead(t.ctx, t.q, leadID, t.s.opts.Agency)
}

func casesLinkingLead(ctx context.Context, q *db.Queries, leadID, own string) ([]CaseLink, error) {
	rows, err := q.CasesLinkingLead(ctx, db.CasesLinkingLeadParams{LeadID: leadID, Own: own})
	if err != nil {
		return nil, fmt.Errorf("cases linking lead %s: %w", leadID, err)
	}
	out := make([]CaseLink, len(rows))
	for i, r := range rows {
		out[i] = CaseLink{CaseID: r.ID, Status: liaisonv1.CaseStatus(r.Status)}
	}
	return out, nil
}

// pendingKeyBase orders entries not yet ordered by the home node after
// every ordered one, by the time they were written.
const pendingKeyBase = int64(1) << 62

// EntrySortKey is the position of an entry in its case's list.
func EntrySortKey(e *liaisonv1.CaseEntry) int64 {
	if e.GetSequence() > 0 {
		return e.GetSequence()
	}
	return pendingKeyBase + e.GetCreateTime().AsTime().UnixMicro()
}

func entryRow(e *liaisonv1.CaseEntry) (requestedOf string, open int64, due int64) {
	if r := e.GetRequest(); e.GetKind() == liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST && r != nil {
		requestedOf = r.GetRequestedOf()
		due = r.GetDueTime().AsTime().UnixMicro()
		if e.GetState() == liaisonv1.EntryState_ENTRY_STATE_APPLIED && !r.GetAnswered() {
			open = 1
		}
	}
	return requestedOf, open, due
}

// PutCaseEntry inserts an entry or replaces the stored one with the same id.
func (t *Tx) PutCaseEntry(e *liaisonv1.CaseEntry) error {
	body, err := marshalDet.Marshal(e)
	if err != nil {
		return err
	}
	requestedOf, open, due := entryRow(e)
	if err := t.feed(liaisonv1.ChangeKind_CHANGE_KIND_CASE_ENTRY, e.GetId(), e.GetSequence(), e.GetAgency(), strings.ToLower(strings.TrimPrefix(e.GetState().String(), "ENTRY_STATE_"))); err != nil {
		return err
	}
	_, err = t.q.GetCaseEntry(t.ctx, e.GetId())
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return t.q.InsertCaseEntry(t.ctx, db.InsertCaseEntryParams{
			ID: e.GetId(), CaseID: e.GetCaseId(), Sequence: e.GetSequence(), SortKey: EntrySortKey(e), Kind: int64(e.GetKind()),
			State: int64(e.GetState()), RequestedOf: requestedOf, RequestOpen: open, DueTime: due,
			CreateTime: e.GetCreateTime().AsTime().UnixMicro(), Body: body,
		})
	case err != nil:
		return err
	}
	return t.q.UpdateCaseEntry(t.ctx, db.UpdateCaseEntryParams{
		ID: e.GetId(), Sequence: e.GetSequence(), SortKey: EntrySortKey(e), State: int64(e.GetState()), RequestOpen: open, Body: body,
	})
}

// CaseEntry reads an entry inside the transaction.
func (t *Tx) CaseEntry(id string) (*liaisonv1.CaseEntry, error) {
	b, err := t.q.GetCaseEntry(t.ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no case entry %s", id)
	}
	if err != nil {
		return nil, err
	}
	e := &liaisonv1.CaseEntry{}
	return e, proto.Unmarshal(b, e)
}

// NextCaseSequence is the position the next applied entry of a case gets.
func (t *Tx) NextCaseSequence(caseID string) (int64, error) {
	n, err := t.q.MaxCaseSequence(t.ctx, caseID)
	return n + 1, err
}

// AppliedCaseEntries lists a case's applied entries in order.
func (t *Tx) AppliedCaseEntries(caseID string) ([]*liaisonv1.CaseEntry, error) {
	rows, err := t.q.AppliedCaseEntries(t.ctx, caseID)
	if err != nil {
		return nil, err
	}
	out := make([]*liaisonv1.CaseEntry, len(rows))
	for i, b := range rows {
		out[i] = &liaisonv1.CaseEntry{}
		if err := proto.Unmarshal(b, out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ListCaseEntries lists a case's entries after position (afterKey,
// afterID), in the home node's order, pending ones last.
func (s *Store) ListCaseEntries(ctx context.Context, caseID string, afterKey int64, afterID string, limit int) ([]*liaisonv1.CaseEntry, []int64, error) {
	rows, err := s.rq.ListCaseEntries(ctx, db.ListCaseEntriesParams{CaseID: caseID, AfterKey: afterKey, AfterID: afterID, PageLimit: int64(limit)})
	if err != nil {
		return nil, nil, fmt.Errorf("list case entries: %w", err)
	}
	out := make([]*liaisonv1.CaseEntry, len(rows))
	keys := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = &liaisonv1.CaseEntry{}
		if err := proto.Unmarshal(r.Body, out[i]); err != nil {
			return nil, nil, err
		}
		keys[i] = r.SortKey
	}
	return out, keys, nil
}

// CaseEntryCounts counts a case's entries and its open requests.
func (s *Store) CaseEntryCounts(ctx context.Context, caseID string) (entries, openRequests int64, err error) {
	r, err := s.rq.CountCaseEntries(ctx, caseID)
	return r.Entries, r.OpenRequests, err
}

// OpenRequest is an open request with its case.
type OpenRequest struct {
	Entry *liaisonv1.CaseEntry
	Case  *liaisonv1.Case
}

// OpenRequests lists open requests owed by agency (or, with owedBy false,
// owed by others), by due time.
func (s *Store) OpenRequests(ctx context.Context, agency string, owedBy bool, limit int) ([]OpenRequest, error) {
	type row struct{ body, caseBody []byte }
	var rows []row
	if owedBy {
		rs, err := s.rq.OpenRequestsOf(ctx, db.OpenRequestsOfParams{Agency: agency, PageLimit: int64(limit)})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			rows = append(rows, row{r.Body, r.CaseBody})
		}
	} else {
		rs, err := s.rq.OpenRequestsNotOf(ctx, db.OpenRequestsNotOfParams{Agency: agency, PageLimit: int64(limit)})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			rows = append(rows, row{r.Body, r.CaseBody})
		}
	}
	out := make([]OpenRequest, len(rows))
	for i, r := range rows {
		out[i] = OpenRequest{Entry: &liaisonv1.CaseEntry{}, Case: &liaisonv1.Case{}}
		if err := proto.Unmarshal(r.body, out[i].Entry); err != nil {
			return nil, err
		}
		if err := proto.Unmarshal(r.caseBody, out[i].Case); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CaseReplicas reads, in one snapshot, the last sequence applied from
// origin and origin's cases held here with ids in [fromID, toID).
func (s *Store) CaseReplicas(ctx context.Context, origin, fromID, toID string, limit int) (int64, []DigestItem, error) {
	return replicas(ctx, s, origin, "case", func(q *db.Queries) ([]DigestItem, error) {
		rows, err := q.CaseReplicaItems(ctx, db.CaseReplicaItemsParams{OriginAgency: origin, FromID: fromID, ToID: toID, PageLimit: int64(limit)})
		out := make([]DigestItem, len(rows))
		for i, r := range rows {
			out[i] = DigestItem{ID: r.ID, Version: r.Version}
		}
		return out, err
	})
}
