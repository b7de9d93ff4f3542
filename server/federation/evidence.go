package federation

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// EvidenceFormat names the format of a ReceiptEvidence file.
const EvidenceFormat = "liaison-receipt-evidence-v1"

// VerifyDelivery checks one receipt of an evidence file offline: that it
// is in the tree whose root the receiver signed, that the receiver's node
// signed that root (and the highest sequence applied) for sender, its
// certificate chaining to check's CA at the time sender received it, and
// that the receipt is about recordID. It returns the receipt.
func VerifyDelivery(check SignerCheck, sender, recordID string, d *liaisonv1.DeliveryEvidence) (*liaisonv1.Receipt, error) {
	sig := d.GetSignature()
	if sig == nil || len(sig.GetSignature()) == 0 {
		return nil, errors.New("no signature")
	}
	if d.GetReceiveTime() == nil {
		return nil, errors.New("no receive time")
	}
	if err := VerifyProof(LeafHash(d.GetReceipt()), d.GetReceiptProof(), sig.GetMerkleRoot()); err != nil {
		return nil, fmt.Errorf("the receipt is not among those %s signed: %w", check.Sender, err)
	}
	if err := check.VerifyReceipts(sender, sig.GetMerkleRoot(), d.GetHighestApplied(), sig.GetSignature(), sig.GetSignerChain(), d.GetReceiveTime().AsTime()); err != nil {
		return nil, fmt.Errorf("receipts signature: %w", err)
	}
	rc := &liaisonv1.Receipt{}
	if err := proto.Unmarshal(d.GetReceipt(), rc); err != nil {
		return nil, fmt.Errorf("the signed receipt does not decode: %w", err)
	}
	if rc.GetRecordId() != recordID {
		return nil, fmt.Errorf("the receipt is about record %q, not %s", rc.GetRecordId(), recordID)
	}
	return rc, nil
}

// DescribeReceipt says in words what a verified receipt from partner
// confirms.
func DescribeReceipt(partner string, rc *liaisonv1.Receipt) string {
	status := strings.TrimPrefix(rc.GetStatus().String(), "RECEIPT_STATUS_")
	at := "an unstated time"
	if rc.GetApplyTime() != nil {
		at = rc.GetApplyTime().AsTime().UTC().Format(time.RFC3339)
	}
	ref := fmt.Sprintf("envelope %s, seq %d", rc.GetEnvelopeId(), rc.GetSequence())
	noun := recordNoun(rc.GetKind())
	if rc.GetStatus() == liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED {
		switch rc.GetKind() {
		case liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE:
			return fmt.Sprintf("%s confirmed it deleted its copy of lead %s at %s (%s, %s)", partner, rc.GetRecordId(), at, status, ref)
		case liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD:
			return fmt.Sprintf("%s confirmed it received lead %s v%d at %s (%s, %s)", partner, rc.GetRecordId(), rc.GetRecordVersion(), at, status, ref)
		}
		return fmt.Sprintf("%s confirmed it applied %s %s v%d at %s (%s, %s)", partner, noun, rc.GetRecordId(), rc.GetRecordVersion(), at, status, ref)
	}
	why := ""
	if rc.GetReasonCode() != "" {
		why = fmt.Sprintf(": %s: %s", rc.GetReasonCode(), rc.GetReason())
	}
	return fmt.Sprintf("%s did not apply %s %s v%d, at %s (%s%s; %s)", partner, noun, rc.GetRecordId(), rc.GetRecordVersion(), at, status, why, ref)
}

// recordNoun names what an envelope of kind carries ("lead", "lead
// tombstone", "case entry").
func recordNoun(k liaisonv1.EnvelopeKind) string {
	return strings.ReplaceAll(kindName(k), "_", " ")
}
