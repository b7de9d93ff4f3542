package store

import (
	"runtime"
	"testing"
)

// TestKeepFreedMemory: on Linux the call is built and glibc takes both
// thresholds; an operator's malloc tunables are left alone.
func TestKeepFreedMemory(t *testing.T) {
	t.Setenv("GLIBC_TUNABLES", "")
	if got, want := KeepFreedMemory(), runtime.GOOS == "linux"; got != want {
		t.Errorf("KeepFreedMemory() = %t on %s, want %t", got, runtime.GOOS, want)
	}
	t.Setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1048576")
	if KeepFreedMemory() {
		t.Error("KeepFreedMemory() applied its thresholds over the operator's GLIBC_TUNABLES")
	}
}
