// Package permissions implements PermissionService: the recipient of a
// record asks its originator for permission to use it beyond its handling
// code; the originator's supervisor decides; the decision travels back as
// an envelope and is enforced where the record would leave the node.
package permissions

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/paging"
	"github.com/liaison-exchange/liaison/server/store"
)

// Server implements liaisonv1.PermissionServiceServer.
type Server struct {
	liaisonv1.UnimplementedPermissionServiceServer
	store  *store.Store
	agency string
}

var _ liaisonv1.PermissionServiceServer = (*Server)(nil)

// New returns the permission service of the node of agency.
func New(s *store.Store, agency string) *Server { return &Server{store: s, agency: agency} }

func resource(id string) string { return "permission_requests/" + id }

// Register wires the permission envelopes into federation.
func (s *Server) Register(reg *federation.Registry) {
	// A request is the requester's proposal to the lead's originator, who
	// is its home; the decision travels back from that home.
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST, federation.Spec[*liaisonv1.PermissionRequest]{
		Proposal: true,
		Claim: func(_ *liaisonv1.Envelope, r *liaisonv1.PermissionRequest) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindPermissionRequest, ID: r.GetId()}, Home: r.GetOriginAgency(),
				Proposer: r.GetRequestingAgency(), Parent: federation.Key{Kind: federation.KindLead, ID: r.GetRecordId()}, ParentHome: s.agency}
		},
		Apply:   s.applyRequest,
		Receipt: s.requestReceipted,
	})
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_DECISION, federation.Spec[*liaisonv1.PermissionRequest]{
		Claim: func(env *liaisonv1.Envelope, d *liaisonv1.PermissionRequest) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindPermissionRequest, ID: d.GetId()}, Home: d.GetOriginAgency(),
				Parent: federation.Key{Kind: federation.KindLead, ID: d.GetRecordId()}, ParentHome: env.GetSender()}
		},
		Apply: s.applyDecision,
	})
}

// RequestPermission implements liaisonv1.PermissionServiceServer.
func (s *Server) RequestPermission(ctx context.Context, req *liaisonv1.RequestPermissionRequest) (*liaisonv1.RequestPermissionResponse, error) {
	caller, _ := identity.FromContext(ctx)
	var out *liaisonv1.PermissionRequest
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		l, err := tx.Lead(req.GetRecordId())
		if err != nil {
			return err
		}
		if l.GetOriginAgency() == s.agency {
			return errs.Precondition("permission.own_record", "leads/"+l.GetId(), "lead %s is this agency's own record; its handling code binds its recipients, not its originator", l.GetId())
		}
		if l.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
			return errs.Precondition("lead.withdrawn", "leads/"+l.GetId(), "lead %s was withdrawn by %s", l.GetId(), l.GetOriginAgency())
		}
		if l.GetHandling().GetCode() == liaisonv1.HandlingCode_HANDLING_CODE_H0 {
			return errs.Precondition("permission.not_needed", "leads/"+l.GetId(), "lead %s is coded H0: it may be used without asking %s", l.GetId(), l.GetOriginAgency())
		}
		r := &liaisonv1.PermissionRequest{
			Id: ids.New(), RecordId: l.GetId(), OriginAgency: l.GetOriginAgency(), RequestingAgency: s.agency,
			Purpose: req.GetPurpose(), Justification: req.GetJustification(), RequestedBy: caller.ID,
			CreateTime: timestamppb.New(tx.Now()), Status: liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING,
		}
		audit.SetResource(ctx, resource(r.GetId()))
		audit.SetDetail(ctx, fmt.Sprintf("%s of leads/%s, asked of %s", r.GetPurpose(), r.GetRecordId(), r.GetOriginAgency()))
		if err := tx.PutPermissionRequest(r); err != nil {
			return err
		}
		if _, err := tx.AppendOutbox(store.Outgoing{Receiver: r.GetOriginAgency(), Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST,
			RecordID: r.GetId(), RecordVersion: 1, Payload: r}); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.RequestPermissionResponse{Request: out}, nil
}

// ListPermissionRequests implements liaisonv1.PermissionServiceServer.
func (s *Server) ListPermissionRequests(ctx context.Context, req *liaisonv1.ListPermissionRequestsRequest) (*liaisonv1.ListPermissionRequestsResponse, error) {
	f := store.PermissionFilter{Status: req.GetStatus(), RecordID: req.GetRecordId()}
	switch req.GetDirection() {
	case liaisonv1.PermissionDirection_PERMISSION_DIRECTION_OUTGOING:
		f.RequestedBy = s.agency
	case liaisonv1.PermissionDirection_PERMISSION_DIRECTION_INCOMING:
		f.NotRequestedBy = s.agency
	}
	fp := paging.Fingerprint(req.GetDirection(), req.GetStatus(), req.GetRecordId())
	after, err := paging.Decode(req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	audit.SetResource(ctx, "permission_requests")
	size := paging.Size(req.GetPageSize())
	rs, err := s.store.ListPermissionRequests(ctx, f, after, size+1)
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.ListPermissionRequestsResponse{}
	if len(rs) > size {
		rs = rs[:size]
		resp.NextPageToken = paging.Encode(rs[size-1].GetId(), fp)
	}
	resp.Requests = rs
	audit.SetRecordsOf(ctx, rs)
	return resp, nil
}

// DecidePermissionRequest implements liaisonv1.PermissionServiceServer.
func (s *Server) DecidePermissionRequest(ctx context.Context, req *liaisonv1.DecidePermissionRequestRequest) (*liaisonv1.DecidePermissionRequestResponse, error) {
	caller, _ := identity.FromContext(ctx)
	audit.SetDetail(ctx, fmt.Sprintf("grant=%t: %s", req.GetGrant(), req.GetReason()))
	var out *liaisonv1.PermissionRequest
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		r, err := tx.PermissionRequest(req.GetId())
		if err != nil {
			return err
		}
		if r.GetOriginAgency() != s.agency {
			return errs.Precondition("permission.originator_decides", resource(r.GetId()),
				"request %s is for a record of %s; only %s decides it", r.GetId(), r.GetOriginAgency(), r.GetOriginAgency())
		}
		if r.GetStatus() != liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING {
			return errs.Precondition("permission.decided", resource(r.GetId()), "request %s was already decided (%s)", r.GetId(), r.GetStatus())
		}
		r.Status = liaisonv1.PermissionStatus_PERMISSION_STATUS_REFUSED
		if req.GetGrant() {
			r.Status = liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED
		}
		r.DecidedBy, r.DecisionReason, r.DecideTime = caller.ID, req.GetReason(), timestamppb.New(tx.Now())
		if err := tx.PutPermissionRequest(r); err != nil {
			return err
		}
		if _, err := tx.AppendOutbox(store.Outgoing{Receiver: r.GetRequestingAgency(), Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_DECISION,
			RecordID: r.GetId(), RecordVersion: 2, Payload: r}); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.DecidePermissionRequestResponse{Request: out}, nil
}

// applyRequest stores a partner's request, on the originator's node. The
// record must be this node's and released to the requester.
func (s *Server) applyRequest(tx *store.Tx, env *liaisonv1.Envelope, r *liaisonv1.PermissionRequest) (federation.Outcome, error) {
	l, err := tx.Lead(r.GetRecordId())
	if errs.CodeOf(err) == errs.NotFound || (err == nil && (l.GetOriginAgency() != s.agency || !contains(l.GetReleasedTo(), env.GetSender()))) {
		return federation.Outcome{}, errs.Precondition("permission.record_not_released", resource(r.GetId()),
			"lead %s was not released by %s to %s", r.GetRecordId(), s.agency, env.GetSender())
	}
	if err != nil {
		return federation.Outcome{}, err
	}
	prior, err := tx.PermissionRequest(r.GetId())
	switch {
	case err == nil && prior.GetRequestingAgency() == r.GetRequestingAgency() && prior.GetRecordId() == r.GetRecordId() && prior.GetPurpose() == r.GetPurpose():
		return federation.Applied, nil // the same request again: nothing changes, whatever was decided stands
	case err == nil:
		return federation.Outcome{}, errs.Precondition("permission.id_taken", resource(r.GetId()),
			"a permission request with id %s already exists and is not this one", r.GetId())
	case errs.CodeOf(err) != errs.NotFound:
		return federation.Outcome{}, err
	}
	r.Status = liaisonv1.PermissionStatus_PERMISSION_STATUS_PENDING
	r.DecidedBy, r.DecisionReason, r.DecideTime = "", "", nil
	return federation.Applied, tx.PutPermissionRequest(r)
}

// requestReceipted marks a request the originator rejected outright (for
// instance a record it never released to us) as refused.
func (s *Server) requestReceipted(tx *store.Tx, sent store.SentEnvelope, rc *liaisonv1.Receipt) error {
	if rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED {
		return nil
	}
	r, err := tx.PermissionRequest(sent.RecordID)
	if err != nil {
		return err
	}
	r.Status = liaisonv1.PermissionStatus_PERMISSION_STATUS_REFUSED
	r.DecisionReason = fmt.Sprintf("rejected by %s: %s", sent.Partner, rc.GetReason())
	r.DecideTime = timestamppb.New(tx.Now())
	return tx.PutPermissionRequest(r)
}

// applyDecision records the originator's decision on the requester's node.
func (s *Server) applyDecision(tx *store.Tx, env *liaisonv1.Envelope, d *liaisonv1.PermissionRequest) (federation.Outcome, error) {
	r, err := tx.PermissionRequest(d.GetId())
	if err != nil {
		return federation.Outcome{}, err
	}
	if r.GetOriginAgency() != env.GetSender() || r.GetRequestingAgency() != s.agency {
		return federation.Outcome{}, errs.Precondition("permission.originator_decides", resource(r.GetId()),
			"%s may not decide request %s, which was made of %s", env.GetSender(), r.GetId(), r.GetOriginAgency())
	}
	switch d.GetStatus() {
	case liaisonv1.PermissionStatus_PERMISSION_STATUS_GRANTED, liaisonv1.PermissionStatus_PERMISSION_STATUS_REFUSED:
	default:
		return federation.Outcome{}, errs.Invalid("payload.status", "a decision grants or refuses, got %s", d.GetStatus())
	}
	r.Status, r.DecidedBy, r.DecisionReason, r.DecideTime = d.GetStatus(), d.GetDecidedBy(), d.GetDecisionReason(), d.GetDecideTime()
	return federation.Applied, tx.PutPermissionRequest(r)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
