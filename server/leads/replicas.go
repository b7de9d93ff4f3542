package leads

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/records"
	"github.com/liaison-exchange/liaison/server/store"
)

// Register wires leads into federation: how replicas and tombstones
// arriving from a partner are applied, and how copies are compared and
// repaired.
func (s *Server) Register(reg *federation.Registry) {
	records.Replication[*liaisonv1.Lead]{
		Kind: federation.KindLead, RecordKind: liaisonv1.RecordKind_RECORD_KIND_LEAD,
		Upsert: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, Check: s.checkReplica, Ignore: ignoreReplica,
		Read: (*store.Tx).Lead, Insert: (*store.Tx).InsertLead, Overwrite: (*store.Tx).OverwriteLead, Replace: (*store.Tx).ReplaceLead,
		Replicas: s.store.LeadReplicas, Repair: s.repair,
		Tombstone: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, ApplyTombstone: s.applyTombstone,
	}.Register(reg)
}

// checkReplica checks a partner's lead arriving (the ownership rule has
// checked that the lead is the sender's) and makes it this node's
// replica.
func (s *Server) checkReplica(_ *store.Tx, env *liaisonv1.Envelope, l *liaisonv1.Lead) error {
	if l.GetVersion() != env.GetRecordVersion() {
		return errs.Precondition("envelope.inconsistent", resource(env.GetRecordId()),
			"envelope names lead %s v%d but carries v%d", env.GetRecordId(), env.GetRecordVersion(), l.GetVersion())
	}
	l.ReleasedTo = []string{s.agency}
	l.Restriction = nil // this node computes it when serving the lead
	return nil
}

// ignoreReplica keeps a withdrawn lead withdrawn: its content is not
// taken back (but for a repair).
func ignoreReplica(cur, l *liaisonv1.Lead) *federation.Outcome {
	if cur.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
		return nil
	}
	return &federation.Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_IGNORED, Code: "lead.withdrawn",
		Reason: fmt.Sprintf("lead %s was withdrawn; its content is not taken back", l.GetId())}
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
	released := l != nil && l.GetOriginAgency() == s.agency && slices.Contains(l.GetReleasedTo(), partner)
	if released && l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN {
		out := records.Upsert(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, partner, l, ReplicaView(l, partner))
		return &out, nil
	}
	out := records.TombstoneTo(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, partner, id, s.agency, l.GetVersion(), timestamppb.New(tx.Now()))
	return &out, nil
}
