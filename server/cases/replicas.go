package cases

import (
	"slices"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/records"
	"github.com/liaison-exchange/liaison/server/store"
)

// Register wires cases into federation: case replicas, the entries the
// home node orders, and partners' proposals.
func (s *Server) Register(reg *federation.Registry) {
	records.Replication[*liaisonv1.Case]{
		Kind: federation.KindCase, RecordKind: liaisonv1.RecordKind_RECORD_KIND_CASE,
		Upsert: liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE, Check: s.checkReplica,
		Read: (*store.Tx).Case, Insert: (*store.Tx).InsertCase, Overwrite: (*store.Tx).OverwriteCase,
		Replace: func(tx *store.Tx, next, cur *liaisonv1.Case) error {
			return tx.ReplaceCase(next, cur.GetVersion())
		},
		Replicas: s.store.CaseReplicas, Repair: s.repair,
	}.Register(reg)
	// An ordered entry belongs to the sender's case; a proposal to one of
	// this node's.
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY, federation.Spec[*liaisonv1.CaseEntry]{
		Claim: func(env *liaisonv1.Envelope, e *liaisonv1.CaseEntry) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindCaseEntry, ID: e.GetId()},
				Parent: federation.Key{Kind: federation.KindCase, ID: e.GetCaseId()}, ParentHome: env.GetSender()}
		},
		Apply: s.applyEntry,
	})
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY_PROPOSAL, federation.Spec[*liaisonv1.CaseEntry]{
		Proposal: true,
		Claim: func(_ *liaisonv1.Envelope, e *liaisonv1.CaseEntry) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindCaseEntry, ID: e.GetId()}, Proposer: e.GetAgency(),
				Parent: federation.Key{Kind: federation.KindCase, ID: e.GetCaseId()}, ParentHome: s.agency}
		},
		Apply:   s.applyProposal,
		Receipt: s.proposalReceipted,
	})
}

// checkReplica checks that a partner's case arriving is the one its
// envelope names, and makes it this node's read-only replica.
func (s *Server) checkReplica(_ *store.Tx, env *liaisonv1.Envelope, c *liaisonv1.Case) error {
	if c.GetVersion() != env.GetRecordVersion() {
		return errs.Precondition("envelope.inconsistent", resource(c.GetId()),
			"envelope from %s names case %s v%d but carries v%d", env.GetSender(), env.GetRecordId(), env.GetRecordVersion(), c.GetVersion())
	}
	c.SharedWith = []string{s.agency}
	return nil
}

// applyEntry stores an entry the home node ordered, on a partner's node
// (the ownership rule has checked that the case, if here, is the
// sender's, and that the id is not another case's entry).
func (s *Server) applyEntry(tx *store.Tx, env *liaisonv1.Envelope, e *liaisonv1.CaseEntry) (federation.Outcome, error) {
	c, err := tx.Case(e.GetCaseId())
	if errs.CodeOf(err) == errs.NotFound {
		return federation.Outcome{}, errs.Precondition("case.not_found", resource(e.GetCaseId()), "no case %s was shared with %s", e.GetCaseId(), s.agency)
	}
	if err != nil {
		return federation.Outcome{}, err
	}
	if e.GetState() != liaisonv1.EntryState_ENTRY_STATE_APPLIED || e.GetSequence() < 1 {
		return federation.Outcome{}, errs.Precondition("entry.not_applied", resource(c.GetId()), "entry %s arrived without its position", e.GetId())
	}
	// An entry of ours coming back ordered names its author by the
	// pseudonym the home node was given: the local view keeps the officer.
	if e.GetAgency() == s.agency {
		if prior, err := tx.CaseEntry(e.GetId()); err == nil && prior.GetAgency() == s.agency {
			e.Author = prior.GetAuthor()
		}
	}
	if err := tx.PutCaseEntry(e); err != nil {
		return federation.Outcome{}, err
	}
	return federation.Applied, closeRequest(tx, e)
}

// applyProposal is the home node applying an entry a partner wrote.
func (s *Server) applyProposal(tx *store.Tx, env *liaisonv1.Envelope, e *liaisonv1.CaseEntry) (federation.Outcome, error) {
	c, err := tx.Case(e.GetCaseId())
	if errs.CodeOf(err) == errs.NotFound {
		return federation.Outcome{}, errs.Precondition("case.not_found", resource(e.GetCaseId()), "there is no case %s here", e.GetCaseId())
	}
	if err != nil {
		return federation.Outcome{}, err
	}
	if err := s.home(c, "order entries of"); err != nil {
		return federation.Outcome{}, err
	}
	if !slices.Contains(c.GetSharedWith(), env.GetSender()) {
		return federation.Outcome{}, errs.Precondition("case.not_shared", resource(c.GetId()), "case %s is not shared with %s", c.GetId(), env.GetSender())
	}
	if prior, err := tx.CaseEntry(e.GetId()); err == nil {
		if prior.GetAgency() == e.GetAgency() && prior.GetText() == e.GetText() {
			return federation.Applied, nil // the same proposal again
		}
		return federation.Outcome{}, errs.Precondition("entry.id_taken", resource(c.GetId()), "an entry with id %s already exists", e.GetId())
	} else if errs.CodeOf(err) != errs.NotFound {
		return federation.Outcome{}, err
	}
	if err := s.prepare(tx, c, e); err != nil {
		return federation.Outcome{}, err
	}
	e.RejectionReason = ""
	if err := s.applyHere(tx, c, e); err != nil {
		return federation.Outcome{}, err
	}
	return federation.Applied, nil
}

// proposalReceipted records, on the proposer's node, what the home node
// did with a proposal: rejected (with its reason), or applied (its position
// arrives with the ordered copy, which may come first).
func (s *Server) proposalReceipted(tx *store.Tx, sent store.SentEnvelope, rc *liaisonv1.Receipt) error {
	e, err := tx.CaseEntry(sent.RecordID)
	if err != nil {
		return err
	}
	if e.GetState() != liaisonv1.EntryState_ENTRY_STATE_PENDING {
		return nil
	}
	switch rc.GetStatus() {
	case liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED:
		e.State, e.RejectionReason = liaisonv1.EntryState_ENTRY_STATE_REJECTED, rc.GetReasonCode()+": "+rc.GetReason()
	case liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED:
		e.State = liaisonv1.EntryState_ENTRY_STATE_APPLIED
	default:
		return nil
	}
	return tx.PutCaseEntry(e)
}

// repair re-sends the current case to a partner whose copy drifted.
func (s *Server) repair(tx *store.Tx, partner, id string) (*store.Outgoing, error) {
	c, err := tx.Case(id)
	if errs.CodeOf(err) == errs.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.GetOriginAgency() != s.agency || !slices.Contains(c.GetSharedWith(), partner) {
		return nil, nil // cases are not withdrawn: nothing to send
	}
	v, err := s.replicaView(tx, c, partner)
	if err != nil {
		return nil, err
	}
	out := records.Upsert(liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE, partner, c, v)
	return &out, nil
}
