package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// FuzzFederationApply plays bravo's node sending alpha correctly signed,
// correctly addressed, in-sequence envelopes of any kind with any payload,
// record id and version — what a buggy or compromised partner could send
// past every check of the channel itself. Each must come back with a
// receipt for its own sequence that says applied, rejected (with a reason)
// or ignored: never a refusal of the envelope, never a broken channel (a
// payload the node fails on would end the stream with INTERNAL and block
// every envelope behind it). The node is real: alpha over mTLS with its
// SQLite file, started once for the run.
//
// make fuzz runs it for a bounded number of executions; go test runs the
// seeds.
func FuzzFederationApply(f *testing.F) {
	pki := nodetest.NewPKI(f, "alpha", "bravo")
	cfg := pki.Config("alpha", f.TempDir(), "bravo") // bravo's address: 127.0.0.1:1, nobody there
	alpha := nodetest.Start(f, pki, cfg, nil)
	key := secLoadKey(f, pki.Path("bravo", "node.crt"), pki.Path("bravo", "node.key"))

	conn := nodetest.Dial(f, pki, alpha.Addr(), "bravo", "node", "alpha")
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	stream, err := liaisonv1.NewFederationServiceClient(conn).Exchange(ctx)
	if err != nil {
		f.Fatal(err)
	}
	if err := stream.Send(&liaisonv1.ExchangeRequest{Msg: &liaisonv1.ExchangeRequest_Hello{Hello: &liaisonv1.Hello{Sender: "bravo", Receiver: "alpha"}}}); err != nil {
		f.Fatal(err)
	}
	welcome, err := stream.Recv()
	if err != nil || welcome.GetWelcome() == nil {
		f.Fatalf("hello: %v, %v", welcome, err)
	}
	next := welcome.GetWelcome().GetLastApplied() + 1

	lead := secLead("fuzzed lead")
	tomb := &liaisonv1.Tombstone{RecordId: lead.GetId(), OriginAgency: "bravo", Version: 2, DeleteTime: timestamppb.Now()}
	f.Add(int32(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD), secMarshal(f, lead), lead.GetId(), int64(1))
	f.Add(int32(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD), secMarshal(f, lead), lead.GetId(), int64(1)) // the same version again
	f.Add(int32(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE), secMarshal(f, tomb), lead.GetId(), int64(2))
	f.Add(int32(liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD), []byte{0x0a, 0x80}, "", int64(0)) // a truncated payload
	for k := liaisonv1.EnvelopeKind_ENVELOPE_KIND_PERMISSION_REQUEST; k <= liaisonv1.EnvelopeKind_ENVELOPE_KIND_MANIFEST_ACTION; k++ {
		f.Add(int32(k), []byte{}, uuid.NewString(), int64(1))
		f.Add(int32(k), secMarshal(f, lead), lead.GetId(), int64(3)) // a payload of another kind
	}
	f.Add(int32(0), []byte{}, "", int64(0))
	f.Add(int32(42), []byte("unknown"), "x", int64(1))

	f.Fuzz(func(t *testing.T, kind int32, payload []byte, recordID string, version int64) {
		env := &liaisonv1.Envelope{
			Id: uuid.NewString(), Sender: "bravo", Receiver: "alpha", Sequence: next,
			Kind: liaisonv1.EnvelopeKind(kind), RecordId: recordID, RecordVersion: version,
			CreateTime: timestamppb.Now(), Payload: payload,
		}
		raw, err := secDet.Marshal(env)
		if err != nil {
			return // not a message protobuf-go will write (e.g. a record id that is not UTF-8)
		}
		b := secSign(t, key, "bravo", "alpha", raw)
		if err := stream.Send(&liaisonv1.ExchangeRequest{Msg: &liaisonv1.ExchangeRequest_Batch{Batch: b}}); err != nil {
			_, rerr := stream.Recv()
			t.Fatalf("the channel broke on kind %v, payload %x: %v (%v)", env.GetKind(), payload, err, rerr)
		}
		timer := time.AfterFunc(20*time.Second, cancel) // unblocks a Recv that hangs
		resp, err := stream.Recv()
		timer.Stop()
		if err != nil {
			t.Fatalf("the channel broke on kind %v, payload %x: %v", env.GetKind(), payload, err)
		}
		rs := secReceipts(t, pki, "alpha", "bravo", resp)
		if len(rs.GetReceipts()) != 1 {
			t.Fatalf("one envelope sent, answer %v", resp)
		}
		rc := rs.GetReceipts()[0]
		if rc.GetSequence() != next || rc.GetEnvelopeId() != env.GetId() || rs.GetHighestApplied() != next {
			t.Fatalf("receipt %v (highest applied %d) for envelope %s at sequence %d", rc, rs.GetHighestApplied(), env.GetId(), next)
		}
		switch rc.GetStatus() {
		case liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED, liaisonv1.ReceiptStatus_RECEIPT_STATUS_IGNORED:
		case liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED:
			if rc.GetReasonCode() == "" || rc.GetReason() == "" {
				t.Fatalf("rejected without a reason: %v", rc)
			}
		default:
			t.Fatalf("kind %v, payload %x: receipt %v, want applied, rejected or ignored", env.GetKind(), payload, rc)
		}
		next++
	})
}
