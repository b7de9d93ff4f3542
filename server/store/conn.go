package store

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// nodeDriver is the driver of the node's own connections (connWriter,
// connReader; openDB): SQLite with temp_store = MEMORY on every connection it
// opens, a pragma the driver's connection string cannot set. With the
// default store (temporary files), a statement that needs a temporary
// table — a RETURNING clause's rows, an IN list, a sort — costs more: the
// sequence number of an envelope (INSERT … ON CONFLICT … RETURNING) took
// 20–30 µs instead of 6–8 inside a busy transaction (docs/performance.md
// has the measurements; TestConn_TempStoreInMemory checks the setting).
// What goes there is bounded by the queries' own limits; a migration's
// CREATE INDEX sorts in memory too.
const nodeDriver = "sqlite3-liaison"

func init() {
	sql.Register(nodeDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA temp_store = MEMORY", nil)
		return err
	}})
}

// connMode is what a connection to a database file is for. Every
// connection the project opens to a node's database is opened by openDB,
// with its connection string from connURI: one place says which pragmas
// each kind of connection runs with.
type connMode int

const (
	// connWriter is the node's one writer connection: WAL, the node's
	// synchronous setting, IMMEDIATE transactions (a batch never upgrades
	// a read lock and fails with SQLITE_BUSY).
	connWriter connMode = iota
	// connReader is a connection of the node's reader pool: like the
	// writer, but refusing to write (query_only).
	connReader
	// connOffline is an offline tool's connection to a node's file
	// (OpenReadOnly): query_only, waiting for a running node's locks.
	connOffline
	// connFileRO opens the file itself read-only (mode=ro): the source of
	// a backup, and the copy being checked. Unlike query_only it allows
	// VACUUM INTO, which writes only the target file.
	connFileRO
)

// busyTimeout is how long, in milliseconds, a connection waits for
// another's lock before giving up with SQLITE_BUSY.
const busyTimeout = "10000"

// openDB opens the database file at path for mode (connURI): the node's
// own connections through nodeDriver, offline tools' through the driver
// as it is.
func openDB(path string, mode connMode, synchronous string) (*sql.DB, error) {
	driver := "sqlite3"
	if mode == connWriter || mode == connReader {
		driver = nodeDriver
	}
	return sql.Open(driver, connURI(path, mode, synchronous))
}

// connURI is the connection string for the database file at path opened
// for mode; synchronous ("full" or "normal") applies to the node's own
// connections only.
func connURI(path string, mode connMode, synchronous string) string {
	v := url.Values{}
	v.Set("_busy_timeout", busyTimeout)
	switch mode {
	case connWriter, connReader:
		// Pragmas go in the connection string, so that each connection the
		// pool opens gets them (never PRAGMA on a pool).
		v.Set("_journal_mode", "WAL")
		v.Set("_synchronous", strings.ToUpper(synchronous))
		v.Set("_foreign_keys", "on")
		// Erased audit content and purged records are overwritten in the
		// file, not only unlinked.
		v.Set("_secure_delete", "on")
		v.Set("_cache_size", "-32000") // 32 MB page cache per connection
		// Statements built at run time (search's, with their criteria)
		// are prepared once a connection, not at every call.
		v.Set("_stmt_cache_size", "64")
		if mode == connReader {
			v.Set("_query_only", "on")
		} else {
			v.Set("_txlock", "immediate")
		}
	case connOffline:
		v.Set("_query_only", "on")
	case connFileRO:
		v.Set("mode", "ro")
	}
	return FileURI(path, v)
}

// FileURI is the driver's name for the database file at path with the
// given parameters. The path is escaped: SQLite reads a file: name as a
// URI, where "#" starts a fragment and "%" an escape, and the driver cuts
// the parameters at the first "?" — unescaped, a directory named with
// either would open (or create) another file. The store builds its own
// connection strings with connURI; FileURI is exported for tests and test
// tools that must open a node's file raw (to tamper with it).
func FileURI(path string, params url.Values) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + params.Encode()
}

// LimitSQLiteHeap sets SQLite's soft heap limit (PRAGMA soft_heap_limit)
// to n bytes: one limit for the whole process, every connection of every
// database together. Past it SQLite reuses its caches' pages rather than
// allocating more.
func LimitSQLiteHeap(n int64) error {
	d, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Exec(fmt.Sprintf("PRAGMA soft_heap_limit = %d", n)); err != nil {
		return fmt.Errorf("sqlite soft heap limit: %w", err)
	}
	return nil
}
