package store

import (
	"os"
	"strings"
)

// KeepFreedMemory tells the C allocator (glibc's malloc, which SQLite
// allocates its page caches from) to keep the memory SQLite frees rather
// than hand it back to the kernel at once. A reader connection drops its
// whole page cache whenever another connection committed — every audited
// call commits — so SQLite frees and allocates again hundreds of pages a
// query. With glibc's defaults each free at the top of a heap returned the
// memory (madvise on the threads' arenas) and the next query faulted it
// back in: during name searches at concurrency 8 over 1,000,000 persons,
// 1,727 madvise calls and 51,208 page faults in 6 s, against none and
// 12,226 with the memory kept. In three alternating pairs of binaries
// (`liaisonbench -only SearchName -persons 1000000 -reuse-db`) CPU a name
// query went from 6,638–7,761 to 5,702–6,136 µs and p99 from 78–93 to
// 63–68 ms; GetLead and CreateLead served 8–27% more calls a second.
// The memory kept is bounded by what SQLite used at its peak, which its
// soft heap limit bounds (LimitSQLiteHeap). Allocations of 32 MB and more
// still get memory of their own, returned when freed.
//
// It changes the whole process, like the garbage collector's settings:
// the processes that hold a node call it (`liaison serve`, the bench). It
// leaves the allocator as it is where an operator set glibc's malloc
// tunables (GLIBC_TUNABLES), and reports whether it applied the
// thresholds (never off Linux, or without cgo).
func KeepFreedMemory() bool {
	if strings.Contains(os.Getenv("GLIBC_TUNABLES"), "glibc.malloc.") {
		return false
	}
	return keepFreed()
}

// The thresholds KeepFreedMemory sets: free memory at the top of a heap
// is returned to the kernel only past freedTrimThreshold (more than
// SQLite's heap limit), and allocations of freedMmapThreshold or more are
// mapped on their own (setting the first would otherwise pin the second
// at glibc's 128 KiB default: every larger buffer mapped and unmapped).
const (
	freedTrimThreshold = 256 << 20
	freedMmapThreshold = 32 << 20
)
