package node

import (
	"os"
	"runtime/debug"
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
