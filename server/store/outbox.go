package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/liaison-exchange/liaison/gen/db"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// Outgoing is a change to send to a partner.
type Outgoing struct {
	Receiver      string
	Kind          liaisonv1.EnvelopeKind
	RecordID      string
	RecordVersion int64
	Payload       proto.Message
	// Repair marks an envelope re-sent by a drift check.
	Repair bool
}

// AppendOutbox writes an envelope for a partner in the same transaction as
// the change it carries, with the next sequence number of that channel.
//
// Every payload bound for a partner passes here, through the hook set with
// SetOutgoing: the one place where what leaves the node is minimised.
func (t *Tx) AppendOutbox(o Outgoing) (*liaisonv1.Envelope, error) {
	if f := t.s.outgoing; f != nil {
		o.Payload = f(o.Receiver, o.Payload)
	}
	payload, err := marshalDet.Marshal(o.Payload)
	if err != nil {
		return nil, fmt.Errorf("marshal payload: %w", err)
	}
	seq, err := t.q.NextOutSeq(t.ctx, o.Receiver)
	if err != nil {
		return nil, fmt.Errorf("next sequence for %s: %w", o.Receiver, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	env := &liaisonv1.Envelope{
		Id: id.String(), Sender: t.s.opts.Agency, Receiver: o.Receiver, Sequence: uint64(seq),
		Kind: o.Kind, RecordId: o.RecordID, RecordVersion: o.RecordVersion,
		CreateTime: timestamppb.New(t.now), Payload: payload, Repair: o.Repair,
	}
	b, err := marshalDet.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("marshal envelope: %w", err)
	}
	if err := t.q.InsertOutbox(t.ctx, db.InsertOutboxParams{
		Partner: o.Receiver, Seq: seq, EnvelopeID: env.Id, Kind: int64(o.Kind), RecordID: o.RecordID,
		RecordVersion: o.RecordVersion, CreateTime: t.now.UnixMicro(), Envelope: b,
	}); err != nil {
		return nil, fmt.Errorf("append outbox: %w", err)
	}
	t.signalOutbox(o.Receiver)
	return env, nil
}

// OutboxEntry is an envelope sent (or to be sent) about a record.
type OutboxEntry struct {
	Partner       string
	Seq           int64
	EnvelopeID    string
	Kind          liaisonv1.EnvelopeKind
	RecordVersion int64
	CreateTime    time.Time
	ReceiptStatus liaisonv1.ReceiptStatus
	ReceiptReason string
	ReceiptTime   time.Time
}

// OutboxForRecord lists the envelopes about a record, per partner in order.
func (s *Store) OutboxForRecord(ctx context.Context, recordID string) ([]OutboxEntry, error) {
	rows, err := s.rq.ListOutboxForRecord(ctx, recordID)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out := make([]OutboxEntry, 0, len(rows))
	for _, r := range rows {
		e := OutboxEntry{
			Partner: r.Partner, Seq: r.Seq, EnvelopeID: r.EnvelopeID, Kind: liaisonv1.EnvelopeKind(r.Kind),
			RecordVersion: r.RecordVersion, CreateTime: time.UnixMicro(r.CreateTime),
			ReceiptStatus: liaisonv1.ReceiptStatus(r.ReceiptStatus), ReceiptReason: r.ReceiptReason,
		}
		if r.ReceiptTime != 0 {
			e.ReceiptTime = time.UnixMicro(r.ReceiptTime)
		}
		out = append(out, e)
	}
	return out, nil
}

// ReceiptBatch is a partner's signature over its receipts for one batch:
// the Merkle root of the receipts and the highest sequence applied, signed
// by the partner's node.
type ReceiptBatch struct {
	Root           []byte
	HighestApplied int64
	Signature      []byte
	SignerChain    [][]byte
}

// InsertReceiptBatch stores a partner's receipts signature; the signed
// receipts kept with outbox entries refer to it.
func (t *Tx) InsertReceiptBatch(partner string, b ReceiptBatch) (int64, error) {
	id, err := t.q.InsertReceiptBatch(t.ctx, db.InsertReceiptBatchParams{
		Partner: partner, MerkleRoot: b.Root, HighestApplied: b.HighestApplied, Signature: b.Signature,
		SignerChain: JoinDER(b.SignerChain), ReceiveTime: t.now.UnixMicro(),
	})
	if err != nil {
		return 0, fmt.Errorf("store receipts signature of %s: %w", partner, err)
	}
	return id, nil
}

// KeepSignedReceipt stores, with the envelope at seq to partner, the
// partner's receipt for it exactly as signed and its Merkle path to the
// root of the receipt batch batchID.
func (t *Tx) KeepSignedReceipt(partner string, seq, batchID int64, receipt, proof []byte) error {
	if err := t.q.InsertOutboxReceipt(t.ctx, db.InsertOutboxReceiptParams{
		Partner: partner, Seq: seq, ReceiptBatchID: batchID, Receipt: receipt, Proof: proof,
	}); err != nil {
		return fmt.Errorf("keep signed receipt %d of %s: %w", seq, partner, err)
	}
	return nil
}

// HasSignedReceipt reports whether the signed receipt for the envelope at
// seq to partner is kept (receipts stored before receipts were signed are
// not).
func (t *Tx) HasSignedReceipt(partner string, seq int64) (bool, error) {
	n, err := t.q.HasOutboxReceipt(t.ctx, db.HasOutboxReceiptParams{Partner: partner, Seq: seq})
	if err != nil {
		return false, fmt.Errorf("read signed receipt %d of %s: %w", seq, partner, err)
	}
	return n > 0, nil
}

// ReceiptProof is an envelope sent to a partner about a record and, when
// the partner's signed receipt for it is kept, that receipt with what
// proves it.
type ReceiptProof struct {
	Seq      int64
	Envelope []byte
	// ReceiptStatus is the receipt as recorded (zero: none yet).
	ReceiptStatus liaisonv1.ReceiptStatus
	// Signed is false when no signed receipt is kept (none came yet, or it
	// came before receipts were signed); the fields below are then empty.
	Signed      bool
	Receipt     []byte
	Proof       []byte
	Batch       ReceiptBatch
	ReceiveTime time.Time
}

// receiptProofs lists the envelopes sent to partner about a record, in
// order, with the partner's signed receipts. Used by `liaison federation
// receipt-proof` on a database opened read-only.
func receiptProofs(ctx context.Context, q *db.Queries, partner, recordID string) ([]ReceiptProof, error) {
	rows, err := q.ReceiptEvidence(ctx, db.ReceiptEvidenceParams{RecordID: recordID, Partner: partner})
	if err != nil {
		return nil, fmt.Errorf("read receipts of %s to %s: %w", recordID, partner, err)
	}
	out := make([]ReceiptProof, len(rows))
	for i, r := range rows {
		p := ReceiptProof{Seq: r.Seq, Envelope: r.Envelope, ReceiptStatus: liaisonv1.ReceiptStatus(r.ReceiptStatus)}
		if r.Receipt != nil && r.ReceiveTime.Valid {
			chain, err := SplitDER(r.SignerChain)
			if err != nil {
				return nil, fmt.Errorf("receipt %d of %s: %w", r.Seq, partner, err)
			}
			p.Signed, p.Receipt, p.Proof, p.ReceiveTime = true, r.Receipt, r.Proof, time.UnixMicro(r.ReceiveTime.Int64)
			p.Batch = ReceiptBatch{Root: r.MerkleRoot, HighestApplied: r.HighestApplied.Int64, Signature: r.Signature, SignerChain: chain}
		}
		out[i] = p
	}
	return out, nil
}

// SetOutgoing sets the function every payload for a partner passes through
// before it is written to the outbox (officers' pseudonyms). Call it before
// the first write that may send anything.
func (s *Store) SetOutgoing(f func(partner string, payload proto.Message) proto.Message) {
	s.outgoing = f
}

// Secret returns the node's secret called name: 32 random bytes made on
// first use and kept in the database, so that it persists across restarts
// and travels with backups.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.Write(ctx, func(t *Tx) error {
		key := "secret/" + name
		v, err := t.q.GetMeta(t.ctx, key)
		if err == nil {
			out, err = hex.DecodeString(v)
			if err == nil && len(out) != 32 {
				err = fmt.Errorf("%d bytes", len(out))
			}
			if err != nil {
				return fmt.Errorf("node secret %s: %w", name, err)
			}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read node secret %s: %w", name, err)
		}
		out = make([]byte, 32)
		if _, err := rand.Read(out); err != nil {
			return err
		}
		return t.q.SetMeta(t.ctx, db.SetMetaParams{Key: key, Value: hex.EncodeToString(out)})
	})
	return out, err
}
