package federation

import (
	"bytes"
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/store"
)

// VerifyResult is the outcome of re-checking the stored inbound envelopes.
type VerifyResult struct {
	// Checked envelopes, of which Full were checked down to their bytes and
	// Purged only by leaf hash (their content was withdrawn since).
	Checked, Full, Purged int64
	Failures              []VerifyFailure
}

// VerifyFailure is a stored envelope that does not verify.
type VerifyFailure struct {
	Sender     string
	Seq        int64
	EnvelopeID string
	Problem    string
}

// VerifyInbox re-checks every envelope a node stored: that its bytes hash
// to its leaf (unless withdrawn content was deleted) and say what the row
// says (sender, sequence, id, kind, record), that the leaf's path leads to
// its batch's Merkle root, that the root's signature was made by the
// sender's node, whose certificate chained to the sender's CA when the
// batch was received, and that each channel's sequences run from 1 to the
// last one applied without a gap. receiver is the node's own agency;
// signers gives the check for each sender (from configuration, never from
// the database being checked). r is the node's database opened read-only.
func VerifyInbox(ctx context.Context, r *store.ReadOnly, receiver string, signers func(sender string) (SignerCheck, error)) (VerifyResult, error) {
	var res VerifyResult
	verified := map[string]error{} // by batch signature
	after, afterSeq := "", int64(0)
	sender, next := "", int64(1)
	// closeChannel reports sequences missing at the end of a channel.
	closeChannel := func() error {
		if sender == "" {
			return nil
		}
		ch, err := r.InChannel(ctx, sender)
		if err != nil {
			return err
		}
		if ch.LastApplied >= next {
			res.Failures = append(res.Failures, VerifyFailure{Sender: sender, Seq: next,
				Problem: fmt.Sprintf("sequences %d to %d from %s were applied but are not stored", next, ch.LastApplied, sender)})
		}
		return nil
	}
	for {
		page, err := r.InboxPage(ctx, after, afterSeq, 1000)
		if err != nil {
			return res, err
		}
		for _, e := range page {
			if e.Sender != sender {
				if err := closeChannel(); err != nil {
					return res, err
				}
				sender, next = e.Sender, 1
			}
			if e.Seq != next {
				res.Failures = append(res.Failures, VerifyFailure{Sender: e.Sender, Seq: next,
					Problem: fmt.Sprintf("sequences %d to %d from %s are missing", next, e.Seq-1, e.Sender)})
			}
			next = e.Seq + 1
			res.Checked++
			fail := func(problem string) {
				res.Failures = append(res.Failures, VerifyFailure{Sender: e.Sender, Seq: e.Seq, EnvelopeID: e.EnvelopeID, Problem: problem})
			}
			if e.Envelope != nil {
				if !bytes.Equal(LeafHash(e.Envelope), e.LeafHash) {
					fail("the stored envelope does not match its leaf hash: it was changed after receipt")
					continue
				}
				env := &liaisonv1.Envelope{}
				if err := proto.Unmarshal(e.Envelope, env); err != nil {
					fail("the stored envelope does not decode: " + err.Error())
					continue
				}
				if env.GetSender() != e.Sender || int64(env.GetSequence()) != e.Seq || env.GetId() != e.EnvelopeID ||
					env.GetKind() != e.Kind || env.GetRecordId() != e.RecordID || env.GetRecordVersion() != e.RecordVersion {
					fail(fmt.Sprintf("the row does not say what its signed envelope says (envelope %s: %s seq %d, %s %s v%d)",
						env.GetId(), env.GetSender(), env.GetSequence(), kindName(env.GetKind()), env.GetRecordId(), env.GetRecordVersion()))
					continue
				}
				res.Full++
			} else {
				res.Purged++
			}
			if err := VerifyProof(e.LeafHash, e.Proof, e.Root); err != nil {
				fail(err.Error())
				continue
			}
			key := string(e.Signature)
			sigErr, done := verified[key]
			if !done {
				check, err := signers(e.Sender)
				if err != nil {
					sigErr = err
				} else {
					sigErr = check.Verify(receiver, e.Root, e.Signature, e.SignerChain, e.ReceiveTime)
				}
				verified[key] = sigErr
			}
			if sigErr != nil {
				fail("batch signature: " + sigErr.Error())
			}
		}
		if len(page) < 1000 {
			return res, closeChannel()
		}
		after, afterSeq = page[len(page)-1].Sender, page[len(page)-1].Seq
	}
}

// String summarises a result in words.
func (r VerifyResult) String() string {
	s := fmt.Sprintf("%d envelopes checked: %d in full, %d by leaf hash only (content withdrawn)", r.Checked, r.Full, r.Purged)
	if len(r.Failures) > 0 {
		s += fmt.Sprintf("; %d do NOT verify", len(r.Failures))
	}
	return s
}
