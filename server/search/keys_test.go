package search

import (
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

// TestMatcherSimilar_OncePerSearch: a candidate's word is worked out
// once a search, and its similarity to each query word is
// similarWords'.
func TestMatcherSimilar_OncePerSearch(t *testing.T) {
	q, err := parse(&liaisonv1.SearchPersonsRequest{Name: "Chen Sungmin Muhammad"})
	if err != nil {
		t.Fatal(err)
	}
	m := newMatcher(q)
	cands := []string{"chen", "seongmin", "mohammed", "wei", "somchay", "chen"}
	for round := range 2 {
		for _, w := range cands {
			c := m.word(w)
			for i, qw := range m.qwords {
				ws, wl := similarWords(queryWord(qw.s), candidateWord(w), false)
				if s, l := m.similar(i, c); s != ws || l != wl {
					t.Errorf("round %d: similar(%q, %q) = %v, %d; want %v, %d", round+1, qw.s, w, s, l, ws, wl)
				}
			}
		}
	}
	if len(m.words) != 5 {
		t.Errorf("%d candidate words kept by the search, want 5", len(m.words))
	}
	if len(m.qwords) < 3 {
		t.Errorf("query words %d, want the 3 typed at least", len(m.qwords))
	}
}
