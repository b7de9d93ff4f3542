package node_test

import (
	"runtime/debug"
	"testing"

	"github.com/liaison-exchange/liaison/server/node"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	if got := node.TuneGC(); got != node.DefaultGCPercent {
		t.Errorf("without GOGC: TuneGC() = %d, want %d", got, node.DefaultGCPercent)
	}
	if got := debug.SetGCPercent(100); got != node.DefaultGCPercent {
		t.Errorf("without GOGC the collector runs at %d, want %d", got, node.DefaultGCPercent)
	}

	// GOGC set: what the runtime took from it stays.
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	if got := node.TuneGC(); got != 150 {
		t.Errorf("with GOGC=150: TuneGC() = %d, want 150", got)
	}
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("with GOGC=150 the collector runs at %d", got)
	}
}
