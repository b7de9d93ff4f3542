package federation

import (
	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/validate"
)

// The ownership rule. Everything a node keeps is keyed by (kind, id)
// across the node, and every record has one home: the agency whose node
// decides it. A partner's envelope is applied only if
//   - its payload decodes, is at most MaxPayloadBytes and meets the API's
//     validation rules;
//   - the record it creates or changes has a well-formed id equal to the
//     envelope's record id;
//   - that record is homed on the sender (a replica) or, for a proposal
//     the sender makes to this node (an entry in this node's case, an
//     action on this node's manifest, a permission request for this
//     node's lead), on this node, with the sender as its proposer;
//   - no record of another kind, of another home, or under another parent
//     already holds the id;
//   - the parent it belongs to (a case entry's case, an action's manifest,
//     a permission request's lead), where it exists here, is of the right
//     kind and homed where the envelope says.
// Anything else is REJECTED with the broken rule as the receipt's reason,
// before the kind's applier runs. Appliers keep their own rules (state,
// versions, workflow) on top.

// MaxPayloadBytes bounds the payload of one envelope. The largest record
// the API accepts (a lead with its subjects) is far smaller.
const MaxPayloadBytes = 1 << 20

// ReasonHomeNodeOnly is the reason code of a refusal to change a record
// anywhere but on its home node — a partner's envelope here, an API call
// in server/records.
const ReasonHomeNodeOnly = "record.home_node_only"

// Record kinds as the ownership rule names them (store.HeldRecord.Kind).
const (
	KindLead              = "lead"
	KindCase              = "case"
	KindCaseEntry         = "case_entry"
	KindManifest          = "manifest"
	KindManifestAction    = "manifest_action"
	KindPermissionRequest = "permission_request"
	KindMatchIndex        = "match_index"
	KindMatchFollowUp     = "match_follow_up"
)

// Key names one record on a node.
type Key struct{ Kind, ID string }

func (k Key) String() string { return k.Kind + " " + k.ID }

// Claim is what an envelope's payload says it creates or changes.
type Claim struct {
	Key
	// Home is the agency the payload names as the record's home ("": the
	// payload names none; it is the sender's, or this node's for a
	// proposal).
	Home string
	// Proposer is, for a proposal, the agency the payload names as its
	// author; it must be the sender.
	Proposer string
	// Parent is the record it belongs to (zero if none), homed on
	// ParentHome.
	Parent     Key
	ParentHome string
}

// Spec is how one envelope kind is applied.
type Spec[M proto.Message] struct {
	// Proposal: the sender asks this node to apply something to a record
	// homed here. Otherwise the envelope carries the sender's own record.
	Proposal bool
	// Claim reads what the payload says it changes.
	Claim func(env *liaisonv1.Envelope, m M) Claim
	// Validate checks the payload with the API's rules; nil: the message's
	// own protovalidate rules.
	Validate func(v *validate.Validator, m M) error
	// Apply applies a payload that passed the rule.
	Apply func(tx *store.Tx, env *liaisonv1.Envelope, m M) (Outcome, error)
	// Receipt, if set, runs on the sending node when the receipt arrives.
	Receipt ReceiptHandler
}

// Handle registers how envelopes of a kind are checked and applied.
func Handle[M proto.Message](r *Registry, kind liaisonv1.EnvelopeKind, s Spec[M]) {
	var zero M
	typ := zero.ProtoReflect().Type()
	name := string(typ.Descriptor().Name())
	decode := func(env *liaisonv1.Envelope) (proto.Message, error) {
		if n := len(env.GetPayload()); n > MaxPayloadBytes {
			return nil, errs.Precondition("payload.too_large", resourceOf(env), "the payload is %d bytes; at most %d are accepted", n, MaxPayloadBytes)
		}
		m := typ.New().Interface().(M)
		if err := proto.Unmarshal(env.GetPayload(), m); err != nil {
			return nil, errs.Precondition("payload.malformed", resourceOf(env), "not a %s: %v", name, err)
		}
		var err error
		if s.Validate != nil {
			err = s.Validate(r.validator, m)
		} else {
			err = r.validator.Validate(m, "payload")
		}
		if err != nil {
			if e, ok := err.(*errs.Error); ok && e.Code == errs.InvalidArgument {
				return nil, errs.Precondition("payload.invalid", resourceOf(env), "the %s breaks the API's rules: %s", name, e.Message)
			}
			return nil, err
		}
		return m, nil
	}
	r.handle(kind, decode, func(tx *store.Tx, env *liaisonv1.Envelope, payload proto.Message) (Outcome, error) {
		m := payload.(M)
		if err := r.owns(tx, env, s.Proposal, s.Claim(env, m)); err != nil {
			return Outcome{}, err
		}
		return s.Apply(tx, env, m)
	}, s.Receipt)
}

// owns checks a claim against the envelope and against what this node
// already keeps under the ids it names.
func (r *Registry) owns(tx *store.Tx, env *liaisonv1.Envelope, proposal bool, c Claim) error {
	res := resourceOf(env)
	sender := env.GetSender()
	if !ids.Valid(c.ID) {
		return errs.Precondition("record.bad_id", res, "%q is not a record id (a UUID in canonical form)", c.ID)
	}
	if c.ID != env.GetRecordId() {
		return errs.Precondition("envelope.inconsistent", res, "the envelope names record %s but carries %s", env.GetRecordId(), c.Key)
	}
	home := sender
	if proposal {
		home = r.own
		if c.Proposer != sender {
			return errs.Precondition("envelope.inconsistent", res, "%s sent a %s that names %q as its author", sender, c.Kind, c.Proposer)
		}
	}
	if c.Home == "" {
		c.Home = home // the payload names no home: the kind implies it
	}
	switch {
	case c.Home != home && proposal:
		return errs.Precondition(ReasonHomeNodeOnly, res, "%s proposed a %s homed on %q to %s; only its home node can take it", sender, c.Kind, c.Home, r.own)
	case c.Home != home:
		return errs.Precondition(ReasonHomeNodeOnly, res, "%s sent a %s homed on %q; only %s's node can send it", sender, c.Kind, c.Home, c.Home)
	}
	held, err := tx.RecordsUnder(c.ID)
	if err != nil {
		return err
	}
	for _, k := range held {
		switch {
		case k.Kind != c.Kind:
			return errs.Precondition("record.id_taken", res, "id %s is already used here by a %s", c.ID, k.Kind)
		case k.Home != home:
			return errs.Precondition(ReasonHomeNodeOnly, res, "%s %s belongs to %s; %s cannot change it", c.Kind, c.ID, k.Home, sender)
		case k.Parent != c.Parent.ID:
			return errs.Precondition("record.wrong_parent", res, "%s %s belongs to %s, not to %s", c.Kind, c.ID, k.Parent, c.Parent.ID)
		}
	}
	if c.Parent == (Key{}) {
		return nil
	}
	if !ids.Valid(c.Parent.ID) {
		return errs.Precondition("record.bad_id", res, "%q is not a record id (a UUID in canonical form)", c.Parent.ID)
	}
	parents, err := tx.RecordsUnder(c.Parent.ID)
	if err != nil {
		return err
	}
	for _, k := range parents {
		switch {
		case k.Kind != c.Parent.Kind:
			return errs.Precondition("record.wrong_parent", res, "%s is a %s here, not a %s", c.Parent.ID, k.Kind, c.Parent.Kind)
		case k.Home != c.ParentHome:
			return errs.Precondition(ReasonHomeNodeOnly, res, "%s belongs to %s; %s cannot add to it", c.Parent, k.Home, sender)
		}
	}
	return nil
}
