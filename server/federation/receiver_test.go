package federation

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liaison-exchange/liaison/certs"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/ids"
	"github.com/liaison-exchange/liaison/server/store"
	"github.com/liaison-exchange/liaison/server/validate"
)

// An applier that panics or fails unexpectedly, or a payload check that
// panics (run before the batch's transaction), rejects its own envelope
// only: the receipt names the request, the log keeps the details, and the
// channel applies the next envelope (issue 11, finding 3). Real SQLite
// file, real signatures.
func TestReceiver_ApplierFaultRejectsOnlyItsEnvelope(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "alpha.db"), store.Options{Agency: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := validate.New()
	if err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry("alpha", v)
	claim := func(_ *liaisonv1.Envelope, ts *liaisonv1.Tombstone) Claim {
		return Claim{Key: Key{Kind: KindLead, ID: ts.GetRecordId()}, Home: ts.GetOriginAgency()}
	}
	// The tombstone's version picks the fault.
	Handle(reg, liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, Spec[*liaisonv1.Tombstone]{Claim: claim,
		Validate: func(v *validate.Validator, ts *liaisonv1.Tombstone) error {
			if ts.GetVersion() == 3 {
				panic("the check fell over")
			}
			return v.Validate(ts, "payload")
		},
		Apply: func(tx *store.Tx, env *liaisonv1.Envelope, ts *liaisonv1.Tombstone) (Outcome, error) {
			switch ts.GetVersion() {
			case 1:
				var m map[string]int
				m["x"]++
			case 2:
				return Outcome{}, errors.New("disk says no")
			}
			return Applied, nil
		}})
	var logged bytes.Buffer
	ca, err := certs.NewCA("bravo")
	if err != nil {
		t.Fatal(err)
	}
	node, err := ca.IssueNode("bravo")
	if err != nil {
		t.Fatal(err)
	}
	signers := func(string) (SignerCheck, error) {
		return SignerCheck{CAs: []*x509.Certificate{ca.Cert}, Sender: "bravo", TrustDomain: certs.TrustDomain("bravo")}, nil
	}
	r := NewReceiver("alpha", st, reg, signers, nil, slog.New(slog.NewTextHandler(&logged, nil)))

	var raws [][]byte
	for i := range 4 {
		ts := &liaisonv1.Tombstone{RecordId: ids.New(), OriginAgency: "bravo", Version: int64(i + 1), DeleteTime: timestamppb.Now()}
		p, err := proto.Marshal(ts)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := proto.Marshal(&liaisonv1.Envelope{Id: ids.New(), Sender: "bravo", Receiver: "alpha", Sequence: uint64(i + 1),
			Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE, RecordId: ts.GetRecordId(), RecordVersion: ts.GetVersion(), CreateTime: timestamppb.Now(), Payload: p})
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	leaves := make([][]byte, len(raws))
	for i, raw := range raws {
		leaves[i] = LeafHash(raw)
	}
	root, _ := MerkleTree(leaves)
	sig, err := SignRoot(node.Key, "bravo", "alpha", root)
	if err != nil {
		t.Fatal(err)
	}
	call := audit.NewContext(ctx, &audit.Call{Principal: certs.NodeID("bravo"), RequestID: "req-7"})
	rs, err := r.ApplyBatch(call, "bravo", &liaisonv1.Batch{Envelopes: raws,
		Signature: &liaisonv1.BatchSignature{MerkleRoot: root, Signature: sig, SignerChain: [][]byte{node.Cert.Raw}}})
	if err != nil {
		t.Fatalf("one envelope's fault failed the batch: %v", err)
	}
	if rs.GetHighestApplied() != 4 || len(rs.GetReceipts()) != 4 {
		t.Fatalf("receipts %v: the channel did not go on", rs)
	}
	for i, rc := range rs.GetReceipts()[:3] {
		if rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED || rc.GetReasonCode() != "envelope.apply_failed" ||
			!strings.Contains(rc.GetReason(), "req-7") || strings.Contains(rc.GetReason(), "disk") || strings.Contains(rc.GetReason(), "nil map") {
			t.Errorf("receipt %d: %v; want REJECTED envelope.apply_failed without the fault's details", i+1, rc)
		}
	}
	if rc := rs.GetReceipts()[3]; rc.GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED {
		t.Errorf("the envelope after the faults: %v; want APPLIED", rc)
	}
	for _, want := range []string{"assignment to entry in nil map", "disk says no", "the check fell over"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("the log does not keep %q:\n%s", want, logged.String())
		}
	}
}
