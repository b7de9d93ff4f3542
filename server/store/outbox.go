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
