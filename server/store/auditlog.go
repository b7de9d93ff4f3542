package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/liaison-exchange/liaison/gen/db"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
)

// AuditFilter selects audit events.
type AuditFilter struct {
	Agency, Principal, Action, Resource, Outcome string
	Start, End                                   time.Time
	// RecordID selects the events about one record: aimed at it (their
	// resource) or that returned it among others (their records).
	RecordID string
}

// AppendAudit appends an event that belongs to no call under way (e.g. the
// count of refusals the interceptors coalesced) and returns once it is
// durable. Seq, Time and Hash are set by the store; an empty Agency is the
// own.
func (s *Store) AppendAudit(ctx context.Context, e audit.Event) error {
	// A copy per run: a batch that is run again must not see the detail
	// the first run completed.
	return s.Write(audit.NewContext(ctx, nil), func(tx *Tx) error { ev := e; return tx.Audit(&ev) })
}

// RecordDelivery appends an event of the stream in ctx listing the records
// it is about to send (a page of an export, a batch of the change feed),
// and returns once it is durable: a stream sends nothing that is not in
// the audit log first, as a unary call answers nothing that is not, and a
// stream cut off half-way has recorded every batch it sent. The event is
// the call's (who, which method, which request id) with detail and ids.
// Outside an API call it records nothing.
func (s *Store) RecordDelivery(ctx context.Context, detail string, ids []string) error {
	call := audit.FromContext(ctx)
	if call == nil || len(ids) == 0 {
		return nil
	}
	e := call.Event("OK")
	e.Detail, e.Records = detail, ids
	if err := s.AppendAudit(ctx, e); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Error("audit event of a stream's delivery not recorded", "request_id", call.RequestID, "action", call.Action, "err", err)
		return errs.New(errs.Unavailable, "the delivery could not be recorded in the audit log; try again (request id %s)", call.RequestID)
	}
	return nil
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
	var rows []db.AuditEvent
	var err error
	if f.RecordID != "" {
		rows, err = s.rq.ListAuditEventsByRecord(ctx, db.ListAuditEventsByRecordParams{
			RecordID: f.RecordID, BeforeSeq: p.BeforeSeq, Agency: p.Agency, Principal: p.Principal, Action: p.Action,
			Resource: p.Resource, Outcome: p.Outcome, StartTime: p.StartTime, EndTime: p.EndTime, PageLimit: p.PageLimit,
		})
	} else {
		rows, err = s.rq.ListAuditEvents(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out := make([]audit.Event, len(rows))
	for i, r := range rows {
		out[i] = eventOf(r, nil)
	}
	return out, nil
}

// VerifyAudit recomputes the chain and the tree from the database and
// checks them against every checkpoint it holds (see verifyAudit).
func (s *Store) VerifyAudit(ctx context.Context, o VerifyOptions) (audit.Result, error) {
	// One read transaction: the events, the head and the checkpoints as of
	// one commit, while the node goes on appending (WAL snapshot).
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return audit.Result{}, fmt.Errorf("verify audit: %w", err)
	}
	defer tx.Rollback()
	return verifyAudit(ctx, s.rq.WithTx(tx), o)
}

// VerifyOptions say what to check a log against.
type VerifyOptions struct {
	// Origin of the log, and the keys its checkpoints are opened with; a
	// stored checkpoint that does not verify with them fails the check.
	// With no log key, checkpoints are not checked.
	Origin string
	Keys   audit.Keys
	// Checkpoints are further signed checkpoints, from outside the
	// database (the partner keeps the ones it cosigned).
	Checkpoints [][]byte
}

// verifyAudit verifies the audit log of a database through its queries:
// the running node's (Store.VerifyAudit), or a file opened read-only
// (ReadOnly.VerifyAudit, for `liaison audit verify` and backups). Each event is
// checked against its chain hash and its content hash (both cover the ids
// of the records it lists); the tree is rebuilt from the content hashes
// alone and checked against the checkpoints, so a log truncated or
// rewritten with every stored hash recomputed still fails against a
// checkpoint a witness cosigned before.
func verifyAudit(ctx context.Context, q *db.Queries, o VerifyOptions) (audit.Result, error) {
	// The stored checkpoints are read before the events: on a node that is
	// running, events and checkpoints are appended between the reads, and
	// a checkpoint read after the events could be past the last event read
	// (reported as missing events). Read first, every checkpoint is of a
	// tree the events read next contain, since the log only grows.
	var stored []db.AuditCheckpoint
	if o.Keys.Log != "" {
		var err error
		if stored, err = q.ListAuditCheckpoints(ctx); err != nil {
			return audit.Result{}, fmt.Errorf("read checkpoints: %w", err)
		}
	}
	v := audit.NewVerifier()
	tc := audit.NewTreeCheck()
	const page = 5000
	next := int64(1)
	var listed int64 // record ids attached to the events checked
	// A file from before migration 0008 (an old backup, verified offline)
	// has no audit_records table, and no event of it lists records.
	hasRecords := true
	for {
		rows, err := q.AuditLeavesFrom(ctx, db.AuditLeavesFromParams{Seq: next, Limit: page})
		if err != nil {
			return audit.Result{}, fmt.Errorf("read audit events: %w", err)
		}
		records := map[int64][]string{}
		if len(rows) > 0 && hasRecords {
			recs, err := q.AuditRecordsBetween(ctx, db.AuditRecordsBetweenParams{First: rows[0].Seq, Last: rows[len(rows)-1].Seq})
			if noRecordsTable(err) {
				hasRecords = false
			} else if err != nil {
				return audit.Result{}, fmt.Errorf("read audit records: %w", err)
			}
			for _, r := range recs {
				records[r.Seq] = append(records[r.Seq], r.RecordID)
			}
		}
		for _, r := range rows {
			e := eventOf(r, records[r.Seq])
			listed += int64(len(e.Records))
			erased := r.EraseTime != 0
			if erased && !v.AddErased(&e) || !erased && !v.Add(&e) {
				return v.Finish(0, nil), nil
			}
			if !erased && !bytes.Equal(audit.ContentHash(r.Salt, &e), r.ContentHash) {
				v.Fail(r.Seq, fmt.Sprintf("event %d does not match its leaf in the tree: it was changed", r.Seq))
				return v.Finish(0, nil), nil
			}
			if err := tc.Append(r.ContentHash); err != nil {
				return audit.Result{}, err
			}
			next = r.Seq + 1
		}
		if len(rows) < page {
			break
		}
	}
	head, err := q.GetAuditHead(ctx)
	var res audit.Result
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res = v.Finish(0, audit.Genesis)
	case err != nil:
		return audit.Result{}, fmt.Errorf("read audit head: %w", err)
	default:
		res = v.Finish(head.Seq, head.Hash)
	}
	if res.OK && hasRecords {
		// Ids listed under a sequence no event has are outside every hash.
		total, err := q.CountAuditRecords(ctx)
		if err != nil && !noRecordsTable(err) {
			return audit.Result{}, fmt.Errorf("count audit records: %w", err)
		}
		if err == nil && total != listed {
			res.OK, res.FirstBad = false, res.HeadSeq+1
			res.Problem = fmt.Sprintf("%d record ids are listed for events that do not exist", total-listed)
		}
	}
	if o.Keys.Log == "" {
		return res, nil
	}
	texts := o.Checkpoints
	for _, c := range stored {
		texts = append(texts, c.Note)
	}
	var cps []*audit.Checkpoint
	for _, t := range texts {
		cp, err := audit.OpenCheckpoint(t, o.Origin, o.Keys)
		if err != nil {
			res.OK, res.FirstBad, res.Problem = false, 0, fmt.Sprintf("a checkpoint does not verify: %v", err)
			return res, nil
		}
		cps = append(cps, cp)
	}
	cr := tc.Against(cps)
	res.Checkpoints = cr.Checked
	if cr.Latest != nil {
		res.CheckpointAt = cr.Latest.Size
	}
	if cr.Witnessed != nil {
		res.WitnessedAt = cr.Witnessed.Size
		for n := range cr.Witnessed.Cosigners {
			res.Witnesses = append(res.Witnesses, n)
		}
		sort.Strings(res.Witnesses)
	}
	if cr.FirstBad != 0 && (res.OK || cr.FirstBad < res.FirstBad) {
		res.OK, res.FirstBad, res.Through, res.Problem = false, cr.FirstBad, cr.Through, cr.Problem
	}
	return res, nil
}

// eventOf is a stored event as the audit package has it, with the ids of
// the records it lists.
func eventOf(r db.AuditEvent, records []string) audit.Event {
	return audit.Event{
		Seq: r.Seq, Time: time.UnixMicro(r.Time).UTC(), Agency: r.Agency, Principal: r.Principal, Role: r.Role,
		Action: r.Action, Resource: r.Resource, Outcome: r.Outcome, RequestID: r.RequestID, Detail: r.Detail, Hash: r.Hash,
		Records: records,
	}
}

// noRecordsTable says whether err is SQLite's answer for a database
// without the audit_records table (migrated before 0008).
func noRecordsTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table: audit_records")
}
