// Package leads implements LeadService: smuggler leads created on their
// home node, released record by record to partners, updated and withdrawn
// only by their originator.
package leads

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/handling"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/paging"
	"github.com/liaison-exchange/liaison/server/records"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/validate"
)

// Server implements liaisonv1.LeadServiceServer.
type Server struct {
	liaisonv1.UnimplementedLeadServiceServer

	store        *store.Store
	validator    *validate.Validator
	agency       string
	partners     map[string]bool
	reviewAfter  time.Duration
	reviewByArea map[liaisonv1.CrimeArea]time.Duration
	policy       *handling.Policy
	kind         *records.Kind[*liaisonv1.Lead]
}

var _ liaisonv1.LeadServiceServer = (*Server)(nil)

// Options configure the lead service.
type Options struct {
	Store     *store.Store
	Validator *validate.Validator
	// Agency is the own agency; Partners the agencies leads may be
	// released to.
	Agency   string
	Partners []string
	// ReviewAfter sets the default review date from the creation time;
	// ReviewAfterByCrimeArea overrides it per area (the longest applies).
	ReviewAfter            time.Duration
	ReviewAfterByCrimeArea map[liaisonv1.CrimeArea]time.Duration
	// Handling is the handling-code policy of every lead served; by
	// default one whose permissions come from Store.
	Handling *handling.Policy
}

// New returns the lead service.
func New(o Options) *Server {
	p := map[string]bool{}
	for _, a := range o.Partners {
		p[a] = true
	}
	if o.Handling == nil {
		o.Handling = &handling.Policy{Agency: o.Agency, Granted: func(ctx context.Context, id string) (bool, error) {
			return o.Store.HasPermission(ctx, id, liaisonv1.PermissionPurpose_PERMISSION_PURPOSE_EXPORT)
		}}
	}
	s := &Server{store: o.Store, validator: o.Validator, agency: o.Agency, partners: p, reviewAfter: o.ReviewAfter, reviewByArea: o.ReviewAfterByCrimeArea, policy: o.Handling}
	s.kind = &records.Kind[*liaisonv1.Lead]{
		Store:   o.Store,
		Read:    (*store.Tx).Lead,
		NotHome: s.notHome,
		Save:    (*store.Tx).ReplaceLead,
		Share: func(tx *store.Tx, next, _ *liaisonv1.Lead) error {
			return sendToPartners(tx, next, next.GetReleasedTo())
		},
	}
	return s
}

// CreateLead implements liaisonv1.LeadServiceServer.
func (s *Server) CreateLead(ctx context.Context, req *liaisonv1.CreateLeadRequest) (*liaisonv1.CreateLeadResponse, error) {
	r, err := records.NewRequest(liaisonv1.LeadService_CreateLead_FullMethodName, req.GetRequestId(), req.GetLead())
	if err != nil {
		return nil, err
	}
	lead := proto.Clone(req.GetLead()).(*liaisonv1.Lead)
	if err := normalize(lead); err != nil {
		return nil, err
	}
	caller, _ := identity.FromContext(ctx)
	out, err := records.Create(ctx, s.store, r, func(tx *store.Tx, prior string) (*liaisonv1.Lead, error) {
		audit.SetResource(ctx, resource(prior))
		audit.SetDetail(ctx, "retry of request "+r.ID)
		return tx.Lead(prior)
	}, func(tx *store.Tx) (*liaisonv1.Lead, error) {
		err := s.insertNew(tx, lead, caller.ID)
		audit.SetResource(ctx, resource(lead.Id)) // even if the insert failed
		return lead, err
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.CreateLeadResponse{Lead: out}, nil
}

// GetLead implements liaisonv1.LeadServiceServer.
func (s *Server) GetLead(ctx context.Context, req *liaisonv1.GetLeadRequest) (*liaisonv1.GetLeadResponse, error) {
	l, err := s.store.Lead(ctx, req.GetId())
	if err == nil {
		caller, _ := identity.FromContext(ctx)
		l, err = s.policy.Require(ctx, handling.GetLead, caller, l)
	}
	if err != nil {
		return nil, err
	}
	return &liaisonv1.GetLeadResponse{Lead: l}, nil
}

// ListLeads implements liaisonv1.LeadServiceServer.
func (s *Server) ListLeads(ctx context.Context, req *liaisonv1.ListLeadsRequest) (*liaisonv1.ListLeadsResponse, error) {
	f := store.LeadFilter{Status: req.GetStatus(), CrimeArea: req.GetCrimeArea(), OriginAgency: req.GetOriginAgency()}
	if req.GetUpdatedAfter() != nil {
		f.UpdatedAfter = req.GetUpdatedAfter().AsTime()
	}
	page, err := records.NewPage(req.GetPageToken(), req.GetPageSize(), paging.Fingerprint(f.Status, f.CrimeArea, f.OriginAgency, f.UpdatedAfter.UnixMicro()))
	if err != nil {
		return nil, err
	}
	audit.SetResource(ctx, "leads")
	detail := fmt.Sprintf("status=%s crime_area=%s origin=%q", f.Status, f.CrimeArea, f.OriginAgency)
	if !f.UpdatedAfter.IsZero() {
		detail += " updated_after=" + f.UpdatedAfter.Format(time.RFC3339)
	}
	audit.SetDetail(ctx, detail)
	leads, err := s.store.ListLeads(ctx, f, page.After, page.Size+1)
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.ListLeadsResponse{}
	leads, resp.NextPageToken = records.Cut(page, leads)
	caller, _ := identity.FromContext(ctx)
	for i, l := range leads {
		if leads[i], err = s.policy.Serve(ctx, handling.ListLeads, caller, l); err != nil {
			return nil, err
		}
	}
	resp.Leads = leads
	audit.SetRecordsOf(ctx, leads)
	return resp, nil
}

// UpdateLead implements liaisonv1.LeadServiceServer.
func (s *Server) UpdateLead(ctx context.Context, req *liaisonv1.UpdateLeadRequest) (*liaisonv1.UpdateLeadResponse, error) {
	patch := req.GetLead()
	paths := req.GetUpdateMask().GetPaths()
	bad := records.CheckUpdate("lead", patch, req, paths)
	if err := errs.InvalidFields(bad); err != nil {
		return nil, err
	}
	audit.SetResource(ctx, resource(patch.GetId()))
	audit.SetDetail(ctx, fmt.Sprintf("fields=%v", paths))
	out, err := s.kind.Change(ctx, records.Change[*liaisonv1.Lead]{ID: patch.GetId(), Action: "update",
		Apply: func(_ *store.Tx, cur *liaisonv1.Lead) (*liaisonv1.Lead, error) {
			if err := live(cur, "update"); err != nil {
				return nil, err
			}
			if err := records.CheckEtag("lead", cur, patch.GetEtag()); err != nil {
				return nil, err
			}
			merged := records.Merge(cur, patch, paths)
			// As on create: the rules apply to what the caller wrote, then
			// normalisation rewrites phones and document numbers.
			if err := s.validator.Validate(merged, "lead"); err != nil {
				return nil, err
			}
			return merged, normalize(merged)
		}})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.UpdateLeadResponse{Lead: out}, nil
}

// ReleaseLead implements liaisonv1.LeadServiceServer.
func (s *Server) ReleaseLead(ctx context.Context, req *liaisonv1.ReleaseLeadRequest) (*liaisonv1.ReleaseLeadResponse, error) {
	if err := records.CheckPartners(s.partners, req.GetPartners()); err != nil {
		return nil, err
	}
	audit.SetDetail(ctx, fmt.Sprintf("partners=%v", req.GetPartners()))
	var sendTo []string
	out, err := s.kind.Change(ctx, records.Change[*liaisonv1.Lead]{ID: req.GetId(), Action: "release",
		Before: func(_ *store.Tx, cur *liaisonv1.Lead) error {
			caller, _ := identity.FromContext(ctx)
			_, err := s.policy.Require(ctx, handling.OnwardRelease, caller, cur)
			return err
		},
		Apply: func(_ *store.Tx, cur *liaisonv1.Lead) (*liaisonv1.Lead, error) {
			if err := live(cur, "release"); err != nil {
				return nil, err
			}
			if req.GetEtag() != "" {
				if err := records.CheckEtag("lead", cur, req.GetEtag()); err != nil {
					return nil, err
				}
			}
			var added []string
			for _, p := range req.GetPartners() {
				if !slices.Contains(cur.GetReleasedTo(), p) {
					added = append(added, p)
				}
			}
			newContact := req.GetContact() != nil && !proto.Equal(req.GetContact(), cur.GetContact())
			if len(added) == 0 && !newContact {
				return nil, nil // already released to all of them: nothing changes
			}
			next := proto.Clone(cur).(*liaisonv1.Lead)
			sendTo = added
			if newContact {
				// The releasing officer's contact point: every partner
				// holding the lead gets it.
				next.Contact = req.GetContact()
				sendTo = append(slices.Clone(cur.GetReleasedTo()), added...)
			}
			next.ReleasedTo = append(next.ReleasedTo, added...)
			slices.Sort(next.ReleasedTo)
			next.Status = liaisonv1.LeadStatus_LEAD_STATUS_RELEASED
			return next, nil
		},
		Share: func(tx *store.Tx, next, _ *liaisonv1.Lead) error { return sendToPartners(tx, next, sendTo) },
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.ReleaseLeadResponse{Lead: out}, nil
}

// WithdrawLead implements liaisonv1.LeadServiceServer.
func (s *Server) WithdrawLead(ctx context.Context, req *liaisonv1.WithdrawLeadRequest) (*liaisonv1.WithdrawLeadResponse, error) {
	audit.SetDetail(ctx, "reason: "+req.GetReason())
	out, err := s.kind.Change(ctx, records.Change[*liaisonv1.Lead]{ID: req.GetId(), Action: "withdraw",
		Apply: func(tx *store.Tx, cur *liaisonv1.Lead) (*liaisonv1.Lead, error) {
			if err := live(cur, "withdraw"); err != nil {
				return nil, err
			}
			if req.GetEtag() != "" {
				if err := records.CheckEtag("lead", cur, req.GetEtag()); err != nil {
					return nil, err
				}
			}
			next := proto.Clone(cur).(*liaisonv1.Lead)
			next.Status = liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN
			next.WithdrawTime, next.WithdrawReason = timestamppb.New(tx.Now()), req.GetReason()
			return next, nil
		},
		// Partners delete their copies.
		Share: func(tx *store.Tx, next, _ *liaisonv1.Lead) error {
			return records.ShareTombstone(tx, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, next, next.GetUpdateTime(), next.GetReleasedTo())
		},
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.WithdrawLeadResponse{Lead: out}, nil
}

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
		result  *liaisonv1.ImportResult
		request records.Request
		lead    *liaisonv1.Lead
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
		todo = append(todo, accepted{results[i], records.Request{Method: importMethod, ID: it.GetRequestId(), Hash: hash}, lead})
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
			inserted := false
			l, err := records.CreateOnce(tx, a.request, func(prior string) (*liaisonv1.Lead, error) {
				return &liaisonv1.Lead{Id: prior}, nil
			}, func() (*liaisonv1.Lead, error) {
				inserted = true
				return a.lead, s.insertNew(tx, a.lead, caller.ID)
			})
			switch {
			case !inserted && errs.CodeOf(err) == errs.AlreadyExists:
				// The request id was used for another lead: nothing is
				// written for this item.
				reject(a.result, err)
			case err != nil:
				return err
			case !inserted:
				a.result.Outcome, a.result.LeadId = liaisonv1.ImportOutcome_IMPORT_OUTCOME_ALREADY_IMPORTED, l.GetId()
			default:
				a.result.Outcome, a.result.LeadId = liaisonv1.ImportOutcome_IMPORT_OUTCOME_CREATED, l.GetId()
			}
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

// ListLeadReceipts implements liaisonv1.LeadServiceServer.
func (s *Server) ListLeadReceipts(ctx context.Context, req *liaisonv1.ListLeadReceiptsRequest) (*liaisonv1.ListLeadReceiptsResponse, error) {
	l, err := s.store.Lead(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if err := records.HomeOnly(l, s.agency, resource(l.GetId()),
		"lead %s is a replica of %s's record; the receipts are kept by its originator", l.GetId(), l.GetOriginAgency()); err != nil {
		return nil, err
	}
	entries, err := s.store.OutboxForRecord(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.ListLeadReceiptsResponse{}
	for _, e := range entries {
		d := &liaisonv1.Delivery{
			Partner: e.Partner, Sequence: uint64(e.Seq), Kind: e.Kind, RecordVersion: e.RecordVersion,
			CreateTime: timestamppb.New(e.CreateTime), Status: e.ReceiptStatus, Reason: e.ReceiptReason,
		}
		if !e.ReceiptTime.IsZero() {
			d.ReceiptTime = timestamppb.New(e.ReceiptTime)
		}
		resp.Deliveries = append(resp.Deliveries, d)
	}
	return resp, nil
}

// ExportLeads implements liaisonv1.LeadServiceServer.
func (s *Server) ExportLeads(req *liaisonv1.ExportLeadsRequest, stream liaisonv1.LeadService_ExportLeadsServer) error {
	ctx := stream.Context()
	audit.SetResource(ctx, "leads")
	var exported, refused int
	defer func() { audit.SetDetail(ctx, fmt.Sprintf("exported %d, refused %d", exported, refused)) }()
	send := func(l *liaisonv1.Lead) error {
		exported++
		return stream.Send(&liaisonv1.ExportLeadsResponse{Item: &liaisonv1.ExportLeadsResponse_Lead{Lead: l}})
	}
	if len(req.GetIds()) > 0 {
		// Asked for by id: all or nothing.
		leads := make([]*liaisonv1.Lead, 0, len(req.GetIds()))
		var vs []errs.Violation
		for _, id := range req.GetIds() {
			l, err := s.store.Lead(ctx, id)
			if err != nil {
				return err
			}
			if l.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
				refused++
				vs = append(vs, errs.Violation{Type: "lead.withdrawn", Subject: resource(id), Description: fmt.Sprintf("lead %s was withdrawn by %s", id, l.GetOriginAgency())})
				continue
			}
			why, err := s.exportBlock(ctx, l)
			if err != nil {
				return err
			}
			if why != "" {
				refused++
				vs = append(vs, errs.Violation{Type: "handling." + strings.ToLower(HandlingName(l.GetHandling().GetCode())), Subject: resource(id), Description: why})
			}
			leads = append(leads, l)
		}
		if err := errs.Preconditions("export refused", vs); err != nil {
			return err
		}
		if err := s.store.RecordDelivery(ctx, "export by id", idsOf(leads)); err != nil {
			return err
		}
		for _, l := range leads {
			if err := send(l); err != nil {
				return err
			}
		}
		return nil
	}
	f := store.LeadFilter{OriginAgency: req.GetOriginAgency()}
	if req.GetUpdatedAfter() != nil {
		f.UpdatedAfter = req.GetUpdatedAfter().AsTime()
	}
	before := ""
	for n := 1; ; n++ {
		page, err := s.store.ListLeads(ctx, f, before, 500)
		if err != nil {
			return err
		}
		// Each page is in the audit log, with the ids of its leads, before
		// any of it is sent: an export cut off half-way has recorded what
		// it delivered.
		var items []*liaisonv1.ExportLeadsResponse
		var out []string
		for _, l := range page {
			if l.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
				continue // withdrawn content is not exported, nor reported as refused
			}
			why, err := s.exportBlock(ctx, l)
			if err != nil {
				return err
			}
			if why != "" {
				items = append(items, &liaisonv1.ExportLeadsResponse{Item: &liaisonv1.ExportLeadsResponse_Refused{Refused: &liaisonv1.ExportRefusal{
					Id: l.GetId(), OriginAgency: l.GetOriginAgency(), HandlingCode: l.GetHandling().GetCode(), Reason: why,
				}}})
				continue
			}
			items = append(items, &liaisonv1.ExportLeadsResponse{Item: &liaisonv1.ExportLeadsResponse_Lead{Lead: l}})
			out = append(out, l.GetId())
		}
		if err := s.store.RecordDelivery(ctx, fmt.Sprintf("export page %d", n), out); err != nil {
			return err
		}
		for _, it := range items {
			if it.GetRefused() != nil {
				refused++
			} else {
				exported++
			}
			if err := stream.Send(it); err != nil {
				return err
			}
		}
		if len(page) < 500 {
			return nil
		}
		before = page[len(page)-1].GetId()
	}
}
