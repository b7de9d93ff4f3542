package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// TestFederation_Witnessed: `federation witnessed` writes the checkpoint
// of alpha's log that bravo cosigned, which opens with alpha's log key and
// carries bravo's cosignature: what `liaison audit verify --checkpoint`
// takes.
func TestFederation_Witnessed(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, func(c *config.Config) { c.Audit.CheckpointInterval.Duration = time.Second })
	alpha, bravo := &peer{a}, &peer{b}
	eventually(t, func() error {
		if r := alpha.try("supervisor", "federation", "status"); !strings.Contains(r.stdout, "this node's audit log cosigned at ") {
			return fmt.Errorf("bravo has not cosigned alpha's log yet:\n%s%s", r.stdout, r.stderr)
		}
		return nil
	})
	out := filepath.Join(t.TempDir(), "witnessed.note")
	r := alpha.ctl(t, "supervisor", "federation", "witnessed", "--partner", "bravo", "--out", out).wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, "PARTNER:", "bravo", "WRITTEN TO:", out)
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	key := func(agency string) string {
		b, err := os.ReadFile(alpha.PKI.Path(agency, "log.vkey"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	cp, err := audit.OpenCheckpoint(text, audit.Origin(alpha.Cfg.TrustDomain), audit.Keys{Log: key("alpha"), Witnesses: []string{key("bravo")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cp.Cosigners[bravo.Cfg.TrustDomain]; !ok || cp.Size == 0 {
		t.Errorf("checkpoint %d cosigned by %v, want bravo's cosignature", cp.Size, cp.Cosigners)
	}
	alpha.ctl(t, "supervisor", "federation", "witnessed").wantCode(t, exitUsage)
}
