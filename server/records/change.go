package records

import (
	"context"

	"github.com/liaison-exchange/liaison/server/store"
)

// Kind is how the records of one kind are changed on their home node.
type Kind[R Record] struct {
	Store *store.Store
	// Read reads the stored version of a record inside a transaction.
	Read func(tx *store.Tx, id string) (R, error)
	// NotHome is the refusal of action on a record homed on another node
	// (HomeOnly, in the kind's words); nil if the record is homed here.
	NotHome func(cur R, action string) error
	// Save stores next, the next version of cur, provided cur is still
	// the stored version.
	Save func(tx *store.Tx, next, cur R) error
	// Share sends next to the partners that hold the record, in the same
	// transaction.
	Share func(tx *store.Tx, next, cur R) error
}

// Change is one change of a record on its home node.
type Change[R Record] struct {
	ID string
	// Action names the change in a refusal ("update", "release").
	Action string
	// Before, if set, checks the stored version before the home-node
	// check.
	Before func(tx *store.Tx, cur R) error
	// Apply returns the changed record: a copy of cur (cur itself is not
	// changed), or nil if nothing changes.
	Apply func(tx *store.Tx, cur R) (R, error)
	// Share, if set, sends the next version instead of the kind's Share.
	Share func(tx *store.Tx, next, cur R) error
	// After, if set, runs last in the transaction.
	After func(tx *store.Tx, next R) error
}

// Change runs c in one transaction: it reads the record, checks it is
// homed here, applies the change, stores the result as the next version
// (stamped with the transaction's time) and shares it with partners. The
// record returned carries its etag. A change that changes nothing returns
// the record as stored, and writes nothing.
func (k *Kind[R]) Change(ctx context.Context, c Change[R]) (R, error) {
	var out R
	err := k.Store.Write(ctx, func(tx *store.Tx) error {
		cur, err := k.Read(tx, c.ID)
		if err != nil {
			return err
		}
		if c.Before != nil {
			if err := c.Before(tx, cur); err != nil {
				return err
			}
		}
		if err := k.NotHome(cur, c.Action); err != nil {
			return err
		}
		next, err := c.Apply(tx, cur)
		if err != nil {
			return err
		}
		if isNil(next) {
			out = cur
			return nil
		}
		share := k.Share
		if c.Share != nil {
			share = c.Share
		}
		if err := k.commit(tx, next, cur, share); err != nil {
			return err
		}
		if c.After != nil {
			if err := c.After(tx, next); err != nil {
				return err
			}
		}
		out = next
		return nil
	})
	if err != nil {
		var zero R
		return zero, err
	}
	return out, nil
}

// Commit stores next as the version after cur, stamped with the
// transaction's time, and shares it with partners: the end of every change
// of a record on its home node, whoever asked for it (a call here, or a
// partner's proposal).
func (k *Kind[R]) Commit(tx *store.Tx, next, cur R) error {
	return k.commit(tx, next, cur, k.Share)
}

func (k *Kind[R]) commit(tx *store.Tx, next, cur R, share func(tx *store.Tx, next, cur R) error) error {
	stamp(next, cur.GetVersion()+1, tx.Now())
	if err := k.Save(tx, next, cur); err != nil {
		return err
	}
	return share(tx, next, cur)
}
