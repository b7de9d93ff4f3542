package manifests

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/records"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/validate"
)

// Register wires manifests into federation.
func (s *Server) Register(reg *federation.Registry) {
	records.Replication[*liaisonv1.Manifest]{
		Kind: federation.KindManifest, RecordKind: liaisonv1.RecordKind_RECORD_KIND_MANIFEST,
		Upsert: liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST, Validate: validateReplica, Check: s.checkReplica,
		Read: (*store.Tx).Manifest, Insert: (*store.Tx).InsertManifest, Overwrite: (*store.Tx).OverwriteManifest,
		Replace: func(tx *store.Tx, next, cur *liaisonv1.Manifest) error {
			return tx.ReplaceManifest(next, cur.GetVersion())
		},
		Replicas: s.store.ManifestReplicas, Repair: s.repair,
	}.Register(reg)
	// An action is the receiving agency's own record, asking this node to
	// change a manifest homed here.
	federation.Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST_ACTION, federation.Spec[*liaisonv1.ManifestAction]{
		Claim: func(_ *liaisonv1.Envelope, a *liaisonv1.ManifestAction) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: federation.KindManifestAction, ID: a.GetId()},
				Parent: federation.Key{Kind: federation.KindManifest, ID: a.GetManifestId()}, ParentHome: s.agency}
		},
		Validate: validateAction,
		Apply:    s.applyAction,
		Receipt:  s.actionReceipted,
	})
}

// applyAction is the home node applying the receiving agency's action, with
// the rules its own officers' actions meet. A refusal travels back as the
// receipt's reason; the rules the receiving agency can break never name a
// screening, claim or assessment.
func (s *Server) applyAction(tx *store.Tx, env *liaisonv1.Envelope, act *liaisonv1.ManifestAction) (federation.Outcome, error) {
	cur, err := tx.Manifest(act.GetManifestId())
	if errs.CodeOf(err) == errs.NotFound {
		return federation.Outcome{}, errs.Precondition("manifest.not_found", mres(act.GetManifestId()), "there is no manifest %s here", act.GetManifestId())
	}
	if err != nil {
		return federation.Outcome{}, err
	}
	if cur.GetOriginAgency() != s.agency || cur.GetReceivingAgency() != env.GetSender() {
		return federation.Outcome{}, errs.Precondition("manifest.not_a_party", mres(cur.GetId()),
			"manifest %s is sent by %s to %s; %s cannot act on it here", cur.GetId(), cur.GetOriginAgency(), cur.GetReceivingAgency(), env.GetSender())
	}
	m := proto.Clone(cur).(*liaisonv1.Manifest)
	if err := run(m, act, actor{agency: env.GetSender(), principal: act.GetPrincipal(), at: tx.Now()}); err != nil {
		return federation.Outcome{}, err
	}
	return federation.Applied, s.kind.Commit(tx, m, cur)
}

// actionReceipted records what the home node did with an action.
func (s *Server) actionReceipted(tx *store.Tx, sent store.SentEnvelope, rc *liaisonv1.Receipt) error {
	row, err := tx.ManifestAction(sent.RecordID)
	if err != nil {
		return err
	}
	switch rc.GetStatus() {
	case liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED:
		row.State = "applied"
	case liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED:
		row.State, row.Reason = "rejected", strings.TrimSpace(rc.GetReasonCode()+": "+rc.GetReason())
	default:
		return nil
	}
	return tx.PutManifestAction(row)
}

// checkReplica checks that the sending agency's manifest arriving is the
// one its envelope names, sent to this node. Stored, it is a read-only
// copy that only the home node's envelopes change.
func (s *Server) checkReplica(_ *store.Tx, env *liaisonv1.Envelope, m *liaisonv1.Manifest) error {
	if m.GetVersion() != env.GetRecordVersion() || m.GetReceivingAgency() != s.agency {
		return errs.Precondition("envelope.inconsistent", mres(m.GetId()),
			"envelope from %s names manifest %s v%d but carries %s v%d from %s to %s", env.GetSender(), env.GetRecordId(), env.GetRecordVersion(),
			m.GetId(), m.GetVersion(), m.GetOriginAgency(), m.GetReceivingAgency())
	}
	return nil
}

// repair re-sends the receiving agency its view of a manifest whose copy
// drifted.
func (s *Server) repair(tx *store.Tx, partner, id string) (*store.Outgoing, error) {
	m, err := tx.Manifest(id)
	if errs.CodeOf(err) == errs.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m.GetOriginAgency() != s.agency || m.GetReceivingAgency() != partner || m.GetState() == draft {
		return nil, nil
	}
	out := records.Upsert(liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST, partner, m, ReceivingView(m))
	return &out, nil
}

// What a partner sends about manifests meets the rules the API applies to
// what an officer writes: the manifest as CreateManifest checks it, each
// person as AddPerson does, each action as the call that makes it.

// maxPrincipalBytes bounds the principal an action names (a SPIFFE ID).
const maxPrincipalBytes = 2048

// validateReplica checks a manifest the sending agency's node sends. A
// withdrawn person travels as its id and status only (ReceivingView).
func validateReplica(v *validate.Validator, m *liaisonv1.Manifest) error {
	head := proto.Clone(m).(*liaisonv1.Manifest)
	head.Persons = nil
	if err := v.Validate(head, "manifest"); err != nil {
		return err
	}
	for i, p := range m.GetPersons() {
		if p.GetStatus() == withdrawn {
			if !proto.Equal(p, &liaisonv1.ManifestPerson{Id: p.GetId(), Status: withdrawn}) {
				return errs.Invalid(fmt.Sprintf("manifest.persons[%d]", i), "a withdrawn person is sent as its id and status only")
			}
			continue
		}
		if err := v.Validate(p, fmt.Sprintf("manifest.persons[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

// validateAction checks an action the receiving agency's node sends, with
// the rules of the request its officer made it with.
func validateAction(v *validate.Validator, a *liaisonv1.ManifestAction) error {
	// A hold's reason stays on the acting node: the request's own rule for
	// it is met by a stand-in.
	const kept = "kept by the acting agency"
	var req proto.Message
	reasonCarried := true
	switch a.GetKind() {
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_REVIEW:
		req = &liaisonv1.ReviewPersonRequest{ManifestId: a.GetManifestId(), PersonId: a.GetPersonId(), Nationality: a.GetNationality(), Reason: a.GetReason()}
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_ACCEPT:
		req, reasonCarried = &liaisonv1.AcceptManifestRequest{Id: a.GetManifestId()}, false
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_HANDOVER:
		req = &liaisonv1.RecordHandoverRequest{ManifestId: a.GetManifestId(), PersonId: a.GetPersonId(), Status: a.GetHandover(), Reason: a.GetReason()}
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_CANCEL:
		req = &liaisonv1.CancelManifestRequest{Id: a.GetManifestId(), Reason: a.GetReason()}
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_PLACE_HOLD:
		// The hold's id is chosen where the hold is placed.
		req, reasonCarried = &liaisonv1.LiftHoldRequest{ManifestId: a.GetManifestId(), PersonId: a.GetPersonId(), HoldId: a.GetHoldId(), Reason: kept}, false
	case liaisonv1.ManifestActionKind_MANIFEST_ACTION_KIND_LIFT_HOLD:
		req, reasonCarried = &liaisonv1.LiftHoldRequest{ManifestId: a.GetManifestId(), PersonId: a.GetPersonId(), HoldId: a.GetHoldId(), Reason: kept}, false
	default:
		return errs.Invalid("action.kind", "unknown manifest action %s", a.GetKind())
	}
	if err := v.Validate(req, "action"); err != nil {
		return err
	}
	switch {
	case !reasonCarried && a.GetReason() != "":
		return errs.Invalid("action.reason", "a %s action carries no reason", actionName(a.GetKind()))
	case len(a.GetPrincipal()) > maxPrincipalBytes:
		return errs.Invalid("action.principal", "at most %d bytes", maxPrincipalBytes)
	}
	return nil
}
