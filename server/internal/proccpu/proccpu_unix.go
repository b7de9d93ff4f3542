//go:build unix

// Package proccpu reads the CPU time the process has used: the store's
// writer (whether the cores are busy) and the bench (CPU a call) read it.
package proccpu

import (
	"syscall"
	"time"
)

// Used is the CPU time, user and system, the process has used so far (its
// SQLite work included); ok is false where it cannot be read.
func Used() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
