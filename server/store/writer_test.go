package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

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
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "w.db"), Options{Agency: "alpha"})
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

// Many callers at once share commits: the writer lingers for them, within
// its bound, and every event is committed and verifies.
func TestWriter_CallersInFlightShareCommits(t *testing.T) {
	t.Parallel()
	s := openWriterTest(t)
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
