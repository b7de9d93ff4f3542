package records

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/federation"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/validate"
)

// Replication is how the records of one kind travel between nodes: the
// envelope that carries a record, how a replica arriving is stored, and
// how a partner's copy is compared and repaired.
type Replication[R Record] struct {
	// Kind names the record kind in federation (federation.KindLead) and
	// in reason codes ("lead.stale_version").
	Kind       string
	RecordKind liaisonv1.RecordKind
	// Upsert is the envelope kind that carries a record.
	Upsert liaisonv1.EnvelopeKind
	// Validate, if set, checks an arriving record with the API's rules.
	Validate func(*validate.Validator, R) error
	// Check, if set, checks that an arriving record is consistent with
	// its envelope, and makes it this node's replica (who it is shared
	// with, what is computed here), before it is stored.
	Check func(tx *store.Tx, env *liaisonv1.Envelope, r R) error
	// Ignore, if set, says why a newer version is not taken over cur (nil:
	// it is taken).
	Ignore func(cur, r R) *federation.Outcome

	Read      func(tx *store.Tx, id string) (R, error)
	Insert    func(tx *store.Tx, r R) error
	Overwrite func(tx *store.Tx, r R) error
	Replace   func(tx *store.Tx, next, cur R) error

	// Replicas reads a digest of the replicas of origin's records held
	// here (store).
	Replicas func(ctx context.Context, origin, fromID, toID string, limit int) (int64, []store.DigestItem, error)
	// Repair builds the envelope that sets a partner's copy right.
	Repair func(tx *store.Tx, partner, id string) (*store.Outgoing, error)
	// Tombstone, with ApplyTombstone, is the envelope that deletes a
	// record's content on partners, if the kind has one.
	Tombstone      liaisonv1.EnvelopeKind
	ApplyTombstone func(tx *store.Tx, env *liaisonv1.Envelope, t *liaisonv1.Tombstone) (federation.Outcome, error)
}

// Register wires the kind into federation: replicas (and tombstones)
// arriving from the record's home node, and drift checks and repairs.
func (k Replication[R]) Register(reg *federation.Registry) {
	federation.Handle(reg, k.Upsert, federation.Spec[R]{
		Claim: func(_ *liaisonv1.Envelope, r R) federation.Claim {
			return federation.Claim{Key: federation.Key{Kind: k.Kind, ID: r.GetId()}, Home: r.GetOriginAgency()}
		},
		Validate: k.Validate,
		Apply:    k.Apply,
	})
	if k.ApplyTombstone != nil {
		federation.Handle(reg, k.Tombstone, federation.Spec[*liaisonv1.Tombstone]{
			Claim: func(_ *liaisonv1.Envelope, t *liaisonv1.Tombstone) federation.Claim {
				return federation.Claim{Key: federation.Key{Kind: k.Kind, ID: t.GetRecordId()}, Home: t.GetOriginAgency()}
			},
			Apply: k.ApplyTombstone,
		})
	}
	reg.Kind(federation.RecordKindSpec{
		Kind: k.RecordKind, Upsert: k.Upsert, Tombstone: k.Tombstone,
		Replicas: k.Replicas, Repair: k.Repair,
	})
}

// Apply stores a record arriving from its home node (the ownership rule
// has checked it is the sender's) as a read-only replica: a new one is
// inserted, a repair overwrites whatever is held, a newer version
// replaces the one held, and an older or the same version is ignored.
func (k Replication[R]) Apply(tx *store.Tx, env *liaisonv1.Envelope, r R) (federation.Outcome, error) {
	if k.Check != nil {
		if err := k.Check(tx, env, r); err != nil {
			return federation.Outcome{}, err
		}
	}
	cur, err := k.Read(tx, r.GetId())
	if errs.CodeOf(err) == errs.NotFound {
		return federation.Applied, k.Insert(tx, r)
	}
	if err != nil {
		return federation.Outcome{}, err
	}
	if env.GetRepair() {
		return federation.Applied, k.Overwrite(tx, r)
	}
	if k.Ignore != nil {
		if o := k.Ignore(cur, r); o != nil {
			return *o, nil
		}
	}
	if r.GetVersion() <= cur.GetVersion() {
		return federation.Outcome{Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_IGNORED, Code: k.Kind + ".stale_version",
			Reason: fmt.Sprintf("version %d is not newer than version %d held", r.GetVersion(), cur.GetVersion())}, nil
	}
	return federation.Applied, k.Replace(tx, r, cur)
}

// Upsert is the envelope that sends partner its view of a version of a
// record.
func Upsert(kind liaisonv1.EnvelopeKind, partner string, r Record, view proto.Message) store.Outgoing {
	return store.Outgoing{Receiver: partner, Kind: kind, RecordID: r.GetId(), RecordVersion: r.GetVersion(), Payload: view}
}

// TombstoneTo is the envelope that tells partner the content of version
// of a record homed on origin was deleted at.
func TombstoneTo(kind liaisonv1.EnvelopeKind, partner, id, origin string, version int64, at *timestamppb.Timestamp) store.Outgoing {
	return store.Outgoing{Receiver: partner, Kind: kind, RecordID: id, RecordVersion: version,
		Payload: &liaisonv1.Tombstone{RecordId: id, OriginAgency: origin, Version: version, DeleteTime: at}}
}

// ShareTombstone queues, in tx, a tombstone of gone (the version that
// deleted a record's content, or withdrew it) to each of partners.
func ShareTombstone(tx *store.Tx, kind liaisonv1.EnvelopeKind, gone Record, at *timestamppb.Timestamp, partners []string) error {
	for _, p := range partners {
		if _, err := tx.AppendOutbox(TombstoneTo(kind, p, gone.GetId(), gone.GetOriginAgency(), gone.GetVersion(), at)); err != nil {
			return err
		}
	}
	return nil
}
