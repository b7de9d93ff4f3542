package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/gen/db"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
)

// ErrTxBroken marks a failure that leaves the transaction unusable (a
// savepoint that could not be rolled back or released): the operation
// must fail as a whole.
var ErrTxBroken = errors.New("the transaction can no longer be used")

// HeldRecord is one record this node keeps under an id: its kind ("lead",
// "case", "case_entry", "manifest", "manifest_action",
// "permission_request"), the agency whose node is its home, and the id of
// the record it belongs to ("" if none).
type HeldRecord struct{ Kind, Home, Parent string }

// RecordsUnder lists every record kept under id, whatever its kind.
func (t *Tx) RecordsUnder(id string) ([]HeldRecord, error) {
	rows, err := t.q.RecordKeysByID(t.ctx, id)
	if err != nil {
		return nil, fmt.Errorf("records under %s: %w", id, err)
	}
	out := make([]HeldRecord, len(rows))
	for i, r := range rows {
		out[i] = HeldRecord{Kind: r.Kind, Home: r.Home, Parent: r.Parent}
	}
	return out, nil
}

// Savepoint runs fn in a nested savepoint: if fn fails, only its changes
// are rolled back and the error is returned; the enclosing operation goes
// on. The receiver uses it so a rejected envelope still consumes its
// sequence number.
func (t *Tx) Savepoint(fn func() error) error {
	if _, err := t.tx.ExecContext(t.ctx, "SAVEPOINT inner"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	hooks, treeNew := len(t.afterCommit), len(t.treeNew)
	headSeq, headHash := t.headSeq, t.headHash
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return mapErr(fn())
	}()
	if err != nil {
		if _, rerr := t.tx.ExecContext(t.ctx, "ROLLBACK TO inner"); rerr != nil {
			return errors.Join(err, ErrTxBroken, rerr)
		}
		t.afterCommit, t.treeNew = t.afterCommit[:hooks], t.treeNew[:treeNew]
		t.headSeq, t.headHash = headSeq, headHash
	}
	if _, rerr := t.tx.ExecContext(t.ctx, "RELEASE inner"); rerr != nil {
		return errors.Join(err, ErrTxBroken, rerr)
	}
	return err
}

// ---- outbound ------------------------------------------------------------------

// OutChannel is the state of the channel to a partner.
type OutChannel struct {
	// LastSeq is the last sequence assigned to an envelope.
	LastSeq int64
	// Acked is the highest sequence the partner receipted.
	Acked int64
	// PartnerApplied is the partner's highest applied sequence as it last
	// reported it.
	PartnerApplied int64
}

// OutChannel reads the channel to a partner (zero if nothing was ever sent).
func (s *Store) OutChannel(ctx context.Context, partner string) (OutChannel, error) {
	r, err := s.rq.GetOutChannel(ctx, partner)
	if errors.Is(err, sql.ErrNoRows) {
		return OutChannel{}, nil
	}
	if err != nil {
		return OutChannel{}, fmt.Errorf("read channel to %s: %w", partner, err)
	}
	return OutChannel{LastSeq: r.LastSeq, Acked: r.AckedSeq, PartnerApplied: r.PartnerAppliedSeq}, nil
}

// OutboxItem is a stored envelope to send.
type OutboxItem struct {
	Seq      int64
	Envelope []byte
}

// OutboxFrom reads up to limit envelopes to a partner from sequence from on.
func (s *Store) OutboxFrom(ctx context.Context, partner string, from int64, limit int) ([]OutboxItem, error) {
	rows, err := s.rq.OutboxFrom(ctx, db.OutboxFromParams{Partner: partner, Seq: from, Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	out := make([]OutboxItem, len(rows))
	for i, r := range rows {
		out[i] = OutboxItem{Seq: r.Seq, Envelope: r.Envelope}
	}
	return out, nil
}

// SentEnvelope is an outbox entry as a receipt handler sees it.
type SentEnvelope struct {
	Partner       string
	Seq           int64
	EnvelopeID    string
	Kind          liaisonv1.EnvelopeKind
	RecordID      string
	RecordVersion int64
	Envelope      []byte
}

// RecordReceipt stores a partner's receipt for an envelope. first is false
// when a receipt was already stored (a duplicate after a resend).
func (t *Tx) RecordReceipt(partner string, r *liaisonv1.Receipt) (e SentEnvelope, first bool, err error) {
	row, err := t.q.GetOutboxEntry(t.ctx, db.GetOutboxEntryParams{Partner: partner, Seq: int64(r.GetSequence())})
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, fmt.Errorf("receipt for sequence %d, which was never sent to %s", r.GetSequence(), partner)
	}
	if err != nil {
		return e, false, err
	}
	e = SentEnvelope{Partner: row.Partner, Seq: row.Seq, EnvelopeID: row.EnvelopeID, Kind: liaisonv1.EnvelopeKind(row.Kind),
		RecordID: row.RecordID, RecordVersion: row.RecordVersion, Envelope: row.Envelope}
	if row.EnvelopeID != r.GetEnvelopeId() {
		return e, false, fmt.Errorf("receipt for sequence %d names envelope %s, but %s was sent", r.GetSequence(), r.GetEnvelopeId(), row.EnvelopeID)
	}
	reason := r.GetReasonCode()
	if r.GetReason() != "" {
		reason += ": " + r.GetReason()
	}
	n, err := t.q.SetOutboxReceipt(t.ctx, db.SetOutboxReceiptParams{
		ReceiptStatus: int64(r.GetStatus()), ReceiptReason: reason, ReceiptTime: t.now.UnixMicro(), Partner: partner, Seq: row.Seq,
	})
	return e, n == 1, err
}

// SetOutProgress records the highest receipted sequence and the partner's
// reported highest applied one.
func (t *Tx) SetOutProgress(partner string, acked, partnerApplied int64) error {
	return t.q.SetOutChannelProgress(t.ctx, db.SetOutChannelProgressParams{Partner: partner, AckedSeq: acked, PartnerAppliedSeq: partnerApplied})
}

// OutboxWaiting counts the envelopes to a partner without a receipt and
// returns the creation time of the oldest.
func (s *Store) OutboxWaiting(ctx context.Context, partner string) (int64, time.Time, error) {
	r, err := s.rq.OutboxWaiting(ctx, partner)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count waiting envelopes: %w", err)
	}
	if r.Waiting == 0 {
		return 0, time.Time{}, nil
	}
	return r.Waiting, time.UnixMicro(r.Oldest), nil
}

// SentRecord is one envelope of a channel as the drift check reads it.
type SentRecord struct {
	Seq           int64
	Kind          liaisonv1.EnvelopeKind
	RecordID      string
	RecordVersion int64
}

// OutboxUpTo lists the envelopes to a partner up to sequence upTo, in order.
func (s *Store) OutboxUpTo(ctx context.Context, partner string, upTo int64) ([]SentRecord, error) {
	rows, err := s.rq.OutboxUpTo(ctx, db.OutboxUpToParams{Partner: partner, Seq: upTo})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	out := make([]SentRecord, len(rows))
	for i, r := range rows {
		out[i] = SentRecord{Seq: r.Seq, Kind: liaisonv1.EnvelopeKind(r.Kind), RecordID: r.RecordID, RecordVersion: r.RecordVersion}
	}
	return out, nil
}

// signals wake the relay of a partner when envelopes were committed.
type signals struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func (s *signals) get(partner string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = map[string]chan struct{}{}
	}
	c, ok := s.ch[partner]
	if !ok {
		c = make(chan struct{}, 1)
		s.ch[partner] = c
	}
	return c
}

// OutboxSignal is signalled (without blocking, coalescing) after a commit
// that added envelopes for the partner.
func (s *Store) OutboxSignal(partner string) <-chan struct{} { return s.signals.get(partner) }

func (t *Tx) signalOutbox(partner string) {
	c := t.s.signals.get(partner)
	t.AfterCommit(func() {
		select {
		case c <- struct{}{}:
		default:
		}
	})
}

// ---- inbound -------------------------------------------------------------------

// InChannel is the state of a partner's channel to this node.
type InChannel struct {
	LastApplied int64
	LastContact time.Time
}

// InChannel reads a partner's channel (zero if it never sent anything).
func (s *Store) InChannel(ctx context.Context, sender string) (InChannel, error) {
	return inChannel(ctx, s.rq, sender)
}

// InChannel reads a partner's channel inside the transaction.
func (t *Tx) InChannel(sender string) (InChannel, error) { return inChannel(t.ctx, t.q, sender) }

func inChannel(ctx context.Context, q *db.Queries, sender string) (InChannel, error) {
	r, err := q.GetInChannel(ctx, sender)
	if errors.Is(err, sql.ErrNoRows) {
		return InChannel{}, nil
	}
	if err != nil {
		return InChannel{}, fmt.Errorf("read channel from %s: %w", sender, err)
	}
	return InChannel{LastApplied: r.LastApplied, LastContact: time.UnixMicro(r.LastContact)}, nil
}

// SetInChannel records the highest sequence applied from a partner.
func (t *Tx) SetInChannel(sender string, lastApplied int64) error {
	return t.q.SetInChannel(t.ctx, db.SetInChannelParams{Sender: sender, LastApplied: lastApplied, LastContact: t.now.UnixMicro()})
}

// InsertInboxBatch stores a batch signature; envelopes refer to it.
func (t *Tx) InsertInboxBatch(sender string, root, signature []byte, chain [][]byte) (int64, error) {
	return t.q.InsertInboxBatch(t.ctx, db.InsertInboxBatchParams{
		Sender: sender, MerkleRoot: root, Signature: signature, SignerChain: JoinDER(chain), ReceiveTime: t.now.UnixMicro(),
	})
}

// InboxEntry is an envelope received, as stored.
type InboxEntry struct {
	Sender        string
	Seq           int64
	EnvelopeID    string
	Kind          liaisonv1.EnvelopeKind
	RecordID      string
	RecordVersion int64
	BatchID       int64
	LeafHash      []byte
	Proof         []byte
	Envelope      []byte
	Status        liaisonv1.ReceiptStatus
	ReasonCode    string
	Reason        string
}

// InsertInbox stores a received envelope and what became of it.
func (t *Tx) InsertInbox(e InboxEntry) error {
	return t.q.InsertInbox(t.ctx, db.InsertInboxParams{
		Sender: e.Sender, Seq: e.Seq, EnvelopeID: e.EnvelopeID, Kind: int64(e.Kind), RecordID: e.RecordID,
		RecordVersion: e.RecordVersion, BatchID: e.BatchID, LeafHash: e.LeafHash, Proof: e.Proof, Envelope: e.Envelope,
		Status: int64(e.Status), ReasonCode: e.ReasonCode, Reason: e.Reason, ApplyTime: t.now.UnixMicro(),
	})
}

// InboxReceipt is the receipt given for an envelope received before
// (marked duplicate), and the leaf hash of what was received then.
func (t *Tx) InboxReceipt(sender string, seq int64) (*liaisonv1.Receipt, []byte, error) {
	r, err := t.q.GetInbox(t.ctx, db.GetInboxParams{Sender: sender, Seq: seq})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errs.NotFoundf("no envelope %d from %s", seq, sender)
	}
	if err != nil {
		return nil, nil, err
	}
	return &liaisonv1.Receipt{
		Sequence: uint64(r.Seq), EnvelopeId: r.EnvelopeID, Status: liaisonv1.ReceiptStatus(r.Status),
		ReasonCode: r.ReasonCode, Reason: r.Reason, Duplicate: true, ApplyTime: timestampMicro(r.ApplyTime),
		EnvelopeHash: r.LeafHash, Kind: liaisonv1.EnvelopeKind(r.Kind), RecordId: r.RecordID, RecordVersion: r.RecordVersion,
	}, r.LeafHash, nil
}

// PurgeInboxContent deletes the stored bytes of every envelope about a
// record received before sequence before: once a record is withdrawn, no
// copy of its content remains, only the leaf hashes and signatures that
// prove what was received.
func (t *Tx) PurgeInboxContent(sender, recordID string, before int64) error {
	return t.q.PurgeInboxContent(t.ctx, db.PurgeInboxContentParams{RecordID: recordID, Seq: before, Sender: sender})
}

// StoredEnvelope is a received envelope with what is needed to verify it.
type StoredEnvelope struct {
	Sender        string
	Seq           int64
	EnvelopeID    string
	Kind          liaisonv1.EnvelopeKind
	RecordID      string
	RecordVersion int64
	LeafHash      []byte
	Proof         []byte
	Envelope      []byte // nil once purged
	ApplyTime     time.Time
	Root          []byte
	Signature     []byte
	SignerChain   [][]byte
	ReceiveTime   time.Time
}

// inboxPage reads stored envelopes after (sender, seq), in order. Used by
// `liaison federation verify` on a database opened read-only.
func inboxPage(ctx context.Context, q *db.Queries, afterSender string, afterSeq int64, limit int) ([]StoredEnvelope, error) {
	rows, err := q.InboxPage(ctx, db.InboxPageParams{AfterSender: afterSender, AfterSeq: afterSeq, PageLimit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("read inbox: %w", err)
	}
	out := make([]StoredEnvelope, len(rows))
	for i, r := range rows {
		chain, err := SplitDER(r.SignerChain)
		if err != nil {
			return nil, fmt.Errorf("envelope %s/%d: %w", r.Sender, r.Seq, err)
		}
		out[i] = StoredEnvelope{
			Sender: r.Sender, Seq: r.Seq, EnvelopeID: r.EnvelopeID, Kind: liaisonv1.EnvelopeKind(r.Kind), RecordID: r.RecordID,
			RecordVersion: r.RecordVersion, LeafHash: r.LeafHash, Proof: r.Proof, Envelope: r.Envelope, ApplyTime: time.UnixMicro(r.ApplyTime),
			Root: r.MerkleRoot, Signature: r.Signature, SignerChain: chain, ReceiveTime: time.UnixMicro(r.ReceiveTime),
		}
	}
	return out, nil
}

// JoinDER concatenates certificates, each preceded by its 4-byte length.
func JoinDER(certs [][]byte) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, byte(len(c)>>24), byte(len(c)>>16), byte(len(c)>>8), byte(len(c)))
		out = append(out, c...)
	}
	return out
}

// SplitDER reverses JoinDER.
func SplitDER(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("truncated certificate chain")
		}
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if n > len(b)-4 {
			return nil, errors.New("truncated certificate chain")
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out, nil
}

// ---- digests ---------------------------------------------------------------------

// DigestItem is a record as a replica holder has it.
type DigestItem struct {
	ID        string
	Version   int64
	Tombstone bool
}

// LeadReplicas reads, in one snapshot, the last sequence applied from
// origin and the lead replicas of origin with ids in [fromID, toID), at
// most limit of them.
func (s *Store) LeadReplicas(ctx context.Context, origin, fromID, toID string, limit int) (int64, []DigestItem, error) {
	return replicas(ctx, s, origin, "lead", func(q *db.Queries) ([]DigestItem, error) {
		rows, err := q.LeadReplicaItems(ctx, db.LeadReplicaItemsParams{OriginAgency: origin, FromID: fromID, ToID: toID, PageLimit: int64(limit)})
		out := make([]DigestItem, len(rows))
		for i, r := range rows {
			out[i] = DigestItem{ID: r.ID, Version: r.Version, Tombstone: r.Tombstone != 0}
		}
		return out, err
	})
}

// replicas reads, in one read-only snapshot, the last sequence applied
// from origin and a digest of origin's records of a kind held here.
func replicas(ctx context.Context, s *Store, origin, kind string, read func(q *db.Queries) ([]DigestItem, error)) (int64, []DigestItem, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback()
	q := s.rq.WithTx(tx)
	ch, err := inChannel(ctx, q, origin)
	if err != nil {
		return 0, nil, err
	}
	out, err := read(q)
	if err != nil {
		return 0, nil, fmt.Errorf("read %s replicas: %w", kind, err)
	}
	return ch.LastApplied, out, nil
}

// ---- drift checks ------------------------------------------------------------------

// SaveDriftCheck stores the outcome of a drift check.
func (t *Tx) SaveDriftCheck(r *liaisonv1.DriftCheckResult) error {
	inStep := int64(0)
	if r.GetInStep() {
		inStep = 1
	}
	return t.q.InsertDriftCheck(t.ctx, db.InsertDriftCheckParams{
		Partner: r.GetPartner(), Time: r.GetTime().AsTime().UnixMicro(), InStep: inStep, RecordsCompared: r.GetRecordsCompared(),
		Differences: r.GetDifferences(), RepairsQueued: r.GetRepairsQueued(), Summary: r.GetSummary(), Error: r.GetError(),
	})
}

// LatestDriftCheck reads the last drift check with a partner (nil if none).
func (s *Store) LatestDriftCheck(ctx context.Context, partner string) (*liaisonv1.DriftCheckResult, error) {
	r, err := s.rq.LatestDriftCheck(ctx, partner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &liaisonv1.DriftCheckResult{
		Partner: r.Partner, Time: timestampMicro(r.Time), InStep: r.InStep != 0, RecordsCompared: r.RecordsCompared,
		Differences: r.Differences, RepairsQueued: r.RepairsQueued, Summary: r.Summary, Error: r.Error,
	}, nil
}

// FastForwardOut is the repair after this database was restored from a
// backup older than what partner had received: partner has applied up to
// sequence to on the channel, and envelopes this node numbered since the
// restore reuse sequences the partner already applied with other envelopes
// (it refuses them) or wait behind them. Every envelope without a receipt
// is renumbered, in its order, after the higher of to and the highest
// receipted sequence, under a new envelope id (the partner may hold one
// with the old id). It returns how many were renumbered and the last
// sequence the channel had assigned before.
func (t *Tx) FastForwardOut(partner string, to int64) (renumbered int, lastSeq int64, err error) {
	ch, err := t.q.GetOutChannel(t.ctx, partner)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("read channel to %s: %w", partner, err)
	}
	rows, err := t.q.UnreceiptedOutbox(t.ctx, partner)
	if err != nil {
		return 0, 0, err
	}
	if len(rows) == 0 && to <= ch.LastSeq {
		return 0, ch.LastSeq, errs.Precondition("channel.in_step", "channels/"+partner,
			"every envelope to %s has a receipt and sequence %d was assigned already: nothing to fast-forward", partner, to)
	}
	base := max(to, ch.AckedSeq)
	// Out of the way first, so no new number meets an old one.
	if err := t.q.ParkUnreceiptedOutbox(t.ctx, partner); err != nil {
		return 0, 0, err
	}
	for i, r := range rows {
		env := &liaisonv1.Envelope{}
		if err := proto.Unmarshal(r.Envelope, env); err != nil {
			return 0, 0, fmt.Errorf("decode envelope %d to %s: %w", r.Seq, partner, err)
		}
		id, err := uuid.NewV7()
		if err != nil {
			return 0, 0, err
		}
		seq := base + int64(i) + 1
		env.Id, env.Sequence = id.String(), uint64(seq)
		b, err := marshalDet.Marshal(env)
		if err != nil {
			return 0, 0, err
		}
		if err := t.q.RenumberOutbox(t.ctx, db.RenumberOutboxParams{NewSeq: seq, EnvelopeID: env.Id, Envelope: b, Partner: partner, OldSeq: -r.Seq}); err != nil {
			return 0, 0, fmt.Errorf("renumber envelope %d to %s: %w", r.Seq, partner, err)
		}
	}
	if err := t.q.FastForwardOutChannel(t.ctx, db.FastForwardOutChannelParams{Partner: partner, Acked: base, LastSeq: base + int64(len(rows))}); err != nil {
		return 0, 0, err
	}
	t.signalOutbox(partner)
	return len(rows), ch.LastSeq, nil
}

// Stranded counts the envelopes to partner without a receipt at or below
// upTo — passed by the channel, so never sent again — and the lowest of
// them.
func (s *Store) Stranded(ctx context.Context, partner string, upTo int64) (n, first int64, err error) {
	r, err := s.rq.StrandedOutbox(ctx, db.StrandedOutboxParams{Partner: partner, UpTo: upTo})
	return r.Stranded, r.FirstSeq, err
}
