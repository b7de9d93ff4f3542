package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

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
	n, _, _, err := nameIndexSegments(ctx, s.wdb)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("%d segments after 12 transactions: the test no longer makes several", n)
	}
	mustClose(t, s)

	s = mustOpen(t, path)
	if n, _, _, err = nameIndexSegments(ctx, s.wdb); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d segments after reopening, want 1", n)
	}
	if after := find(s); !slices.Equal(after, before) {
		t.Errorf("found %v after compacting, want %v", after, before)
	}

	// A write after that adds a small segment: the next open leaves it.
	for i := range 100 {
		err := s.Write(ctx, func(tx *Tx) error {
			for j := range 20 {
				if err := tx.IndexPersons(IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: fmt.Sprintf("bulk-%d-%d", i, j),
					Title: "t", OriginAgency: "alpha", Persons: []*liaisonv1.Person{{Id: "b",
						Names: []*liaisonv1.PersonName{{FamilyName: fmt.Sprintf("Name%d", i*20+j), GivenNames: "Given"}}}}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, s)
	s = mustOpen(t, path)
	if n, _, _, err = nameIndexSegments(ctx, s.wdb); err != nil || n != 1 {
		t.Fatalf("%d segments after a bulk load and reopening (%v), want 1", n, err)
	}
	if err := s.Write(ctx, func(tx *Tx) error {
		return tx.IndexPersons(IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: "late", Title: "t", OriginAgency: "alpha",
			Persons: []*liaisonv1.Person{{Id: "late", Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Late"}}}}})
	}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	s = mustOpen(t, path)
	if n, _, _, err = nameIndexSegments(ctx, s.wdb); err != nil || n != 2 {
		t.Errorf("%d segments after one small write and reopening (%v), want 2: the small one left as it is", n, err)
	}
}

// TestFindPersonRows_AndPersonsByRow: the rows of a query are the rows of
// FindPersons, in its order, and PersonsByRow reads those persons back,
// most recent first, leaving out a row whose record left the index since.
func TestFindPersonRows_AndPersonsByRow(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "node.db"))
	for i := range 5 {
		err := s.Write(ctx, func(tx *Tx) error {
			return tx.IndexPersons(IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: fmt.Sprintf("lead-%d", i),
				Title: "t", OriginAgency: "alpha", Persons: []*liaisonv1.Person{{Id: fmt.Sprintf("p%d", i),
					Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: "Wei"}}}}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	q := PersonQuery{Words: []string{"chen", "wei"}, Limit: 4}
	persons, err := s.FindPersons(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.FindPersonRows(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(persons) != 4 || len(rows) != len(persons) {
		t.Fatalf("FindPersons found %d, FindPersonRows %d; want 4 each", len(persons), len(rows))
	}
	for i, p := range persons {
		if rows[i] != p.Row {
			t.Errorf("row %d is %d, FindPersons has %d", i, rows[i], p.Row)
		}
	}
	// Out of order, and one record gone since.
	if err := s.Write(ctx, func(tx *Tx) error {
		return tx.IndexPersons(IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: persons[1].RecordID})
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.PersonsByRow(ctx, []int64{rows[3], rows[0], rows[1], rows[2]})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range got {
		ids = append(ids, p.Person.GetId())
	}
	want := []string{persons[0].Person.GetId(), persons[2].Person.GetId(), persons[3].Person.GetId()}
	if !slices.Equal(ids, want) {
		t.Errorf("PersonsByRow read %v, want %v", ids, want)
	}
	if got, err := s.PersonsByRow(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("PersonsByRow(nil) = %v, %v; want nothing", got, err)
	}
}

// TestFindPersons_ByKeys_FewAndMany: a query of keys that matches no more
// persons than its limit (found in rowid order first) and one that
// matches more (read most recent first) both return the most recently
// indexed matches, most recent first — in the first window and below a
// later window's bound.
func TestFindPersons_ByKeys_FewAndMany(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "node.db"))
	var want []string // most recent first
	for i := range 6 {
		given := "Wei"
		if i%2 == 1 {
			given = "Ming" // matches neither query
		}
		id := fmt.Sprintf("lead-%d", i)
		indexChen(t, s, id, given)
		if given == "Wei" {
			want = append([]string{id}, want...)
		}
	}
	keys := [][][]string{{{"chen", "zhen"}, {"wei", "wey"}}, {{"chenwei"}}}
	for _, limit := range []int{10, 3, 2} {
		q := PersonQuery{Words: []string{"chen", "wei"}, Keys: keys, Limit: limit}
		got, err := s.FindPersons(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.FindPersonRows(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i, p := range got {
			ids = append(ids, p.RecordID)
			if i >= len(rows) || rows[i] != p.Row {
				t.Errorf("limit %d: FindPersonRows %v, FindPersons has row %d at %d", limit, rows, p.Row, i)
			}
		}
		if w := want[:min(limit, len(want))]; !slices.Equal(ids, w) {
			t.Errorf("limit %d: found %v, want %v", limit, ids, w)
		}
	}
	// A later window (Before): the matches below its bound, whether they
	// are more than its limit or not.
	all, err := s.FindPersonRows(ctx, PersonQuery{Words: []string{"chen", "wei"}, Keys: keys, Limit: 10})
	if err != nil || len(all) != len(want) {
		t.Fatalf("every match: %v, %v; want %d rows", all, err, len(want))
	}
	for i, before := range all {
		for _, limit := range []int{1, 2, 10} {
			q := PersonQuery{Words: []string{"chen", "wei"}, Keys: keys, Limit: limit, Before: before}
			rows, err := s.FindPersonRows(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.FindPersons(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			w := all[i+1:]
			w = w[:min(limit, len(w))]
			if !slices.Equal(rows, w) || len(got) != len(w) {
				t.Errorf("before row %d, limit %d: rows %v and %d persons, want %v", before, limit, rows, len(got), w)
			}
		}
	}
	none, err := s.FindPersonRows(ctx, PersonQuery{Words: []string{"li"}, Keys: [][][]string{{{"li"}}}, Limit: 5})
	if err != nil || len(none) != 0 {
		t.Errorf("keys no one holds: %v, %v", none, err)
	}
}

// TestFindPersons_WordCountsChooseThePlanNotTheCandidates: the counts of
// name words kept between queries (countWords) decide only how a name's
// candidates are found: whatever they say — a common word counted rare, a
// rare word counted common — a query finds the same persons.
func TestFindPersons_WordCountsChooseThePlanNotTheCandidates(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "node.db"))
	for i, given := range []string{"Wei", "Ming", "Wei", "Li Wei", "Ming Wei", "Wei"} {
		id := fmt.Sprintf("lead-%d", i)
		indexChen(t, s, id, given)
	}
	q := PersonQuery{Words: []string{"chen", "wei"}, Limit: 10}
	find := func() []string {
		t.Helper()
		got, err := s.FindPersons(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range got {
			ids = append(ids, p.RecordID)
		}
		return ids
	}
	want := find()
	if len(want) != 5 {
		t.Fatalf("found %v; want the 5 persons with both words", want)
	}
	now := time.Now()
	for _, c := range []struct{ chen, wei int }{{commonWord, 1}, {1, commonWord}, {commonWord, commonWord}, {0, 0}} {
		s.wordCounts.put("chen", c.chen, now)
		s.wordCounts.put("wei", c.wei, now)
		if got := find(); !slices.Equal(got, want) {
			t.Errorf("with chen counted %d and wei %d: found %v, want %v", c.chen, c.wei, got, want)
		}
	}
	// A reused count keeps its age (it is counted again once it expires,
	// however often it is reused); a word not kept is counted and kept.
	old := time.Now().Add(-wordCountTTL / 2)
	s.wordCounts.put("chen", 3, old)
	delete(s.wordCounts.m, "wei")
	n, err := s.countWords(ctx, []string{"chen", "wei"})
	if err != nil {
		t.Fatal(err)
	}
	if e := s.wordCounts.m["chen"]; n[0] != 3 || e.n != 3 || !e.at.Equal(old) {
		t.Errorf("chen: %d, kept %+v; want 3, kept as put at %v", n[0], e, old)
	}
	if e, ok := s.wordCounts.m["wei"]; !ok || e.n != n[1] || n[1] == 0 || !e.at.After(old) {
		t.Errorf("wei: %d, kept %+v, %v; want its count, kept now", n[1], e, ok)
	}
}

// TestWordCounts_ExpireAndStayBounded: a count is reused for
// wordCountTTL, and the cache never holds more than maxWordCounts.
func TestWordCounts_ExpireAndStayBounded(t *testing.T) {
	var c wordCounts
	t0 := time.Unix(1_000_000, 0)
	c.put("chen", 7, t0)
	if n, ok := c.get("chen", t0.Add(wordCountTTL)); !ok || n != 7 {
		t.Errorf("within its TTL: %d, %v; want 7, true", n, ok)
	}
	if _, ok := c.get("chen", t0.Add(wordCountTTL+time.Second)); ok {
		t.Error("a count past its TTL was reused")
	}
	for i := range maxWordCounts + 10 {
		c.put(fmt.Sprint("w", i), i, t0)
	}
	if len(c.m) > maxWordCounts {
		t.Errorf("%d counts kept; at most %d", len(c.m), maxWordCounts)
	}
}

// indexChen indexes lead id with one subject, Chen and the given names.
func indexChen(t *testing.T, s *Store, id, given string) {
	t.Helper()
	err := s.Write(context.Background(), func(tx *Tx) error {
		return tx.IndexPersons(IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: id, Title: "t", OriginAgency: "alpha",
			Persons: []*liaisonv1.Person{{Id: id, Names: []*liaisonv1.PersonName{{FamilyName: "Chen", GivenNames: given}}}}})
	})
	if err != nil {
		t.Fatal(err)
	}
}
