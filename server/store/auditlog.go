package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/liaison-exchange/liaison/gen/db"
	"github.com/liaison-exchange/liaison/server/audit"
)

// AuditFilter selects audit events.
type AuditFilter struct {
	Agency, Principal, Action, Resource, Outcome string
	Start, End                                   time.Time
}

// AppendAudit appends an event that belongs to no call under way (e.g. the
// count of refusals the interceptors coalesced) and returns once it is
// durable. Seq, Time and Hash are set by the store; an empty Agency is the
// own.
func (s *Store) AppendAudit(ctx context.Context, e audit.Event) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.Audit(&e) })
}

// ListAuditEvents returns up to limit events before beforeSeq (all when 0),
// newest first.
func (s *Store) ListAuditEvents(ctx context.Context, f AuditFilter, beforeSeq int64, limit int) ([]audit.Event, error) {
	p := db.ListAuditEventsParams{
		BeforeSeq: beforeSeq, Agency: f.Agency, Principal: f.Principal, Action: f.Action,
		Resource: f.Resource, Outcome: f.Outcome, PageLimit: int64(limit), StartTime: -1 << 62,
	}
	if !f.Start.IsZero() {
		p.StartTime = f.Start.UnixMicro()
	}
	if !f.End.IsZero() {
		p.EndTime = f.End.UnixMicro()
	}
	rows, err := s.rq.ListAuditEvents(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out := make([]audit.Event, len(rows))
	for i, r := range rows {
		out[i] = audit.Event{
			Seq: r.Seq, Time: time.UnixMicro(r.Time).UTC(), Agency: r.Agency, Principal: r.Principal, Role: r.Role,
			Action: r.Action, Resource: r.Resource, Outcome: r.Outcome, RequestID: r.RequestID, Detail: r.Detail, Hash: r.Hash,
		}
	}
	return out, nil
}

// VerifyAudit recomputes the whole chain from the database.
func (s *Store) VerifyAudit(ctx context.Context) (audit.Result, error) {
	return VerifyAuditDB(ctx, s.rq)
}

// VerifyAuditDB verifies the audit chain of a database through its
// queries; `liaison audit verify` uses it on a file opened read-only.
func VerifyAuditDB(ctx context.Context, q *db.Queries) (audit.Result, error) {
	v := audit.NewVerifier()
	const page = 5000
	next := int64(1)
	for {
		rows, err := q.AuditEventsFrom(ctx, db.AuditEventsFromParams{Seq: next, Limit: page})
		if err != nil {
			return audit.Result{}, fmt.Errorf("read audit events: %w", err)
		}
		for _, r := range rows {
			e := audit.Event{
				Seq: r.Seq, Time: time.UnixMicro(r.Time), Agency: r.Agency, Principal: r.Principal, Role: r.Role,
				Action: r.Action, Resource: r.Resource, Outcome: r.Outcome, RequestID: r.RequestID, Detail: r.Detail, Hash: r.Hash,
			}
			if !v.Add(&e) {
				return v.Finish(0, nil), nil
			}
			next = r.Seq + 1
		}
		if len(rows) < page {
			break
		}
	}
	head, err := q.GetAuditHead(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return v.Finish(0, audit.Genesis), nil
	}
	if err != nil {
		return audit.Result{}, fmt.Errorf("read audit head: %w", err)
	}
	return v.Finish(head.Seq, head.Hash), nil
}

// OpenReadOnly opens a database file for offline inspection without
// migrating or writing it.
func OpenReadOnly(path string) (*db.Queries, func() error, error) {
	d, err := sql.Open("sqlite3", FileURI(path, url.Values{"_query_only": {"on"}, "_busy_timeout": {"10000"}}))
	if err != nil {
		return nil, nil, err
	}
	if err := d.Ping(); err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db.New(d), d.Close, nil
}
