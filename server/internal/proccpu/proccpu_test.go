package proccpu

import (
	"testing"
	"time"
)

// Used grows while a core works.
func TestUsed(t *testing.T) {
	before, ok := Used()
	if !ok {
		t.Skip("no CPU time on this platform")
	}
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		for i := range 1000 {
			x += i * i
		}
	}
	after, _ := Used()
	if after-before < 20*time.Millisecond {
		t.Errorf("50 ms of work: the CPU time grew by %v (%d)", after-before, x)
	}
}
