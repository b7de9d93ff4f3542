package persons

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWadeGilesReadings_SameOnEveryNode: the readings of a Wade–Giles
// syllable come out in the same order however the pinyin dictionary (a
// map) is iterated — a word's readings are capped, so another order would
// give two nodes different name keys for the same name.
func TestWadeGilesReadings_SameOnEveryNode(t *testing.T) {
	first := buildWG().toPinyin
	for range 5 {
		again := buildWG().toPinyin
		if !maps.EqualFunc(first, again, slices.Equal[[]string]) {
			for k, r := range first {
				if !slices.Equal(r, again[k]) {
					t.Fatalf("readings of %q: %v, then %v", k, r, again[k])
				}
			}
			t.Fatal("the readings differ between two builds")
		}
	}
}

// TestWadeGilesSpellings_EveryWordReadAs: every word that
// IsPinyinOfWadeGiles reads as a pinyin word is among that word's
// WadeGilesSpellings (search asks the set first and walks a word's
// syllables only when it is in it), over runs of one to four Wade–Giles
// syllables and each of their readings.
func TestWadeGilesSpellings_EveryWordReadAs(t *testing.T) {
	syllables := slices.Sorted(maps.Keys(wg().toPinyin))
	r := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for i := 0; i < 20000; i++ {
		var w string
		for range 1 + r.IntN(4) {
			w += syllables[r.IntN(len(syllables))]
		}
		for _, reading := range PinyinOfWadeGiles(w) {
			if !IsPinyinOfWadeGiles(w, reading) {
				t.Fatalf("IsPinyinOfWadeGiles(%q, %q) is false, but it is a reading", w, reading)
			}
			checked++
			if !WadeGilesSpellings(reading)[w] {
				t.Fatalf("%q reads as %q, but WadeGilesSpellings(%q) leaves it out", w, reading, reading)
			}
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d readings checked", checked)
	}
	if WadeGilesSpellings("chenwei")["smith"] {
		t.Error(`"smith" is a spelling of "chenwei"`)
	}
}
