package search

import "github.com/liaison-exchange/liaison/server/persons"

// wordFacts are what similarWords reads of a word besides its letters.
// A query word's are worked out once (factsOf) — the words of queries
// recur across searches; a candidate's have no pinyin (candidateWord).
type wordFacts struct {
	runes  int
	groups []string // persons.Equivalent
	pinyin []string // persons.PinyinOfWadeGiles
}

var wordFactsMemo = persons.NewMemo[*wordFacts](100_000)

func factsOf(w string) *wordFacts {
	return wordFactsMemo.Get(w, func(w string) *wordFacts {
		return &wordFacts{
			runes:  len([]rune(w)),
			groups: persons.Equivalent(w),
			pinyin: persons.PinyinOfWadeGiles(w),
		}
	})
}

// sameGroup says whether two words share a group of equivalent names
// (persons.SameGroup over their facts).
func sameGroup(a, b *wordFacts) bool {
	for _, g := range a.groups {
		for _, h := range b.groups {
			if g == h {
				return true
			}
		}
	}
	return false
}
