package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/errs"
	"github.com/liaison-exchange/liaison/server/internal/benchdata"
	"github.com/liaison-exchange/liaison/server/paging"
	"github.com/liaison-exchange/liaison/server/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "search.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func index(t *testing.T, s *store.Store, recs ...store.IndexedRecord) {
	t.Helper()
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		for _, r := range recs {
			if err := tx.IndexPersons(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func search(t *testing.T, s *store.Store, req *liaisonv1.SearchPersonsRequest) []*liaisonv1.PersonHit {
	t.Helper()
	q, err := parse(req)
	if err != nil {
		t.Fatalf("parse %v: %v", req, err)
	}
	w, err := run(context.Background(), s, q)
	hits := w.hits
	if err != nil {
		t.Fatalf("search %v: %v", req, err)
	}
	return hits
}

func lead(id string, ps ...*liaisonv1.Person) store.IndexedRecord {
	return store.IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: id, Title: "lead " + id, OriginAgency: "alpha", Persons: ps}
}

func named(family, given string) *liaisonv1.Person {
	return &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: family, GivenNames: given}}}
}

func recordIDs(hits []*liaisonv1.PersonHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, fmt.Sprintf("%s:%d", h.GetRecordId(), h.GetScore()))
	}
	return out
}

// TestSearch_Run_Order: full scores first; among equal scores exact names first,
// then the most recently written; partial matches below the threshold are
// left out.
func TestSearch_Run_Order(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	index(t, s,
		lead("old-exact", named("Chen", "Wei")),
		lead("partial", named("Chen", "Wei Long")),
		lead("swapped", named("Wei", "Chen")),
		lead("below", named("Chen", "Li Na")),
		lead("new-exact", named("Chen", "Wei")),
	)
	got := fmt.Sprint(recordIDs(search(t, s, &liaisonv1.SearchPersonsRequest{Name: "Chen Wei"})))
	if want := "[new-exact:100 swapped:100 old-exact:100 partial:66]"; got != want {
		t.Errorf("hits %s, want %s", got, want)
	}
	// A page full of exact names skips the broad query: the partial match
	// is not read at all.
	got = fmt.Sprint(recordIDs(search(t, s, &liaisonv1.SearchPersonsRequest{Name: "Chen Wei", PageSize: 2})))
	if want := "[new-exact:100 swapped:100]"; got != want {
		t.Errorf("page of 2: hits %s, want %s", got, want)
	}
	// A record written again moves ahead of its equals.
	index(t, s, lead("old-exact", named("Chen", "Wei")))
	got = fmt.Sprint(recordIDs(search(t, s, &liaisonv1.SearchPersonsRequest{Name: "Chen Wei", PageSize: 1})))
	if want := "[old-exact:100]"; got != want {
		t.Errorf("after rewriting old-exact: hits %s, want %s", got, want)
	}
}

// TestSearch_Run_CriteriaAreANDed: every criterion given must match.
func TestSearch_Run_CriteriaAreANDed(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	a := named("Chen", "Wei")
	a.PhoneNumbers = []*liaisonv1.PhoneNumber{{Number: "+66812345678"}}
	a.DateOfBirth = &liaisonv1.Date{Year: 1980, Month: 2, Day: 29}
	b := named("Somchai", "Jaidee")
	b.PhoneNumbers = []*liaisonv1.PhoneNumber{{Number: "+66812345678"}}
	b.Documents = []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "E1234567"}}
	index(t, s, lead("a", a), lead("b", b))
	for _, tc := range []struct {
		req  *liaisonv1.SearchPersonsRequest
		want string
	}{
		{&liaisonv1.SearchPersonsRequest{Phone: "+66 81 234 5678"}, "[b:100 a:100]"},
		{&liaisonv1.SearchPersonsRequest{Phone: "+66812345678", Name: "Wei Chen"}, "[a:100]"},
		{&liaisonv1.SearchPersonsRequest{Phone: "+66812345678", Name: "Chen"}, "[a:100]"},
		{&liaisonv1.SearchPersonsRequest{Phone: "+66812345678", Name: "Chen Li Na"}, "[]"},
		{&liaisonv1.SearchPersonsRequest{Phone: "+66812345678", Document: "E1234567"}, "[b:100]"},
		{&liaisonv1.SearchPersonsRequest{Phone: "+66812345678", DateOfBirth: date(1980, 0, 0)}, "[a:100]"},
		{&liaisonv1.SearchPersonsRequest{Name: "Chen", DateOfBirth: date(1980, 2, 28)}, "[]"},
		{&liaisonv1.SearchPersonsRequest{Name: "Chen", BirthYearFrom: 1979, BirthYearTo: 1981}, "[a:50]"},
		{&liaisonv1.SearchPersonsRequest{BirthYearFrom: 1981}, "[]"},
		{&liaisonv1.SearchPersonsRequest{BirthYearTo: 1980}, "[a:100]"},
	} {
		if got := fmt.Sprint(recordIDs(search(t, s, tc.req))); got != tc.want {
			t.Errorf("%v: hits %s, want %s", tc.req, got, tc.want)
		}
	}
	hits := search(t, s, &liaisonv1.SearchPersonsRequest{Phone: "081-234-5678", PhoneRegion: "TH", Name: "wei chen", BirthYearFrom: 1980})
	want := []string{
		"phone +66812345678 matches exactly",
		`name "wei chen" matches the name "Chen Wei": all 2 words, in another order (case ignored)`,
		"born 1980-02-29, within the years from 1980",
	}
	if len(hits) != 1 || fmt.Sprintf("%q", hits[0].GetReasons()) != fmt.Sprintf("%q", want) {
		t.Errorf("reasons %q, want %q", hits, want)
	}
}

// TestSearch_FindPersons_QuotesAndOperators: what a caller types never reaches
// FTS5 as syntax.
func TestSearch_FindPersons_QuotesAndOperators(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	index(t, s, lead("near", named("Near", "And")), lead("quote", named(`Wei "Boss"`, "Chen")))
	for _, tc := range []struct{ name, want string }{
		{`"`, "[]"},
		{`NEAR(and near)`, "[near:100]"},
		{`near AND`, "[near:100]"},
		{`*`, "[]"},
		{`ne*`, "[]"},
		{`^near`, "[near:50]"},
		{`wei "boss" chen`, "[quote:100]"},
		{`"wei boss chen"`, "[quote:100]"},
		// Candidates have every word of the query: "or" and "x" are words.
		{`"wei boss chen" OR x`, "[]"},
		{`-near`, "[near:50]"},
	} {
		q, err := parse(&liaisonv1.SearchPersonsRequest{Name: tc.name})
		if err != nil {
			if tc.want != "[]" {
				t.Errorf("%q: %v", tc.name, err)
			}
			continue
		}
		w, err := run(context.Background(), s, q)
		hits := w.hits
		if err != nil {
			t.Errorf("%q: %v", tc.name, err)
			continue
		}
		if got := fmt.Sprint(recordIDs(hits)); got != tc.want {
			t.Errorf("%q: hits %s, want %s", tc.name, got, tc.want)
		}
	}
	// The store quotes whatever words it is given.
	for _, words := range [][]string{{`"`}, {`a"`, `"b`}, {"NEAR(a", "b)"}, {"*"}, {"AND"}} {
		if _, err := s.FindPersons(context.Background(), store.PersonQuery{Words: words}); err != nil {
			t.Errorf("FindPersons(%q): %v", words, err)
		}
	}
}

// TestSearch_Populate: the benchmark helper writes index rows only — no lead, no
// audit event — and its samples are found.
func TestSearch_Populate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t)
	const n = 5000
	names, phones, err := benchdata.Populate(ctx, s, n, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1000 || len(phones) != 1000 {
		t.Fatalf("%d names and %d phones returned, want 1000 each", len(names), len(phones))
	}
	d, err := sql.Open("sqlite3", "file:"+s.Path()+"?_query_only=on")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for table, want := range map[string]int{"person_index": n, "leads": 0, "audit_events": 0} {
		var got int
		if err := d.QueryRow("SELECT count(*) FROM " + table).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s has %d rows, want %d", table, got, want)
		}
	}
	for i := 0; i < len(names); i += 50 {
		hits := search(t, s, &liaisonv1.SearchPersonsRequest{Name: names[i]})
		if len(hits) == 0 || hits[0].GetScore() != 100 {
			t.Errorf("sample name %q: hits %v, want a full match first", names[i], recordIDs(hits))
		}
		hits = search(t, s, &liaisonv1.SearchPersonsRequest{Phone: phones[i]})
		if len(hits) == 0 {
			t.Errorf("sample phone %s not found", phones[i])
		}
	}
	again, _, err := benchdata.Persons(n, 7, func(int, *liaisonv1.Person) error { return nil })
	if err != nil || fmt.Sprint(again) != fmt.Sprint(names) {
		t.Errorf("the same seed gave other samples (%v)", err)
	}
}

// TestSearch_FindPersons_CommonNameWithBirthDate: a name held by more
// persons than the store reads one by one, with a date of birth, is
// looked up from the birth index — and finds the same persons.
func TestSearch_FindPersons_CommonNameWithBirthDate(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	var recs []store.IndexedRecord
	born := func(family, given string, d *liaisonv1.Date) *liaisonv1.Person {
		p := named(family, given)
		p.DateOfBirth = d
		return p
	}
	for i := 0; i < 2500; i++ {
		recs = append(recs, lead(fmt.Sprintf("common-%04d", i), born("Common", fmt.Sprintf("Given%d", i), date(1950+int32(i%50), 1+int32(i%12), 1+int32(i%28)))))
	}
	recs = append(recs,
		lead("match-full", born("Common", "Full", date(1999, 5, 17))),
		lead("match-year", born("Common", "Year", date(1999, 0, 0))),
		lead("match-month", born("Common", "Month", date(1999, 5, 0))),
		lead("other-day", born("Common", "Day", date(1999, 5, 18))),
		lead("other-name", born("Rare", "Name", date(1999, 5, 17))),
		lead("unknown", born("Common", "Unknown", nil)),
	)
	index(t, s, recs...)
	got := fmt.Sprint(recordIDs(search(t, s, &liaisonv1.SearchPersonsRequest{Name: "Common", DateOfBirth: date(1999, 5, 17)})))
	if want := "[match-month:50 match-year:50 match-full:50]"; got != want {
		t.Errorf("hits %s, want %s", got, want)
	}
	got = fmt.Sprint(recordIDs(search(t, s, &liaisonv1.SearchPersonsRequest{Name: "Common Full", DateOfBirth: date(1999, 5, 0)})))
	if want := "[match-full:100]"; got != want {
		t.Errorf("hits %s, want %s", got, want)
	}
}

// TestSearch_FindPersons_CommonWords: a word held by so many persons that
// the store checks it on the matches' tokens rather than in the full-text
// match finds exactly the candidates the full match would.
func TestSearch_FindPersons_CommonWords(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	var recs []store.IndexedRecord
	for i := 0; i < 10000; i++ {
		recs = append(recs, lead(fmt.Sprintf("filler-%05d", i), named("Common", fmt.Sprintf("Filler%d", i))))
	}
	recs = append(recs,
		lead("exact", named("Common", "Rare")),
		lead("swapped", named("Rare", "Common")),
		lead("longer", named("Common", "Rare Extra")),
		lead("run-together", named("CommonRare", "")),
		// Not candidates: without the word "common" ("Rare" alone would
		// score 50 were it one).
		lead("rare-only", named("Rare", "")),
		lead("rare-other", named("Rare", "Other")),
	)
	index(t, s, recs...)
	got := fmt.Sprint(recordIDs(search(t, s, &liaisonv1.SearchPersonsRequest{Name: "Common Rare", PageSize: 200})))
	if want := "[run-together:100 swapped:100 exact:100 longer:66]"; got != want {
		t.Errorf("hits %s, want %s", got, want)
	}
	got = fmt.Sprint(recordIDs(search(t, s, &liaisonv1.SearchPersonsRequest{Name: "Rare Extra Common", PageSize: 200})))
	if want := "[longer:100]"; got != want {
		t.Errorf("hits %s, want %s", got, want)
	}
}

// A query that matches more persons than a search reads says so, rather
// than silently leaving the rest out; a narrower one does not.
func TestSearch_Run_SaysWhenCapped(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	var recs []store.IndexedRecord
	for i := 0; i < candidateCap+100; i++ {
		recs = append(recs, lead(fmt.Sprintf("filler-%05d", i), named("Common", fmt.Sprintf("Filler%d", i))))
	}
	recs = append(recs, lead("exact", named("Common", "Rare")))
	index(t, s, recs...)
	for name, want := range map[string]bool{"Common": true, "Common Rare": false} {
		q, err := parse(&liaisonv1.SearchPersonsRequest{Name: name, PageSize: 50})
		if err != nil {
			t.Fatal(err)
		}
		w, err := run(context.Background(), s, q)
		if err != nil || w.capped != want {
			t.Errorf("%q: capped %v (%v), want %v", name, w.capped, err, want)
		}
	}
}

// Pages follow each other without a gap or a repeat, and a token is only
// good for the criteria it was issued for.
func TestSearchPersons_Pages(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	var recs []store.IndexedRecord
	for i := 0; i < 25; i++ {
		recs = append(recs, lead(fmt.Sprintf("page-%02d", i), named("Pagesearch", fmt.Sprintf("Given%d", i))))
	}
	index(t, s, recs...)
	srv := New(s, "alpha", nil)
	ctx := context.Background()
	seen, pages, _ := pageAll(t, srv, &liaisonv1.SearchPersonsRequest{Name: "Pagesearch", PageSize: 10}, 6)
	if pages != 3 || len(seen) != 25 {
		t.Errorf("%d pages, %d persons; want 3 pages, 25 persons", pages, len(seen))
	}
	first, err := srv.SearchPersons(ctx, &liaisonv1.SearchPersonsRequest{Name: "Pagesearch", PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.SearchPersons(ctx, &liaisonv1.SearchPersonsRequest{Name: "Other", PageSize: 10, PageToken: first.GetNextPageToken()})
	if errs.CodeOf(err) != errs.InvalidArgument {
		t.Errorf("a token for other criteria: %v, want INVALID_ARGUMENT", err)
	}
}

// A search that scores candidates from the name index waits its turn (one
// running a core) and gives up at its deadline; a search by phone number
// does not wait behind it.
func TestSearchPersons_TakesTurns(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	p := named("Turnsearch", "Anna")
	p.PhoneNumbers = []*liaisonv1.PhoneNumber{{Number: "+66812345678"}}
	index(t, s, lead("turn", p))
	srv := New(s, "alpha", nil)
	byName := &liaisonv1.SearchPersonsRequest{Name: "Turnsearch Anna"}
	// Once first, so that the tables a first search loads do not make it
	// miss the deadline below on their own.
	if resp, err := srv.SearchPersons(context.Background(), byName); err != nil || len(resp.GetHits()) != 1 {
		t.Fatalf("name search: %v, %v; want one hit", resp, err)
	}
	for range cap(srv.running) {
		srv.running <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := srv.SearchPersons(ctx, byName); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("name search with every slot taken: %v, want the deadline", err)
	}
	resp, err := srv.SearchPersons(context.Background(), &liaisonv1.SearchPersonsRequest{Phone: "+66812345678"})
	if err != nil || len(resp.GetHits()) != 1 {
		t.Fatalf("phone search with every slot taken: %v, %v; want one hit", resp, err)
	}
	type result struct {
		resp *liaisonv1.SearchPersonsResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := srv.SearchPersons(context.Background(), byName)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("name search ran with every slot taken: %v, %v", r.resp, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		running, waiting := srv.Searches()
		if running == cap(srv.running) && waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("searches running %d, waiting %d; want %d and 1", running, waiting, cap(srv.running))
		}
	}
	<-srv.running // a search ahead of it ends
	select {
	case r := <-done:
		if r.err != nil || len(r.resp.GetHits()) != 1 {
			t.Fatalf("name search after a slot was freed: %v, %v; want one hit", r.resp, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("name search still waiting after a slot was freed")
	}
	if running, waiting := srv.Searches(); running != cap(srv.running)-1 || waiting != 0 {
		t.Errorf("after the search: %d running, %d waiting; want %d and 0 (a search keeps its slot, or still counts as waiting)",
			running, waiting, cap(srv.running)-1)
	}
}

// pageAll pages through a search, failing on a repeated record or on
// pages that go on past maxPages, and returns the records found, the
// pages and whether a page said it was capped.
func pageAll(t *testing.T, srv *Server, req *liaisonv1.SearchPersonsRequest, maxPages int) (map[string]int32, int, bool) {
	t.Helper()
	seen := map[string]int32{}
	capped := false
	for pages := 1; ; pages++ {
		resp, err := srv.SearchPersons(context.Background(), req)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		capped = capped || resp.GetCapped()
		for _, h := range resp.GetHits() {
			if _, ok := seen[h.GetRecordId()]; ok {
				t.Fatalf("page %d repeats %s", pages, h.GetRecordId())
			}
			seen[h.GetRecordId()] = h.GetScore()
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			return seen, pages, capped
		}
		if pages == maxPages {
			t.Fatalf("pages do not end after %d (%d persons)", pages, len(seen))
		}
	}
}

// A query of a common name reads the newest candidates a search reads,
// says it was capped, and its pages go on past them to the oldest
// person: every match once, none left out.
func TestSearchPersons_PagesPastTheCap(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	var recs []store.IndexedRecord
	recs = append(recs, lead("oldest", named("Common", "Rare")))
	for i := 0; i < 2*candidateCap+150; i++ {
		recs = append(recs, lead(fmt.Sprintf("filler-%05d", i), named("Common", fmt.Sprintf("Filler%d", i))))
	}
	recs = append(recs, lead("other", named("Uncommon", "Rare")))
	index(t, s, recs...)
	srv := New(s, "alpha", nil)
	for _, size := range []int32{maxPageSize, 77} {
		seen, _, capped := pageAll(t, srv, &liaisonv1.SearchPersonsRequest{Name: "Common", PageSize: size}, 40)
		if !capped {
			t.Errorf("page size %d: no page said it was capped", size)
		}
		if len(seen) != len(recs)-1 {
			t.Errorf("page size %d: %d persons found over the pages, want %d", size, len(seen), len(recs)-1)
		}
		if _, ok := seen["oldest"]; !ok {
			t.Errorf("page size %d: the oldest match was never reached", size)
		}
	}
}

// Past the cap of the name's keys too: persons found only through the
// phonetic keys, older than the keys' cap, are reached by paging, once
// each, beside those found by the words.
func TestSearchPersons_PagesPastTheKeysCap(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	var recs []store.IndexedRecord
	want := map[string]bool{}
	for i := 0; i < keyCandidateCap+120; i++ {
		id := fmt.Sprintf("chan-%04d", i)
		recs = append(recs, lead(id, named("Chan", "Wai")))
		want[id] = true
		if i%3 == 0 {
			id = fmt.Sprintf("chen-%04d", i)
			recs = append(recs, lead(id, named("Chen", "Wei")))
			want[id] = true
		}
	}
	recs = append(recs, lead("namesake", named("Chen", "Ming")))
	index(t, s, recs...)
	srv := New(s, "alpha", nil)
	seen, _, capped := pageAll(t, srv, &liaisonv1.SearchPersonsRequest{Name: "Chen Wei", PageSize: 50}, 40)
	if !capped {
		t.Error("no page said it was capped")
	}
	for id := range want {
		if _, ok := seen[id]; !ok {
			t.Errorf("%s never found (%d of %d found)", id, len(seen), len(want))
			break
		}
	}
	if _, ok := seen["namesake"]; ok {
		t.Error("the namesake Chen Ming was returned")
	}
}

// A person found by a step that read all its candidates is ranked on the
// first page even when it is older than where a capped step stopped: the
// exact name outranks the newer phonetic matches.
func TestSearchPersons_OldExactMatchBeforeNewerSpellings(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	recs := []store.IndexedRecord{lead("exact", named("Chen", "Wei"))}
	for i := 0; i < keyCandidateCap+100; i++ {
		recs = append(recs, lead(fmt.Sprintf("chan-%04d", i), named("Chan", "Wai")))
	}
	index(t, s, recs...)
	resp, err := New(s, "alpha", nil).SearchPersons(context.Background(), &liaisonv1.SearchPersonsRequest{Name: "Chen Wei", PageSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetHits()) == 0 || resp.GetHits()[0].GetRecordId() != "exact" || resp.GetHits()[0].GetScore() != 100 {
		t.Errorf("first page %v, want the exact name first", recordIDs(resp.GetHits()))
	}
	if !resp.GetCapped() || resp.GetNextPageToken() == "" {
		t.Errorf("capped %v, next page %q: want capped, with a token to go on", resp.GetCapped(), resp.GetNextPageToken())
	}
}

// A page token's position is checked: one this service did not issue is
// INVALID_ARGUMENT on page_token, never a search of another window.
func TestSearchPersons_ForgedWindowToken(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	index(t, s, lead("one", named("Tokensearch", "Anna")))
	srv := New(s, "alpha", nil)
	req := &liaisonv1.SearchPersonsRequest{Name: "Tokensearch"}
	fp := paging.Fingerprint(req.GetName(), req.GetPhone(), req.GetPhoneRegion(), req.GetDocument(), req.GetDateOfBirth().String(),
		req.GetBirthYearFrom(), req.GetBirthYearTo())
	for _, pos := range []string{"0", "-1", "x", "1.2.3", "0.0.1.50", "0.5.8.50", "0.5.1.101", "0.5.1.-1", "0.5.1.50.1", "1.2.3.x"} {
		req.PageToken = paging.Encode(pos, fp)
		_, err := srv.SearchPersons(context.Background(), req)
		if errs.CodeOf(err) != errs.InvalidArgument {
			t.Errorf("position %q: %v, want INVALID_ARGUMENT", pos, err)
		}
	}
	for _, pos := range []string{"1", "0.5.1.50", "3.9.7.100"} {
		req.PageToken = paging.Encode(pos, fp)
		if _, err := srv.SearchPersons(context.Background(), req); err != nil {
			t.Errorf("position %q: %v, want a page", pos, err)
		}
	}
}

// A search by birth years alone pages past the cap too (the birth index,
// not the names').
func TestSearchPersons_PagesPastTheCapByBirthYears(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	var recs []store.IndexedRecord
	for i := 0; i < 2*candidateCap; i++ {
		p := named("Born", fmt.Sprintf("Year%d", i))
		p.DateOfBirth = &liaisonv1.Date{Year: int32(1990 + i%3)}
		recs = append(recs, lead(fmt.Sprintf("born-%04d", i), p))
	}
	index(t, s, recs...)
	seen, _, capped := pageAll(t, New(s, "alpha", nil), &liaisonv1.SearchPersonsRequest{BirthYearFrom: 1990, BirthYearTo: 1991, PageSize: 150}, 20)
	want := 0
	for i := range 2 * candidateCap {
		if i%3 < 2 {
			want++
		}
	}
	if !capped || len(seen) != want {
		t.Errorf("capped %v, %d persons found over the pages; want capped, %d", capped, len(seen), want)
	}
}
