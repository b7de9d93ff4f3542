package store

// The writer: one goroutine on the one writing connection, committing the
// operations queued in groups (see the package comment).

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/liaison-exchange/liaison/gen/db"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
)

// op is one queued write.
type op struct {
	ctx  context.Context
	fn   func(*Tx) error
	call *audit.Call
	// auditOnly ops write nothing but their call's audit event; the error
	// their fn returns is the outcome to record, not a failure.
	auditOnly    bool
	recordedHere bool         // this run appended the call's event
	state        atomic.Int32 // opQueued, opTaken, opAbandoned
	err          error
	done         chan struct{}
}

const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

// Write runs fn in the next group commit and returns once it is durable.
//
// If the context carries an audit.Call, the call's event is appended in the
// same transaction: with outcome OK if fn succeeds, or — after fn's changes
// are rolled back — with the code of fn's error. fn must not keep the Tx.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	return s.enqueue(ctx, &op{ctx: ctx, fn: fn, call: audit.FromContext(ctx), done: make(chan struct{})})
}

func (s *Store) enqueue(ctx context.Context, o *op) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errs.New(errs.Unavailable, "the node is shutting down")
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		// Already running: its outcome is about to be known, and the caller
		// must not be told "cancelled" for a change that committed.
		<-o.done
		return o.err
	}
}

// RecordCall appends the audit event of the call in ctx that changed
// nothing (a read, or a call refused before it reached a handler), with the
// outcome of the call's error. It reports only whether the event was
// written.
func (s *Store) RecordCall(ctx context.Context, outcome error) error {
	call := audit.FromContext(ctx)
	if call == nil {
		return errors.New("record call: no call in context")
	}
	err := s.enqueue(ctx, &op{ctx: ctx, fn: func(*Tx) error { return outcome }, call: call, auditOnly: true, done: make(chan struct{})})
	if call.Recorded() {
		return nil
	}
	if err == nil || err == outcome {
		err = errors.New("audit event not written")
	}
	return err
}

func (s *Store) writer() {
	defer close(s.done)
	s.prepareTreeInserts()
	defer s.closeTreeInserts()
	batch := make([]*op, 0, s.opts.MaxBatch)
	l := &linger{gap: time.NewTimer(time.Hour), cpu: cpuGauge{read: s.opts.CPU}}
	l.gap.Stop()
	for {
		first, ok := <-s.ops
		if !ok {
			return
		}
		batch = s.gather(append(batch[:0], first), l)
		start := time.Now()
		s.commit(batch)
		s.w.commitNanos.Add(int64(time.Since(start)))
	}
}

// The writer's linger: a commit costs the same whatever it carries (its
// WAL frames' header, the head row, the fsync), so when the process's
// cores are busy the writer waits for callers to join the commit rather
// than committing a handful of operations each time — the CPU a commit
// saves goes to the callers. It lingers only then: with cores to spare,
// waiting leaves them and the writer idle and only adds to every caller's
// time. (Measured over 1,000,000 persons, two alternating pairs, lingering
// as before / only with the cores busy: phone searches at concurrency 8
// answered 1,773 and 1,833 / 2,805 and 2,682 a second, p99 11.7 and 11.3
// / 7.9 and 8.3 ms; GetLead at concurrency 8 2,130 and 2,331 / 3,253 and
// 3,876; at concurrency 50 GetLead 6,228 and 5,837 / 6,865 and 7,672,
// CreateLead 2,962 and 2,929 / 3,644 and 3,248.)
//
// It lingers only when more than one operation is already waiting, or the
// previous commit carried more than one (its callers are on their way
// back: committing the first of them alone would split the callers into a
// full commit and a near-empty one, in turn) — a lone caller is never
// delayed — and for as long as operations keep arriving no more than a gap
// apart, and never more than lingerMax in all; what queued during the
// previous commit's fsync is already waiting and is always taken. The gap
// follows the rate operations arrive at (three mean intervals between
// arrivals, between lingerGapMin and lingerMax/2): on a busy machine
// callers come back slower.
var (
	lingerGapMin = 100 * time.Microsecond
	lingerMax    = 2 * time.Millisecond
)

// busyShare is the share of its cores (GOMAXPROCS) the process must have
// used, over at least cpuWindow, for the writer to linger.
const (
	busyShare = 0.9
	cpuWindow = 20 * time.Millisecond
)

// cpuGauge tells whether the process kept its cores busy lately.
type cpuGauge struct {
	read func() (time.Duration, bool)
	at   time.Time
	cpu  time.Duration
	busy bool
}

// busyAt is whether the process used busyShare of its cores between the
// gauge's previous reading, at least cpuWindow before now, and now (busy
// where the process's CPU time cannot be read).
func (g *cpuGauge) busyAt(now time.Time) bool {
	if !g.at.IsZero() && now.Sub(g.at) < cpuWindow {
		return g.busy
	}
	cpu, ok := g.read()
	switch {
	case !ok:
		g.busy = true
	case !g.at.IsZero():
		g.busy = float64(cpu-g.cpu) >= busyShare*float64(now.Sub(g.at))*float64(runtime.GOMAXPROCS(0))
	}
	g.at, g.cpu = now, cpu
	return g.busy
}

// linger is the writer's state for lingering (only the writer uses it).
type linger struct {
	gap      *time.Timer
	last     time.Time     // when the previous batch was gathered
	interval time.Duration // moving mean interval between arrivals
	prev     int           // operations in the previous batch
	cpu      cpuGauge
}

// gapFor is how long to wait for one more operation.
func (l *linger) gapFor() time.Duration {
	return min(max(3*l.interval, lingerGapMin), lingerMax/2)
}

// observe updates the mean interval between arrivals with a batch of n
// operations gathered at now.
func (l *linger) observe(n int, now time.Time) {
	if !l.last.IsZero() && n > 0 {
		iv := now.Sub(l.last) / time.Duration(n)
		l.interval += (iv - l.interval) / 8
	}
	l.last, l.prev = now, n
}

// gather adds to batch the operations queued, and those that arrive while
// the writer lingers, up to MaxBatch.
func (s *Store) gather(batch []*op, l *linger) []*op {
	var start time.Time
	defer func() {
		now := time.Now()
		l.observe(len(batch), now)
		if !start.IsZero() {
			s.w.lingerNanos.Add(int64(now.Sub(start)))
			s.w.lingers.Add(1)
		}
	}()
	for len(batch) < s.opts.MaxBatch {
		select {
		case o, ok := <-s.ops:
			if !ok {
				return batch
			}
			batch = append(batch, o)
			continue
		default:
		}
		if len(batch) < 2 && l.prev < 2 {
			return batch
		}
		now := time.Now()
		if start.IsZero() {
			if !l.cpu.busyAt(now) {
				return batch
			}
			start = now
		}
		left := lingerMax - now.Sub(start)
		if left <= 0 {
			return batch
		}
		l.gap.Reset(min(l.gapFor(), left))
		select {
		case o, ok := <-s.ops:
			l.gap.Stop()
			if !ok {
				return batch
			}
			batch = append(batch, o)
		case <-l.gap.C:
			return batch
		}
	}
	return batch
}

// errRetry aborts a batch run without savepoints: an operation failed, and
// the batch runs again with each operation in a savepoint of its own.
var errRetry = errors.New("an operation failed; run the batch again with savepoints")

// commit runs a batch in one transaction. It runs it first without
// savepoints — each costs two statements per operation, for the rare
// operation that fails — and only if a writing operation fails, rolls the
// whole batch back and runs it again with one savepoint per operation, so
// the failure is undone alone. Operations read the database inside the
// transaction, so the second run sees what the first would have.
func (s *Store) commit(batch []*op) {
	taken := batch[:0:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opTaken) {
			taken = append(taken, o)
		} else {
			close(o.done)
		}
	}
	if len(taken) == 0 {
		return
	}
	hooks, err := s.runBatch(taken, false)
	if errors.Is(err, errRetry) {
		hooks, err = s.runBatch(taken, true)
	}
	if err == nil {
		// Counted before the callers are answered: a caller that reads the
		// stats after its write sees that write counted.
		s.batches.Add(1)
		s.opsDone.Add(int64(len(taken)))
	}
	for _, o := range taken {
		if err != nil {
			o.err = err
		}
		close(o.done)
	}
	if err != nil {
		return
	}
	for _, f := range hooks {
		f()
	}
}

// runBatch runs the operations in one transaction and commits it. It
// returns the after-commit hooks, or the error every operation gets.
func (s *Store) runBatch(taken []*op, savepoints bool) ([]func(), error) {
	undo := func() {
		for _, o := range taken {
			if o.recordedHere {
				o.call.SetRecorded(false)
				o.recordedHere = false
			}
		}
	}
	ctx := context.Background()
	sqlTx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		s.log.Error("store: begin transaction", "err", err)
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	t := &Tx{s: s, ctx: ctx, tx: sqlTx, q: s.wq.WithTx(sqlTx), now: s.opts.Now().UTC(), headSeq: s.headSeq, headHash: s.headHash}
	for _, o := range taken {
		if savepoints {
			o.err = t.runIsolated(o)
			continue
		}
		if o.err = t.runPlain(o); o.err != nil && (!o.auditOnly || !o.call.Recorded()) {
			sqlTx.Rollback()
			undo()
			return nil, errRetry
		}
	}
	if err := t.flushTree(); err != nil {
		sqlTx.Rollback()
		undo()
		s.log.Error("store: write the audit tree", "err", err)
		return nil, err
	}
	if err := t.names.write(ctx, sqlTx, s.nameStmts); err != nil {
		sqlTx.Rollback()
		undo()
		s.log.Error("store: write the name index", "err", err)
		return nil, err
	}
	if t.headSeq != s.headSeq {
		if err := t.q.SetAuditHead(ctx, db.SetAuditHeadParams{Seq: t.headSeq, Hash: t.headHash}); err != nil {
			sqlTx.Rollback()
			undo()
			s.log.Error("store: write audit head", "err", err)
			return nil, fmt.Errorf("write audit head: %w", err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		undo()
		s.log.Error("store: commit", "err", err, "ops", len(taken))
		return nil, fmt.Errorf("commit: %w", err)
	}
	s.headSeq, s.headHash = t.headSeq, t.headHash
	s.treeCache.add(t.treeNew)
	return t.afterCommit, nil
}

// Tx is the transaction an operation runs in.
type Tx struct {
	s           *Store
	ctx         context.Context
	tx          *sql.Tx
	q           *db.Queries
	now         time.Time
	headSeq     int64
	headHash    []byte
	treeNew     []storedHash // audit tree hashes this transaction stored
	names       nameLog      // its changes to the full-text name index, written before it commits
	afterCommit []func()
	feedChanged bool
}

// Now is the time of the transaction (one per batch).
func (t *Tx) Now() time.Time { return t.now }

// AfterCommit runs f once the transaction has committed (never if it does
// not). Used to wake the federation relay and change-feed watchers.
func (t *Tx) AfterCommit(f func()) { t.afterCommit = append(t.afterCommit, f) }

// runPlain executes one operation without a savepoint and appends its
// call's event. A failure of a writing operation aborts the batch (the
// caller rolls back and runs it again with savepoints).
func (t *Tx) runPlain(o *op) error {
	err := t.call(o)
	if o.call == nil || o.call.Recorded() || (err != nil && !o.auditOnly) {
		return err
	}
	if aerr := t.appendCall(o.call, errs.CodeName(err)); aerr != nil {
		return aerr
	}
	o.recordedHere = true
	return err
}

// runIsolated executes one operation in its own savepoint: if it fails,
// its changes are rolled back alone and its call is recorded with the
// failure.
func (t *Tx) runIsolated(o *op) error {
	if o.auditOnly {
		return t.runPlain(o) // writes one row: nothing to isolate
	}
	if _, err := t.tx.ExecContext(t.ctx, "SAVEPOINT op"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	headSeq, headHash, hooks, feedChanged, treeNew, names := t.headSeq, t.headHash, len(t.afterCommit), t.feedChanged, len(t.treeNew), len(t.names)
	err := t.call(o)
	if err == nil && o.call != nil && !o.call.Recorded() {
		err = t.appendCall(o.call, "OK")
		o.recordedHere = err == nil
	}
	if err != nil {
		if _, rerr := t.tx.ExecContext(t.ctx, "ROLLBACK TO op"); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		t.headSeq, t.headHash, t.afterCommit, t.feedChanged, t.treeNew, t.names = headSeq, headHash, t.afterCommit[:hooks], feedChanged, t.treeNew[:treeNew], t.names[:names]
		if o.recordedHere {
			o.call.SetRecorded(false)
			o.recordedHere = false
		}
		if o.call != nil && !o.call.Recorded() {
			if aerr := t.appendCall(o.call, errs.CodeName(err)); aerr != nil {
				t.s.log.Error("store: audit a failed call", "err", aerr)
			} else {
				o.recordedHere = true
			}
		}
	}
	if _, rerr := t.tx.ExecContext(t.ctx, "RELEASE op"); rerr != nil {
		return errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
	}
	return err
}

// call runs the operation, turning a panic into an internal error: the
// savepoint is then rolled back like any failure.
func (t *Tx) call(o *op) (err error) {
	defer func() {
		if r := recover(); r != nil {
			t.s.log.Error("store: operation panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("operation panicked: %v", r)
		}
	}()
	return mapErr(o.fn(t))
}

func (t *Tx) appendCall(c *audit.Call, outcome string) error {
	e := c.Event(outcome)
	if err := t.Audit(&e); err != nil {
		return err
	}
	c.SetRecorded(true)
	return nil
}

// Audit appends an event to the chain; Seq, Time and Hash are set here.
// An event with Records gets them written beside it, de-duplicated, and
// their count and digest at the end of its detail (see server/audit).
func (t *Tx) Audit(e *audit.Event) error {
	e.Seq = t.headSeq + 1
	e.Time = t.now
	if e.Agency == "" {
		e.Agency = t.s.opts.Agency
	}
	if len(e.Records) > 0 {
		e.Records = audit.UniqueIDs(slices.Clone(e.Records))
		e.Detail = audit.WithRecords(e.Detail, e.Records)
	}
	e.Hash = audit.ChainHash(t.headHash, e)
	salt := audit.NewSalt()
	content := audit.ContentHash(salt, e)
	if err := t.q.InsertAuditEvent(t.ctx, db.InsertAuditEventParams{
		Seq: e.Seq, Time: e.Time.UnixMicro(), Agency: e.Agency, Principal: e.Principal, Role: e.Role,
		Action: e.Action, Resource: e.Resource, Outcome: e.Outcome, RequestID: e.RequestID, Detail: e.Detail, Hash: e.Hash,
		Salt: salt, ContentHash: content,
	}); err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	if len(e.Records) > 0 {
		ids, err := json.Marshal(e.Records)
		if err != nil {
			return fmt.Errorf("append audit event: %w", err)
		}
		if err := t.q.InsertAuditRecords(t.ctx, db.InsertAuditRecordsParams{Seq: e.Seq, Ids: string(ids)}); err != nil {
			return fmt.Errorf("append the records of audit event %d: %w", e.Seq, err)
		}
	}
	if err := t.appendLeaf(e.Seq, content); err != nil {
		return err
	}
	t.headSeq, t.headHash = e.Seq, e.Hash
	return nil
}

// Stats are counters of the writer: Batches group commits carried Ops
// operations (Ops/Batches per commit). Lingers of them waited for more
// callers to join, LingerTime in all; CommitTime is the time spent running
// and committing batches (their operations, the WAL write and the fsync).
type Stats struct {
	Batches, Ops int64
	Lingers      int64
	LingerTime   time.Duration
	CommitTime   time.Duration
}

// writerState is the writer's own: its counters (read by Stats from any
// goroutine) and the statements only it uses.
type writerState struct {
	lingers, lingerNanos, commitNanos atomic.Int64
	// treeInsert[k] inserts treeChunks[k] audit tree hashes in one
	// statement (prepared when the writer starts; nil if that failed).
	treeInsert []*sql.Stmt
}

// Stats returns the writer's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Batches: s.batches.Load(), Ops: s.opsDone.Load(),
		Lingers: s.w.lingers.Load(), LingerTime: time.Duration(s.w.lingerNanos.Load()),
		CommitTime: time.Duration(s.w.commitNanos.Load()),
	}
}
