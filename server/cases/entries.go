package cases

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/identity"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/store"
)

// Register wires cases into federation: case replicas, the entries the
// home node orders, and partners' proposals.
func (s *Server) Register(reg *federation.Registry) {
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE, federation.Spec[*liaisonv1.Case]{
		Claim: func(_ *liaisonv1.Envelope, c *liaisonv1.Case) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindCase, ID: c.GetId()}, Home: c.GetOriginAgency()}
		},
		Apply: s.applyCase,
	})
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
	reg.Kind(federation.RecordKindSpec{
		Kind:     liaisonv1.RecordKind_RECORD_KIND_CASE,
		Upsert:   liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE,
		Replicas: s.store.CaseReplicas,
		Repair:   s.repair,
	})
}

// AddCaseEntry implements liaisonv1.CaseServiceServer.
func (s *Server) AddCaseEntry(ctx context.Context, req *liaisonv1.AddCaseEntryRequest) (*liaisonv1.AddCaseEntryResponse, error) {
	hash, err := store.RequestHash(req)
	if err != nil {
		return nil, err
	}
	caller, _ := identity.FromContext(ctx)
	audit.SetResource(ctx, resource(req.GetCaseId()))
	var out *liaisonv1.CaseEntry
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if req.GetRequestId() != "" {
			prior, err := tx.SeenRequest(liaisonv1.CaseService_AddCaseEntry_FullMethodName, req.GetRequestId(), hash)
			if err != nil {
				return err
			}
			if prior != "" {
				out, err = tx.CaseEntry(prior)
				return err
			}
		}
		c, err := tx.Case(req.GetCaseId())
		if err != nil {
			return err
		}
		e := proto.Clone(req.GetEntry()).(*liaisonv1.CaseEntry)
		e.Id = ids.New()
		e.CaseId, e.Agency, e.Author = c.GetId(), s.agency, caller.ID
		e.CreateTime, e.ApplyTime, e.Sequence, e.RejectionReason = timestamppb.New(tx.Now()), nil, 0, ""
		if err := s.prepare(tx, c, e); err != nil {
			return err
		}
		audit.SetDetail(ctx, fmt.Sprintf("entry %s (%s)", e.GetId(), kindName(e.GetKind())))
		if c.GetOriginAgency() == s.agency {
			if err := s.applyHere(tx, c, e); err != nil {
				return err
			}
		} else {
			// A partner's case: the entry is a proposal to its home node.
			e.State = liaisonv1.EntryState_ENTRY_STATE_PENDING
			if err := tx.PutCaseEntry(e); err != nil {
				return err
			}
			if _, err := tx.AppendOutbox(store.Outgoing{Receiver: c.GetOriginAgency(), Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE_ENTRY_PROPOSAL,
				RecordID: e.GetId(), RecordVersion: 1, Payload: e}); err != nil {
				return err
			}
		}
		if req.GetRequestId() != "" {
			if err := tx.RememberRequest(liaisonv1.CaseService_AddCaseEntry_FullMethodName, req.GetRequestId(), hash, e.GetId()); err != nil {
				return err
			}
		}
		out = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.AddCaseEntryResponse{Entry: out}, nil
}

func kindName(k liaisonv1.CaseEntryKind) string {
	return map[liaisonv1.CaseEntryKind]string{
		liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_NOTE: "note", liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST: "request",
		liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE: "response", liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_OUTCOME: "outcome",
	}[k]
}

// parties are the agencies of a case: its home and the partners it is
// shared with.
func parties(c *liaisonv1.Case) []string {
	return append([]string{c.GetOriginAgency()}, c.GetSharedWith()...)
}

// prepare completes a new entry (a request's deadline and debtor) and
// checks the rules every entry must meet, wherever it is written. The home
// node checks them again when it applies a proposal.
func (s *Server) prepare(tx *store.Tx, c *liaisonv1.Case, e *liaisonv1.CaseEntry) error {
	if c.GetStatus() == liaisonv1.CaseStatus_CASE_STATUS_CLOSED {
		return errs.Precondition("case.closed", resource(c.GetId()), "case %s is closed; entries can no longer be added", c.GetId())
	}
	switch e.GetKind() {
	case liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST:
		r := e.GetRequest()
		r.Answered, r.AnsweredByEntryId, r.AnswerTime = false, "", nil
		if r.GetRequestedOf() == "" {
			var others []string
			for _, a := range parties(c) {
				if a != e.GetAgency() {
					others = append(others, a)
				}
			}
			switch len(others) {
			case 0:
				return errs.Precondition("request.no_partner", resource(c.GetId()), "case %s is not shared with any partner; share it before requesting assistance", c.GetId())
			case 1:
				r.RequestedOf = others[0]
			default:
				return errs.Invalid("entry.request.requested_of", "the case is shared with several agencies (%v); name the one asked", others)
			}
		}
		if r.GetRequestedOf() == e.GetAgency() {
			return errs.Invalid("entry.request.requested_of", "an agency does not request assistance of itself")
		}
		if !slices.Contains(parties(c), r.GetRequestedOf()) {
			return errs.Invalid("entry.request.requested_of", "%q is not a party to case %s (parties: %v)", r.GetRequestedOf(), c.GetId(), parties(c))
		}
		written := e.GetCreateTime().AsTime()
		if r.GetDueTime() == nil {
			r.DueTime = timestamppb.New(written.Add(DefaultDeadline[r.GetUrgency()]))
		} else if !r.GetDueTime().AsTime().After(written) {
			return errs.Invalid("entry.request.due_time", "must be after the time the request is written (%s)", written.Format(time.RFC3339))
		}
	case liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE:
		req, err := tx.CaseEntry(e.GetResponse().GetRequestEntryId())
		if errs.CodeOf(err) == errs.NotFound || (err == nil && (req.GetCaseId() != c.GetId() || req.GetKind() != liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST)) {
			return errs.Precondition("response.request_not_found", resource(c.GetId()),
				"case %s has no request %s to answer", c.GetId(), e.GetResponse().GetRequestEntryId())
		}
		if err != nil {
			return err
		}
		switch {
		case req.GetState() == liaisonv1.EntryState_ENTRY_STATE_REJECTED:
			return errs.Precondition("response.request_not_found", resource(c.GetId()), "request %s was rejected by the case's home node", req.GetId())
		case req.GetRequest().GetAnswered():
			return errs.Precondition("request.closed", resource(c.GetId()), "request %s was already answered by entry %s", req.GetId(), req.GetRequest().GetAnsweredByEntryId())
		case req.GetRequest().GetRequestedOf() != e.GetAgency():
			return errs.Precondition("response.wrong_agency", resource(c.GetId()),
				"request %s is owed by %s; only %s can answer it", req.GetId(), req.GetRequest().GetRequestedOf(), req.GetRequest().GetRequestedOf())
		}
	}
	return nil
}

// applyHere orders an entry on the home node: it takes the case's next
// position, closes the request a response answers, and goes to every
// partner the case is shared with.
func (s *Server) applyHere(tx *store.Tx, c *liaisonv1.Case, e *liaisonv1.CaseEntry) error {
	if e.GetKind() == liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE {
		// A request not yet applied cannot be answered.
		req, err := tx.CaseEntry(e.GetResponse().GetRequestEntryId())
		if err != nil {
			return err
		}
		if req.GetState() != liaisonv1.EntryState_ENTRY_STATE_APPLIED {
			return errs.Precondition("request.pending", resource(c.GetId()), "request %s is not yet applied by the case's home node", req.GetId())
		}
	}
	seq, err := tx.NextCaseSequence(c.GetId())
	if err != nil {
		return err
	}
	e.Sequence, e.State, e.ApplyTime = seq, liaisonv1.EntryState_ENTRY_STATE_APPLIED, timestamppb.New(tx.Now())
	if err := tx.PutCaseEntry(e); err != nil {
		return err
	}
	if err := closeRequest(tx, e); err != nil {
		return err
	}
	for _, p := range c.GetSharedWith() {
		if err := sendEntry(tx, e, p); err != nil {
			return err
		}
	}
	return nil
}

// closeRequest marks the request a response answers as answered. Both nodes
// do it when they apply the response, so both close it. A response closes
// only a REQUEST of its own case.
func closeRequest(tx *store.Tx, e *liaisonv1.CaseEntry) error {
	if e.GetKind() != liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_RESPONSE {
		return nil
	}
	id := e.GetResponse().GetRequestEntryId()
	req, err := tx.CaseEntry(id)
	if errs.CodeOf(err) == errs.NotFound || (err == nil && (req.GetCaseId() != e.GetCaseId() || req.GetKind() != liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_REQUEST)) {
		return errs.Precondition("response.request_not_found", resource(e.GetCaseId()), "case %s has no request %s to answer", e.GetCaseId(), id)
	}
	if err != nil {
		return err
	}
	r := req.GetRequest()
	r.Answered, r.AnsweredByEntryId, r.AnswerTime = true, e.GetId(), e.GetApplyTime()
	return tx.PutCaseEntry(req)
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

// applyCase stores or updates a partner's case, on this node a read-only
// replica.
func (s *Server) applyCase(tx *store.Tx, env *liaisonv1.Envelope, c *liaisonv1.Case) (federation.Outcome, error) {
	if c.GetVersion() != env.GetRecordVersion() {
		return federation.Outcome{}, errs.Precondition("envelope.inconsistent", resource(c.GetId()),
			"envelope from %s names case %s v%d but carries v%d", env.GetSender(), env.GetRecordId(), env.GetRecordVersion(), c.GetVersion())
	}
	c.SharedWith = []string{s.agency}
	cur, err := tx.Case(c.GetId())
	if errs.CodeOf(err) == errs.NotFound {
		return federation.Applied, tx.InsertCase(c)
	}
	if err != nil {
		return federation.Outcome{}, err
	}
	if env.GetRepair() {
		return federation.Applied, tx.OverwriteCase(c)
	}
	if c.GetVersion() <= cur.GetVersion() {
		return federation.Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_IGNORED, Code: "case.stale_version",
			Reason: fmt.Sprintf("version %d is not newer than version %d held", c.GetVersion(), cur.GetVersion())}, nil
	}
	return federation.Applied, tx.ReplaceCase(c, cur.GetVersion())
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
	return &store.Outgoing{Receiver: partner, Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_CASE, RecordID: id, RecordVersion: c.GetVersion(), Payload: v}, nil
}
