package manifests

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/store"
)

func actionName(k liaisonv1.ManifestActionKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "MANIFEST_ACTION_KIND_"))
}

func enumWord(s, prefix string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s, prefix)), "_", " ")
}

// run applies an action with the workflow's rules to a manifest.
func run(m *liaisonv1.Manifest, act *liaisonv1.ManifestAction, a actor) error {
	switch act.GetKind() {
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_REVIEW:
		return review(m, act.GetPersonId(), act.GetNationality(), act.GetReason(), a)
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_ACCEPT:
		return accept(m, a)
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_HANDOVER:
		return handover(m, act.GetPersonId(), act.GetHandover(), act.GetReason(), a)
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_CANCEL:
		return cancel(m, act.GetReason(), a)
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_PLACE_HOLD:
		return placeHold(m, act.GetPersonId(), act.GetHoldId(), a)
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_LIFT_HOLD:
		return liftHold(m, act.GetPersonId(), act.GetHoldId(), a)
	}
	return errs.Invalid("kind", "unknown manifest action %s", act.GetKind())
}

// act carries out an action: on the manifest's home node at once; on the
// receiving agency's node as a proposal to the home node, checked first
// against the copy held here so that a hopeless one fails at once. note,
// if not empty, is kept on this node only (a hold's reason).
func (s *Server) act(ctx context.Context, manifestID string, act *liaisonv1.ManifestAction, note string) (*liaisonv1.Manifest, *liaisonv1.PendingAction, error) {
	audit.SetResource(ctx, mres(manifestID))
	audit.SetDetail(ctx, strings.TrimSpace(actionName(act.GetKind())+" "+act.GetPersonId()))
	home, err := s.store.Manifest(ctx, manifestID)
	if err != nil {
		return nil, nil, err
	}
	if home.GetOriginAgency() == s.agency {
		m, err := s.change(ctx, manifestID, func(tx *store.Tx, m *liaisonv1.Manifest, a actor) error {
			act.Principal, act.CreateTime = a.principal, timestamppb.New(a.at)
			if err := run(m, act, a); err != nil {
				return err
			}
			if err := s.keepNote(tx, m, act, a, note); err != nil {
				return err
			}
			// A hold the sending agency places holds back the individual:
			// it withdraws them from every other active manifest.
			if act.GetKind() == liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_PLACE_HOLD {
				p, err := findPerson(m, act.GetPersonId())
				if err != nil {
					return err
				}
				return s.withdrawIndividual(tx, m, p, fmt.Sprintf("is on a protection hold (%s) placed on manifest %s", act.GetHoldId(), m.GetId()), a)
			}
			return nil
		})
		return m, nil, err
	}
	var pending *liaisonv1.PendingAction
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		m, err := tx.Manifest(manifestID)
		if err != nil {
			return err
		}
		a := s.actor(ctx, tx)
		act.Id, act.ManifestId, act.Principal, act.CreateTime = ids.New(), manifestID, a.principal, timestamppb.New(a.at)
		if err := run(proto.Clone(m).(*liaisonv1.Manifest), act, a); err != nil {
			return err
		}
		row := store.ManifestActionRow{Action: act, State: "pending", Reason: note}
		if err := tx.PutManifestAction(row); err != nil {
			return err
		}
		if err := s.keepNote(tx, m, act, a, note); err != nil {
			return err
		}
		if _, err := tx.AppendOutbox(store.Outgoing{Receiver: m.GetOriginAgency(), Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST_ACTION,
			RecordID: act.GetId(), RecordVersion: 1, Payload: act}); err != nil {
			return err
		}
		pending = pendingAction(row)
		return nil
	})
	return nil, pending, err
}

// keepNote stores a reason that stays on this node (a hold's reason).
func (s *Server) keepNote(tx *store.Tx, m *liaisonv1.Manifest, act *liaisonv1.ManifestAction, a actor, note string) error {
	if note == "" {
		return nil
	}
	return tx.AddManifestNote(m.GetId(), &liaisonv1.ManifestEvent{Time: timestamppb.New(a.at), Agency: a.agency, Principal: a.principal,
		Action: actionName(act.GetKind()) + "_reason", PersonId: act.GetPersonId(), State: m.GetState(), Note: note})
}

// ReviewPerson implements liaisonv1.ManifestServiceServer.
func (s *Server) ReviewPerson(ctx context.Context, req *liaisonv1.ReviewPersonRequest) (*liaisonv1.ReviewPersonResponse, error) {
	_, p, err := s.act(ctx, req.GetManifestId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_REVIEW,
		PersonId: req.GetPersonId(), Nationality: req.GetNationality(), Reason: req.GetReason()}, "")
	if err != nil {
		return nil, err
	}
	return &liaisonv1.ReviewPersonResponse{Action: p}, nil
}

// AcceptManifest implements liaisonv1.ManifestServiceServer.
func (s *Server) AcceptManifest(ctx context.Context, req *liaisonv1.AcceptManifestRequest) (*liaisonv1.AcceptManifestResponse, error) {
	_, p, err := s.act(ctx, req.GetId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_ACCEPT}, "")
	if err != nil {
		return nil, err
	}
	return &liaisonv1.AcceptManifestResponse{Action: p}, nil
}

// RecordHandover implements liaisonv1.ManifestServiceServer.
func (s *Server) RecordHandover(ctx context.Context, req *liaisonv1.RecordHandoverRequest) (*liaisonv1.RecordHandoverResponse, error) {
	_, p, err := s.act(ctx, req.GetManifestId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_HANDOVER,
		PersonId: req.GetPersonId(), Handover: req.GetStatus(), Reason: req.GetReason()}, "")
	if err != nil {
		return nil, err
	}
	return &liaisonv1.RecordHandoverResponse{Action: p}, nil
}

// CancelManifest implements liaisonv1.ManifestServiceServer.
func (s *Server) CancelManifest(ctx context.Context, req *liaisonv1.CancelManifestRequest) (*liaisonv1.CancelManifestResponse, error) {
	m, p, err := s.act(ctx, req.GetId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_CANCEL, Reason: req.GetReason()}, "")
	if err != nil {
		return nil, err
	}
	return &liaisonv1.CancelManifestResponse{Manifest: m, Action: p}, nil
}

// PlaceHold implements liaisonv1.ManifestServiceServer.
func (s *Server) PlaceHold(ctx context.Context, req *liaisonv1.PlaceHoldRequest) (*liaisonv1.PlaceHoldResponse, error) {
	id := ids.New()
	m, p, err := s.act(ctx, req.GetManifestId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_PLACE_HOLD,
		PersonId: req.GetPersonId(), HoldId: id}, req.GetReason())
	if err != nil {
		return nil, err
	}
	return &liaisonv1.PlaceHoldResponse{Manifest: m, Action: p, HoldId: id}, nil
}

// LiftHold implements liaisonv1.ManifestServiceServer.
func (s *Server) LiftHold(ctx context.Context, req *liaisonv1.LiftHoldRequest) (*liaisonv1.LiftHoldResponse, error) {
	m, p, err := s.act(ctx, req.GetManifestId(), &liaisonv1.ManifestAction{Kind: liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_LIFT_HOLD,
		PersonId: req.GetPersonId(), HoldId: req.GetHoldId()}, req.GetReason())
	if err != nil {
		return nil, err
	}
	return &liaisonv1.LiftHoldResponse{Manifest: m, Action: p}, nil
}
