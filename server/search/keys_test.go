package search

import (
	"fmt"
	"strings"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// TestSearch_NameKeys_Examples: the examples of the README's Search
// section, each a record and queries that must find it first (before a
// namesake with the same family name), with a reason.
func TestSearch_NameKeys_Examples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		family, given string
		queries       []string
	}{
		{"김", "성민", []string{"Gim Seongmin", "Kim Sŏngmin"}},
		{"Kim", "Sung-min", []string{"김성민", "Gim Seongmin"}},
		{"陈", "伟明", []string{"Chen Weiming", "Ch'en Wei-ming"}},
		{"Zhang", "Xueliang", []string{"Chang Hsüeh-liang", "张学良"}},
		{"ใจดี", "สมชาย", []string{"Somchai Chaidi", "Somchay Jaidee"}},
		{"Щербаков", "Евгений", []string{"Evgenii Shcherbakov", "Yevgeniy Shcherbakov"}},
		{"Ярошенко", "Олександр", []string{"Oleksandr Yaroshenko", "Aleksandr Jaroschenko"}},
		{"الرشيد", "محمد", []string{"Mohammed Al-Rashid", "Muhammad Rasheed"}},
		{"Nguyễn", "Văn An", []string{"Nguyen Van An", "Van An Nguyen"}},
	} {
		s := openStore(t)
		id := tc.family + tc.given
		index(t, s, lead(id, named(tc.family, tc.given)), lead("other"+id, named(tc.family, "Somebody")))
		for _, q := range tc.queries {
			hits := search(t, s, &liaisonv1.SearchPersonsRequest{Name: q})
			if len(hits) == 0 || hits[0].GetRecordId() != id {
				t.Errorf("%q: hits %v, want %s first", q, recordIDs(hits), id)
				continue
			}
			if len(hits[0].GetReasons()) == 0 {
				t.Errorf("%q: no reason", q)
			}
		}
	}
}

// TestSearch_NameKeys_ExactFirst: a namesake that matches through keys
// never outranks a person whose name is the query's.
func TestSearch_NameKeys_ExactFirst(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	index(t, s, lead("exact", named("Kim", "Minsu")), lead("sound", named("Gim", "Minsoo")), lead("namesake", named("Kim", "Minseo")))
	hits := search(t, s, &liaisonv1.SearchPersonsRequest{Name: "Kim Minsu"})
	if len(hits) < 2 || hits[0].GetScore() != 100 || hits[1].GetScore() >= 100 {
		t.Fatalf("hits %v, want the exact name alone at 100, first", recordIDs(hits))
	}
	for _, h := range hits[1:] {
		if !strings.Contains(strings.Join(h.GetReasons(), " "), "score") {
			t.Errorf("%s: reason %q does not say how it matched", h.GetRecordId(), h.GetReasons())
		}
	}
}

// TestMatcherSimilar_SharedAcrossSearches: a pair of words worked out by
// one search is answered to the next from the shared cache with the
// same result as similar itself, and the cache stays within maxSims.
func TestMatcherSimilar_SharedAcrossSearches(t *testing.T) {
	pairs := [][2]string{{"chen", "chen"}, {"sungmin", "seongmin"}, {"muhammad", "mohammed"}, {"chen", "wei"}, {"somchai", "somchay"}}
	first, second := newMatcher(query{}), newMatcher(query{})
	for _, p := range pairs {
		ws, wl := similar(p[0], p[1], false)
		for i, m := range []*matcher{first, second} {
			if s, l := m.similar(p[0], p[1], false); s != ws || l != wl {
				t.Errorf("search %d: similar(%q, %q) = %v, %d; want %v, %d", i+1, p[0], p[1], s, l, ws, wl)
			}
		}
		if _, ok := sims.get(simPair{p[0], p[1], false}); !ok {
			t.Errorf("(%q, %q) not kept for the searches after", p[0], p[1])
		}
	}
	var c simCache
	for i := range maxSims + 10 {
		c.put(simPair{a: fmt.Sprint(i), b: "x"}, simResult{})
	}
	if len(c.m) > maxSims {
		t.Errorf("%d pairs kept; at most %d", len(c.m), maxSims)
	}
}
