package store

import (
	"context"
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
func (t *Tx) AppendOutbox(o Outgoing) (*liaisonv1.Envelope, error) {
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
