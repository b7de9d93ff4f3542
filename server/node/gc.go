package node

import (
	"os"
	"runtime/debug"

	"github.com/liaison-exchange/liaison/server/store"
)

// DefaultGCPercent is the garbage collector target `liaison serve` runs
// with unless GOGC is set. A node's live heap is small (tens of MB: the
// data is in SQLite), while each call allocates; with Go's default of 100
// the collector ran so often that it took a sixth of the CPU under load.
// At 400, make bench measured GetLead about 20% and CreateLead about 12%
// faster for a few tens of MB more memory.
const DefaultGCPercent = 400

// TuneGC applies DefaultGCPercent unless the GOGC environment variable
// says otherwise, and returns the percentage in effect.
func TuneGC() int {
	if v, ok := os.LookupEnv("GOGC"); ok && v != "" {
		old := debug.SetGCPercent(100)
		debug.SetGCPercent(old)
		return old
	}
	debug.SetGCPercent(DefaultGCPercent)
	return DefaultGCPercent
}

// Memory `liaison serve` holds itself to, so that a node with a million
// persons indexed stays under 300 MB resident (issue 17): the Go runtime's
// soft limit (GOMEMLIMIT) and SQLite's soft heap limit, for all its
// connections together (each keeps a page cache of up to 32 MB; five would
// take 160 MB). Measured with the node alone in its own process (make
// bench, "The node alone": GetLead, CreateLead, name and phone searches
// over 1,000,000 persons, 10 s each), four runs without the limits ended
// at 297–307 MB resident, peak 319–340 MB; four with them at 191–207 MB,
// peak 196–210 MB. GOGC 400 lets the heap grow to five times what is live
// between collections; the limit makes the collector run sooner once the
// heap nears it, which costs CPU under load: in three clean alternating
// pairs GetLead served 7,804/6,218, 6,305/6,193 and 5,500/4,852 calls/s
// without/with (2–20% fewer with the limits, every time), CreateLead
// 3,787/3,372, 2,770/3,361 and 2,570/2,866 (more in two of three). Both limits
// are soft: the Go runtime goes over its limit rather than spend more than
// half the CPU collecting, and SQLite reuses cache pages before it
// allocates new ones.
const (
	DefaultMemoryLimit = 100 << 20
	SQLiteHeapLimit    = 128 << 20
)

// LimitMemory applies DefaultMemoryLimit unless the GOMEMLIMIT environment
// variable says otherwise, and SQLiteHeapLimit; it returns the Go limit in
// effect. For a process that holds one node: the bench, which holds two
// and a load generator, does not call it.
func LimitMemory() (int64, error) {
	if err := store.LimitSQLiteHeap(SQLiteHeapLimit); err != nil {
		return 0, err
	}
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok && v != "" {
		return debug.SetMemoryLimit(-1), nil // as the runtime read it
	}
	debug.SetMemoryLimit(DefaultMemoryLimit)
	return DefaultMemoryLimit, nil
}
