package leads

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/handling"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/store"
)

// Register wires leads into federation: how replicas and tombstones
// arriving from a partner are applied, and how copies are compared and
// repaired.
func (s *Server) Register(reg *federation.Registry) {
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, federation.Spec[*liaisonv1.Lead]{
		Claim: func(_ *liaisonv1.Envelope, l *liaisonv1.Lead) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindLead, ID: l.GetId()}, Home: l.GetOriginAgency()}
		},
		Apply: s.applyLead,
	})
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, federation.Spec[*liaisonv1.Tombstone]{
		Claim: func(_ *liaisonv1.Envelope, t *liaisonv1.Tombstone) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindLead, ID: t.GetRecordId()}, Home: t.GetOriginAgency()}
		},
		Apply: s.applyTombstone,
	})
	reg.Kind(federation.RecordKindSpec{
		Kind:      liaisonv1.RecordKind_RECORD_KIND_LEAD,
		Upsert:    liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD,
		Tombstone: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE,
		Replicas:  s.store.LeadReplicas,
		Repair:    s.repair,
	})
}

// applyLead stores a partner's lead as a read-only replica (the ownership
// rule has checked that the lead is the sender's). An older version than
// the one held is ignored.
func (s *Server) applyLead(tx *store.Tx, env *liaisonv1.Envelope, l *liaisonv1.Lead) (federation.Outcome, error) {
	if l.GetVersion() != env.GetRecordVersion() {
		return federation.Outcome{}, errs.Precondition("envelope.inconsistent", resource(env.GetRecordId()),
			"envelope names lead %s v%d but carries v%d", env.GetRecordId(), env.GetRecordVersion(), l.GetVersion())
	}
	l.ReleasedTo = []string{s.agency}
	l.Restriction = nil // this node computes it when serving the lead
	cur, err := tx.Lead(l.GetId())
	if errs.CodeOf(err) == errs.NotFound {
		return federation.Applied, tx.InsertLead(l)
	}
	if err != nil {
		return federation.Outcome{}, err
	}
	if env.GetRepair() {
		return federation.Applied, tx.OverwriteLead(l)
	}
	if cur.GetStatus() == liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
		return federation.Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_IGNORED, Code: "lead.withdrawn",
			Reason: fmt.Sprintf("lead %s was withdrawn; its content is not taken back", l.GetId())}, nil
	}
	if l.GetVersion() <= cur.GetVersion() {
		return federation.Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_IGNORED, Code: "lead.stale_version",
			Reason: fmt.Sprintf("version %d is not newer than version %d held", l.GetVersion(), cur.GetVersion())}, nil
	}
	return federation.Applied, tx.ReplaceLead(l, cur)
}

// applyTombstone deletes a replica's content, keeping a tombstone; the
// receipt tells the originator the deletion happened.
func (s *Server) applyTombstone(tx *store.Tx, env *liaisonv1.Envelope, t *liaisonv1.Tombstone) (federation.Outcome, error) {
	purged := federation.Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, PurgeContent: true}
	at := t.GetDeleteTime().AsTime()
	cur, err := tx.Lead(t.GetRecordId())
	if errs.CodeOf(err) == errs.NotFound {
		return purged, tx.InsertLeadTombstone(t.GetRecordId(), t.GetOriginAgency(), t.GetVersion(), at)
	}
	if err != nil {
		return federation.Outcome{}, err
	}
	gone := &liaisonv1.Lead{
		Id: cur.GetId(), OriginAgency: cur.GetOriginAgency(), Status: liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN,
		Version: max(t.GetVersion(), cur.GetVersion()), UpdateTime: timestamppb.New(at),
	}
	return purged, tx.DeleteLeadContent(gone, cur.GetVersion())
}

// repair builds the envelope that sets a partner's copy of one of this
// node's leads right: the current lead if it is released to the partner,
// otherwise a tombstone (the partner should hold nothing of it).
func (s *Server) repair(tx *store.Tx, partner, id string) (*store.Outgoing, error) {
	l, err := tx.Lead(id)
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return nil, err
	}
	released := l != nil && l.GetOriginAgency() == s.agency && contains(l.GetReleasedTo(), partner)
	if released && l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
		return &store.Outgoing{Receiver: partner, Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, RecordID: id,
			RecordVersion: l.GetVersion(), Payload: ReplicaView(l, partner)}, nil
	}
	var version int64
	if l != nil {
		version = l.GetVersion()
	}
	return &store.Outgoing{Receiver: partner, Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, RecordID: id, RecordVersion: version,
		Payload: &liaisonv1.Tombstone{RecordId: id, OriginAgency: s.agency, Version: version, DeleteTime: timestamppb.New(tx.Now())}}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ListLeadReceipts implements liaisonv1.LeadServiceServer.
func (s *Server) ListLeadReceipts(ctx context.Context, req *liaisonv1.ListLeadReceiptsRequest) (*liaisonv1.ListLeadReceiptsResponse, error) {
	l, err := s.store.Lead(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if l.GetOriginAgency() != s.agency {
		return nil, errs.Precondition("record.home_node_only", resource(l.GetId()),
			"lead %s is a replica of %s's record; the receipts are kept by its originator", l.GetId(), l.GetOriginAgency())
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

func idsOf(leads []*liaisonv1.Lead) []string {
	out := make([]string, len(leads))
	for i, l := range leads {
		out[i] = l.GetId()
	}
	return out
}
