// Package auditsvc implements AuditService: reading and verifying the audit
// log, for auditors.
package auditsvc

import (
	"context"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/paging"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/transparency"
)

// Server implements liaisonv1.AuditServiceServer.
type Server struct {
	liaisonv1.UnimplementedAuditServiceServer
	store *store.Store
	log   *transparency.Log
}

var _ liaisonv1.AuditServiceServer = (*Server)(nil)

// New returns the audit service of a node's log.
func New(s *store.Store, l *transparency.Log) *Server { return &Server{store: s, log: l} }

// ListAuditEvents implements liaisonv1.AuditServiceServer.
func (s *Server) ListAuditEvents(ctx context.Context, req *liaisonv1.ListAuditEventsRequest) (*liaisonv1.ListAuditEventsResponse, error) {
	f := store.AuditFilter{
		Agency: req.GetAgency(), Principal: req.GetPrincipal(), Action: req.GetAction(),
		Resource: req.GetResource(), Outcome: req.GetOutcome(), RecordID: req.GetRecordId(),
	}
	if req.GetStartTime() != nil {
		f.Start = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		f.End = req.GetEndTime().AsTime()
	}
	fp := paging.Fingerprint(f.Agency, f.Principal, f.Action, f.Resource, f.Outcome, f.Start.UnixMicro(), f.End.UnixMicro(), f.RecordID)
	after, err := paging.Decode(req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	var before int64
	if after != "" {
		if before, err = strconv.ParseInt(after, 10, 64); err != nil || before < 1 {
			return nil, errs.Invalid("page_token", "is not a token this service issued")
		}
	}
	audit.SetResource(ctx, "audit_events")
	size := paging.Size(req.GetPageSize())
	events, err := s.store.ListAuditEvents(ctx, f, before, size+1)
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.ListAuditEventsResponse{}
	if len(events) > size {
		events = events[:size]
		resp.NextPageToken = paging.Encode(strconv.FormatInt(events[size-1].Seq, 10), fp)
	}
	for i := range events {
		resp.Events = append(resp.Events, ToProto(&events[i]))
	}
	return resp, nil
}

// VerifyAuditLog implements liaisonv1.AuditServiceServer.
func (s *Server) VerifyAuditLog(ctx context.Context, _ *liaisonv1.VerifyAuditLogRequest) (*liaisonv1.VerifyAuditLogResponse, error) {
	audit.SetResource(ctx, "audit_events")
	r, err := s.store.VerifyAudit(ctx, s.log.VerifyOptions())
	if err != nil {
		return nil, err
	}
	return &liaisonv1.VerifyAuditLogResponse{
		Ok: r.OK, EventsChecked: r.Checked, FirstBadSequence: r.FirstBad, Problem: r.Problem,
		HeadSequence: r.HeadSeq, HeadHash: r.HeadHash,
		CheckpointsMatched: int64(r.Checkpoints), CheckpointSize: r.CheckpointAt, WitnessedSize: r.WitnessedAt, Witnesses: r.Witnesses,
	}, nil
}

// ToProto converts an audit event to its API form.
func ToProto(e *audit.Event) *liaisonv1.AuditEvent {
	return &liaisonv1.AuditEvent{
		Sequence: e.Seq, Time: timestamppb.New(e.Time), Agency: e.Agency, Principal: e.Principal, Role: e.Role,
		Action: e.Action, Resource: e.Resource, Outcome: e.Outcome, RequestId: e.RequestID, Detail: e.Detail, Hash: e.Hash,
	}
}
