//go:build !unix

// Package proccpu reads the CPU time the process has used: the store's
// writer (whether the cores are busy) and the bench (CPU a call) read it.
package proccpu

import "time"

// Used cannot read the CPU time here: ok is false.
func Used() (time.Duration, bool) { return 0, false }
