package store

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liaison-exchange/liaison/server/audit"
)

// TestAuditRecords_CoveredByTheChain: the ids an event lists are part of
// its hash, so removing "alice saw X" from the list — or adding a record
// she never saw — breaks the verification like an edited event.
func TestAuditRecords_CoveredByTheChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	s, err := Open(ctx, path, Options{Agency: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	call := &audit.Call{Principal: "spiffe://alpha.liaison.test/analyst/alice", Role: "analyst", Action: "/liaison.v1.LeadService/ListLeads"}
	ctx = audit.NewContext(ctx, call)
	call.SetResource("leads")
	call.SetRecords([]string{"b", "a", "b", "c"})
	if err := s.RecordCall(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDelivery(ctx, "page 2", []string{"d"}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListAuditEvents(context.Background(), AuditFilter{RecordID: "b"}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Seq != 1 || !strings.HasSuffix(evs[0].Detail, audit.RecordsNote([]string{"a", "b", "c"})) {
		t.Fatalf("events listing b: %+v", evs)
	}
	if evs, _ := s.ListAuditEvents(context.Background(), AuditFilter{RecordID: "d"}, 0, 10); len(evs) != 1 || evs[0].Seq != 2 || evs[0].Principal != call.Principal {
		t.Fatalf("events listing d: %+v", evs)
	}
	verify := func(t *testing.T) audit.Result {
		t.Helper()
		r, err := s.VerifyAudit(context.Background(), VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := verify(t); !r.OK || r.Checked != 2 {
		t.Fatalf("untouched log: %+v", r)
	}
	// Foreign keys off, as for anyone editing the file by hand.
	raw, err := sql.Open("sqlite3", FileURI(path, url.Values{"_foreign_keys": {"off"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exec := func(t *testing.T, q string) {
		t.Helper()
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("Removed", func(t *testing.T) {
		exec(t, "DELETE FROM audit_records WHERE record_id = 'b'")
		if r := verify(t); r.OK || r.FirstBad != 1 {
			t.Errorf("a listed id removed: %+v, want event 1 bad", r)
		}
		exec(t, "INSERT INTO audit_records (record_id, seq) VALUES ('b', 1)")
	})
	t.Run("Added", func(t *testing.T) {
		exec(t, "INSERT INTO audit_records (record_id, seq) VALUES ('x', 2)")
		if r := verify(t); r.OK || r.FirstBad != 2 {
			t.Errorf("an id added: %+v, want event 2 bad", r)
		}
		exec(t, "DELETE FROM audit_records WHERE record_id = 'x'")
	})
	t.Run("Orphan", func(t *testing.T) {
		exec(t, "INSERT INTO audit_records (record_id, seq) VALUES ('y', 99)")
		if r := verify(t); r.OK || !strings.Contains(r.Problem, "do not exist") {
			t.Errorf("an id listed for no event: %+v", r)
		}
		exec(t, "DELETE FROM audit_records WHERE record_id = 'y'")
	})
	if r := verify(t); !r.OK {
		t.Fatalf("restored log: %+v", r)
	}
}

// TestVerifyAuditDB_BeforeAuditRecords: a file from before migration 0008
// (an old backup) still verifies offline.
func TestVerifyAuditDB_BeforeAuditRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(ctx, path, Options{Agency: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, audit.Event{Action: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite3", FileURI(path, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("DROP TABLE audit_records"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if r, err := ro.VerifyAudit(ctx, VerifyOptions{}); err != nil || !r.OK || r.Checked != 1 {
		t.Errorf("verify a file without audit_records: %+v, %v", r, err)
	}
}
