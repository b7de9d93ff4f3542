package node_test

import (
	"database/sql"
	"math"
	"path/filepath"
	"runtime/debug"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/liaison-exchange/liaison/server/node"
	"github.com/liaison-exchange/liaison/server/store"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	if got := node.TuneGC(); got != node.DefaultGCPercent {
		t.Errorf("without GOGC: TuneGC() = %d, want %d", got, node.DefaultGCPercent)
	}
	if got := debug.SetGCPercent(100); got != node.DefaultGCPercent {
		t.Errorf("without GOGC the collector runs at %d, want %d", got, node.DefaultGCPercent)
	}

	// GOGC set: what the runtime took from it stays.
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	if got := node.TuneGC(); got != 150 {
		t.Errorf("with GOGC=150: TuneGC() = %d, want 150", got)
	}
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("with GOGC=150 the collector runs at %d", got)
	}
}

// TestLimitMemory: without GOMEMLIMIT the node holds the Go runtime to
// DefaultMemoryLimit; with it, to what the runtime read from it; and
// SQLite's soft heap limit is set for every connection of the process.
func TestLimitMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	defer store.LimitSQLiteHeap(0)

	t.Setenv("GOMEMLIMIT", "")
	debug.SetMemoryLimit(math.MaxInt64)
	if got, err := node.LimitMemory(); err != nil || got != node.DefaultMemoryLimit {
		t.Errorf("without GOMEMLIMIT: LimitMemory() = %d, %v; want %d", got, err, node.DefaultMemoryLimit)
	}
	if got := debug.SetMemoryLimit(-1); got != node.DefaultMemoryLimit {
		t.Errorf("without GOMEMLIMIT the runtime's limit is %d, want %d", got, node.DefaultMemoryLimit)
	}
	// Another connection, opened afterwards: the limit is the process's.
	d, err := sql.Open("sqlite3", store.FileURI(filepath.Join(t.TempDir(), "n.db"), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var heap int64
	if err := d.QueryRow("PRAGMA soft_heap_limit").Scan(&heap); err != nil || heap != node.SQLiteHeapLimit {
		t.Errorf("a connection has soft_heap_limit %d (%v), want %d", heap, err, node.SQLiteHeapLimit)
	}

	// GOMEMLIMIT set: what the runtime took from it stays.
	t.Setenv("GOMEMLIMIT", "200MiB")
	debug.SetMemoryLimit(200 << 20)
	if got, err := node.LimitMemory(); err != nil || got != 200<<20 {
		t.Errorf("with GOMEMLIMIT=200MiB: LimitMemory() = %d, %v; want %d", got, err, 200<<20)
	}
}
