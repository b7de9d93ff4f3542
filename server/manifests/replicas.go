package manifests

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/validate"
)

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
