package store

// Tests of the store on its own, each on real SQLite files in a temporary
// directory: the group-commit writer, the audit head across a reopen,
// error mapping, the schema guard, read-only readers and backups. The
// end-to-end tests exercise the store through the services; these pin
// what the services rely on.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/errs"
)

// quiet discards the store's log (the panic test logs a stack).
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// mustOpen opens (creating) the store at path; it is closed when the test
// ends unless the test closed it first.
func mustOpen(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), path, Options{Agency: "alpha", Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// mustClose closes the store, failing the test on error.
func mustClose(tb testing.TB, s *Store) {
	tb.Helper()
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
}

// mustAppend appends n events with action to the audit log.
func mustAppend(tb testing.TB, s *Store, action string, n int) {
	tb.Helper()
	for range n {
		if err := s.AppendAudit(context.Background(), audit.Event{Action: action}); err != nil {
			tb.Fatal(err)
		}
	}
}

// mustVerify verifies the store's audit log and fails the test unless it
// holds.
func mustVerify(tb testing.TB, s *Store) audit.Result {
	tb.Helper()
	res, err := s.VerifyAudit(context.Background(), VerifyOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if !res.OK {
		tb.Fatalf("audit log does not verify: event %d: %s", res.FirstBad, res.Problem)
	}
	return res
}

// TestWrite_FailingOperationInABatch: when one operation of a group commit
// fails, the batch runs again with a savepoint per operation — the others
// commit, the failing one leaves nothing but its audit event with its
// error's code.
func TestWrite_FailingOperationInABatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "node.db"))

	// Hold the writer in a batch of its own while three operations queue
	// behind it, so that those three are committed together.
	held, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.Write(ctx, func(*Tx) error { close(held); <-release; return nil })
	}()
	<-held
	before := s.Stats()

	ops := []struct {
		id   string
		fail bool
	}{{"lead-b", false}, {"lead-c", true}, {"lead-d", false}}
	got := make([]error, len(ops))
	var wg sync.WaitGroup
	for i, o := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call := &audit.Call{Agency: "alpha", Principal: "tester", Role: "analyst", Action: "test.write", RequestID: o.id}
			got[i] = s.Write(audit.NewContext(ctx, call), func(t *Tx) error {
				if err := t.InsertLeadTombstone(o.id, "alpha", 1, t.Now()); err != nil {
					return err
				}
				if o.fail {
					return errs.New(errs.FailedPrecondition, "refused after writing")
				}
				return nil
			})
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); len(s.ops) < len(ops); {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d operations queued", len(s.ops), len(ops))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}

	after := s.Stats()
	if b, n := after.Batches-before.Batches, after.Ops-before.Ops; b != 2 || n != 4 {
		t.Errorf("%d batches of %d operations committed, want 2 of 4 (the held one, then the three together)", b, n)
	}
	for i, o := range ops {
		_, lerr := s.Lead(ctx, o.id)
		switch {
		case o.fail && errs.CodeOf(got[i]) != errs.FailedPrecondition:
			t.Errorf("%s: %v, want its own FAILED_PRECONDITION", o.id, got[i])
		case o.fail && errs.CodeOf(lerr) != errs.NotFound:
			t.Errorf("%s failed but its write is there (read: %v)", o.id, lerr)
		case !o.fail && got[i] != nil:
			t.Errorf("%s: %v, want it committed beside the failing one", o.id, got[i])
		case !o.fail && lerr != nil:
			t.Errorf("%s committed but cannot be read: %v", o.id, lerr)
		}
	}
	events, err := s.ListAuditEvents(ctx, AuditFilter{Action: "test.write"}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]string{}
	for _, e := range events {
		outcomes[e.RequestID] += e.Outcome
	}
	if want := map[string]string{"lead-b": "OK", "lead-c": "FAILED_PRECONDITION", "lead-d": "OK"}; fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Errorf("audit outcomes %v, want %v (one event per call)", outcomes, want)
	}
	mustVerify(t, s)
}

// TestAudit_HeadSurvivesReopen: the audit head and tree read back after a
// reopen are the ones written, and the next event chains onto them.
func TestAudit_HeadSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	s := mustOpen(t, path)
	mustAppend(t, s, "test.before", 10)
	before := mustVerify(t, s)
	size, err := s.AuditSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)

	s = mustOpen(t, path)
	after := mustVerify(t, s)
	if after.HeadSeq != before.HeadSeq || string(after.HeadHash) != string(before.HeadHash) || after.Checked != before.Checked {
		t.Errorf("after reopen: head %d %x over %d events, want %d %x over %d",
			after.HeadSeq, after.HeadHash, after.Checked, before.HeadSeq, before.HeadHash, before.Checked)
	}
	if got, err := s.AuditSize(ctx); err != nil || got != size {
		t.Errorf("tree size after reopen: %d, %v; want %d", got, err, size)
	}
	mustAppend(t, s, "test.after", 1)
	if res := mustVerify(t, s); res.Checked != before.Checked+1 {
		t.Errorf("%d events after one more, want %d", res.Checked, before.Checked+1)
	}
}

// TestWrite_MapsErrors: what an operation's driver error becomes. No row is
// NOT_FOUND; a constraint violation stays internal (the services check
// their rules first, so reaching one is the node's fault) but keeps the
// driver's error for the log; the project's errors pass through.
func TestWrite_MapsErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "node.db"))
	if err := s.Write(ctx, func(t *Tx) error { return t.InsertLeadTombstone("lead-1", "alpha", 1, t.Now()) }); err != nil {
		t.Fatal(err)
	}
	aborted := errs.New(errs.Aborted, "stale")

	for _, tc := range []struct {
		name string
		fn   func(*Tx) error
		code errs.Code
		also func(error) bool
	}{
		{"NoRows", func(*Tx) error { return sql.ErrNoRows }, errs.NotFound, nil},
		{"WrappedNoRows", func(*Tx) error { return fmt.Errorf("read x: %w", sql.ErrNoRows) }, errs.NotFound, nil},
		{"UniqueViolation", func(t *Tx) error { return t.InsertLeadTombstone("lead-1", "alpha", 2, t.Now()) }, errs.Internal,
			func(err error) bool {
				var se sqlite3.Error
				return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint && strings.Contains(err.Error(), "constraint violated")
			}},
		{"ProjectError", func(*Tx) error { return aborted }, errs.Aborted, func(err error) bool { return err == aborted }},
		{"Panic", func(*Tx) error { panic("boom") }, errs.Internal, func(err error) bool { return strings.Contains(err.Error(), "panicked") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Write(ctx, tc.fn)
			if err == nil || errs.CodeOf(err) != tc.code || tc.also != nil && !tc.also(err) {
				t.Errorf("error %v (code %v), want code %v", err, errs.CodeOf(err), tc.code)
			}
		})
	}
	if _, err := s.Lead(ctx, "no-such-lead"); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("read of a missing lead: %v, want NOT_FOUND", err)
	}
	if l, err := s.Lead(ctx, "lead-1"); err != nil || l.GetVersion() != 1 {
		t.Errorf("lead-1 after the refused duplicate: %v, %v; want version 1", l, err)
	}
}

// TestOpen_RefusesNewerSchema: a database migrated by a newer binary (a
// migration this one does not know) is not opened, and not changed.
func TestOpen_RefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	mustClose(t, mustOpen(t, path))
	raw, err := sql.Open("sqlite3", FileURI(path, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	newer := SchemaVersion() + 1
	if _, err := raw.Exec(fmt.Sprintf("INSERT INTO schema_migrations (version) VALUES (%d); PRAGMA user_version = %d", newer, newer)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, Options{Agency: "alpha"})
	if err == nil {
		s.Close()
		t.Fatal("a database of a newer schema was opened")
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("migration %d applied, which this binary does not know", newer)) {
		t.Errorf("error %q does not name the unknown migration", err)
	}
	var v int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != newer {
		t.Errorf("user_version %d, %v after the refusal; want %d untouched", v, err, newer)
	}
}

// TestReadOnly_SeesCommitsCannotWrite: a file opened read-only beside a
// running node reads what the node committed, including commits made
// after it was opened, and cannot write; nor can the node's own readers.
func TestReadOnly_SeesCommitsCannotWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "node.db")
	s := mustOpen(t, path)
	mustAppend(t, s, "test.event", 3)

	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	checked := func() int64 {
		t.Helper()
		res, err := r.VerifyAudit(ctx, VerifyOptions{})
		if err != nil || !res.OK {
			t.Fatalf("verify read-only: %+v, %v", res, err)
		}
		return res.Checked
	}
	if n := checked(); n != 3 {
		t.Errorf("read-only reader sees %d events, want 3", n)
	}
	mustAppend(t, s, "test.event", 2)
	if n := checked(); n != 5 {
		t.Errorf("read-only reader sees %d events after two more commits, want 5", n)
	}
	if v, err := r.SchemaVersion(ctx); err != nil || v != SchemaVersion() {
		t.Errorf("schema version %d, %v; want %d", v, err, SchemaVersion())
	}
	if p, err := r.IntegrityCheck(ctx); err != nil || len(p) != 0 {
		t.Errorf("integrity check: %v, %v", p, err)
	}

	for name, d := range map[string]*sql.DB{"offline reader": r.d, "node's reader pool": s.rdb} {
		for _, stmt := range []string{"DELETE FROM audit_events", "CREATE TABLE x (a INTEGER)"} {
			if _, err := d.ExecContext(ctx, stmt); err == nil {
				t.Errorf("%s ran %q", name, stmt)
			}
		}
	}
	if res := mustVerify(t, s); res.Checked != 5 {
		t.Errorf("%d events after the refused writes, want 5", res.Checked)
	}

	missing := filepath.Join(dir, "missing.db")
	if r, err := OpenReadOnly(missing); err == nil {
		r.Close()
		t.Error("a missing file was opened")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("opening a missing file read-only created it (%v)", err)
	}
}

// TestBackup_UnderLoad: a backup taken while writers keep appending is one
// consistent database: it passes the integrity check and audit
// verification, holds every event acknowledged before it started, and
// opens as a node's store. A second backup to the same name is refused.
func TestBackup_UnderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path, out := filepath.Join(dir, "node.db"), filepath.Join(dir, "backup.db")
	s := mustOpen(t, path)

	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.AppendAudit(ctx, audit.Event{Action: "test.load"}); err != nil {
					t.Error(err)
					return
				}
				acked.Add(1)
			}
		}()
	}
	for acked.Load() < 200 {
		time.Sleep(5 * time.Millisecond)
	}
	ackedBefore := acked.Load()
	size, err := Backup(ctx, path, out)
	ackedDuring := acked.Load()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if size == 0 {
		t.Error("backup reports 0 bytes")
	}

	c, err := CheckFile(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if !c.OK() || c.SchemaVersion != SchemaVersion() {
		t.Fatalf("backup check: %+v", c)
	}
	if c.Audit.Checked < ackedBefore {
		t.Errorf("backup holds %d events, but %d were acknowledged before it started", c.Audit.Checked, ackedBefore)
	}
	t.Logf("backup: %d events (%d acknowledged before, %d by its end)", c.Audit.Checked, ackedBefore, ackedDuring)

	if _, err := Backup(ctx, path, out); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second backup to %s: %v, want a refusal", out, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".backup.db.partial-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// Restoring is opening the copy as a node's store.
	restored := mustOpen(t, out)
	if res := mustVerify(t, restored); res.Checked != c.Audit.Checked {
		t.Errorf("restored store holds %d events, the check found %d", res.Checked, c.Audit.Checked)
	}
}

// TestOpen_OneNodeADatabase: a second store on a file that is open is
// refused with the reason (two node processes on one file break each
// other's audit writes), a read-only opening is not, and the file is
// free again once the first store closes.
func TestOpen_OneNodeADatabase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "node.db")
	s := mustOpen(t, path)
	mustAppend(t, s, "test.before", 3)
	_, err := Open(context.Background(), path, Options{Agency: "alpha", Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "open in another node process") {
		t.Fatalf("second Open of an open file = %v, want refused as open in another node process", err)
	}
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly of an open file: %v", err)
	}
	ro.Close()
	if fi, err := os.Stat(path + ".lock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v, %v; want mode 0600", fi, err)
	}
	mustClose(t, s)
	s2 := mustOpen(t, path)
	mustAppend(t, s2, "test.after", 1)
	if r := mustVerify(t, s2); r.HeadSeq != 4 {
		t.Errorf("after reopening: head at %d, want 4", r.HeadSeq)
	}
}
