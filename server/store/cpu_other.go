//go:build !unix

package store

import "time"

// processCPU cannot be read here: the writer takes the cores as busy.
func processCPU() (time.Duration, bool) { return 0, false }
