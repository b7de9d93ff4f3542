package federation

import (
	"context"
	"fmt"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/store"
)

// FastForward is the repair after a node's database was restored from a
// backup older than what a partner had received from it. The partner has
// applied sequences up to to on the channel from this node, some of them
// envelopes this database no longer holds, and this node has numbered new
// envelopes with sequences the partner already used: the relay stops and
// says so. FastForward renumbers every envelope the partner has not
// receipted to follow to (store.Tx.FastForwardOut), so they are delivered,
// and puts the step in the audit log. operator names who ran it.
//
// The records behind the envelopes this database lost are gone from this
// node; what the partner holds of them (replicas of records made after the
// backup) is for a drift check and the two agencies to reconcile.
func FastForward(ctx context.Context, s *store.Store, partner string, to int64, operator string) (renumbered int, err error) {
	err = s.Write(ctx, func(tx *store.Tx) error {
		n, last, err := tx.FastForwardOut(partner, to)
		if err != nil {
			return err
		}
		renumbered = n
		return tx.Audit(&audit.Event{
			Principal: operator, Role: "operator", Action: "federation.channel.fast_forward", Resource: "channels/" + partner, Outcome: "OK",
			Detail: fmt.Sprintf("%s reports sequence %d applied (this database was restored from an older backup?); "+
				"%d envelope(s) without a receipt renumbered from %d; the channel had assigned up to %d", partner, to, n, to+1, last),
		})
	})
	return renumbered, err
}
