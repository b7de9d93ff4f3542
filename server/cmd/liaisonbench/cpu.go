package main

import (
	"time"

	"github.com/liaison-exchange/liaison/server/internal/proccpu"
)

// processCPU is the user and system CPU time the process has used so far,
// -1 where it is not measured.
func processCPU() time.Duration {
	if d, ok := proccpu.Used(); ok {
		return d
	}
	return -1
}
