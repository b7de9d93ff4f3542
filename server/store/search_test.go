package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// TestOpen_CompactsNameIndex: persons indexed over several transactions
// leave the full-text name index in several segments; opening the store
// merges them into one, and a name search finds the same persons.
func TestOpen_CompactsNameIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	s := mustOpen(t, path)
	for i := range 12 {
		err := s.Write(ctx, func(tx *Tx) error {
			return tx.IndexPersons(IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: fmt.Sprintf("lead-%d", i),
				Title: "t", OriginAgency: "alpha", Persons: []*liaisonv1.Person{{Id: fmt.Sprintf("p%d", i),
					Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: fmt.Sprintf("Wei%c", 'a'+i)}}}}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	find := func(s *Store) []string {
		t.Helper()
		got, err := s.FindPersons(ctx, PersonQuery{Words: []string{"chen"}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range got {
			ids = append(ids, p.RecordID)
		}
		slices.Sort(ids)
		return ids
	}
	before := find(s)
	if len(before) != 12 {
		t.Fatalf("found %d persons before, want 12", len(before))
	}
	n, err := nameIndexSegments(ctx, s.wdb)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("%d segments after 12 transactions: the test no longer makes several", n)
	}
	mustClose(t, s)

	s = mustOpen(t, path)
	if n, err = nameIndexSegments(ctx, s.wdb); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d segments after reopening, want 1", n)
	}
	if after := find(s); !slices.Equal(after, before) {
		t.Errorf("found %v after compacting, want %v", after, before)
	}
}
