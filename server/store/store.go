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
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
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
	"github.com/liaison-exchange/liaison/server/internal/proccpu"
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
	// CPU reads the CPU time the process has used so far, ok false where
	// it cannot (default: the operating system's count, getrusage); the
	// writer lingers for more callers only while the process keeps its
	// cores busy. Tests may replace it.
	CPU func() (used time.Duration, ok bool)
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
	w       writerState // the writer's counters and statements (writer.go)

	// wordCounts are recently counted name words (search_query.go).
	wordCounts wordCounts
	// nameStmts write the full-text name index (names.go).
	nameStmts nameStmts
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
	if o.CPU == nil {
		o.CPU = proccpu.Used
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
	if s.wdb, err = openDB(path, connWriter, o.Synchronous); err != nil {
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
	if s.rdb, err = openDB(path, connReader, o.Synchronous); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.rdb.SetMaxOpenConns(o.ReadConns)
	s.rdb.SetMaxIdleConns(o.ReadConns)
	s.rdb.SetConnMaxIdleTime(0)
	// The writer's queries are not prepared through database/sql: inside a
	// transaction each use of a prepared *sql.Stmt makes a statement of the
	// transaction (tx.StmtContext), registered with the pool under its
	// lock and kept until the commit — CPU on every statement of the one
	// writer, and memory that grows with a transaction's statements (a
	// rebuild of the person index over 100,000 leads: 153.9 MB of Go heap
	// at its peak, 16.0 MB this way). The writer's connection keeps its
	// prepared statements itself (the driver's _stmt_cache_size, conn.go).
	// Readers run outside transactions and keep theirs.
	s.wq = db.New(s.wdb)
	if s.rq, err = db.Prepare(ctx, s.rdb); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if s.nameStmts, err = prepareNames(ctx, s.wdb); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := reindexIfNeeded(ctx, s.wdb, s.wq, s.nameStmts, s.opts.Agency); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: rebuild the person index: %w", err)
	}
	if err := compactNameIndex(ctx, s.wdb, s.log); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open store: compact the name index: %w", err)
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
	errList = append(errList, s.nameStmts.close())
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

// Agency is the own agency of the node the store belongs to.
func (s *Store) Agency() string { return s.opts.Agency }
