package search

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// matchesKeys is the full-text query of PersonQuery.Keys read as a
// predicate over a person's tokens.
func matchesKeys(alts [][][]string, tokens []string) bool {
	return slices.ContainsFunc(alts, func(alt [][]string) bool {
		for _, g := range alt {
			if !slices.ContainsFunc(g, func(t string) bool { return slices.Contains(tokens, t) }) {
				return false
			}
		}
		return len(alt) > 0
	})
}

// TestSimplifyKeys_SamePersons: the simplified keys match exactly the
// persons the keys match, over random keys and random persons of a small
// alphabet (so that alternatives overlap, imply each other and differ in
// one group often).
func TestSimplifyKeys_SamePersons(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(16))
	alphabet := []string{"a", "b", "c", "d", "e", "f"}
	some := func(max int) []string {
		var out []string
		for range 1 + r.Intn(max) {
			out = append(out, alphabet[r.Intn(len(alphabet))])
		}
		return out
	}
	shrunk := 0
	for range 2000 {
		var alts [][][]string
		for range 1 + r.Intn(6) {
			var alt [][]string
			for range 1 + r.Intn(3) {
				alt = append(alt, some(3))
			}
			alts = append(alts, alt)
		}
		orig := fmt.Sprint(alts)
		simple := simplifyKeys(cloneKeys(alts))
		if fmt.Sprint(alts) != orig {
			t.Fatalf("simplifyKeys changed its argument")
		}
		if len(simple) < len(alts) {
			shrunk++
		}
		for range 40 {
			p := some(4)
			if got, want := matchesKeys(simple, p), matchesKeys(alts, p); got != want {
				t.Fatalf("keys %v simplified to %v: person %v matches %v, want %v", alts, simple, p, got, want)
			}
		}
	}
	if shrunk < 500 {
		t.Errorf("only %d of 2000 random keys became smaller: the simplification does not work", shrunk)
	}
}

func cloneKeys(alts [][][]string) [][][]string {
	out := make([][][]string, len(alts))
	for i, a := range alts {
		out[i] = make([][]string, len(a))
		for j, g := range a {
			out[i][j] = slices.Clone(g)
		}
	}
	return out
}

// TestQueryKeys_Small: a Wade–Giles name's readings and a query's
// segmentations become a handful of alternatives, not one per
// combination.
func TestQueryKeys_Small(t *testing.T) {
	t.Parallel()
	q, err := parse(&liaisonv1.SearchPersonsRequest{Name: "Guaqian Paiyuan Qinyin"})
	if err != nil {
		t.Fatal(err)
	}
	if got := queryKeys(q.forms); len(got) > 6 {
		t.Errorf("queryKeys = %d alternatives, want at most 6: %v", len(got), got)
	}
}
