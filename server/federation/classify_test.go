package federation

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
)

// Every branch of the sequence switch, one row each, in the order the
// switch tries them: what the verdict is, how the envelope is answered
// and what the audit log says. The channel has applied up to 5; sequence 3
// is stored as envelope "e3" with leaf "leaf-3", sequence 2 is not stored
// and reading sequence 4 fails.
func TestClassify(t *testing.T) {
	t.Parallel()
	stored3 := &liaisonv1.Receipt{Sequence: 3, EnvelopeId: "e3", EnvelopeHash: []byte("leaf-3"),
		Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED}
	diskErr := errors.New("disk says no")
	stored := func(seq int64) (*liaisonv1.Receipt, []byte, error) {
		switch seq {
		case 3:
			return stored3, []byte("leaf-3"), nil
		case 4:
			return nil, nil, diskErr
		}
		return nil, nil, errs.New(errs.NotFound, "no envelope %d", seq)
	}
	env := func(id string, seq uint64, edit ...func(*liaisonv1.Envelope)) *liaisonv1.Envelope {
		e := &liaisonv1.Envelope{Id: id, Sender: "bravo", Receiver: "alpha", Sequence: seq,
			Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD, RecordId: "r-" + id, RecordVersion: 2}
		for _, f := range edit {
			f(e)
		}
		return e
	}
	from := func(s string) func(*liaisonv1.Envelope) { return func(e *liaisonv1.Envelope) { e.Sender = s } }
	to := func(s string) func(*liaisonv1.Envelope) { return func(e *liaisonv1.Envelope) { e.Receiver = s } }
	refusedAs := func(e *liaisonv1.Envelope, leaf, code, reason string) *liaisonv1.Receipt {
		return &liaisonv1.Receipt{Sequence: e.GetSequence(), EnvelopeId: e.GetId(), EnvelopeHash: []byte(leaf),
			Kind: e.GetKind(), RecordId: e.GetRecordId(), RecordVersion: e.GetRecordVersion(),
			Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_REFUSED, ReasonCode: code, Reason: reason}
	}
	badSig := errors.New("the signed Merkle root does not match the envelopes")
	undecodable := errors.New("undecodable envelope: cannot parse")

	tests := []struct {
		name    string
		env     *liaisonv1.Envelope
		leaf    string
		decode  error
		sigErr  error
		want    verdict
		receipt *liaisonv1.Receipt
		action  string
		outcome string
		detail  string
		err     error
	}{
		{name: "BadSignatureFirst", env: env("e9", 0, from("mallory")), leaf: "l", decode: undecodable, sigErr: badSig,
			want: verdictRefused, receipt: refusedAs(env("e9", 0, from("mallory")), "l", "envelope.bad_signature", badSig.Error()),
			action: "federation.envelope.refused", outcome: "REFUSED", detail: "envelope.bad_signature: " + badSig.Error()},
		{name: "Malformed", env: env("", 0, from("mallory")), leaf: "l", decode: undecodable,
			want: verdictRefused, receipt: refusedAs(env("", 0, from("mallory")), "l", "envelope.malformed", undecodable.Error()),
			action: "federation.envelope.refused", outcome: "REFUSED", detail: "envelope.malformed: " + undecodable.Error()},
		{name: "WrongSender", env: env("e6", 6, from("mallory"), to("zulu")), leaf: "l",
			want:    verdictRefused,
			receipt: refusedAs(env("e6", 6, from("mallory")), "l", "envelope.wrong_sender", `envelope names sender "mallory" but came from bravo's node`),
			action:  "federation.envelope.refused", outcome: "REFUSED", detail: `envelope.wrong_sender: envelope names sender "mallory" but came from bravo's node`},
		{name: "WrongReceiver", env: env("e6", 0, to("zulu")), leaf: "l",
			want:    verdictRefused,
			receipt: refusedAs(env("e6", 0), "l", "envelope.wrong_receiver", `envelope is addressed to "zulu", this is alpha`),
			action:  "federation.envelope.refused", outcome: "REFUSED", detail: `envelope.wrong_receiver: envelope is addressed to "zulu", this is alpha`},
		{name: "SequenceZero", env: env("e0", 0), leaf: "l",
			want:    verdictRefused,
			receipt: refusedAs(env("e0", 0), "l", "envelope.bad_sequence", "sequence 0: sequences start at 1"),
			action:  "federation.envelope.refused", outcome: "REFUSED", detail: "envelope.bad_sequence: sequence 0: sequences start at 1"},
		{name: "PassedButNotStored", env: env("e2", 2), leaf: "l",
			want:    verdictRefused,
			receipt: refusedAs(env("e2", 2), "l", "envelope.sequence_unknown", "sequence 2 was passed without being stored"),
			action:  "federation.envelope.refused", outcome: "REFUSED", detail: "envelope.sequence_unknown: sequence 2 was passed without being stored"},
		{name: "StoredReadFails", env: env("e4", 4), leaf: "l", err: diskErr},
		{name: "SequenceReusedByOtherEnvelope", env: env("other", 3), leaf: "leaf-3",
			want:    verdictRefused,
			receipt: refusedAs(env("other", 3), "leaf-3", "envelope.sequence_reused", "sequence 3 was already used by envelope e3 with other content"),
			action:  "federation.envelope.refused", outcome: "REFUSED", detail: "envelope.sequence_reused: sequence 3 was already used by envelope e3 with other content"},
		{name: "SequenceReusedWithOtherContent", env: env("e3", 3), leaf: "leaf-X",
			want:    verdictRefused,
			receipt: refusedAs(env("e3", 3), "leaf-X", "envelope.sequence_reused", "sequence 3 was already used by envelope e3 with other content"),
			action:  "federation.envelope.refused", outcome: "REFUSED", detail: "envelope.sequence_reused: sequence 3 was already used by envelope e3 with other content"},
		{name: "Duplicate", env: env("e3", 3), leaf: "leaf-3",
			want: verdictDuplicate, receipt: stored3,
			action: "federation.envelope.duplicate", outcome: "IGNORED", detail: "already received; original receipt returned"},
		{name: "Gap", env: env("e8", 8), leaf: "l",
			want: verdictGap,
			receipt: &liaisonv1.Receipt{Sequence: 8, EnvelopeId: "e8", EnvelopeHash: []byte("l"), Kind: liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD,
				RecordId: "r-e8", RecordVersion: 2, Status: liaisonv1.ReceiptStatus_RECEIPT_STATUS_OUT_OF_ORDER, ReasonCode: "envelope.gap",
				Reason: "expected sequence 6", ExpectedSequence: 6},
			action: "federation.envelope.refused", outcome: "OUT_OF_ORDER", detail: "gap: expected sequence 6"},
		{name: "Next", env: env("e6", 6), leaf: "l", want: verdictApply},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := &decoded{raw: []byte("raw"), leaf: []byte(tc.leaf), env: tc.env, err: tc.decode}
			got, err := classify(it, channelState{own: "alpha", sender: "bravo", sigErr: tc.sigErr, last: 5, stored: stored})
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.verdict != tc.want {
				t.Errorf("verdict %v, want %v", got.verdict, tc.want)
			}
			if !proto.Equal(got.receipt, tc.receipt) {
				t.Errorf("receipt\n%v\nwant\n%v", got.receipt, tc.receipt)
			}
			if tc.want == verdictDuplicate && got.receipt != stored3 {
				t.Error("a duplicate is not answered with its original receipt")
			}
			if got.action != tc.action || got.outcome != tc.outcome || got.detail != tc.detail {
				t.Errorf("audit %q %q %q, want %q %q %q", got.action, got.outcome, got.detail, tc.action, tc.outcome, tc.detail)
			}
		})
	}
}

// Classification reads the stored receipts only for a sequence already
// passed: the next envelope and a gap cost no read.
func TestClassify_ReadsStoredOnlyForPassedSequences(t *testing.T) {
	t.Parallel()
	reads := 0
	ch := channelState{own: "alpha", sender: "bravo", last: 5, stored: func(int64) (*liaisonv1.Receipt, []byte, error) {
		reads++
		return nil, nil, errs.New(errs.NotFound, "none")
	}}
	for _, seq := range []uint64{6, 7, 100} {
		env := &liaisonv1.Envelope{Id: "e", Sender: "bravo", Receiver: "alpha", Sequence: seq}
		if _, err := classify(&decoded{env: env}, ch); err != nil {
			t.Fatal(err)
		}
	}
	if reads != 0 {
		t.Errorf("%d reads of stored receipts for sequences above the last applied", reads)
	}
}
