// Package e2e holds end-to-end tests: real nodes on loopback TCP with real
// certificates and real SQLite files, in-process or as child processes.
package e2e

import (
	"os"
	"testing"

	"github.com/liaison-exchange/liaison/server/nodetest"
)

func TestMain(m *testing.M) {
	nodetest.MaybeServe()
	os.Exit(m.Run())
}
