// Package leads implements LeadService: smuggler leads created on their
// home node, released record by record to partners, updated and withdrawn
// only by their originator.
package leads

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/handling"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/paging"
	"github.com/liaison-exchange/liaison/server/persons"
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
	return &Server{store: o.Store, validator: o.Validator, agency: o.Agency, partners: p, reviewAfter: o.ReviewAfter, reviewByArea: o.ReviewAfterByCrimeArea, policy: o.Handling}
}

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

// CreateLead implements liaisonv1.LeadServiceServer.
func (s *Server) CreateLead(ctx context.Context, req *liaisonv1.CreateLeadRequest) (*liaisonv1.CreateLeadResponse, error) {
	hash, err := store.RequestHash(req.GetLead())
	if err != nil {
		return nil, err
	}
	lead := proto.Clone(req.GetLead()).(*liaisonv1.Lead)
	if err := normalize(lead); err != nil {
		return nil, err
	}
	caller, _ := identity.FromContext(ctx)
	var out *liaisonv1.Lead
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if req.GetRequestId() != "" {
			prior, err := tx.SeenRequest(liaisonv1.LeadService_CreateLead_FullMethodName, req.GetRequestId(), hash)
			if err != nil {
				return err
			}
			if prior != "" {
				audit.SetResource(ctx, resource(prior))
				audit.SetDetail(ctx, "retry of request "+req.GetRequestId())
				out, err = tx.Lead(prior)
				return err
			}
		}
		err := s.insertNew(tx, lead, caller.ID, liaisonv1.LeadService_CreateLead_FullMethodName, req.GetRequestId(), hash)
		audit.SetResource(ctx, resource(lead.Id)) // even if the insert failed
		if err != nil {
			return err
		}
		out = lead
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Etag = store.Etag(out.Id, out.Version)
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
	fp := paging.Fingerprint(f.Status, f.CrimeArea, f.OriginAgency, f.UpdatedAfter.UnixMicro())
	after, err := paging.Decode(req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	if after != "" {
		if !ids.Valid(after) {
			return nil, errs.Invalid("page_token", "is not a token this service issued")
		}
	}
	audit.SetResource(ctx, "leads")
	detail := fmt.Sprintf("status=%s crime_area=%s origin=%q", f.Status, f.CrimeArea, f.OriginAgency)
	if !f.UpdatedAfter.IsZero() {
		detail += " updated_after=" + f.UpdatedAfter.Format(time.RFC3339)
	}
	audit.SetDetail(ctx, detail)
	size := paging.Size(req.GetPageSize())
	leads, err := s.store.ListLeads(ctx, f, after, size+1)
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.ListLeadsResponse{}
	if len(leads) > size {
		leads = leads[:size]
		resp.NextPageToken = paging.Encode(leads[size-1].GetId(), fp)
	}
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

// updatable are the fields an update_mask may name.
var updatable = map[string]bool{
	"title": true, "summary": true, "crime_areas": true, "subjects": true, "locations": true, "routes": true,
	"originator_reference": true, "evaluation": true, "handling": true, "review_date": true, "contact": true,
}

// UpdateLead implements liaisonv1.LeadServiceServer.
func (s *Server) UpdateLead(ctx context.Context, req *liaisonv1.UpdateLeadRequest) (*liaisonv1.UpdateLeadResponse, error) {
	patch := req.GetLead()
	var bad []errs.FieldViolation
	if patch == nil {
		bad = append(bad, errs.FieldViolation{Field: "lead", Description: "required"})
	} else {
		if !ids.Valid(patch.GetId()) {
			bad = append(bad, errs.FieldViolation{Field: "lead.id", Description: "must be the UUID of the lead to update"})
		}
		if patch.GetEtag() == "" {
			bad = append(bad, errs.FieldViolation{Field: "lead.etag", Description: "required: the etag of the version the change is based on (read the lead first)"})
		}
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		bad = append(bad, errs.FieldViolation{Field: "update_mask", Description: "name at least one field to update"})
	}
	for i, p := range paths {
		if !updatable[p] {
			bad = append(bad, errs.FieldViolation{Field: fmt.Sprintf("update_mask.paths[%d]", i), Description: fmt.Sprintf("%q cannot be updated (updatable: title, summary, crime_areas, subjects, locations, routes, originator_reference, evaluation, handling, review_date, contact)", p)})
		}
	}
	if err := errs.InvalidFields(bad); err != nil {
		return nil, err
	}
	audit.SetResource(ctx, resource(patch.GetId()))
	audit.SetDetail(ctx, fmt.Sprintf("fields=%v", paths))
	var out *liaisonv1.Lead
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.Lead(patch.GetId())
		if err != nil {
			return err
		}
		if err := s.ownAndLive(cur, "update"); err != nil {
			return err
		}
		if patch.GetEtag() != cur.GetEtag() {
			return errs.New(errs.Aborted, "lead %s changed since etag %s (now version %d); read it again and reapply the change", cur.GetId(), patch.GetEtag(), cur.GetVersion())
		}
		merged := proto.Clone(cur).(*liaisonv1.Lead)
		src, dst := patch.ProtoReflect(), merged.ProtoReflect()
		for _, p := range paths {
			fd := dst.Descriptor().Fields().ByName(protoreflect.Name(p))
			if src.Has(fd) {
				dst.Set(fd, src.Get(fd))
			} else {
				dst.Clear(fd)
			}
		}
		merged = proto.Clone(merged).(*liaisonv1.Lead) // detach from the patch's lists
		// As on create: the rules apply to what the caller wrote, then
		// normalisation rewrites phones and document numbers.
		if err := s.validator.Validate(merged, "lead"); err != nil {
			return err
		}
		if err := normalize(merged); err != nil {
			return err
		}
		merged.Version = cur.GetVersion() + 1
		merged.UpdateTime = timestamppb.New(tx.Now())
		if err := tx.ReplaceLead(merged, cur); err != nil {
			return err
		}
		if err := s.sendToPartners(tx, merged, merged.GetReleasedTo()); err != nil {
			return err
		}
		out = merged
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Etag = store.Etag(out.Id, out.Version)
	return &liaisonv1.UpdateLeadResponse{Lead: out}, nil
}

// ReleaseLead implements liaisonv1.LeadServiceServer.
func (s *Server) ReleaseLead(ctx context.Context, req *liaisonv1.ReleaseLeadRequest) (*liaisonv1.ReleaseLeadResponse, error) {
	var bad []errs.FieldViolation
	for i, p := range req.GetPartners() {
		if !s.partners[p] {
			bad = append(bad, errs.FieldViolation{Field: fmt.Sprintf("partners[%d]", i), Description: fmt.Sprintf("%q is not a partner of this node", p)})
		}
	}
	if err := errs.InvalidFields(bad); err != nil {
		return nil, err
	}
	audit.SetDetail(ctx, fmt.Sprintf("partners=%v", req.GetPartners()))
	var out *liaisonv1.Lead
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.Lead(req.GetId())
		if err != nil {
			return err
		}
		caller, _ := identity.FromContext(ctx)
		if _, err := s.policy.Require(ctx, handling.OnwardRelease, caller, cur); err != nil {
			return err
		}
		if err := s.ownAndLive(cur, "release"); err != nil {
			return err
		}
		if req.GetEtag() != "" && req.GetEtag() != cur.GetEtag() {
			return errs.New(errs.Aborted, "lead %s changed since etag %s; read it again", cur.GetId(), req.GetEtag())
		}
		var added []string
		for _, p := range req.GetPartners() {
			if !slices.Contains(cur.GetReleasedTo(), p) {
				added = append(added, p)
			}
		}
		newContact := req.GetContact() != nil && !proto.Equal(req.GetContact(), cur.GetContact())
		if len(added) == 0 && !newContact {
			out = cur // already released to all of them: nothing changes
			return nil
		}
		next := proto.Clone(cur).(*liaisonv1.Lead)
		sendTo := added
		if newContact {
			// The releasing officer's contact point: every partner
			// holding the lead gets it.
			next.Contact = req.GetContact()
			sendTo = append(slices.Clone(cur.GetReleasedTo()), added...)
		}
		next.ReleasedTo = append(next.ReleasedTo, added...)
		slices.Sort(next.ReleasedTo)
		next.Status = liaisonv1.LeadStatus_LEAD_STATUS_RELEASED
		next.Version = cur.GetVersion() + 1
		next.UpdateTime = timestamppb.New(tx.Now())
		if err := tx.ReplaceLead(next, cur); err != nil {
			return err
		}
		if err := s.sendToPartners(tx, next, sendTo); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Etag = store.Etag(out.Id, out.Version)
	return &liaisonv1.ReleaseLeadResponse{Lead: out}, nil
}

// WithdrawLead implements liaisonv1.LeadServiceServer.
func (s *Server) WithdrawLead(ctx context.Context, req *liaisonv1.WithdrawLeadRequest) (*liaisonv1.WithdrawLeadResponse, error) {
	audit.SetDetail(ctx, "reason: "+req.GetReason())
	var out *liaisonv1.Lead
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.Lead(req.GetId())
		if err != nil {
			return err
		}
		if err := s.ownAndLive(cur, "withdraw"); err != nil {
			return err
		}
		if req.GetEtag() != "" && req.GetEtag() != cur.GetEtag() {
			return errs.New(errs.Aborted, "lead %s changed since etag %s; read it again", cur.GetId(), req.GetEtag())
		}
		next := proto.Clone(cur).(*liaisonv1.Lead)
		now := timestamppb.New(tx.Now())
		next.Status = liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN
		next.WithdrawTime, next.WithdrawReason = now, req.GetReason()
		next.Version = cur.GetVersion() + 1
		next.UpdateTime = now
		if err := tx.ReplaceLead(next, cur); err != nil {
			return err
		}
		for _, p := range next.GetReleasedTo() {
			if _, err := tx.AppendOutbox(store.Outgoing{
				Receiver: p, Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, RecordID: next.Id, RecordVersion: next.Version,
				Payload: &liaisonv1.Tombstone{RecordId: next.Id, OriginAgency: next.OriginAgency, Version: next.Version, DeleteTime: now},
			}); err != nil {
				return err
			}
		}
		out = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Etag = store.Etag(out.Id, out.Version)
	return &liaisonv1.WithdrawLeadResponse{Lead: out}, nil
}

// ownAndLive refuses changes to a partner's replica or a withdrawn lead.
func (s *Server) ownAndLive(l *liaisonv1.Lead, action string) error {
	if l.GetOriginAgency() != s.agency {
		return errs.Precondition("record.home_node_only", resource(l.GetId()),
			"lead %s belongs to %s; only %s's node can %s it", l.GetId(), l.GetOriginAgency(), l.GetOriginAgency(), action)
	}
	if l.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
		return errs.Precondition("lead.withdrawn", resource(l.GetId()), "lead %s is withdrawn and can no longer %s", l.GetId(), map[string]string{
			"update": "be updated", "release": "be released", "withdraw": "be withdrawn again",
		}[action])
	}
	return nil
}

// sendToPartners writes the new version of a released lead to the outbox
// of each partner, in the same transaction as the change.
func (s *Server) sendToPartners(tx *store.Tx, l *liaisonv1.Lead, partners []string) error {
	for _, p := range partners {
		if _, err := tx.AppendOutbox(store.Outgoing{
			Receiver: p, Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, RecordID: l.Id, RecordVersion: l.Version,
			Payload: ReplicaView(l, p),
		}); err != nil {
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
