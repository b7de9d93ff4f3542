package persons

import (
	"maps"
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
