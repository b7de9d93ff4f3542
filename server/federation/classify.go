package federation

import (
	"bytes"
	"fmt"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
)

// verdict is what the receiver does with one envelope of a batch, decided
// before anything of it is applied.
type verdict int

const (
	// verdictApply: the next sequence of the channel, from the sender, to
	// this node, in a batch whose signature holds. It goes to its applier.
	verdictApply verdict = iota + 1
	// verdictRefused: the envelope is answered REFUSED and its sequence is
	// not consumed (bad signature, undecodable, wrong sender or receiver,
	// a sequence below 1, a passed sequence never stored or reused with
	// other content).
	verdictRefused
	// verdictDuplicate: the envelope was applied before; its original
	// receipt is returned again.
	verdictDuplicate
	// verdictGap: the envelope skips sequences. It is answered
	// OUT_OF_ORDER and the rest of the batch is not looked at.
	verdictGap
)

func (v verdict) String() string {
	switch v {
	case verdictApply:
		return "apply"
	case verdictRefused:
		return "refused"
	case verdictDuplicate:
		return "duplicate"
	case verdictGap:
		return "gap"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// classification is the verdict on one envelope and, unless it is applied,
// how it is answered: the receipt the sender gets back and the audit
// event this node records.
type classification struct {
	verdict verdict
	receipt *liaisonv1.Receipt
	// action, outcome and detail of the audit event.
	action, outcome, detail string
}

// channelState is what classifying an envelope reads of its channel: who
// the node and the sender are, whether the batch's signature held, the
// last sequence applied so far (in this batch too), and the receipt and
// leaf hash stored for an earlier sequence (an *errs.Error NotFound if
// none was).
type channelState struct {
	own, sender string
	sigErr      error
	last        int64
	stored      func(seq int64) (*liaisonv1.Receipt, []byte, error)
}

// classify decides what to do with one envelope of a batch. It changes
// nothing; its only error is a failure to read a stored receipt.
func classify(it *decoded, ch channelState) (classification, error) {
	env := it.env
	seq := int64(env.GetSequence())
	switch {
	case ch.sigErr != nil:
		return refused(it, "envelope.bad_signature", ch.sigErr), nil
	case it.err != nil:
		return refused(it, "envelope.malformed", it.err), nil
	case env.GetSender() != ch.sender:
		return refused(it, "envelope.wrong_sender", fmt.Errorf("envelope names sender %q but came from %s's node", env.GetSender(), ch.sender)), nil
	case env.GetReceiver() != ch.own:
		return refused(it, "envelope.wrong_receiver", fmt.Errorf("envelope is addressed to %q, this is %s", env.GetReceiver(), ch.own)), nil
	case seq < 1:
		return refused(it, "envelope.bad_sequence", fmt.Errorf("sequence %d: sequences start at 1", seq)), nil
	case seq <= ch.last:
		orig, origLeaf, err := ch.stored(seq)
		if errs.CodeOf(err) == errs.NotFound {
			return refused(it, "envelope.sequence_unknown", fmt.Errorf("sequence %d was passed without being stored", seq)), nil
		}
		if err != nil {
			return classification{}, err
		}
		if orig.GetEnvelopeId() != env.GetId() || !bytes.Equal(origLeaf, it.leaf) {
			return refused(it, "envelope.sequence_reused", fmt.Errorf("sequence %d was already used by envelope %s with other content", seq, orig.GetEnvelopeId())), nil
		}
		return classification{verdict: verdictDuplicate, receipt: orig,
			action: "federation.envelope.duplicate", outcome: "IGNORED", detail: "already received; original receipt returned"}, nil
	case seq > ch.last+1:
		return classification{verdict: verdictGap,
			receipt: receiptFor(env, it.leaf, &liaisonv1.Receipt{
				Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_OUT_OF_ORDER, ReasonCode: "envelope.gap",
				Reason: fmt.Sprintf("expected sequence %d", ch.last+1), ExpectedSequence: uint64(ch.last + 1)}),
			action: "federation.envelope.refused", outcome: "OUT_OF_ORDER", detail: fmt.Sprintf("gap: expected sequence %d", ch.last+1)}, nil
	}
	return classification{verdict: verdictApply}, nil
}

// refused answers an envelope REFUSED with a reason code.
func refused(it *decoded, code string, why error) classification {
	return classification{verdict: verdictRefused,
		receipt: receiptFor(it.env, it.leaf, &liaisonv1.Receipt{
			Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_REFUSED, ReasonCode: code, Reason: why.Error()}),
		action: "federation.envelope.refused", outcome: "REFUSED", detail: code + ": " + why.Error()}
}
