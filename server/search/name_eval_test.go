package search

// The name-matching evaluation: several hundred target persons with names
// in Chinese, Korean, Thai, Russian, Ukrainian, Vietnamese and Arabic,
// thousands of namesakes drawn from the same name parts, and queries in
// every variant class an officer of another country would type. The
// spellings come from testdata/nameeval (Pinyin and Wade–Giles,
// Revised Romanization and McCune–Reischauer, RTGS, common passport
// spellings) and from the Cyrillic standards written out below — never
// from the search's own tables, so the evaluation does not grade the
// search against itself.

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/store"
)

// evalPart is one line of a testdata/nameeval file.
type evalPart struct {
	kind   string // F family, G given (syllable or whole), M middle (Vietnamese)
	native string
	// latin are the spellings after the native form, file-dependent.
	latin []string
}

func readEvalParts(t testing.TB, lang string) []evalPart {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "nameeval", lang+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []evalPart
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		p := evalPart{kind: fs[0], native: fs[1]}
		// Arabic lines may hold a spelling with a space ("Abdel Rahman"):
		// the fields after the native form are comma lists.
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, fs[0]), " "+fs[1]))
		if lang == "ar" && rest != "" {
			first, more, _ := strings.Cut(rest, " ")
			p.latin = append([]string{first}, strings.Split(more, ",")...)
		} else {
			p.latin = fs[2:]
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// evalName is a person's name in every spelling the evaluation uses, each
// as [family, given].
type evalName struct {
	lang   string
	native [2]string // the name as written in its own script
	std    [2]string // the standard romanization a record keeps
	// other are spellings under another standard system (McCune–Reischauer,
	// Wade–Giles, BGN/PCGN), popular the spellings people and foreign
	// agencies commonly write.
	other, popular [][2]string
	givenFirst     bool // written given name first (Thai, Russian, …)
}

func (n evalName) text(p [2]string) string {
	if n.givenFirst {
		return strings.TrimSpace(p[1] + " " + p[0])
	}
	return strings.TrimSpace(p[0] + " " + p[1])
}

// Variant classes of the queries.
const (
	classSame     = "same spelling"      // Latin query, the record's own Latin spelling
	classOther    = "other romanization" // another standard system; record native + its standard Latin
	classVariant  = "spelling variant"   // Latin query, Latin-only record in another spelling
	classNativeQ  = "native query"       // native-script query, Latin-only record
	classNativeR  = "native record"      // Latin query, native-only record
	shapeBoth     = "both"               // record shapes: native with its standard Latin,
	shapeNative   = "native"             // native only,
	shapeLatin    = "latin"              // standard Latin only,
	shapePopular  = "popular"            // a common spelling only
	evalPageSize  = 20
	evalNamesakes = 12 // namesakes per target
)

var evalClasses = []string{classSame, classOther, classVariant, classNativeQ, classNativeR}

func (n evalName) person(id, shape string) *liaisonv1.Person {
	pn := &liaisonv1.PersonName{}
	switch shape {
	case shapeBoth:
		pn.FamilyName, pn.GivenNames = n.native[0], n.native[1]
		pn.LatinFamilyName, pn.LatinGivenNames = n.std[0], n.std[1]
	case shapeNative:
		pn.FamilyName, pn.GivenNames = n.native[0], n.native[1]
	case shapeLatin:
		pn.FamilyName, pn.GivenNames = n.std[0], n.std[1]
	case shapePopular:
		p := n.std
		if len(n.popular) > 0 {
			p = n.popular[0]
		}
		pn.FamilyName, pn.GivenNames = p[0], p[1]
	}
	return &liaisonv1.Person{Id: id, Names: []*liaisonv1.PersonName{pn}}
}

// evalQuery is one query and the record it must find.
type evalQuery struct {
	lang, class, text string
	target            string // record id of the target in the shape the class needs
	person            string // the target person: its other shapes are not namesakes
}

// queries are the evaluation's queries for a target whose records are
// "<id>-<shape>".
func (n evalName) queries(id string) []evalQuery {
	var out []evalQuery
	add := func(class, text, shape string) {
		out = append(out, evalQuery{lang: n.lang, class: class, text: text, target: id + "-" + shape, person: id})
	}
	add(classSame, n.text(n.std), shapeLatin)
	for _, o := range n.other {
		add(classOther, n.text(o), shapeBoth)
	}
	for _, v := range append(slices.Clone(n.other), n.popular...) {
		add(classVariant, n.text(v), shapeLatin)
	}
	add(classNativeQ, n.text(n.native), shapeLatin)
	if len(n.popular) > 0 {
		add(classNativeQ, n.text(n.native), shapePopular)
	}
	add(classNativeR, n.text(n.std), shapeNative)
	for _, v := range append(slices.Clone(n.other), n.popular...)[:min(1, len(n.other)+len(n.popular))] {
		add(classNativeR, n.text(v), shapeNative)
	}
	return out
}

// evalLanguage makes names of one language from its parts.
type evalLanguage struct {
	lang    string
	targets int
	make    func(r *rand.Rand) evalName
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.Intn(len(xs))] }

func byKind(parts []evalPart, kind string) []evalPart {
	var out []evalPart
	for _, p := range parts {
		if p.kind == kind {
			out = append(out, p)
		}
	}
	return out
}

func evalLanguages(t testing.TB) []evalLanguage {
	zh, ko, th := readEvalParts(t, "zh"), readEvalParts(t, "ko"), readEvalParts(t, "th")
	ru, uk, vi, ar := readEvalParts(t, "ru"), readEvalParts(t, "uk"), readEvalParts(t, "vi"), readEvalParts(t, "ar")
	return []evalLanguage{
		{"zh", 50, func(r *rand.Rand) evalName {
			f := pick(r, byKind(zh, "F"))
			g := []evalPart{pick(r, byKind(zh, "G"))}
			if r.Intn(10) < 7 {
				g = append(g, pick(r, byKind(zh, "G")))
			}
			n := evalName{lang: "zh", native: [2]string{f.native, ""}, std: [2]string{f.latin[0], ""}}
			var wg []string
			for _, p := range g {
				n.native[1] += p.native
				n.std[1] += strings.ToLower(p.latin[0])
				wg = append(wg, strings.ToLower(p.latin[1]))
			}
			n.std[1] = title(n.std[1])
			n.other = [][2]string{{f.latin[1], title(strings.Join(wg, "-"))}}
			return n
		}},
		{"ko", 50, func(r *rand.Rand) evalName {
			f := pick(r, byKind(ko, "F"))
			g1, g2 := pick(r, byKind(ko, "G")), pick(r, byKind(ko, "G"))
			pop := strings.Split(f.latin[2], ",")
			popG := strings.Split(g1.latin[2], ",")[0] + "-" + strings.Split(g2.latin[2], ",")[0]
			if r.Intn(2) == 0 {
				popG = strings.ReplaceAll(popG, "-", "")
			}
			return evalName{lang: "ko",
				native:  [2]string{f.native, g1.native + g2.native},
				std:     [2]string{f.latin[0], title(g1.latin[0] + g2.latin[0])},
				other:   [][2]string{{f.latin[1], title(g1.latin[1] + "-" + g2.latin[1])}},
				popular: [][2]string{{pick(r, pop), title(popG)}},
			}
		}},
		{"th", 50, func(r *rand.Rand) evalName {
			f, g := pick(r, byKind(th, "F")), pick(r, byKind(th, "G"))
			fv, gv := strings.Split(f.latin[1], ","), strings.Split(g.latin[1], ",")
			return evalName{lang: "th", givenFirst: true,
				native:  [2]string{f.native, g.native},
				std:     [2]string{f.latin[0], g.latin[0]},
				popular: [][2]string{{pick(r, fv), pick(r, gv)}},
			}
		}},
		{"ru", 50, func(r *rand.Rand) evalName {
			f, g := pick(r, byKind(ru, "F")), pick(r, byKind(ru, "G"))
			fv, gv := strings.Split(f.latin[0], ","), strings.Split(g.latin[0], ",")
			n := evalName{lang: "ru", givenFirst: true,
				native:  [2]string{f.native, g.native},
				std:     [2]string{russianGOST(f.native), russianGOST(g.native)},
				popular: [][2]string{{pick(r, fv), pick(r, gv)}},
			}
			if b := [2]string{russianBGN(f.native), russianBGN(g.native)}; b != n.std {
				n.other = [][2]string{b}
			}
			return n
		}},
		{"uk", 40, func(r *rand.Rand) evalName {
			f, g := pick(r, byKind(uk, "F")), pick(r, byKind(uk, "G"))
			fv, gv := strings.Split(f.latin[0], ","), strings.Split(g.latin[0], ",")
			n := evalName{lang: "uk", givenFirst: true,
				native:  [2]string{f.native, g.native},
				std:     [2]string{ukrainianNational(f.native), ukrainianNational(g.native)},
				popular: [][2]string{{pick(r, fv), pick(r, gv)}},
			}
			if b := [2]string{ukrainianBGN(f.native), ukrainianBGN(g.native)}; b != n.std {
				n.other = [][2]string{b}
			}
			return n
		}},
		{"vi", 40, func(r *rand.Rand) evalName {
			f, m, g := pick(r, byKind(vi, "F")), pick(r, byKind(vi, "M")), pick(r, byKind(vi, "G"))
			native := [2]string{f.native, m.native + " " + g.native}
			plain := [2]string{stripDiacritics(native[0]), stripDiacritics(native[1])}
			// Foreign records often put the given name first and keep the
			// middle name with it ("Van An Nguyen").
			return evalName{lang: "vi", native: native, std: plain,
				popular: [][2]string{{"", plain[1] + " " + plain[0]}}}
		}},
		{"ar", 50, func(r *rand.Rand) evalName {
			f, g := pick(r, byKind(ar, "F")), pick(r, byKind(ar, "G"))
			return evalName{lang: "ar", givenFirst: true,
				native:  [2]string{f.native, g.native},
				std:     [2]string{f.latin[0], g.latin[0]},
				popular: [][2]string{{pick(r, f.latin[1:]), pick(r, g.latin[1:])}},
			}
		}},
	}
}

func stripDiacritics(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r == 'Đ':
			b.WriteRune('D')
		case r == 'đ':
			b.WriteRune('d')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// The Cyrillic standards, written out here independently of the search's
// own tables. GOST R 52535.1-2006 is the passport table (ICAO 9303);
// BGN/PCGN 1947 writes е/ё as "ye" after a vowel or at the start, й as "y".
var gostRU = map[rune]string{'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh", 'з': "z", 'и': "i",
	'й': "i", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh",
	'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "ie", 'ы': "y", 'ь': "", 'э': "e", 'ю': "iu", 'я': "ia"}

func russianGOST(s string) string {
	return cyrillic(s, func(r rune, _ int, _ rune) string { return gostRU[r] })
}

func russianBGN(s string) string {
	return cyrillic(s, func(r rune, i int, prev rune) string {
		afterVowel := i == 0 || strings.ContainsRune("аеёиоуыэюяйъь", prev)
		switch r {
		case 'е':
			if afterVowel {
				return "ye"
			}
			return "e"
		case 'ё':
			if afterVowel {
				return "yo"
			}
			return "yo"
		case 'й', 'ы':
			return "y"
		case 'ю':
			return "yu"
		case 'я':
			return "ya"
		case 'ъ', 'ь':
			return ""
		}
		return gostRU[r]
	})
}

// The Ukrainian national system (2010): є ї й ю я are "ye yi y yu ya" at
// the start of a word and "ie i i iu ia" elsewhere; г is "h", ґ "g", и
// "y", і "i", зг "zgh".
var nationalUK = map[rune]string{'а': "a", 'б': "b", 'в': "v", 'г': "h", 'ґ': "g", 'д': "d", 'е': "e", 'ж': "zh", 'з': "z", 'и': "y",
	'і': "i", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh",
	'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch", 'ь': ""}

func ukrainianNational(s string) string {
	initial := map[rune]string{'є': "ye", 'ї': "yi", 'й': "y", 'ю': "yu", 'я': "ya"}
	medial := map[rune]string{'є': "ie", 'ї': "i", 'й': "i", 'ю': "iu", 'я': "ia"}
	return cyrillic(s, func(r rune, i int, prev rune) string {
		if r == 'г' && prev == 'з' {
			return "gh"
		}
		if v, ok := initial[r]; ok {
			if i == 0 {
				return v
			}
			return medial[r]
		}
		return nationalUK[r]
	})
}

// BGN/PCGN 1965 for Ukrainian: є ї й ю я are "ye yi y yu ya" everywhere.
func ukrainianBGN(s string) string {
	all := map[rune]string{'є': "ye", 'ї': "yi", 'й': "y", 'ю': "yu", 'я': "ya"}
	return cyrillic(s, func(r rune, _ int, _ rune) string {
		if v, ok := all[r]; ok {
			return v
		}
		return nationalUK[r]
	})
}

func cyrillic(s string, letter func(r rune, i int, prev rune) string) string {
	var b strings.Builder
	prev := rune(0)
	i := 0
	for _, r := range s {
		lower := unicode.ToLower(r)
		if unicode.Is(unicode.Cyrillic, r) {
			w := letter(lower, i, prev)
			if r != lower && w != "" {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			i++
		} else {
			b.WriteRune(r)
			i = 0
		}
		prev = lower
	}
	return b.String()
}

// evalSet is the whole evaluation: its records and queries.
type evalSet struct {
	records []store.IndexedRecord
	queries []evalQuery
	persons int // targets plus namesakes
}

func buildEvalSet(t testing.TB) evalSet {
	r := rand.New(rand.NewSource(16))
	var set evalSet
	shapes := []string{shapeBoth, shapeNative, shapeLatin, shapePopular}
	add := func(id string, ps ...*liaisonv1.Person) {
		set.records = append(set.records, store.IndexedRecord{Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: id, Title: "eval " + id,
			OriginAgency: "alpha", Persons: ps})
	}
	for _, l := range evalLanguages(t) {
		used := map[string]bool{}
		fresh := func() (evalName, bool) {
			for range 2000 {
				n := l.make(r)
				// A distinct native name and a distinct standard spelling: a
				// namesake never shares the target's written name.
				key := n.native[0] + " " + n.native[1]
				std := strings.ToLower(n.std[0] + " " + n.std[1])
				if !used[key] && !used[std] {
					used[key], used[std] = true, true
					return n, true
				}
			}
			return evalName{}, false // the language's pool is used up
		}
		for i := 0; i < l.targets; i++ {
			n, ok := fresh()
			if !ok {
				t.Fatalf("%s: too few name parts for %d targets", l.lang, l.targets)
			}
			id := fmt.Sprintf("%s-t%d", l.lang, i)
			for _, s := range shapes {
				add(id+"-"+s, n.person(id, s))
			}
			set.queries = append(set.queries, n.queries(id)...)
			set.persons++
		}
		for i := 0; i < l.targets*evalNamesakes; i++ {
			n, ok := fresh()
			if !ok {
				break
			}
			id := fmt.Sprintf("%s-n%d", l.lang, i)
			s := pick(r, shapes)
			add(id+"-"+s, n.person(id, s))
			set.persons++
		}
	}
	// Distinct queries only: a class may produce the same text twice for
	// one target (a common spelling equal to the standard one).
	seen := map[string]bool{}
	qs := set.queries[:0]
	for _, q := range set.queries {
		k := q.class + "\x00" + q.text + "\x00" + q.target
		if !seen[k] {
			seen[k] = true
			qs = append(qs, q)
		}
	}
	set.queries = qs
	return set
}

// evalFigures are the results of one group of queries.
type evalFigures struct {
	queries, found, namesakeAbove, hits int
}

func (f *evalFigures) add(g evalFigures) {
	f.queries += g.queries
	f.found += g.found
	f.namesakeAbove += g.namesakeAbove
	f.hits += g.hits
}

func (f evalFigures) recall() float64 { return 100 * float64(f.found) / float64(max(f.queries, 1)) }
func (f evalFigures) above() float64 {
	return 100 * float64(f.namesakeAbove) / float64(max(f.queries, 1))
}
func (f evalFigures) meanHits() float64 { return float64(f.hits) / float64(max(f.queries, 1)) }

func (f evalFigures) String() string {
	return fmt.Sprintf("%5d queries  recall@20 %5.1f%%  namesake above %4.1f%%  hits/query %4.1f",
		f.queries, f.recall(), f.above(), f.meanHits())
}

// TestSearch_NameEvaluation runs the evaluation and asserts the targets of
// issue 16: recall@20 at least 95% overall and 90% in every variant class,
// a namesake above the target in at most 2% of queries, at most 5 hits per
// query on average. LIAISON_NAME_EVAL_MISSES=<n> logs up to n missed
// queries per class.
func TestSearch_NameEvaluation(t *testing.T) {
	if testing.Short() {
		t.Skip("the name evaluation indexes thousands of persons")
	}
	set := buildEvalSet(t)
	s := openStore(t)
	index(t, s, set.records...)
	ctx := context.Background()
	byClass := map[string]*evalFigures{}
	byLang := map[string]*evalFigures{}
	var total evalFigures
	misses := map[string][]string{}
	for _, q := range set.queries {
		pq, err := parse(&liaisonv1.SearchPersonsRequest{Name: q.text, PageSize: evalPageSize})
		if err != nil {
			t.Fatalf("%s: %v", q.text, err)
		}
		win, err := run(ctx, s, pq)
		hits := win.hits
		if err != nil {
			t.Fatal(err)
		}
		// Hits count persons: the target's records in other shapes are one.
		found := map[string]bool{}
		for _, h := range hits {
			found[h.GetPerson().GetId()] = true
		}
		g := evalFigures{queries: 1, hits: len(found)}
		rank := -1
		for i, h := range hits {
			if h.GetRecordId() == q.target {
				rank = i
				break
			}
		}
		if rank >= 0 {
			g.found = 1
			for _, h := range hits[:rank] {
				// Another record of the target person is the same person.
				if h.GetPerson().GetId() != q.person && h.GetScore() > hits[rank].GetScore() {
					g.namesakeAbove = 1
					misses[q.class+" (namesake above)"] = append(misses[q.class+" (namesake above)"],
						fmt.Sprintf("%s %q: %s %q above the target %q", q.lang, q.text, h.GetRecordId(), personText(h.GetPerson()), personText(hits[rank].GetPerson())))
					break
				}
			}
		} else {
			misses[q.class] = append(misses[q.class], fmt.Sprintf("%s %q → %s (%d hits)", q.lang, q.text, q.target, len(hits)))
		}
		for _, mk := range []struct {
			m map[string]*evalFigures
			k string
		}{{byClass, q.class}, {byLang, q.lang}} {
			m, k := mk.m, mk.k
			if m[k] == nil {
				m[k] = &evalFigures{}
			}
			m[k].add(g)
		}
		total.add(g)
	}
	t.Logf("name evaluation: %d persons (%d records), %d queries", set.persons, len(set.records), len(set.queries))
	for _, c := range evalClasses {
		if f := byClass[c]; f != nil {
			t.Logf("  %-20s %v", c, *f)
		}
	}
	langs := []string{"zh", "ko", "th", "ru", "uk", "vi", "ar"}
	for _, l := range langs {
		if f := byLang[l]; f != nil {
			t.Logf("  %-20s %v", l, *f)
		}
	}
	t.Logf("  %-20s %v", "all", total)
	if n := envInt("LIAISON_NAME_EVAL_MISSES"); n > 0 {
		keys := make([]string, 0, len(misses))
		for k := range misses {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			for _, m := range misses[k][:min(n, len(misses[k]))] {
				t.Logf("miss, %s: %s", k, m)
			}
		}
	}
	if total.recall() < 95 {
		t.Errorf("recall@20 %.1f%% overall, want ≥ 95%%", total.recall())
	}
	for _, c := range evalClasses {
		if f := byClass[c]; f != nil && f.recall() < 90 {
			t.Errorf("recall@20 %.1f%% for %s, want ≥ 90%%", f.recall(), c)
		}
	}
	// Every script too: no language may be served worse than the classes.
	for lang, f := range byLang {
		if f.recall() < 90 {
			t.Errorf("recall@20 %.1f%% for %s names, want ≥ 90%%", f.recall(), lang)
		}
	}
	if total.above() > 2 {
		t.Errorf("a namesake above the target in %.1f%% of queries, want ≤ 2%%", total.above())
	}
	if total.meanHits() > 5 {
		t.Errorf("%.1f hits per query, want ≤ 5", total.meanHits())
	}
}

func personText(p *liaisonv1.Person) string {
	n := p.GetNames()[0]
	return strings.TrimSpace(strings.Join([]string{n.GetFamilyName(), n.GetGivenNames(), n.GetLatinFamilyName(), n.GetLatinGivenNames()}, " "))
}

func envInt(k string) int {
	var n int
	fmt.Sscan(os.Getenv(k), &n)
	return n
}
