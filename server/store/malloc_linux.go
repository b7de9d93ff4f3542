//go:build linux && cgo

package store

/*
#include <malloc.h>

// keepFreed sets glibc's thresholds (see KeepFreedMemory); it returns 1 if
// both were accepted.
static int keepFreed(int trim, int mmapMin) {
	return mallopt(M_MMAP_THRESHOLD, mmapMin) == 1 && mallopt(M_TRIM_THRESHOLD, trim) == 1;
}
*/
import "C"

func keepFreed() bool {
	return C.keepFreed(C.int(freedTrimThreshold), C.int(freedMmapThreshold)) == 1
}
