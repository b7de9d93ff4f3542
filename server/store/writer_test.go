package store

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/liaison-exchange/liaison/server/audit"
)

// recordRead appends one read's audit event, as GetLead does.
func recordRead(t testing.TB, s *Store, i int) error {
	t.Helper()
	call := &audit.Call{Principal: "spiffe://alpha.liaison.test/analyst/alice", Role: "analyst", Action: "/liaison.v1.LeadService/GetLead"}
	call.SetResource("leads/" + string(rune('a'+i%26)))
	return s.RecordCall(audit.NewContext(context.Background(), call), nil)
}

func openWriterTest(t *testing.T) *Store {
	t.Helper()
	return openWriterWith(t, Options{Agency: "alpha"})
}

func openWriterWith(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "w.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A lone caller is never kept waiting for others: one operation at a time,
// the writer never lingers, and each is its own commit.
func TestWriter_LoneCallerNeverLingers(t *testing.T) {
	t.Parallel()
	s := openWriterTest(t)
	for i := range 50 {
		if err := recordRead(t, s, i); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Ops != 50 || st.Batches != 50 || st.Lingers != 0 || st.LingerTime != 0 {
		t.Fatalf("stats after 50 calls one at a time: %+v; want 50 ops in 50 commits, no linger", st)
	}
	if st.CommitTime <= 0 {
		t.Fatalf("commit time not counted: %+v", st)
	}
}

// Many callers at once, the process's cores busy, share commits: the
// writer lingers for them, within its bound, and every event is committed
// and verifies.
func TestWriter_CallersInFlightShareCommits(t *testing.T) {
	t.Parallel()
	s := openWriterWith(t, Options{Agency: "alpha", CPU: saturated()})
	const callers, each = 48, 25
	var wg sync.WaitGroup
	errc := make(chan error, callers)
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				if err := recordRead(t, s, c*each+i); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Ops != callers*each {
		t.Fatalf("%d ops committed, want %d", st.Ops, callers*each)
	}
	if st.Lingers == 0 || st.Batches*4 > st.Ops {
		t.Fatalf("stats %+v: want lingering and at least 4 ops per commit with %d callers in flight", st, callers)
	}
	r, err := s.VerifyAudit(context.Background(), VerifyOptions{})
	if err != nil || !r.OK || r.Checked != callers*each {
		t.Fatalf("verify: %+v, %v", r, err)
	}
}

// saturated reads a CPU time that grows as if every core of the process
// were busy.
func saturated() func() (time.Duration, bool) {
	start := time.Now()
	return func() (time.Duration, bool) {
		return time.Since(start) * time.Duration(runtime.GOMAXPROCS(0)), true
	}
}

// With cores to spare, the writer does not linger: callers in flight
// that come back a little apart are committed as they come (waiting for
// them would leave the cores and the writer idle).
func TestWriter_NoLingerWithCoresToSpare(t *testing.T) {
	t.Parallel()
	idle := func() (time.Duration, bool) { return 0, true }
	s := openWriterWith(t, Options{Agency: "alpha", CPU: idle})
	const callers, each = 8, 40
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				if err := recordRead(t, s, c*each+i); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(500 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if st := s.Stats(); st.Ops != callers*each || st.Lingers != 0 {
		t.Fatalf("stats %+v: want %d ops and no linger with the cores idle", st, callers*each)
	}
}

// The gauge: busy once the process used busyShare of its cores over a
// window, read again only after cpuWindow, and busy where the CPU time
// cannot be read.
func TestCPUGauge(t *testing.T) {
	cores := time.Duration(runtime.GOMAXPROCS(0))
	var cpu time.Duration
	reads := 0
	g := cpuGauge{read: func() (time.Duration, bool) { reads++; return cpu, true }}
	t0 := time.Now()
	if g.busyAt(t0) {
		t.Error("busy before a window was measured")
	}
	cpu += 100 * time.Millisecond * cores // all cores, 100 ms
	if g.busyAt(t0.Add(cpuWindow / 2)) {
		t.Error("read again within the window")
	}
	if !g.busyAt(t0.Add(100 * time.Millisecond)) {
		t.Error("not busy after using every core for the window")
	}
	cpu += 50 * time.Millisecond * cores // half of the next 100 ms
	if g.busyAt(t0.Add(200 * time.Millisecond)) {
		t.Error("busy after using half the cores")
	}
	if reads != 3 {
		t.Errorf("%d readings, want 3", reads)
	}
	unreadable := cpuGauge{read: func() (time.Duration, bool) { return 0, false }}
	if !unreadable.busyAt(t0) {
		t.Error("not busy where the CPU time cannot be read")
	}
}
