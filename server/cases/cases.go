// Package cases implements CaseService: joint case files homed on the
// node of the agency that opened them, shared with partners, and an
// append-only list of entries both agencies add to. The home node is the
// only writer of a case and the only one that orders its entries: an entry
// written on a partner's node travels to the home node as a proposal, which
// the home node applies (and sends back, ordered) or rejects with a reason.
package cases

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/paging"
	"github.com/liaison-exchange/liaison/server/records"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/validate"
)

// Default deadlines of requests for assistance, by urgency: the limits of
// the EU directive on information exchange between law enforcement
// authorities.
var DefaultDeadline = map[liaisonv1.RequestUrgency]time.Duration{
	liaisonv1.RequestUrgency_REQUEST_URGENCY_URGENT: 8 * time.Hour,
	liaisonv1.RequestUrgency_REQUEST_URGENCY_HIGH:   3 * 24 * time.Hour,
	liaisonv1.RequestUrgency_REQUEST_URGENCY_NORMAL: 7 * 24 * time.Hour,
}

// Server implements liaisonv1.CaseServiceServer.
type Server struct {
	liaisonv1.UnimplementedCaseServiceServer

	store     *store.Store
	validator *validate.Validator
	agency    string
	partners  map[string]bool
	now       func() time.Time
	kind      *records.Kind[*liaisonv1.Case]
}

var _ liaisonv1.CaseServiceServer = (*Server)(nil)

// New returns the case service of the node of agency.
func New(s *store.Store, v *validate.Validator, agency string, partners []string) *Server {
	p := map[string]bool{}
	for _, a := range partners {
		p[a] = true
	}
	srv := &Server{store: s, validator: v, agency: agency, partners: p, now: time.Now}
	srv.kind = &records.Kind[*liaisonv1.Case]{
		Store:   s,
		Read:    (*store.Tx).Case,
		NotHome: srv.home,
		Save: func(tx *store.Tx, next, cur *liaisonv1.Case) error {
			return tx.ReplaceCase(next, cur.GetVersion())
		},
		Share: func(tx *store.Tx, next, _ *liaisonv1.Case) error {
			for _, p := range next.GetSharedWith() {
				if err := srv.sendCase(tx, next, p); err != nil {
					return err
				}
			}
			return nil
		},
	}
	return srv
}

func resource(id string) string { return "cases/" + id }

// CreateCase implements liaisonv1.CaseServiceServer.
func (s *Server) CreateCase(ctx context.Context, req *liaisonv1.CreateCaseRequest) (*liaisonv1.CreateCaseResponse, error) {
	r, err := records.NewRequest(liaisonv1.CaseService_CreateCase_FullMethodName, req.GetRequestId(), req.GetCase())
	if err != nil {
		return nil, err
	}
	c := proto.Clone(req.GetCase()).(*liaisonv1.Case)
	if c.GetStatus() == liaisonv1.CaseStatus_CASE_STATUS_CLOSED {
		return nil, errs.Invalid("case.status", "a case is opened OPEN, ACTIVE or SUSPENDED; CloseCase closes it")
	}
	if err := normalize(c); err != nil {
		return nil, err
	}
	caller, _ := identity.FromContext(ctx)
	out, err := records.Create(ctx, s.store, r, func(tx *store.Tx, prior string) (*liaisonv1.Case, error) {
		audit.SetResource(ctx, resource(prior))
		return tx.Case(prior)
	}, func(tx *store.Tx) (*liaisonv1.Case, error) {
		records.Born(c, s.agency, tx.Now())
		if c.Status == liaisonv1.CaseStatus_CASE_STATUS_UNSPECIFIED {
			c.Status = liaisonv1.CaseStatus_CASE_STATUS_OPEN
		}
		c.LinkedLeadIds, c.SharedWith, c.CreatedBy, c.CloseTime, c.CloseReason = nil, nil, caller.ID, nil, ""
		audit.SetResource(ctx, resource(c.Id))
		return c, tx.InsertCase(c)
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.CreateCaseResponse{Case: out}, nil
}

// GetCase implements liaisonv1.CaseServiceServer.
func (s *Server) GetCase(ctx context.Context, req *liaisonv1.GetCaseRequest) (*liaisonv1.GetCaseResponse, error) {
	c, err := s.store.Case(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	subjects, err := s.mergedSubjects(ctx, c)
	if err != nil {
		return nil, err
	}
	entries, open, err := s.store.CaseEntryCounts(ctx, c.GetId())
	if err != nil {
		return nil, err
	}
	return &liaisonv1.GetCaseResponse{Case: c, Subjects: subjects, EntryCount: entries, OpenRequestCount: open}, nil
}

// ListCases implements liaisonv1.CaseServiceServer.
func (s *Server) ListCases(ctx context.Context, req *liaisonv1.ListCasesRequest) (*liaisonv1.ListCasesResponse, error) {
	f := store.CaseFilter{Status: req.GetStatus(), CrimeArea: req.GetCrimeArea(), OriginAgency: req.GetOriginAgency(), SharedWith: req.GetSharedWith()}
	if req.GetUpdatedAfter() != nil {
		f.UpdatedAfter = req.GetUpdatedAfter().AsTime()
	}
	page, err := records.NewPage(req.GetPageToken(), req.GetPageSize(), paging.Fingerprint(f.Status, f.CrimeArea, f.OriginAgency, f.SharedWith, f.UpdatedAfter.UnixMicro()))
	if err != nil {
		return nil, err
	}
	audit.SetResource(ctx, "cases")
	audit.SetDetail(ctx, fmt.Sprintf("status=%s crime_area=%s origin=%q shared_with=%q", f.Status, f.CrimeArea, f.OriginAgency, f.SharedWith))
	cs, err := s.store.ListCases(ctx, f, page.After, page.Size+1)
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.ListCasesResponse{}
	cs, resp.NextPageToken = records.Cut(page, cs)
	resp.Cases = cs
	audit.SetRecordsOf(ctx, cs)
	return resp, nil
}

// UpdateCase implements liaisonv1.CaseServiceServer.
func (s *Server) UpdateCase(ctx context.Context, req *liaisonv1.UpdateCaseRequest) (*liaisonv1.UpdateCaseResponse, error) {
	patch := req.GetCase()
	paths := req.GetUpdateMask().GetPaths()
	bad := records.CheckUpdate("case", patch, req, paths)
	if slices.Contains(paths, "status") && patch.GetStatus() == liaisonv1.CaseStatus_CASE_STATUS_CLOSED {
		bad = append(bad, errs.FieldViolation{Field: "case.status", Description: "CloseCase closes a case"})
	}
	if err := errs.InvalidFields(bad); err != nil {
		return nil, err
	}
	audit.SetResource(ctx, resource(patch.GetId()))
	audit.SetDetail(ctx, fmt.Sprintf("fields=%v", paths))
	out, err := s.change(ctx, patch.GetId(), func(tx *store.Tx, cur *liaisonv1.Case) (*liaisonv1.Case, error) {
		if err := records.CheckEtag("case", cur, patch.GetEtag()); err != nil {
			return nil, err
		}
		if slices.Contains(paths, "status") && cur.GetStatus() == liaisonv1.CaseStatus_CASE_STATUS_CLOSED {
			return nil, errs.Precondition("case.closed", resource(cur.GetId()), "case %s is closed; ReopenCase reopens it", cur.GetId())
		}
		merged := records.Merge(cur, patch, paths)
		if merged.GetStatus() == liaisonv1.CaseStatus_CASE_STATUS_UNSPECIFIED {
			merged.Status = cur.GetStatus()
		}
		if err := s.validator.Validate(merged, "case"); err != nil {
			return nil, err
		}
		return merged, normalize(merged)
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.UpdateCaseResponse{Case: out}, nil
}

// ShareCase implements liaisonv1.CaseServiceServer.
func (s *Server) ShareCase(ctx context.Context, req *liaisonv1.ShareCaseRequest) (*liaisonv1.ShareCaseResponse, error) {
	if err := records.CheckPartners(s.partners, req.GetPartners()); err != nil {
		return nil, err
	}
	audit.SetDetail(ctx, fmt.Sprintf("partners=%v", req.GetPartners()))
	var added []string
	out, err := s.change(ctx, req.GetId(), func(tx *store.Tx, cur *liaisonv1.Case) (*liaisonv1.Case, error) {
		added = nil
		for _, p := range req.GetPartners() {
			if !slices.Contains(cur.GetSharedWith(), p) {
				added = append(added, p)
			}
		}
		newContact := req.GetContact() != nil && !proto.Equal(req.GetContact(), cur.GetContact())
		if len(added) == 0 && !newContact {
			return nil, nil
		}
		next := proto.Clone(cur).(*liaisonv1.Case)
		if newContact {
			next.Contact = req.GetContact()
		}
		next.SharedWith = append(next.SharedWith, added...)
		slices.Sort(next.SharedWith)
		return next, nil
	}, func(tx *store.Tx, c *liaisonv1.Case) error {
		// A new partner receives every entry applied so far, in order,
		// after the case itself.
		entries, err := tx.AppliedCaseEntries(c.GetId())
		if err != nil {
			return err
		}
		for _, p := range added {
			for _, e := range entries {
				if err := sendEntry(tx, e, p); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.ShareCaseResponse{Case: out}, nil
}

// LinkLead implements liaisonv1.CaseServiceServer.
func (s *Server) LinkLead(ctx context.Context, req *liaisonv1.LinkLeadRequest) (*liaisonv1.LinkLeadResponse, error) {
	audit.SetResource(ctx, resource(req.GetCaseId()))
	audit.SetDetail(ctx, "lead "+req.GetLeadId())
	out, err := s.change(ctx, req.GetCaseId(), func(tx *store.Tx, cur *liaisonv1.Case) (*liaisonv1.Case, error) {
		l, err := tx.Lead(req.GetLeadId())
		if err != nil {
			return nil, err
		}
		if l.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
			return nil, errs.Precondition("lead.withdrawn", "leads/"+l.GetId(), "lead %s was withdrawn and cannot be linked", l.GetId())
		}
		if slices.Contains(cur.GetLinkedLeadIds(), l.GetId()) {
			return nil, nil
		}
		next := proto.Clone(cur).(*liaisonv1.Case)
		next.LinkedLeadIds = append(next.LinkedLeadIds, l.GetId())
		return next, nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.LinkLeadResponse{Case: out}, nil
}

// UnlinkLead implements liaisonv1.CaseServiceServer.
func (s *Server) UnlinkLead(ctx context.Context, req *liaisonv1.UnlinkLeadRequest) (*liaisonv1.UnlinkLeadResponse, error) {
	audit.SetResource(ctx, resource(req.GetCaseId()))
	audit.SetDetail(ctx, "lead "+req.GetLeadId())
	out, err := s.change(ctx, req.GetCaseId(), func(tx *store.Tx, cur *liaisonv1.Case) (*liaisonv1.Case, error) {
		i := slices.Index(cur.GetLinkedLeadIds(), req.GetLeadId())
		if i < 0 {
			return nil, errs.NotFoundf("lead %s is not linked to case %s", req.GetLeadId(), cur.GetId())
		}
		next := proto.Clone(cur).(*liaisonv1.Case)
		next.LinkedLeadIds = slices.Delete(next.LinkedLeadIds, i, i+1)
		return next, nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.UnlinkLeadResponse{Case: out}, nil
}

// CloseCase implements liaisonv1.CaseServiceServer.
func (s *Server) CloseCase(ctx context.Context, req *liaisonv1.CloseCaseRequest) (*liaisonv1.CloseCaseResponse, error) {
	audit.SetDetail(ctx, "reason: "+req.GetReason())
	out, err := s.change(ctx, req.GetId(), func(tx *store.Tx, cur *liaisonv1.Case) (*liaisonv1.Case, error) {
		if cur.GetStatus() == liaisonv1.CaseStatus_CASE_STATUS_CLOSED {
			return nil, errs.Precondition("case.closed", resource(cur.GetId()), "case %s is already closed", cur.GetId())
		}
		next := proto.Clone(cur).(*liaisonv1.Case)
		next.Status, next.CloseTime, next.CloseReason = liaisonv1.CaseStatus_CASE_STATUS_CLOSED, timestamppb.New(tx.Now()), req.GetReason()
		return next, nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.CloseCaseResponse{Case: out}, nil
}

// ReopenCase implements liaisonv1.CaseServiceServer.
func (s *Server) ReopenCase(ctx context.Context, req *liaisonv1.ReopenCaseRequest) (*liaisonv1.ReopenCaseResponse, error) {
	audit.SetDetail(ctx, "reason: "+req.GetReason())
	out, err := s.change(ctx, req.GetId(), func(tx *store.Tx, cur *liaisonv1.Case) (*liaisonv1.Case, error) {
		if cur.GetStatus() != liaisonv1.CaseStatus_CASE_STATUS_CLOSED {
			return nil, errs.Precondition("case.not_closed", resource(cur.GetId()), "case %s is %s, not closed", cur.GetId(), statusName(cur.GetStatus()))
		}
		next := proto.Clone(cur).(*liaisonv1.Case)
		next.Status, next.CloseTime, next.CloseReason = liaisonv1.CaseStatus_CASE_STATUS_OPEN, nil, ""
		return next, nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.ReopenCaseResponse{Case: out}, nil
}

// AddCaseEntry implements liaisonv1.CaseServiceServer.
func (s *Server) AddCaseEntry(ctx context.Context, req *liaisonv1.AddCaseEntryRequest) (*liaisonv1.AddCaseEntryResponse, error) {
	r, err := records.NewRequest(liaisonv1.CaseService_AddCaseEntry_FullMethodName, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	caller, _ := identity.FromContext(ctx)
	audit.SetResource(ctx, resource(req.GetCaseId()))
	out, err := records.Create(ctx, s.store, r, (*store.Tx).CaseEntry, func(tx *store.Tx) (*liaisonv1.CaseEntry, error) {
		c, err := tx.Case(req.GetCaseId())
		if err != nil {
			return nil, err
		}
		e := proto.Clone(req.GetEntry()).(*liaisonv1.CaseEntry)
		e.Id = ids.New()
		e.CaseId, e.Agency, e.Author = c.GetId(), s.agency, caller.ID
		e.CreateTime, e.ApplyTime, e.Sequence, e.RejectionReason = timestamppb.New(tx.Now()), nil, 0, ""
		if err := s.prepare(tx, c, e); err != nil {
			return nil, err
		}
		audit.SetDetail(ctx, fmt.Sprintf("entry %s (%s)", e.GetId(), kindName(e.GetKind())))
		if c.GetOriginAgency() == s.agency {
			return e, s.applyHere(tx, c, e)
		}
		// A partner's case: the entry is a proposal to its home node.
		e.State = liaisonv1.EntryState_ENTRY_STATE_PENDING
		if err := tx.PutCaseEntry(e); err != nil {
			return nil, err
		}
		_, err = tx.AppendOutbox(store.Outgoing{Receiver: c.GetOriginAgency(), Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY_PROPOSAL,
			RecordID: e.GetId(), RecordVersion: 1, Payload: e})
		return e, err
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.AddCaseEntryResponse{Entry: out}, nil
}

// ListCaseEntries implements liaisonv1.CaseServiceServer.
func (s *Server) ListCaseEntries(ctx context.Context, req *liaisonv1.ListCaseEntriesRequest) (*liaisonv1.ListCaseEntriesResponse, error) {
	audit.SetResource(ctx, resource(req.GetCaseId()))
	if _, err := s.store.Case(ctx, req.GetCaseId()); err != nil {
		return nil, err
	}
	fp := paging.Fingerprint(req.GetCaseId())
	after, err := paging.Decode(req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	afterKey, afterID := int64(-1), ""
	if after != "" {
		k, id, ok := strings.Cut(after, "/")
		n, perr := strconv.ParseInt(k, 10, 64)
		if !ok || perr != nil {
			return nil, errs.Invalid("page_token", "is not a token this service issued")
		}
		afterKey, afterID = n, id
	}
	size := paging.Size(req.GetPageSize())
	entries, keys, err := s.store.ListCaseEntries(ctx, req.GetCaseId(), afterKey, afterID, size+1)
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.ListCaseEntriesResponse{}
	if len(entries) > size {
		entries = entries[:size]
		resp.NextPageToken = paging.Encode(fmt.Sprintf("%d/%s", keys[size-1], entries[size-1].GetId()), fp)
	}
	resp.Entries = entries
	audit.SetRecordsOf(ctx, entries) // the case is the resource
	return resp, nil
}

// ListOpenRequests implements liaisonv1.CaseServiceServer.
func (s *Server) ListOpenRequests(ctx context.Context, req *liaisonv1.ListOpenRequestsRequest) (*liaisonv1.ListOpenRequestsResponse, error) {
	owedByUs := req.GetDirection() != liaisonv1.RequestDirection_REQUEST_DIRECTION_OWED_TO_US
	audit.SetResource(ctx, "cases")
	audit.SetDetail(ctx, "open requests, direction "+req.GetDirection().String())
	rs, err := s.store.OpenRequests(ctx, s.agency, owedByUs, paging.Size(req.GetPageSize()))
	if err != nil {
		return nil, err
	}
	now := s.now()
	resp := &liaisonv1.ListOpenRequestsResponse{}
	for _, r := range rs {
		if !owedByUs && r.Entry.GetAgency() != s.agency {
			continue // owed by someone else to someone else
		}
		due := r.Entry.GetRequest().GetDueTime().AsTime()
		resp.Requests = append(resp.Requests, &liaisonv1.OpenRequest{
			Entry: r.Entry, CaseId: r.Case.GetId(), CaseTitle: r.Case.GetTitle(), CaseOriginAgency: r.Case.GetOriginAgency(),
			OpenFor: durationpb.New(now.Sub(r.Entry.GetCreateTime().AsTime()).Round(time.Second)), Overdue: now.After(due),
		})
	}
	// By due time, earliest first: the overdue ones, most overdue first,
	// then the rest.
	slices.SortStableFunc(resp.Requests, func(a, b *liaisonv1.OpenRequest) int {
		return a.GetEntry().GetRequest().GetDueTime().AsTime().Compare(b.GetEntry().GetRequest().GetDueTime().AsTime())
	})
	// Each request and the case it is part of (whose title it shows).
	var seen []string
	for _, r := range resp.Requests {
		seen = append(seen, r.GetEntry().GetId(), r.GetCaseId())
	}
	audit.SetRecords(ctx, seen)
	return resp, nil
}

// change applies fn to the current version of an own case, stores the
// result as the next version and sends it to every partner it is shared
// with, all in one transaction; then, if given, after runs in it too.
func (s *Server) change(ctx context.Context, id string, fn func(*store.Tx, *liaisonv1.Case) (*liaisonv1.Case, error), after ...func(*store.Tx, *liaisonv1.Case) error) (*liaisonv1.Case, error) {
	c := records.Change[*liaisonv1.Case]{ID: id, Action: "change", Apply: fn}
	if len(after) > 0 {
		c.After = after[0]
	}
	return s.kind.Change(ctx, c)
}
