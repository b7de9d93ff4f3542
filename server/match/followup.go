package match

import (
	"context"
	"fmt"
	"strconv"
	"time"

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

// Step 2: a hit followed up. The asker sends the hit token in a request
// for assistance (it now deliberately tells the holder which entry
// matched); the holder's node resolves the token to its own records for a
// supervisor, who decides. The decision travels back; the records do not
// (a supervisor releases them through ReleaseLead or ShareCase).

func followUpResource(id string) string { return "match_follow_ups/" + id }

func (s *Server) registerFollowUps(reg *federation.Registry) {
	// A follow-up is the asker's proposal to the holder, its home.
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_FOLLOW_UP, federation.Spec[*liaisonv1.MatchFollowUp]{
		Proposal: true,
		Claim: func(_ *liaisonv1.Envelope, f *liaisonv1.MatchFollowUp) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindMatchFollowUp, ID: f.GetId()}, Home: f.GetHolder(), Proposer: f.GetQuerier()}
		},
		Apply: s.applyFollowUp,
	})
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_FOLLOW_UP_DECISION, federation.Spec[*liaisonv1.MatchFollowUp]{
		Claim: func(_ *liaisonv1.Envelope, f *liaisonv1.MatchFollowUp) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindMatchFollowUp, ID: f.GetId()}, Home: f.GetHolder()}
		},
		Apply: s.applyDecision,
	})
}

// FollowUpHit implements liaisonv1.MatchServiceServer.
func (s *Server) FollowUpHit(ctx context.Context, req *liaisonv1.FollowUpHitRequest) (*liaisonv1.FollowUpHitResponse, error) {
	caller, _ := identity.FromContext(ctx)
	partner := req.GetPartner()
	if err := s.partner(partner); err != nil {
		return nil, err
	}
	epoch, entry, err := parseToken(req.GetHitToken())
	if err != nil {
		return nil, errs.Invalid("hit_token", "not a hit token from MatchPersons")
	}
	// Only a hit is followed up: the token must name an entry of the
	// partner's index as held here.
	idx, err := s.o.Store.RemoteIndexes(ctx, partner)
	if err != nil {
		return nil, err
	}
	hit := false
	for _, r := range idx {
		if r.Epoch == epoch {
			if hit, err = s.o.Store.HasRemoteEntry(ctx, r.IndexID, entry); err != nil {
				return nil, err
			}
		}
	}
	if !hit {
		return nil, errs.Precondition("match.not_a_hit", "match_indexes/"+partner,
			"the token is not a hit in the index %s publishes to %s (a token of a dropped epoch, or an entry withdrawn since); ask again", partner, s.o.Own)
	}
	if id := req.GetLocalLeadId(); id != "" {
		if _, err := s.o.Store.Lead(ctx, id); err != nil {
			return nil, err
		}
	}
	deadline := s.o.FollowUpDeadline
	if h := req.GetDeadlineHours(); h > 0 {
		deadline = timeHours(h)
	}
	var out *liaisonv1.MatchFollowUp
	err = s.o.Store.Write(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		f := &liaisonv1.MatchFollowUp{
			Id: ids.New(), Querier: s.o.Own, Holder: partner, HitToken: req.GetHitToken(), KeyKind: req.GetKeyKind(),
			Justification: req.GetJustification(), RequestedBy: caller.ID, CreateTime: timestamppb.New(now),
			DueTime: timestamppb.New(now.Add(deadline)), Status: liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_PENDING,
			LocalLeadId: req.GetLocalLeadId(),
		}
		audit.SetResource(ctx, followUpResource(f.GetId()))
		audit.SetDetail(ctx, fmt.Sprintf("hit in %s's index (epoch %d) followed up, due %s", partner, epoch, f.GetDueTime().AsTime().Format("2006-01-02 15:04 MST")))
		if err := tx.PutMatchFollowUp(f); err != nil {
			return err
		}
		if _, err := tx.AppendOutbox(store.Outgoing{Receiver: partner, Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_FOLLOW_UP,
			RecordID: f.GetId(), RecordVersion: 1, Payload: f}); err != nil {
			return err
		}
		out = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.FollowUpHitResponse{FollowUp: out}, nil
}

// applyFollowUp stores a partner's follow-up on the holder, with the own
// records its token resolves to (none: NOT_HELD, answered at once).
func (s *Server) applyFollowUp(tx *store.Tx, env *liaisonv1.Envelope, f *liaisonv1.MatchFollowUp) (federation.Outcome, error) {
	res := followUpResource(f.GetId())
	prior, err := tx.MatchFollowUp(f.GetId())
	switch {
	case err == nil && prior.GetQuerier() == f.GetQuerier() && prior.GetHitToken() == f.GetHitToken():
		return federation.Applied, nil // the same follow-up again: whatever was decided stands
	case err == nil:
		return federation.Outcome{}, errs.Precondition("record.id_taken", res, "a follow-up with id %s already exists and is not this one", f.GetId())
	case errs.CodeOf(err) != errs.NotFound:
		return federation.Outcome{}, err
	}
	f.Status = liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_PENDING
	f.DecidedBy, f.DecisionReason, f.DecideTime, f.LocalLeadId, f.Records = "", "", nil, "", nil
	// The deadline is the asker's to set, within the API's bound.
	if max := f.GetCreateTime().AsTime().Add(timeHours(720)); f.GetDueTime().AsTime().After(max) || !f.GetDueTime().IsValid() {
		f.DueTime = timestamppb.New(tx.Now().Add(s.o.FollowUpDeadline))
	}
	if epoch, entry, err := parseToken(f.GetHitToken()); err == nil {
		refs, err := tx.RecordsOfEntry(env.GetSender(), epoch, entry)
		if err != nil {
			return federation.Outcome{}, err
		}
		for _, r := range refs {
			if r.Kind != kindCanary {
				f.Records = append(f.Records, &liaisonv1.MatchedRecord{Kind: r.Kind, Id: r.ID})
			}
		}
	}
	if len(f.Records) == 0 {
		f.Status = liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_NOT_HELD
		f.DecisionReason = "no entry of the index published to " + env.GetSender() + " matches this token (withdrawn, purged, or of a retired epoch)"
		f.DecideTime = timestamppb.New(tx.Now())
		if err := tx.PutMatchFollowUp(f); err != nil {
			return federation.Outcome{}, err
		}
		return federation.Applied, s.sendDecision(tx, f)
	}
	return federation.Applied, tx.PutMatchFollowUp(f)
}

// DecideMatchFollowUp implements liaisonv1.MatchServiceServer.
func (s *Server) DecideMatchFollowUp(ctx context.Context, req *liaisonv1.DecideMatchFollowUpRequest) (*liaisonv1.DecideMatchFollowUpResponse, error) {
	caller, _ := identity.FromContext(ctx)
	audit.SetResource(ctx, followUpResource(req.GetId()))
	audit.SetDetail(ctx, fmt.Sprintf("%s: %s", req.GetStatus(), req.GetReason()))
	var out *liaisonv1.MatchFollowUp
	err := s.o.Store.Write(ctx, func(tx *store.Tx) error {
		f, err := tx.MatchFollowUp(req.GetId())
		if err != nil {
			return err
		}
		if f.GetHolder() != s.o.Own {
			return errs.Precondition("match.holder_decides", followUpResource(f.GetId()),
				"follow-up %s asks %s; only %s decides it", f.GetId(), f.GetHolder(), f.GetHolder())
		}
		if f.GetStatus() != liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_PENDING {
			return errs.Precondition("match.decided", followUpResource(f.GetId()), "follow-up %s was already decided (%s)", f.GetId(), f.GetStatus())
		}
		f.Status, f.DecidedBy, f.DecisionReason, f.DecideTime = req.GetStatus(), caller.ID, req.GetReason(), timestamppb.New(tx.Now())
		if err := tx.PutMatchFollowUp(f); err != nil {
			return err
		}
		out = f
		return s.sendDecision(tx, f)
	})
	if err != nil {
		return nil, err
	}
	return &liaisonv1.DecideMatchFollowUpResponse{FollowUp: out}, nil
}

func (s *Server) sendDecision(tx *store.Tx, f *liaisonv1.MatchFollowUp) error {
	_, err := tx.AppendOutbox(store.Outgoing{Receiver: f.GetQuerier(), Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_MATCH_FOLLOW_UP_DECISION,
		RecordID: f.GetId(), RecordVersion: 2, Payload: f})
	return err
}

// applyDecision stores the holder's decision on the asker's follow-up,
// keeping what only the asker knows.
func (s *Server) applyDecision(tx *store.Tx, env *liaisonv1.Envelope, d *liaisonv1.MatchFollowUp) (federation.Outcome, error) {
	res := followUpResource(d.GetId())
	f, err := tx.MatchFollowUp(d.GetId())
	if errs.CodeOf(err) == errs.NotFound {
		return federation.Outcome{}, errs.Precondition("match.unknown_follow_up", res, "%s sent no follow-up %s", s.o.Own, d.GetId())
	}
	if err != nil {
		return federation.Outcome{}, err
	}
	if f.GetQuerier() != s.o.Own || f.GetHolder() != env.GetSender() {
		return federation.Outcome{}, errs.Precondition("match.holder_decides", res, "follow-up %s was not sent by %s to %s", d.GetId(), s.o.Own, env.GetSender())
	}
	if f.GetStatus() != liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_PENDING {
		if f.GetStatus() == d.GetStatus() {
			return federation.Applied, nil
		}
		return federation.Outcome{}, errs.Precondition("match.decided", res, "follow-up %s was already decided (%s)", d.GetId(), f.GetStatus())
	}
	switch d.GetStatus() {
	case liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_RELEASED, liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_DECLINED,
		liaisonv1.MatchFollowUpStatus_MATCH_FOLLOW_UP_STATUS_NOT_HELD:
	default:
		return federation.Outcome{}, errs.Precondition("match.bad_decision", res, "%s is not a decision", d.GetStatus())
	}
	f.Status, f.DecidedBy, f.DecisionReason, f.DecideTime = d.GetStatus(), d.GetDecidedBy(), d.GetDecisionReason(), d.GetDecideTime()
	return federation.Applied, tx.PutMatchFollowUp(f)
}

// ListMatchFollowUps implements liaisonv1.MatchServiceServer.
func (s *Server) ListMatchFollowUps(ctx context.Context, req *liaisonv1.ListMatchFollowUpsRequest) (*liaisonv1.ListMatchFollowUpsResponse, error) {
	f := store.FollowUpFilter{Status: req.GetStatus()}
	switch req.GetDirection() {
	case liaisonv1.MatchFollowUpDirection_MATCH_FOLLOW_UP_DIRECTION_OUTGOING:
		f.Querier = s.o.Own
	case liaisonv1.MatchFollowUpDirection_MATCH_FOLLOW_UP_DIRECTION_INCOMING:
		f.NotQuerier = s.o.Own
	}
	fp := paging.Fingerprint(req.GetDirection(), req.GetStatus())
	after, err := paging.Decode(req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	offset := 0
	if after != "" {
		if offset, err = strconv.Atoi(after); err != nil || offset < 0 {
			return nil, errs.Invalid("page_token", "not a page token of this list")
		}
	}
	audit.SetResource(ctx, "match_follow_ups")
	size := paging.Size(req.GetPageSize())
	fs, err := s.o.Store.ListMatchFollowUps(ctx, f, offset, size+1)
	if err != nil {
		return nil, err
	}
	resp := &liaisonv1.ListMatchFollowUpsResponse{}
	if len(fs) > size {
		fs = fs[:size]
		resp.NextPageToken = paging.Encode(strconv.Itoa(offset+size), fp)
	}
	resp.FollowUps = fs
	audit.SetRecordsOf(ctx, fs)
	return resp, nil
}

func timeHours(h int32) time.Duration { return time.Duration(h) * time.Hour }
