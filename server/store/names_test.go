package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// TestNameIndex_WrittenAtCommit: the full-text name index, written at the
// end of each write transaction, stays exactly what person_index holds
// (FTS5's integrity check against its content table) through records
// created, re-indexed, emptied, created and emptied in one transaction,
// an operation that failed after indexing (its savepoint rolled back) and
// a rebuild; and a name query finds what it should.
func TestNameIndex_WrittenAtCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	s := mustOpen(t, path)
	rec := func(id string, names ...string) IndexedRecord {
		r := IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: id, Title: "t", OriginAgency: "alpha"}
		for _, n := range names {
			r.Persons = append(r.Persons, &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: n, GivenNames: "Wei"}}})
		}
		return r
	}
	write := func(recs ...IndexedRecord) {
		t.Helper()
		if err := s.Write(ctx, func(tx *Tx) error {
			for _, r := range recs {
				if err := tx.IndexPersons(r); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, want map[string][]string) {
		t.Helper()
		if _, err := s.wdb.ExecContext(ctx, "INSERT INTO person_names (person_names, rank) VALUES ('integrity-check', 1)"); err != nil {
			t.Fatalf("%s: the name index does not match person_index: %v", what, err)
		}
		for word, ids := range want {
			got, err := s.FindPersons(ctx, PersonQuery{Words: []string{word}})
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, p := range got {
				gotIDs = append(gotIDs, p.RecordID)
			}
			slices.Sort(gotIDs)
			if !slices.Equal(gotIDs, ids) {
				t.Errorf("%s: %q finds %v, want %v", what, word, gotIDs, ids)
			}
		}
	}
	write(rec("a", "Chen", "Zhang"), rec("b", "Chen"))
	check("created", map[string][]string{"chen": {"a", "b"}, "zhang": {"a"}})

	// One transaction: a re-indexed, c created then emptied, b emptied,
	// d created.
	write(rec("a", "Li"), rec("c", "Zhang"), rec("c"), rec("b"), rec("d", "Zhang"))
	check("changed in one transaction", map[string][]string{"chen": nil, "zhang": {"d"}, "li": {"a"}})

	// An operation that indexed a person and then failed: its savepoint
	// is rolled back, and so is its change to the name index.
	failed := errors.New("refused after indexing")
	err := s.Write(ctx, func(tx *Tx) error {
		if err := tx.IndexPersons(rec("e", "Wang")); err != nil {
			return err
		}
		if err := tx.IndexPersons(rec("d")); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("the failing write: %v", err)
	}
	check("after a failed operation", map[string][]string{"wang": nil, "zhang": {"d"}})

	// Many rows in one transaction, then a rebuild at open.
	var many []IndexedRecord
	for i := range 300 {
		many = append(many, rec(fmt.Sprintf("m%03d", i), "Zhao"))
	}
	write(many...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.ExecContext(ctx, "SELECT 1"); err == nil {
		t.Fatal("closed store still usable")
	}
	s = mustOpen(t, path)
	check("reopened", map[string][]string{"zhang": {"d"}, "li": {"a"}})
	if got, err := s.FindPersons(ctx, PersonQuery{Words: []string{"zhao"}, Limit: 1000}); err != nil || len(got) != 300 {
		t.Errorf("zhao: %d found, %v; want 300", len(got), err)
	}
}

// TestNameIndex_Rebuild: a person index built by other indexing rules is
// rebuilt from the records when the store opens — the name index emptied
// and written again with it, so nothing of the old rows stays findable —
// with the name index written in parts as the records are read (here
// every two persons) and every record's persons in it.
func TestNameIndex_Rebuild(t *testing.T) {
	defer func(n int) { reindexChunk = n }(reindexChunk)
	reindexChunk = 2
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	s := mustOpen(t, path)
	now := timestamppb.Now()
	families := []string{"Chen", "Wang", "Zhang", "Liu", "Huang", "Zhao", "Zhou"}
	err := s.Write(ctx, func(tx *Tx) error {
		for i, f := range families {
			l := &liaisonv1.Lead{Id: fmt.Sprintf("0190a000-0000-7000-8000-%012d", i+1), OriginAgency: "alpha", Title: "t", Version: 1, CreateTime: now, UpdateTime: now,
				Subjects: []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: f, GivenNames: "Wei"}}}}}
			if err := tx.InsertLead(l); err != nil {
				return err
			}
		}
		// A row no record gives (as an older version of the rules could
		// have left): the rebuild must drop it from both indexes.
		return tx.IndexPersons(IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_CASE, ID: "gone", Title: "t", OriginAgency: "alpha",
			Persons: []*liaisonv1.Person{{Names: []*liaisonv1.PersonName{{FamilyName: "Ghost", GivenNames: "Row"}}}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.ExecContext(ctx, "UPDATE meta SET value = 'stale' WHERE key = 'person_index'"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path)
	if _, err := s.wdb.ExecContext(ctx, "INSERT INTO person_names (person_names, rank) VALUES ('integrity-check', 1)"); err != nil {
		t.Fatalf("after the rebuild, the name index does not match person_index: %v", err)
	}
	want := map[string]int{"ghost": 0, "wei": len(families)}
	for _, f := range families {
		want[strings.ToLower(f)] = 1
	}
	for word, want := range want {
		got, err := s.FindPersons(ctx, PersonQuery{Words: []string{word}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("after the rebuild, %q finds %d persons, want %d", word, len(got), want)
		}
	}
}
