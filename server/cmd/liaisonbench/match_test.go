package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liaison-exchange/liaison/certs"
)

// The match phase at a tiny size, on a real pair: every measure is taken
// and the table printed (the figures themselves are not checked).
func TestMatchPhase_Small(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	tmp := t.TempDir()
	pki := filepath.Join(tmp, "pki")
	for _, a := range []string{ownAgency, partnerAgency} {
		if err := certs.WriteAgency(pki, a); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := matchOpts{persons: 60, build: 200, queries: 5, qTime: 5 * time.Second, deltas: 2}
	r := measureMatch(ctx, flags{logLevel: "error"}, o, pki, tmp)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.buildPersons != o.build || r.buildKeys < int64(o.build) {
		t.Errorf("build rate over %d persons, %d keys; want %d persons, a key or more each", r.buildPersons, r.buildKeys, o.build)
	}
	if r.entries == 0 || r.rebuildEntries != r.entries || r.epochAfter != r.epochBefore+1 {
		t.Errorf("index: %d entries in epoch %d, %d after the rebuild in epoch %d", r.entries, r.epochBefore, r.rebuildEntries, r.epochAfter)
	}
	if len(r.lat) != o.queries || r.evaluations < 4 {
		t.Errorf("step 1: %d calls, %.1f evaluations a person; want %d calls, a key of each of the 4 kinds or more", len(r.lat), r.evaluations, o.queries)
	}
	if len(r.create) != o.deltas || len(r.withdraw) != o.deltas {
		t.Errorf("deltas: %d creates, %d withdrawals timed; want %d each", len(r.create), len(r.withdraw), o.deltas)
	}
	// The snapshots carry the index twice (two epochs); the deltas add and
	// then remove each new subject's entries.
	if w := r.wire; w.bulkEntries < 2*r.entries || w.deltaEnvelopes < int64(2*o.deltas) || w.deltaEntries == 0 || w.bulkBytes < 16*w.bulkEntries {
		t.Errorf("wire: %+v for %d entries", w, r.entries)
	}
	var out bytes.Buffer
	if !reportMatch(&out, r) {
		t.Fatalf("reportMatch failed:\n%s", out.String())
	}
	for _, want := range []string{"step 1: MatchPersons", "persons/s", "extrapolated", "bytes/entry", "delta: CreateLead", "delta: WithdrawLead", "Target: step-1 round trip p99 < 10ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
