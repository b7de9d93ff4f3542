// Package store is the node's SQLite database: migrations, the
// group-commit writer, the audit chain, and the persistence of every record
// kind. It wraps the sqlc-generated queries in gen/db and turns driver
// errors into the project's errors; nothing above it sees a driver error.
//
// Writes are serialised through one writer goroutine on one connection. It
// commits whatever operations have queued in one transaction (group commit)
// and replies to each only after the commit, so every acknowledged change —
// and the audit event recording it — is durable. Each operation runs inside
// its own SAVEPOINT: one that fails is rolled back alone and never leaves a
// half-written record. Reads go through a pool of read-only connections.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
	"google.golang.org/protobuf/proto"

	"github.com/liaison-exchange/liaison/gen/db"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the store.
type Options struct {
	// Synchronous is "full" (default) or "normal".
	Synchronous string
	// MaxBatch bounds the operations per group commit (default 512).
	MaxBatch int
	// ReadConns is the reader pool size (default 4).
	ReadConns int
	// Agency is the own agency, recorded on events the node makes itself.
	Agency string
	Logger *slog.Logger
	// Now is the clock (tests may fix it).
	Now func() time.Time
}

// Store is an open database.
type Store struct {
	path   string
	opts   Options
	log    *slog.Logger
	wdb    *sql.DB
	rdb    *sql.DB
	wq     *db.Queries // prepared on the writer connection
	rq     *db.Queries // prepared on the reader pool
	ops    chan *op
	mu     sync.RWMutex // guards closed against sends on ops
	closed bool
	done   chan struct{}
	lock   *os.File // the database's lock file (lockFile), held while open

	// outgoing rewrites payloads bound for partners (SetOutgoing).
	outgoing func(partner string, payload proto.Message) proto.Message

	// head is the last committed audit event; owned by the writer goroutine.
	headSeq  int64
	headHash []byte
	// treeCache holds the audit tree's recently stored hashes; owned by the
	// writer goroutine.
	treeCache treeCache

	signals    signals
	feedSignal broadcast

	batches atomic.Int64
	opsDone atomic.Int64
}

// Open opens (creating if needed) and migrates the database at path and
// starts the writer.
func Open(ctx context.Context, path string, o Options) (*Store, error) {
	if o.Synchronous == "" {
		o.Synchronous = "full"
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	if err := ownerOnly(path); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	lock, err := lockFile(path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{path: path, opts: o, log: o.Logger, ops: make(chan *op, 4*o.MaxBatch), done: make(chan struct{}), lock: lock}
	if s.wdb, err = sql.Open("sqlite3", connURI(path, connWriter, o.Synchronous)); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if err := checkFTS5(ctx, s.wdb); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := migrate(ctx, s.wdb); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if s.rdb, err = sql.Open("sqlite3", connURI(path, connReader, o.Synchronous)); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.rdb.SetMaxOpenConns(o.ReadConns)
	s.rdb.SetMaxIdleConns(o.ReadConns)
	s.rdb.SetConnMaxIdleTime(0)
	if s.wq, err = db.Prepare(ctx, s.wdb); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if s.rq, err = db.Prepare(ctx, s.rdb); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := reindexIfNeeded(ctx, s.wdb, s.wq, s.opts.Agency); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: rebuild the person index: %w", err)
	}
	if err := backfillTree(ctx, s.wdb, s.wq); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: %w", err)
	}
	head, err := s.wq.GetAuditHead(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		s.headSeq, s.headHash = 0, audit.Genesis
	case err != nil:
		s.closeDBs()
		return nil, fmt.Errorf("open store: read audit head: %w", err)
	default:
		s.headSeq, s.headHash = head.Seq, head.Hash
	}
	go s.writer()
	return s, nil
}

// checkFTS5 refuses a binary built without SQLite's full-text search: the
// person index needs it.
func checkFTS5(ctx context.Context, d *sql.DB) error {
	var on int
	if err := d.QueryRowContext(ctx, "SELECT sqlite_compileoption_used('ENABLE_FTS5')").Scan(&on); err != nil {
		return err
	}
	if on != 1 {
		return errors.New("this binary was built without SQLite FTS5; build with -tags sqlite_fts5 (every Makefile target does)")
	}
	return nil
}

// migrate applies, in number order, each numbered migration not yet
// applied, each in its own transaction with its mark in schema_migrations.
//
// Applied migrations are tracked one by one, not as one high-water mark,
// because they are written on parallel branches: a database migrated by a
// branch holding 0008 must still get 0007 once the branches meet, which a
// "user_version is 8" mark would skip. Numbers must be unique; gaps are
// allowed. PRAGMA user_version keeps the highest number applied, for the
// tools that print it; a database migrated before this table existed has
// exactly 1..user_version applied (numbering had no gaps then).
func migrate(ctx context.Context, d *sql.DB) error { return migrateFrom(ctx, d, migrations) }

// migrateFrom applies the migrations of fsys (its migrations/*.sql).
func migrateFrom(ctx context.Context, d *sql.DB, fsys fs.FS) error {
	files, err := migrationFiles(fsys)
	if err != nil {
		return err
	}
	if _, err := d.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY) STRICT"); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := d.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if _, err := d.ExecContext(ctx, `INSERT OR IGNORE INTO schema_migrations (version)
		WITH RECURSIVE n(v) AS (SELECT 1 WHERE ?1 > 0 UNION ALL SELECT v + 1 FROM n WHERE v < ?1)
		SELECT v FROM n WHERE NOT EXISTS (SELECT 1 FROM schema_migrations)`, current); err != nil {
		return fmt.Errorf("record the migrations applied before schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := d.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	known := map[int]bool{}
	for _, f := range files {
		known[f.n] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("database has migration %d applied, which this binary does not know: refusing to run an older binary on it", v)
		}
	}
	for _, f := range files {
		if applied[f.n] {
			continue
		}
		body, err := fs.ReadFile(fsys, f.name)
		if err != nil {
			return err
		}
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", f.name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version) VALUES (?)", f.n); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", f.name, err)
		}
		if f.n > current {
			current = f.n
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", f.n)); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s: %w", f.name, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", f.name, err)
		}
	}
	return nil
}

type migrationFile struct {
	n    int
	name string
}

// migrationFiles are the embedded migrations in number order; two with
// one number (branches that met) are an error, not a choice.
func migrationFiles(fsys fs.FS) ([]migrationFile, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []migrationFile
	for _, name := range names {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("migration %s is not numbered", name)
		}
		if len(out) > 0 && out[len(out)-1].n == n {
			return nil, fmt.Errorf("migrations %s and %s have the same number: renumber one", out[len(out)-1].name, name)
		}
		out = append(out, migrationFile{n: n, name: name})
	}
	return out, nil
}

// SchemaVersion is the highest migration number this binary applies.
func SchemaVersion() int {
	files, _ := migrationFiles(migrations)
	if len(files) == 0 {
		return 0
	}
	return files[len(files)-1].n
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close waits for queued writes to commit, stops the writer and closes the
// database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.ops)
	s.mu.Unlock()
	<-s.done
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	var errList []error
	if s.wq != nil {
		errList = append(errList, s.wq.Close())
	}
	if s.rq != nil {
		errList = append(errList, s.rq.Close())
	}
	if s.rdb != nil {
		errList = append(errList, s.rdb.Close())
	}
	if s.wdb != nil {
		// A clean close checkpoints the WAL into the main file.
		errList = append(errList, s.wdb.Close())
	}
	if s.lock != nil {
		// Closing the file releases its lock, after the last write.
		errList = append(errList, s.lock.Close())
	}
	return errors.Join(errList...)
}

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
	batch := make([]*op, 0, s.opts.MaxBatch)
	for {
		first, ok := <-s.ops
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		yields := 0
	drain:
		for len(batch) < s.opts.MaxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break drain
				}
				batch = append(batch, o)
				continue
			default:
			}
			// Under load (more than one operation already waiting), let the
			// callers run a moment so that more of them join this commit:
			// each commit has a fixed cost, and on a busy machine the
			// writer otherwise commits as fast as it can with a handful of
			// operations each.
			if len(batch) > 1 && yields < 3 {
				yields++
				runtime.Gosched()
				continue
			}
			break
		}
		s.commit(batch)
	}
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
	for _, o := range taken {
		if err != nil {
			o.err = err
		}
		close(o.done)
	}
	if err != nil {
		return
	}
	s.batches.Add(1)
	s.opsDone.Add(int64(len(taken)))
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
	headSeq, headHash, hooks, feedChanged, treeNew := t.headSeq, t.headHash, len(t.afterCommit), t.feedChanged, len(t.treeNew)
	err := t.call(o)
	if err == nil && o.call != nil && !o.call.Recorded() {
		err = t.appendCall(o.call, "OK")
		o.recordedHere = err == nil
	}
	if err != nil {
		if _, rerr := t.tx.ExecContext(t.ctx, "ROLLBACK TO op"); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		t.headSeq, t.headHash, t.afterCommit, t.feedChanged, t.treeNew = headSeq, headHash, t.afterCommit[:hooks], feedChanged, t.treeNew[:treeNew]
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

// mapErr turns driver errors into project errors; project errors and
// internal errors pass through.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errs.NotFoundf("not found")
	}
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
		return fmt.Errorf("constraint violated: %w", err) // internal: the service checks its rules first
	}
	return err
}

// Stats are counters of the writer.
type Stats struct {
	Batches, Ops int64
}

// Stats returns the writer's counters.
func (s *Store) Stats() Stats { return Stats{Batches: s.batches.Load(), Ops: s.opsDone.Load()} }

// Agency is the own agency of the node the store belongs to.
func (s *Store) Agency() string { return s.opts.Agency }
