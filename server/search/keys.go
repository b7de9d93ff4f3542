package search

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/liaison-exchange/liaison/server/persons"
)

// Matching names that survive transliteration (issue 16). A name query is
// read as the words typed, their machine transliterations when typed in
// another script (persons.Romanizations), and, for Wade–Giles syllables,
// their pinyin. Candidates come from the index on any of their keys; each
// candidate is then scored over the best pair of a query form and one of
// its forms (recorded, or transliterated here):
//
//	100     the same words (the scoring of matchNameForms)
//	95      the same words through a machine transliteration
//	≤ 92    the same name in an equivalent spelling (names/equivalents.txt)
//	80–90   the same phonetic skeleton (names/skeleton.txt), ranked by
//	        Jaro–Winkler (at least 0.75 for words, 0.85 run together)
//	≤ 80    Jaro–Winkler ≥ 0.9 over the spellings of a word
//
// A partial match scores the sum over matched words divided by the words
// of both (as matchNameForms' word overlap), so a namesake who shares only a
// family name stays under the threshold.

// queryForms are the forms of a name query: the words typed, their
// transliterations, and pinyin readings of Wade–Giles words.
func queryForms(name string, words []string) []persons.NameForm {
	typed := persons.NameForm{Text: name, Kind: "query", Words: words, Parts: [][]string{words}}
	out := []persons.NameForm{typed}
	out = append(out, persons.Romanizations(typed)...)
	// Wade–Giles read as pinyin: the readings of each word, up to
	// maxReadings combinations.
	readings := [][]string{nil}
	changed := false
	for _, w := range words {
		rs := persons.PinyinOfWadeGiles(w)
		if len(rs) == 0 {
			rs = []string{w}
		} else {
			changed = true
		}
		var next [][]string
		for _, prefix := range readings {
			for _, r := range rs {
				if len(next) < maxReadings {
					next = append(next, append(append([]string{}, prefix...), r))
				}
			}
		}
		readings = next
	}
	if changed {
		for _, py := range readings {
			out = append(out, persons.MachineForm(persons.SystemWadeGilesP, name, [][]string{py}))
		}
	}
	return out
}

// keyCandidateCap bounds the candidates read through keys per search
// (the most recently written first).
const keyCandidateCap = 200

// maxReadings bounds the pinyin readings of a Wade–Giles query.
const maxReadings = 8

// minKeyScore is the lowest score of a match through keys: below it, a
// match is a namesake sharing a family name and a sound or two.
const minKeyScore = 65

// keySpread is how far below the best hit of a search a match through
// keys may score and still be returned.
const keySpread = 30

// queryKeys are the index keys of the query forms (store.PersonQuery.Keys).
func queryKeys(forms []persons.NameForm) [][][]string {
	var alts [][][]string
	for _, f := range forms {
		for _, words := range querySegmentations(persons.WithoutArticles(f.Words)) {
			var groups [][]string
			for _, w := range words {
				g := append([]string{w}, persons.WordKeys(w)...)
				for _, py := range persons.PinyinOfWadeGiles(w) {
					g = append(g, py)
				}
				groups = append(groups, g)
			}
			alts = append(alts, groups)
		}
		alts = append(alts, [][]string{persons.RunKeys(f.Words)})
	}
	return simplifyKeys(alts)
}

// simplifyKeys returns alternatives that match the same persons as alts
// in a smaller full-text query: forms often share keys (a transliteration
// spelled as typed, the readings of a Wade–Giles word), and the query's
// cost grows with its terms. Each group's tokens are made unique; an
// alternative whose every group is implied by another's is dropped; and
// two alternatives that differ in one group only become one with the
// union of that group.
func simplifyKeys(alts [][][]string) [][][]string {
	out := make([][][]string, 0, len(alts))
	for _, a := range alts {
		groups := make([][]string, 0, len(a))
		for _, g := range a {
			if g = persons.UniqueWords(g); len(g) > 0 {
				groups = append(groups, g)
			}
		}
		if len(groups) > 0 {
			out = append(out, groups)
		}
	}
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(out) && !changed; i++ {
			for j := 0; j < len(out) && !changed; j++ {
				switch {
				case i == j:
				case implies(out[j], out[i]):
					// Whoever out[j] matches, out[i] matches too.
					out = slices.Delete(out, j, j+1)
					changed = true
				case i < j:
					if k, ok := oneGroupApart(out[i], out[j]); ok {
						out[i][k] = persons.UniqueWords(append(slices.Clone(out[i][k]), out[j][k]...))
						out = slices.Delete(out, j, j+1)
						changed = true
					}
				}
			}
		}
	}
	return out
}

// implies says whether every person alternative b matches is matched by
// alternative a: each group of a contains some group of b (a person with
// a token of every group of b then has one of every group of a).
func implies(b, a [][]string) bool {
	for _, ga := range a {
		if !slices.ContainsFunc(b, func(gb []string) bool { return subset(gb, ga) }) {
			return false
		}
	}
	return true
}

func subset(a, b []string) bool {
	for _, t := range a {
		if !slices.Contains(b, t) {
			return false
		}
	}
	return true
}

// oneGroupApart says whether a and b have the same groups, in order, but
// the k-th: (g1 AND x) OR (g1 AND y) is g1 AND (x OR y).
func oneGroupApart(a, b [][]string) (k int, ok bool) {
	if len(a) != len(b) {
		return 0, false
	}
	k = -1
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			if k >= 0 {
				return 0, false
			}
			k = i
		}
	}
	return k, k >= 0
}

// Levels of a word match, weakest last.
const (
	levelSame     = iota
	levelTranslit // a Wade–Giles syllable and its pinyin
	levelEquivalent
	levelPhonetic
	levelFuzzy
	levelNone
)

// Spellings of one name are about as long: "Chen" is not "Chen Wei"
// however alike their sounds. The shorter must be at least this part of
// the longer, for words and for whole names run together.
const (
	wordRatio = 0.6
	runRatio  = 0.7
)

// wordJW and runJW are the Jaro–Winkler similarity two spellings with
// the same skeleton need to count as the same sound: words, and whole
// names run together (whose long skeletons unrelated names share more
// often). A word with a skeleton of three consonants or more needs only
// 0.55, since romanizations spell the vowels of a syllable very
// differently (Korean "Wookyung", "Ugyeong").
const (
	wordJW = 0.75
	runJW  = 0.85
)

// word is a word of a search and what similarWords reads of it besides
// its letters, each worked out once a search: a query word's when the
// search starts, a candidate's word when it is first met (matcher.word).
type word struct {
	s     string
	facts *wordFacts
	// wadeGiles are, for a query word, the words it may be a pinyin
	// reading of (persons.WadeGilesSpellings).
	wadeGiles map[string]bool
	skel      []string
	// skelDone says skel was worked out: only for spellings close enough
	// to need it (similarWords).
	skelDone bool
}

// queryWord is a word of a query, or of its words run together.
func queryWord(s string) *word {
	return &word{s: s, facts: factsOf(s), wadeGiles: persons.WadeGilesSpellings(s)}
}

// candidateWord is a word of a candidate, or its words run together. Of
// its pinyin readings, only whether the query word's is one is asked
// (similarWords), so they are not worked out.
func candidateWord(s string) *word {
	return &word{s: s, facts: &wordFacts{runes: utf8.RuneCountInString(s), groups: persons.Equivalent(s)}}
}

func (w *word) skeletons() []string {
	if !w.skelDone {
		w.skel, w.skelDone = persons.Skeletons(w.s), true
	}
	return w.skel
}

// similarWords is how alike two search words are (0–1) and at which
// level or, with run, two whole names run together: wa a query's
// (queryWord), wb a candidate's (candidateWord).
func similarWords(wa, wb *word, run bool) (float64, int) {
	ratio, needJW := wordRatio, wordJW
	if run {
		ratio, needJW = runRatio, runJW
	}
	a, b := wa.s, wb.s
	if a == b {
		return 1, levelSame
	}
	fa, fb := wa.facts, wb.facts
	if sameGroup(fa, fb) {
		return 0.92, levelEquivalent
	}
	// a read as Wade–Giles is b, or b is a (wadeGiles spares the walk of
	// b's syllables for the words a is no reading of).
	if slices.Contains(fa.pinyin, b) || wa.wadeGiles[b] && persons.IsPinyinOfWadeGiles(b, a) {
		return 0.95, levelTranslit
	}
	if len(fa.groups) > 0 && len(fb.groups) > 0 {
		return 0, levelNone // two names known to differ (Muhammad, Mahmoud)
	}
	if la, lb := fa.runes, fb.runes; float64(min(la, lb)) < ratio*float64(max(la, lb)) {
		return 0, levelNone
	}
	jw := persons.JaroWinkler(a, b)
	// The same skeleton counts when the spellings are not far apart: a
	// skeleton of a letter or three is shared by many unrelated names.
	// (Skeletons are worked out only for spellings that close: most pairs
	// of a search are not, and the run of a candidate's words is its own.)
	if jw >= needJW || !run && jw >= 0.55 {
		sb := wb.skeletons()
		for _, sa := range wa.skeletons() {
			if slices.Contains(sb, sa) && (jw >= needJW || !run && len(sa) >= 3 && jw >= 0.55) {
				return 0.8 + 0.1*jw, levelPhonetic
			}
		}
	}
	// Close spellings count word by word only: run together, names that
	// share a family name look close ("chenli", "chenwei").
	if jw >= 0.9 && !run {
		return jw - 0.2, levelFuzzy
	}
	return 0, levelNone
}

// formMatch is the score of a query form against a person's form.
type formMatch struct {
	score      float64
	level      int
	q, p       persons.NameForm
	run        bool // matched as the words run together
	equivalent string
}

// matcher scores the candidates of one search through keys: the query's
// forms, with what matching reads of them worked out once, and each word
// of the candidates met with its similarity to each query word, kept for
// the rest of the search — the words of candidates recur (a family name,
// the names of namesakes), and each pair was otherwise compared again for
// every form of every candidate.
type matcher struct {
	q     query
	forms []qform
	// qwords are the words of the query forms' segmentations, each once;
	// words the candidates' words met, each with its similarity to each
	// of qwords.
	qwords []*word
	words  map[string]*candWord
	// pairs, usedQ, usedP and order are alignForms' scratch space.
	pairs        []wordPair
	usedQ, usedP []bool
	order        []int
}

// qform is a query form and what matchForms reads of it.
type qform struct {
	f    persons.NameForm
	segs [][]int // querySegmentations of its words without articles, as indices of matcher.qwords
	run  *word   // its words without articles run together
}

// pform is a person's form and what matchForms reads of it.
type pform struct {
	f    persons.NameForm
	segs [][]*candWord // its segmentations, without articles
	runs [2]*word      // its words without articles run together, in recorded and swapped order
}

// candWord is a word of the candidates of a search and its similarity to
// each query word (matcher.qwords), worked out when first asked for.
type candWord struct {
	word
	sims []simResult
}

type simResult struct {
	s     float64
	level int // -1: not worked out yet
}

// wordPair is a pair of a query word (i) and a candidate's (j) that
// alignForms may align.
type wordPair struct {
	i, j  int
	s     float64
	level int
}

func newMatcher(q query) *matcher {
	m := &matcher{q: q, words: map[string]*candWord{}}
	index := map[string]int{}
	seen := map[string]bool{}
	for _, f := range q.forms {
		// Readings of a query often repeat (Wade–Giles "ch" read as "j"
		// through two tables): a repeat scores as the first did, and only
		// the first can be the best (matchKeys keeps the first of equal
		// scores), so it is compared once.
		k := formKey(f, false)
		if seen[k] {
			continue
		}
		seen[k] = true
		qw := persons.WithoutArticles(f.Words)
		qf := qform{f: f, run: queryWord(strings.Join(qw, ""))}
		for _, seg := range querySegmentations(qw) {
			ids := make([]int, len(seg))
			for i, w := range seg {
				id, ok := index[w]
				if !ok {
					id = len(m.qwords)
					index[w] = id
					m.qwords = append(m.qwords, queryWord(w))
				}
				ids[i] = id
			}
			qf.segs = append(qf.segs, ids)
		}
		m.forms = append(m.forms, qf)
	}
	return m
}

// word returns the candidates' word w of this search.
func (m *matcher) word(w string) *candWord {
	if c, ok := m.words[w]; ok {
		return c
	}
	c := &candWord{word: *candidateWord(w), sims: make([]simResult, len(m.qwords))}
	for i := range c.sims {
		c.sims[i].level = -1
	}
	m.words[w] = c
	return c
}

// similar is similarWords of query word qwords[i] and candidate word c,
// worked out once a search.
func (m *matcher) similar(i int, c *candWord) (float64, int) {
	r := &c.sims[i]
	if r.level < 0 {
		r.s, r.level = similarWords(m.qwords[i], &c.word, false)
	}
	return r.s, r.level
}

func (m *matcher) newPform(f persons.NameForm) pform {
	p := pform{f: f}
	for _, seg := range f.Segmentations() {
		seg = persons.WithoutArticles(seg)
		ws := make([]*candWord, len(seg))
		for i, w := range seg {
			ws[i] = m.word(w)
		}
		p.segs = append(p.segs, ws)
	}
	p.runs = [2]*word{
		candidateWord(strings.Join(persons.WithoutArticles(f.Words), "")),
		candidateWord(strings.Join(persons.WithoutArticles(f.Swapped()), "")),
	}
	return p
}

// formKey is what matchForms reads of a form: its words, whether a machine
// made it and, for a person's form (parts), how its words split into name
// parts (its segmentations and swapped order).
func formKey(f persons.NameForm, parts bool) string {
	var b strings.Builder
	if f.Machine() {
		b.WriteByte('m')
	}
	b.WriteString(strings.Join(f.Words, " "))
	if parts {
		for _, p := range f.Parts {
			b.WriteByte('|')
			b.WriteString(strings.Join(p, " "))
		}
	}
	return b.String()
}

// matchForms scores query form q against form p: the better of the words
// aligned one to one (greedily, best pairs first) and the words run
// together. A machine transliteration on either side caps it at 0.95.
func (m *matcher) matchForms(q qform, p pform) formMatch {
	best := formMatch{q: q.f, p: p.f, level: levelNone}
	for _, qs := range q.segs {
		if a := m.alignForms(qs, p); a.score > best.score {
			best.score, best.level, best.run = a.score, a.level, false
		}
	}
	// A pair of names run together seldom recurs: it is not kept.
	for _, prun := range p.runs {
		if s, l := similarWords(q.run, prun, true); s > best.score {
			best.score, best.level, best.run = s, l, true
		}
	}
	if (q.f.Machine() || p.f.Machine()) && best.score > 0.95 {
		best.score = 0.95
	}
	return best
}

// querySegmentations are the ways a query's words may split into name
// parts: as typed, and — for three words or more — the first (or last)
// word apart and the others run together ("Kim Sung Min" as "Kim
// Sungmin").
func querySegmentations(qw []string) [][]string {
	out := [][]string{qw}
	if n := len(qw); n >= 3 && n <= 5 {
		out = append(out, []string{qw[0], strings.Join(qw[1:], "")}, []string{strings.Join(qw[:n-1], ""), qw[n-1]})
	}
	return out
}

// alignForms aligns the query words qs (indices of matcher.qwords) with
// the words of p one to one, best pairs first, over p's segmentations.
func (m *matcher) alignForms(qs []int, p pform) formMatch {
	best := formMatch{level: levelNone}
	for _, pw := range p.segs {
		pairs := m.pairs[:0]
		for i, qi := range qs {
			for j, c := range pw {
				if s, l := m.similar(qi, c); s > 0 {
					pairs = append(pairs, wordPair{i, j, s, l})
				}
			}
		}
		m.pairs = pairs
		usedQ, usedP, order := m.scratch(len(qs), len(pw))
		sum, matched, level := 0.0, 0, levelSame
		for len(pairs) > 0 {
			bi := 0
			for k, pr := range pairs {
				if pr.s > pairs[bi].s {
					bi = k
				}
			}
			pr := pairs[bi]
			pairs = append(pairs[:bi], pairs[bi+1:]...)
			if usedQ[pr.i] || usedP[pr.j] {
				continue
			}
			usedQ[pr.i], usedP[pr.j] = true, true
			order[pr.i] = pr.j
			sum += pr.s
			matched++
			level = max(level, pr.level)
		}
		if matched > 0 {
			s := sum / float64(len(qs)+len(pw)-matched)
			if level > levelSame && !rotation(order) {
				// Words found in another order than any way of writing
				// the name: syllables of another given name.
				s *= 0.8
			}
			if s > best.score {
				best.score, best.level = s, level
			}
		}
	}
	return best
}

// scratch returns alignForms' marks of the query's nq words and a
// segmentation's np words used, all false, and the order of the query's
// words' matches, all -1.
func (m *matcher) scratch(nq, np int) (usedQ, usedP []bool, order []int) {
	if cap(m.usedQ) < nq {
		m.usedQ, m.order = make([]bool, nq), make([]int, nq)
	}
	if cap(m.usedP) < np {
		m.usedP = make([]bool, np)
	}
	usedQ, usedP, order = m.usedQ[:nq], m.usedP[:np], m.order[:nq]
	clear(usedQ)
	clear(usedP)
	for i := range order {
		order[i] = -1
	}
	return usedQ, usedP, order
}

// rotation says whether the matched positions (-1: unmatched) increase,
// allowing one wrap-around — the family name written last instead of
// first.
func rotation(order []int) bool {
	first, prev, descents := -1, -1, 0
	for _, j := range order {
		if j < 0 {
			continue
		}
		if first < 0 {
			first = j
		} else if j < prev {
			descents++
		}
		prev = j
	}
	return descents == 0 || descents == 1 && prev < first
}

// matchKeys scores the query forms against every form of a person (its
// written forms, persons.NameForms) and explains the best; the score is
// 0–99.
func (m *matcher) matchKeys(forms []persons.NameForm) nameMatch {
	var best formMatch
	seen := map[string]bool{}
	// A score is at most 1 and only a higher one replaces the best: the
	// first pair scoring 1 is the answer.
	for _, f := range persons.AllForms(forms) {
		if best.score >= 1 {
			break
		}
		// As for the query's forms: a repeated form of the person (a
		// name and its alias alike, a transliteration equal to a recorded
		// spelling) scores as its first.
		k := formKey(f, true)
		if seen[k] {
			continue
		}
		seen[k] = true
		pf := m.newPform(f)
		for _, qf := range m.forms {
			if fm := m.matchForms(qf, pf); fm.score > best.score {
				best = fm
				if best.score >= 1 {
					break
				}
			}
		}
	}
	if best.level == levelSame && !best.q.Machine() && !best.p.Machine() {
		return nameMatch{} // the words as written: matchNameForms' to score
	}
	score := min(99, int(math.Round(100*best.score)))
	if score < minKeyScore {
		return nameMatch{}
	}
	return nameMatch{score: score, reason: explainKeys(m.q.name, best, score), byKeys: true}
}

func explainKeys(query string, m formMatch, score int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name %q", query)
	if m.q.Machine() {
		fmt.Fprintf(&b, " (in %s %q)", m.q.Kind, m.q.Text)
	}
	b.WriteString(" matches ")
	if m.p.Machine() {
		fmt.Fprintf(&b, "the name %q through its %s %q", m.p.Of, m.p.Kind, m.p.Text)
	} else {
		b.WriteString(describeForm(m.p))
	}
	switch m.level {
	case levelSame:
		if m.q.Machine() || m.p.Machine() {
			b.WriteString(": the same transliteration")
		}
	case levelTranslit:
		b.WriteString(": Wade–Giles and Pinyin spellings of the same syllables")
	case levelEquivalent:
		b.WriteString(": equivalent names (names/equivalents.txt)")
	case levelPhonetic:
		b.WriteString(": the same sound (phonetic key)")
	case levelFuzzy:
		b.WriteString(": a similar spelling (Jaro–Winkler)")
	}
	if m.run {
		b.WriteString(", spacing ignored")
	}
	fmt.Fprintf(&b, ", score %d", score)
	return b.String()
}

// useKeys says whether the name's keys are searched and scored: not for a
// query of one Latin word, which shares at most half the words of a name
// of two — under the lowest score of a match through keys — and would
// read and score every person of a common family name for nothing. A
// word in another script is romanized into a whole name ("김성민").
func (q query) useKeys() bool {
	if len(q.forms) == 0 {
		return false
	}
	if len(q.words) > 1 {
		return true
	}
	for _, f := range q.forms {
		if f.Machine() && f.Kind != persons.SystemWadeGilesP {
			return true
		}
	}
	return false
}

// matchName scores the query's name against a person's written forms
// (persons.NameForms): the words as written first (matchNameForms), then the
// keys when that is not a full match. written is matchNameForms' result.
func (m *matcher) matchName(forms []persons.NameForm, written nameMatch) nameMatch {
	if written.score == 100 || !m.q.useKeys() {
		return written
	}
	if k := m.matchKeys(forms); k.score > written.score {
		return k
	}
	return written
}
