package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/liaison-exchange/liaison/gen/db"
	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// FeedEvent is one change in the change feed.
type FeedEvent struct {
	Seq          int64
	Time         time.Time
	Kind         liaisonv1.ChangeKind
	RecordID     string
	Version      int64
	OriginAgency string
	Action       string
	// Record is the serialized record (a Lead, Case, CaseEntry or Manifest
	// by Kind) as it is when the change is read — possibly a later version;
	// nil once its content is gone (withdrawn, purged).
	Record []byte
}

// feed appends a change, in the transaction that makes it. Watchers are
// woken once the transaction commits. The record itself is not copied (see
// FeedEvent.Record).
func (t *Tx) feed(kind liaisonv1.ChangeKind, id string, version int64, origin, action string) error {
	if err := t.q.AppendFeed(t.ctx, db.AppendFeedParams{
		Time: t.now.UnixMicro(), Kind: int64(kind), RecordID: id, Version: version, OriginAgency: origin, Action: action,
	}); err != nil {
		return fmt.Errorf("append to the change feed: %w", err)
	}
	if !t.feedChanged {
		t.feedChanged = true
		t.AfterCommit(t.s.feedSignal.notify)
	}
	return nil
}

// ownOr names a change to a record by whether it is this node's own.
func (t *Tx) ownOr(origin, own, replica string) string {
	if origin == t.s.opts.Agency {
		return own
	}
	return replica
}

// FeedAfter reads up to limit changes after cursor, in order.
func (s *Store) FeedAfter(ctx context.Context, cursor int64, limit int) ([]FeedEvent, error) {
	rows, err := s.rq.FeedAfter(ctx, db.FeedAfterParams{Seq: cursor, Limit: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("read the change feed: %w", err)
	}
	out := make([]FeedEvent, len(rows))
	for i, r := range rows {
		out[i] = FeedEvent{Seq: r.Seq, Time: time.UnixMicro(r.Time), Kind: liaisonv1.ChangeKind(r.Kind), RecordID: r.RecordID,
			Version: r.Version, OriginAgency: r.OriginAgency, Action: r.Action, Record: r.Record}
	}
	return out, nil
}

// FeedBounds returns the oldest and newest cursor the feed holds (0, 0 when
// empty).
func (s *Store) FeedBounds(ctx context.Context) (oldest, newest int64, err error) {
	r, err := s.rq.FeedBounds(ctx)
	return r.Oldest, r.Newest, err
}

// TrimFeed deletes the changes up to and including cursor.
func (t *Tx) TrimFeed(cursor int64) (int64, error) {
	return t.q.TrimFeed(t.ctx, cursor)
}

// FeedBounds is Store.FeedBounds inside the transaction.
func (t *Tx) FeedBounds() (oldest, newest int64, err error) {
	r, err := t.q.FeedBounds(t.ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read the change feed: %w", err)
	}
	return r.Oldest, r.Newest, nil
}

// FeedCursorBefore is the cursor of the last change made before at — the
// newest cursor if every change is older — which is how far a retention
// trim may delete.
func (t *Tx) FeedCursorBefore(at time.Time) (int64, error) {
	seq, err := t.q.FeedFirstSince(t.ctx, at.UnixMicro())
	if errors.Is(err, sql.ErrNoRows) {
		_, newest, err := t.FeedBounds()
		return newest, err
	}
	if err != nil {
		return 0, fmt.Errorf("read the change feed: %w", err)
	}
	return seq - 1, nil
}

// FeedSignal returns a channel closed at the next commit that adds changes
// to the feed.
func (s *Store) FeedSignal() <-chan struct{} { return s.feedSignal.wait() }

// broadcast wakes every waiter at once.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
