package persons

import (
	"slices"
	"strings"
	"sync"
)

// Name keys: besides its words, a name is indexed and searched under keys
// that survive transliteration — the words of its machine transliterations
// (Romanizations), the phonetic skeleton of each word and of the whole name
// run together (Skeleton), and the groups of equivalent names its words
// belong to (Equivalent). A key is an index token of its own: skeletons
// start with SkeletonPrefix and groups with GroupPrefix, digits that no
// name word begins with in practice, so they never equal a word.
const (
	SkeletonPrefix = "9"
	GroupPrefix    = "8"
)

// articles are the Arabic article as written in Latin letters, a word of
// its own ("Al-Rashid", "El Khoury"): keys leave it out, so "Rashid"
// finds "Al-Rashid".
// ("An" is left out: a Korean family name and a Vietnamese given name.)
var articles = map[string]bool{"al": true, "el": true, "ul": true, "ar": true, "as": true, "ash": true, "az": true, "ad": true}

// stripArticle is w without an "al" or "el" run into it ("Alrashid",
// "Elkhoury"), when a consonant follows and at least four letters are
// left; "Alexander" and "Elena" keep theirs.
func stripArticle(w string) string {
	if len(w) >= 6 && (strings.HasPrefix(w, "al") || strings.HasPrefix(w, "el")) && !isVowel(w[2]) && w[2] != 'l' {
		return w[2:]
	}
	return w
}

// IsArticle says whether w is the Arabic article written as a word.
func IsArticle(w string) bool { return articles[w] }

// WithoutArticles is words without the articles, unless nothing else is
// left; an article run into the name ("Alrashid") goes too.
func WithoutArticles(words []string) []string {
	var out []string
	for _, w := range words {
		if !articles[w] {
			out = append(out, stripArticle(w))
		}
	}
	if len(out) == 0 {
		return words
	}
	return out
}

type skeletonRule struct {
	from, to          string
	start, end, vowel bool // anchored at the start, at the end; followed by a vowel
}

var skeletonRules = sync.OnceValue(func() []skeletonRule {
	var out []skeletonRule
	for _, f := range readTable("skeleton.txt") {
		r := skeletonRule{from: f[0], to: dash(f[1])}
		if strings.HasPrefix(r.from, "^") {
			r.start, r.from = true, r.from[1:]
		}
		if strings.HasSuffix(r.from, "$") {
			r.end, r.from = true, strings.TrimSuffix(r.from, "$")
		}
		if strings.HasSuffix(r.from, "+V") {
			r.vowel, r.from = true, strings.TrimSuffix(r.from, "+V")
		}
		out = append(out, r)
	}
	return out
})

// skeletonRulesAt are the rules that can match at a letter a–z, by
// letter, in the table's order: Skeleton tries only these (a few instead
// of every rule of the table at every letter).
var skeletonRulesAt = sync.OnceValue(func() *[26][]skeletonRule {
	var at [26][]skeletonRule
	for _, r := range skeletonRules() {
		for c := byte('a'); c <= 'z'; c++ {
			if r.from == "" || r.from == "V" && isVowel(c) || r.from != "V" && r.from[0] == c {
				at[c-'a'] = append(at[c-'a'], r)
			}
		}
	}
	return &at
})

func isVowel(b byte) bool { return strings.IndexByte("aeiouy", b) >= 0 }

// matchAt says whether the rule's pattern matches s at i, and its length.
func (r skeletonRule) matchAt(s string, i int) (int, bool) {
	if r.start && i > 0 {
		return 0, false
	}
	n := len(r.from)
	if r.from == "V" {
		if !isVowel(s[i]) {
			return 0, false
		}
		n = 1
	} else if !strings.HasPrefix(s[i:], r.from) {
		return 0, false
	}
	if r.end && i+n != len(s) || r.vowel && (i+n >= len(s) || !isVowel(s[i+n])) {
		return 0, false
	}
	return n, true
}

// Skeleton is the phonetic key of a Latin search word (NameWords): its
// consonants by sound class, by the rules of names/skeleton.txt, doubled
// letters once. Words with letters other than a–z have none ("").
func Skeleton(w string) string {
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return ""
		}
	}
	rules := skeletonRulesAt()
	s := make([]byte, 0, 2*len(w))
	for i := 0; i < len(w); {
		matched := false
		for _, r := range rules[w[i]-'a'] {
			if n, ok := r.matchAt(w, i); ok {
				s = append(s, r.to...)
				i += n
				matched = true
				break
			}
		}
		if !matched {
			s = append(s, w[i])
			i++
		}
	}
	// Doubled letters once.
	out := s[:0]
	for _, c := range s {
		if len(out) == 0 || c != out[len(out)-1] {
			out = append(out, c)
		}
	}
	return string(out)
}

// Skeletons are the skeletons of w: its Skeleton, and for a word that
// begins with j also the skeleton of its reading as y, as German, Polish
// and Dutch spellings write it (Jaroschenko, Yaroshenko).
func Skeletons(w string) []string { return skeletonMemo.Get(w, skeletons) }

// Skeletons are asked for every word of every candidate of every search.
var skeletonMemo = NewMemo[[]string](100_000)

func skeletons(w string) []string {
	s := Skeleton(w)
	if s == "" {
		return nil
	}
	out := []string{s}
	if strings.HasPrefix(w, "j") {
		if y := Skeleton("y" + w[1:]); y != s && !slices.Contains(out, y) {
			out = append(out, y)
		}
	}
	// An r before a consonant is silent in English and Thai spellings
	// (Somporn, Somphon) but not in a spelling that leaves out the vowels,
	// as Arabic script does (فارس, Fars, Fares): the r read as sounded too.
	if r := soundedR(w); r != w {
		if y := Skeleton(r); y != "" && !slices.Contains(out, y) {
			out = append(out, y)
		}
	}
	return out
}

// soundedR is w with a vowel after every r that is followed by a
// consonant, so that Skeleton reads that r as sounded.
func soundedR(w string) string {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		b.WriteByte(w[i])
		if w[i] == 'r' && i+1 < len(w) && i > 0 && !strings.ContainsRune("aeiouyr", rune(w[i+1])) {
			b.WriteByte('e')
		}
	}
	return b.String()
}

// equivalents maps a word to the groups of names it belongs to
// (names/equivalents.txt), each group named by its first word.
var equivalents = sync.OnceValue(func() map[string][]string {
	m := map[string][]string{}
	for _, f := range readTable("equivalents.txt") {
		group := strings.Join(NameWords(f[0]), "")
		for _, w := range f {
			k := strings.Join(NameWords(w), "")
			m[k] = append(m[k], group)
		}
	}
	return m
})

// Equivalent returns the groups of equivalent names word belongs to
// ("mohammed" → ["muhammad"]), nil if none.
func Equivalent(word string) []string { return equivalents()[word] }

// SameGroup says whether two words are equivalent names, and names the
// group.
func SameGroup(a, b string) (string, bool) {
	for _, g := range Equivalent(a) {
		for _, h := range Equivalent(b) {
			if g == h {
				return g, true
			}
		}
	}
	return "", false
}

// WordKeys are the index tokens a word is found by besides itself: its
// skeleton and its groups of equivalent names.
func WordKeys(w string) []string {
	var out []string
	for _, s := range Skeletons(w) {
		// A skeleton of one consonant is shared by too many names to
		// find candidates by ("Wei", "Woo", "Hu").
		if len(s) > 1 {
			out = append(out, SkeletonPrefix+s)
		}
	}
	if b := stripArticle(w); b != w {
		out = append(out, b)
		if s := Skeleton(b); len(s) > 1 {
			out = append(out, SkeletonPrefix+s)
		}
	}
	for _, g := range Equivalent(w) {
		out = append(out, GroupPrefix+g)
	}
	return out
}

// RunKeys are the tokens of a name's words run together: the run and its
// skeleton, articles left out.
func RunKeys(words []string) []string {
	words = WithoutArticles(words)
	run := strings.Join(words, "")
	out := []string{run}
	if s := Skeleton(run); len(s) > 1 {
		out = append(out, SkeletonPrefix+s)
	}
	return out
}

// AllForms are the written forms of a person's names (NameForms) followed
// by their machine transliterations (Romanizations).
func AllForms(forms []NameForm) []NameForm {
	out := append([]NameForm{}, forms...)
	for _, f := range forms {
		out = append(out, Romanizations(f)...)
	}
	return out
}

// JaroWinkler is the Jaro–Winkler similarity of two strings (0–1), with
// the usual prefix scale 0.1 over at most four letters.
func JaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	ra, rb := []rune(a), []rune(b)
	if len(ra) == 0 || len(rb) == 0 {
		return 0
	}
	window := max(len(ra), len(rb))/2 - 1
	window = max(window, 0)
	ma, mb := make([]bool, len(ra)), make([]bool, len(rb))
	matches := 0
	for i := range ra {
		lo, hi := max(0, i-window), min(len(rb), i+window+1)
		for j := lo; j < hi; j++ {
			if !mb[j] && ra[i] == rb[j] {
				ma[i], mb[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	transpositions, j := 0, 0
	for i := range ra {
		if !ma[i] {
			continue
		}
		for !mb[j] {
			j++
		}
		if ra[i] != rb[j] {
			transpositions++
		}
		j++
	}
	m := float64(matches)
	jaro := (m/float64(len(ra)) + m/float64(len(rb)) + (m-float64(transpositions)/2)/m) / 3
	prefix := 0
	for i := 0; i < min(4, len(ra), len(rb)) && ra[i] == rb[i]; i++ {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}
