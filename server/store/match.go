package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/gen/db"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
)

// The blind index (server/match). On the holder's side: per partner, the
// epochs of the index it publishes, the entries each own record gives an
// epoch, what the partner was sent, and what changed since. On the
// asker's side: the partners' indexes. Entries are opaque bytes here.

// MatchEpoch is one epoch of the index this node publishes to a partner.
type MatchEpoch struct {
	Partner string
	Epoch   int64
	// IndexID names the index in its envelopes (their record id).
	IndexID string
	Start   time.Time
	// FeedCursor is the change feed sequence indexed into the epoch.
	FeedCursor int64
	// Scanned: every own record was indexed (the snapshot is built).
	Scanned bool
	// Version is the last update envelope's record version.
	Version int64
	// CompleteSent: the update marked complete was sent.
	CompleteSent bool
}

func matchEpochOf(r db.MatchEpoch) MatchEpoch {
	return MatchEpoch{Partner: r.Partner, Epoch: r.Epoch, IndexID: r.IndexID, Start: time.UnixMicro(r.StartTime).UTC(),
		FeedCursor: r.FeedCursor, Scanned: r.Scanned != 0, Version: r.Version, CompleteSent: r.CompleteSent != 0}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// MatchEpochs lists the epochs published to partner, newest first.
func (s *Store) MatchEpochs(ctx context.Context, partner string) ([]MatchEpoch, error) {
	rows, err := s.rq.MatchEpochs(ctx, partner)
	return matchEpochs(rows, err)
}

// MatchEpochs lists the epochs published to partner, newest first.
func (t *Tx) MatchEpochs(partner string) ([]MatchEpoch, error) {
	rows, err := t.q.MatchEpochs(t.ctx, partner)
	return matchEpochs(rows, err)
}

func matchEpochs(rows []db.MatchEpoch, err error) ([]MatchEpoch, error) {
	if err != nil {
		return nil, fmt.Errorf("match epochs: %w", err)
	}
	out := make([]MatchEpoch, len(rows))
	for i, r := range rows {
		out[i] = matchEpochOf(r)
	}
	return out, nil
}

// InsertMatchEpoch starts an epoch (not scanned, nothing sent).
func (t *Tx) InsertMatchEpoch(e MatchEpoch) error {
	return t.q.InsertMatchEpoch(t.ctx, db.InsertMatchEpochParams{Partner: e.Partner, Epoch: e.Epoch, IndexID: e.IndexID,
		StartTime: e.Start.UnixMicro(), FeedCursor: e.FeedCursor})
}

// UpdateMatchEpoch stores an epoch's progress.
func (t *Tx) UpdateMatchEpoch(e MatchEpoch) error {
	return t.q.UpdateMatchEpoch(t.ctx, db.UpdateMatchEpochParams{FeedCursor: e.FeedCursor, Scanned: b2i(e.Scanned),
		Version: e.Version, CompleteSent: b2i(e.CompleteSent), Partner: e.Partner, Epoch: e.Epoch})
}

// DropMatchEpoch deletes an epoch's entries, its published copy and its
// pending changes; the epoch's row stays so its number is not reused.
func (t *Tx) DropMatchEpoch(partner string, epoch int64) error {
	if err := t.q.DeleteMatchEpochData(t.ctx, db.DeleteMatchEpochDataParams{Partner: partner, Epoch: epoch}); err != nil {
		return err
	}
	if err := t.q.DeleteMatchEpochPublished(t.ctx, db.DeleteMatchEpochPublishedParams{Partner: partner, Epoch: epoch}); err != nil {
		return err
	}
	_, err := t.tx.ExecContext(t.ctx, "DELETE FROM match_dirty WHERE partner = ? AND epoch = ?", partner, epoch)
	return err
}

// MatchEntry is one entry an own record gives an index, with the kind of
// the key it came from.
type MatchEntry struct {
	Entry []byte
	Kind  liaisonv1.MatchKeyKind
}

// SetRecordEntries replaces the entries a record gives an epoch's index
// and marks every entry that came or went as changed.
func (t *Tx) SetRecordEntries(partner string, epoch int64, kind, id string, entries []MatchEntry) error {
	old, err := t.q.MatchRecordEntries(t.ctx, db.MatchRecordEntriesParams{Partner: partner, Epoch: epoch, RecordKind: kind, RecordID: id})
	if err != nil {
		return fmt.Errorf("entries of %s %s: %w", kind, id, err)
	}
	has := func(list [][]byte, e []byte) bool {
		return slices.ContainsFunc(list, func(x []byte) bool { return bytes.Equal(x, e) })
	}
	var changed [][]byte
	fresh := make([][]byte, 0, len(entries))
	for _, e := range entries {
		fresh = append(fresh, e.Entry)
		if !has(old, e.Entry) {
			changed = append(changed, e.Entry)
		}
	}
	for _, e := range old {
		if !has(fresh, e) {
			changed = append(changed, e)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := t.q.DeleteMatchRecordEntries(t.ctx, db.DeleteMatchRecordEntriesParams{Partner: partner, Epoch: epoch, RecordKind: kind, RecordID: id}); err != nil {
		return err
	}
	for _, e := range entries {
		if err := t.q.InsertMatchEntry(t.ctx, db.InsertMatchEntryParams{Partner: partner, Epoch: epoch, RecordKind: kind, RecordID: id,
			Entry: e.Entry, KeyKind: int64(e.Kind)}); err != nil {
			return err
		}
	}
	for _, e := range changed {
		if err := t.q.MarkMatchDirty(t.ctx, db.MarkMatchDirtyParams{Partner: partner, Epoch: epoch, Entry: e}); err != nil {
			return err
		}
	}
	return nil
}

// DirtyEntry is a changed entry: whether an own record still gives it
// (Wanted) and whether the partner holds it (Published).
type DirtyEntry struct {
	Entry             []byte
	Wanted, Published bool
}

// MatchDirty reads up to limit changed entries of an epoch.
func (t *Tx) MatchDirty(partner string, epoch int64, limit int) ([]DirtyEntry, error) {
	rows, err := t.q.MatchDirty(t.ctx, db.MatchDirtyParams{Partner: partner, Epoch: epoch, Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("changed match entries: %w", err)
	}
	out := make([]DirtyEntry, len(rows))
	for i, r := range rows {
		out[i] = DirtyEntry{Entry: r.Entry, Wanted: r.Wanted, Published: r.Published}
	}
	return out, nil
}

// PublishMatchEntries records what an update sends: the partner now holds
// added and no longer removed; every entry in seen is no longer changed.
func (t *Tx) PublishMatchEntries(partner string, epoch int64, added, removed, seen [][]byte) error {
	for _, e := range added {
		if err := t.q.InsertMatchPublished(t.ctx, db.InsertMatchPublishedParams{Partner: partner, Epoch: epoch, Entry: e}); err != nil {
			return err
		}
	}
	for _, e := range removed {
		if err := t.q.DeleteMatchPublished(t.ctx, db.DeleteMatchPublishedParams{Partner: partner, Epoch: epoch, Entry: e}); err != nil {
			return err
		}
	}
	for _, e := range seen {
		if err := t.q.ClearMatchDirty(t.ctx, db.ClearMatchDirtyParams{Partner: partner, Epoch: epoch, Entry: e}); err != nil {
			return err
		}
	}
	return nil
}

// MatchCounts are an epoch's entries sent to the partner and changed
// entries not yet sent, read together: an entry moves from one to the
// other in the transaction that sends it, and two reads apart could show
// fewer sent and none waiting while entries are being sent.
func (s *Store) MatchCounts(ctx context.Context, partner string, epoch int64) (published, pending int64, err error) {
	r, err := s.rq.CountMatchEntries(ctx, db.CountMatchEntriesParams{Partner: partner, Epoch: epoch})
	return r.Published, r.Pending, err
}

// MatchPending says whether an epoch has changed entries not yet sent.
func (s *Store) MatchPending(ctx context.Context, partner string, epoch int64) (bool, error) {
	return s.rq.HasMatchDirty(ctx, db.HasMatchDirtyParams{Partner: partner, Epoch: epoch})
}

// RecordRef names one record.
type RecordRef struct{ Kind, ID string }

// RecordsOfEntry lists the own records that give an entry of an epoch.
func (t *Tx) RecordsOfEntry(partner string, epoch int64, entry []byte) ([]RecordRef, error) {
	rows, err := t.q.MatchRecordsOfEntry(t.ctx, db.MatchRecordsOfEntryParams{Partner: partner, Epoch: epoch, Entry: entry})
	if err != nil {
		return nil, err
	}
	out := make([]RecordRef, len(rows))
	for i, r := range rows {
		out[i] = RecordRef{Kind: r.RecordKind, ID: r.RecordID}
	}
	return out, nil
}

// SetDiscoverability overrides whether a record is in the index published
// to partner.
func (t *Tx) SetDiscoverability(recordID, partner string, discoverable bool) error {
	return t.q.SetMatchDiscoverability(t.ctx, db.SetMatchDiscoverabilityParams{RecordID: recordID, Partner: partner, Discoverable: b2i(discoverable)})
}

// Discoverability is the overrides set for a record, by partner.
func (s *Store) Discoverability(ctx context.Context, recordID string) (map[string]bool, error) {
	rows, err := s.rq.MatchDiscoverability(ctx, recordID)
	if err != nil {
		return nil, fmt.Errorf("discoverability of %s: %w", recordID, err)
	}
	out := make(map[string]bool, len(rows))
	for _, r := range rows {
		out[r.Partner] = r.Discoverable != 0
	}
	return out, nil
}

// SpendMatchBudget adds n evaluations to partner's count of day and
// returns the new count.
func (t *Tx) SpendMatchBudget(partner, day string, n int64) (int64, error) {
	return t.q.AddMatchBudget(t.ctx, db.AddMatchBudgetParams{Partner: partner, Day: day, Used: n})
}

// MatchBudgetUsed is partner's count of evaluations on day.
func (s *Store) MatchBudgetUsed(ctx context.Context, partner, day string) (int64, error) {
	return s.rq.MatchBudgetUsed(ctx, db.MatchBudgetUsedParams{Partner: partner, Day: day})
}

// OwnRecord is an own record's serialized body.
type OwnRecord struct {
	ID   string
	Body []byte
}

// OwnRecordsAfter lists up to limit of this node's own records of a kind
// ("lead", "case", "manifest") with ids after afterID, in id order.
// Withdrawn leads (no content) are left out.
func (s *Store) OwnRecordsAfter(ctx context.Context, kind, afterID string, limit int) ([]OwnRecord, error) {
	own, n := s.opts.Agency, int64(limit)
	var out []OwnRecord
	switch kind {
	case "lead":
		rows, err := s.rq.OwnLeadsAfter(ctx, db.OwnLeadsAfterParams{OriginAgency: own, ID: afterID, Limit: n})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, OwnRecord{ID: r.ID, Body: r.Body})
		}
	case "case":
		rows, err := s.rq.OwnCasesAfter(ctx, db.OwnCasesAfterParams{OriginAgency: own, ID: afterID, Limit: n})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, OwnRecord{ID: r.ID, Body: r.Body})
		}
	case "manifest":
		rows, err := s.rq.OwnManifestsAfter(ctx, db.OwnManifestsAfterParams{OriginAgency: own, ID: afterID, Limit: n})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, OwnRecord{ID: r.ID, Body: r.Body})
		}
	default:
		return nil, fmt.Errorf("no own records of kind %q", kind)
	}
	return out, nil
}

// RemoteIndex is an index a partner published to this node.
type RemoteIndex struct {
	IndexID   string
	Holder    string
	Epoch     int64
	PublicKey []byte
	// Version is the last update applied.
	Version int64
	// Complete: the epoch's snapshot has arrived in full.
	Complete bool
	Updated  time.Time
}

func remoteIndexOf(r db.MatchRemoteIndex) RemoteIndex {
	return RemoteIndex{IndexID: r.IndexID, Holder: r.Holder, Epoch: r.Epoch, PublicKey: r.PublicKey, Version: r.Version,
		Complete: r.Complete != 0, Updated: time.UnixMicro(r.UpdateTime).UTC()}
}

// RemoteIndex reads a partner's index by id (NotFound if none is held).
func (t *Tx) RemoteIndex(indexID string) (RemoteIndex, error) {
	r, err := t.q.MatchRemoteIndex(t.ctx, indexID)
	if errors.Is(err, sql.ErrNoRows) {
		return RemoteIndex{}, errs.NotFoundf("no match index %s", indexID)
	}
	if err != nil {
		return RemoteIndex{}, err
	}
	return remoteIndexOf(r), nil
}

// RemoteIndexes lists the indexes holder published here, newest epoch
// first.
func (s *Store) RemoteIndexes(ctx context.Context, holder string) ([]RemoteIndex, error) {
	rows, err := s.rq.MatchRemoteIndexes(ctx, holder)
	return remoteIndexes(rows, err)
}

// RemoteIndexes lists the indexes holder published here, newest epoch
// first.
func (t *Tx) RemoteIndexes(holder string) ([]RemoteIndex, error) {
	rows, err := t.q.MatchRemoteIndexes(t.ctx, holder)
	return remoteIndexes(rows, err)
}

func remoteIndexes(rows []db.MatchRemoteIndex, err error) ([]RemoteIndex, error) {
	if err != nil {
		return nil, fmt.Errorf("match indexes: %w", err)
	}
	out := make([]RemoteIndex, len(rows))
	for i, r := range rows {
		out[i] = remoteIndexOf(r)
	}
	return out, nil
}

// PutRemoteIndex stores a partner's index's state.
func (t *Tx) PutRemoteIndex(r RemoteIndex) error {
	return t.q.UpsertMatchRemoteIndex(t.ctx, db.UpsertMatchRemoteIndexParams{IndexID: r.IndexID, Holder: r.Holder, Epoch: r.Epoch,
		PublicKey: r.PublicKey, Version: r.Version, Complete: b2i(r.Complete), UpdateTime: t.now.UnixMicro()})
}

// DropRemoteIndex deletes a partner's index and its entries.
func (t *Tx) DropRemoteIndex(indexID string) error {
	if err := t.q.DeleteMatchRemoteEntries(t.ctx, indexID); err != nil {
		return err
	}
	return t.q.DeleteMatchRemoteIndex(t.ctx, indexID)
}

// ApplyRemoteEntries adds and removes entries of a partner's index.
func (t *Tx) ApplyRemoteEntries(indexID string, added, removed [][]byte) error {
	for _, e := range added {
		if err := t.q.InsertMatchRemoteEntry(t.ctx, db.InsertMatchRemoteEntryParams{IndexID: indexID, Entry: e}); err != nil {
			return err
		}
	}
	for _, e := range removed {
		if err := t.q.DeleteMatchRemoteEntry(t.ctx, db.DeleteMatchRemoteEntryParams{IndexID: indexID, Entry: e}); err != nil {
			return err
		}
	}
	return nil
}

// HasRemoteEntry says whether a partner's index holds entry.
func (s *Store) HasRemoteEntry(ctx context.Context, indexID string, entry []byte) (bool, error) {
	return s.rq.HasMatchRemoteEntry(ctx, db.HasMatchRemoteEntryParams{IndexID: indexID, Entry: entry})
}

// RemoteEntriesHeld returns which of entries a partner's index holds (by
// their bytes), in one read.
func (s *Store) RemoteEntriesHeld(ctx context.Context, indexID string, entries [][]byte) (map[string]bool, error) {
	held := map[string]bool{}
	if len(entries) == 0 {
		return held, nil
	}
	// One statement whatever the count: the entries go as one JSON array
	// of hex strings (a statement of its own per count would be prepared
	// at every query; that took about half of this read's time).
	list := make([]byte, 0, len(entries)*35+2)
	list = append(list, '[')
	for i, e := range entries {
		if i > 0 {
			list = append(list, ',')
		}
		list = append(list, '"')
		list = hex.AppendEncode(list, e)
		list = append(list, '"')
	}
	list = append(list, ']')
	found, err := s.rq.MatchRemoteEntriesAmong(ctx, db.MatchRemoteEntriesAmongParams{IndexID: indexID, EntriesJson: string(list)})
	if err != nil {
		return nil, fmt.Errorf("match index entries: %w", err)
	}
	for _, e := range found {
		held[string(e)] = true
	}
	return held, nil
}

// CountRemoteEntries is the number of entries of a partner's index.
func (s *Store) CountRemoteEntries(ctx context.Context, indexID string) (int64, error) {
	return s.rq.CountMatchRemoteEntries(ctx, indexID)
}

// PutMatchFollowUp inserts or replaces a follow-up.
func (t *Tx) PutMatchFollowUp(f *liaisonv1.MatchFollowUp) error {
	body, err := marshalDet.Marshal(f)
	if err != nil {
		return err
	}
	return t.q.UpsertMatchFollowUp(t.ctx, db.UpsertMatchFollowUpParams{ID: f.GetId(), Querier: f.GetQuerier(), Holder: f.GetHolder(),
		Status: int64(f.GetStatus()), DueTime: f.GetDueTime().AsTime().UnixMicro(), Body: body})
}

// MatchFollowUp reads a follow-up (NotFound if none).
func (t *Tx) MatchFollowUp(id string) (*liaisonv1.MatchFollowUp, error) {
	b, err := t.q.GetMatchFollowUp(t.ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no match follow-up %s", id)
	}
	if err != nil {
		return nil, err
	}
	f := &liaisonv1.MatchFollowUp{}
	if err := proto.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("decode match follow-up %s: %w", id, err)
	}
	return f, nil
}

// FollowUpFilter selects follow-ups: sent by Querier, or not sent by
// NotQuerier, in a status.
type FollowUpFilter struct {
	Querier, NotQuerier string
	Status              liaisonv1.MatchFollowUpStatus
}

// ListMatchFollowUps lists follow-ups, pending first (soonest due first),
// from offset.
func (s *Store) ListMatchFollowUps(ctx context.Context, f FollowUpFilter, offset, limit int) ([]*liaisonv1.MatchFollowUp, error) {
	rows, err := s.rq.ListMatchFollowUps(ctx, db.ListMatchFollowUpsParams{Querier: f.Querier, NotQuerier: f.NotQuerier,
		Status: int64(f.Status), PageLimit: int64(limit), PageOffset: int64(offset)})
	if err != nil {
		return nil, fmt.Errorf("list match follow-ups: %w", err)
	}
	out := make([]*liaisonv1.MatchFollowUp, len(rows))
	for i, r := range rows {
		out[i] = &liaisonv1.MatchFollowUp{}
		if err := proto.Unmarshal(r.Body, out[i]); err != nil {
			return nil, fmt.Errorf("decode match follow-up %s: %w", r.ID, err)
		}
	}
	return out, nil
}
