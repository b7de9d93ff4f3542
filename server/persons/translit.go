package persons

import (
	"bufio"
	"embed"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/mozillazg/go-pinyin"
)

// The tables behind transliteration, equivalent names and the phonetic
// skeleton are data, in names/: extend them there.
//
//go:embed names/*.txt
var nameData embed.FS

// readTable returns the fields of every line of a names/ file, comments
// and blank lines left out.
func readTable(file string) [][]string {
	f, err := nameData.Open("names/" + file)
	if err != nil {
		panic(fmt.Sprintf("persons: %v", err)) // embedded: cannot happen in a built binary
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Fields(line))
	}
	return out
}

func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// Romanization systems, as named in a hit's reason.
const (
	SystemPinyin     = "Hanyu Pinyin"
	SystemWadeGiles  = "Wade–Giles"
	SystemRR         = "Revised Romanization"
	SystemMR         = "McCune–Reischauer"
	SystemRTGS       = "RTGS"
	SystemGOST       = "GOST R 52535.1 (ICAO 9303)"
	SystemBGN        = "BGN/PCGN"
	SystemUkrainian  = "the Ukrainian national system"
	SystemArabic     = "Arabic consonants"
	SystemWadeGilesP = "Wade–Giles read as Pinyin"
)

// romanizer writes one search word of a script in Latin letters under
// each of its systems; family says the word is (part of) a family name.
type romanizer struct {
	systems []string
	word    func(w string, family bool) []string // one per system
}

// script returns the romanizer for the script of w, nil if w is Latin
// or in a script without one.
func script(w string) *romanizer {
	for _, r := range w {
		switch {
		case unicode.Is(unicode.Han, r):
			return &hanRomanizer
		case unicode.Is(unicode.Hangul, r):
			return &hangulRomanizer
		case unicode.Is(unicode.Thai, r):
			return &thaiRomanizer
		case unicode.Is(unicode.Cyrillic, r):
			return &cyrillicRomanizer
		case unicode.Is(unicode.Arabic, r):
			return &arabicRomanizer
		case unicode.IsLetter(r):
			return nil
		}
	}
	return nil
}

// Romanizations are the machine transliterations of a form written in a
// non-Latin script, one form per system, with Kind the system's name and
// Of the form's text. A form in Latin letters has none.
func Romanizations(f NameForm) []NameForm {
	var rz *romanizer
	for _, w := range f.Words {
		if rz = script(w); rz != nil {
			break
		}
	}
	if rz == nil {
		return nil
	}
	out := make([]NameForm, len(rz.systems))
	for i, sys := range rz.systems {
		out[i] = NameForm{Kind: sys, Of: f.Text, machine: true}
	}
	// The words as written, where they line up with the search words:
	// NameWords folds letters a standard writes apart (Cyrillic й and и).
	written := WrittenWords(f.Text)
	if len(written) != len(f.Words) {
		written = nil
	}
	k := 0
	for pi, part := range f.Parts {
		per := make([][]string, len(rz.systems))
		for wi, w := range part {
			if written != nil {
				w = strings.ToLower(written[k])
			}
			k++
			// The family name: the first part of two, or the first word of
			// a name in one part (Chinese and Korean names are written
			// family name first).
			family := pi == 0 && (len(f.Parts) == 2 || len(part) > 1 && wi == 0)
			var ws []string
			if s := script(w); s == rz {
				ws = rz.word(w, family)
			} else {
				ws = make([]string, len(rz.systems))
				for i := range ws {
					ws[i] = w
				}
			}
			for i, x := range ws {
				per[i] = append(per[i], NameWords(x)...)
			}
		}
		for i := range out {
			if len(per[i]) > 0 {
				out[i].Parts = append(out[i].Parts, per[i])
				out[i].Words = append(out[i].Words, per[i]...)
			}
		}
	}
	kept := out[:0]
	for _, o := range out {
		if len(o.Words) == 0 {
			continue
		}
		var texts []string
		for _, p := range o.Parts {
			texts = append(texts, titleWords(p))
		}
		o.Text = strings.Join(texts, " ")
		kept = append(kept, o)
	}
	return kept
}

func titleWords(ws []string) string {
	out := make([]string, len(ws))
	for i, w := range ws {
		rs := []rune(w)
		rs[0] = unicode.ToUpper(rs[0])
		out[i] = string(rs)
	}
	return strings.Join(out, " ")
}

// ---- Han: Hanyu Pinyin through github.com/mozillazg/go-pinyin, and
// Wade–Giles from the pinyin by names/wadegiles.txt.

var hanRomanizer = romanizer{systems: []string{SystemPinyin, SystemWadeGiles}, word: func(w string, family bool) []string {
	var py, wg strings.Builder
	for i, r := range []rune(w) {
		s := ""
		if family && i == 0 {
			s = hanSurnames()[r]
		}
		if s == "" {
			if rs := pinyin.SinglePinyin(r, pinyinArgs); len(rs) > 0 {
				s = rs[0]
			}
		}
		if s == "" {
			s = string(r)
		}
		py.WriteString(s)
		wg.WriteString(wadeGiles(s))
	}
	return []string{py.String(), wg.String()}
}}

var pinyinArgs = func() pinyin.Args {
	a := pinyin.NewArgs()
	a.Style = pinyin.Normal
	return a
}()

var hanSurnames = sync.OnceValue(func() map[rune]string {
	m := map[rune]string{}
	for _, f := range readTable("han_surnames.txt") {
		m[[]rune(f[0])[0]] = f[1]
	}
	return m
})

type wgTables struct {
	initial, final, whole map[string]string
	// toPinyin reads a Wade–Giles syllable (apostrophes and ü dropped) as
	// the pinyin syllables it may be.
	toPinyin map[string][]string
	// fromPinyin is toPinyin the other way: a pinyin syllable's
	// Wade–Giles spellings.
	fromPinyin map[string][]string
}

var wg = sync.OnceValue(buildWG)

// buildWG reads the Wade–Giles tables and works out every pinyin
// syllable's Wade–Giles spelling.
func buildWG() *wgTables {
	t := &wgTables{initial: map[string]string{}, final: map[string]string{}, whole: map[string]string{}, toPinyin: map[string][]string{}, fromPinyin: map[string][]string{}}
	for _, f := range readTable("wadegiles.txt") {
		switch f[0] {
		case "I":
			t.initial[f[1]] = f[2]
		case "F":
			t.final[f[1]] = f[2]
		case "Z", "W":
			t.whole[f[1]] = f[2]
		}
	}
	// Every pinyin syllable the dictionary knows, read back.
	seen := map[string]bool{}
	for r := range pinyin.PinyinDict {
		for _, s := range pinyin.SinglePinyin(rune(r), pinyinHeteronym) {
			if seen[s] || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz") != "" {
				continue // seen, or a syllable written with ê or ü
			}
			seen[s] = true
			k := plainLatin(wadeGilesWith(t, s))
			t.toPinyin[k] = append(t.toPinyin[k], s)
			t.fromPinyin[s] = append(t.fromPinyin[s], k)
		}
	}
	// The dictionary is a map: its order differs from one run to the next,
	// and a word's readings are capped, so unsorted two nodes (or two runs)
	// could keep different readings of the same name — different name
	// keys, a blind match missed.
	for _, r := range t.toPinyin {
		slices.Sort(r)
	}
	return t
}

var pinyinHeteronym = func() pinyin.Args {
	a := pinyin.NewArgs()
	a.Style = pinyin.Normal
	a.Heteronym = true
	return a
}()

func wadeGiles(py string) string { return wadeGilesWith(wg(), py) }

func wadeGilesWith(t *wgTables, py string) string {
	py = strings.ReplaceAll(py, "ü", "v")
	if w, ok := t.whole[py]; ok {
		return w
	}
	for _, n := range []int{2, 1} {
		if len(py) <= n {
			continue
		}
		ini, fin := py[:n], py[n:]
		w, ok := t.initial[ini]
		if !ok {
			continue
		}
		if strings.ContainsAny(ini[:1], "jqxy") && strings.HasPrefix(fin, "u") {
			fin = "v" + fin[1:]
		}
		if ini == "y" {
			w = "y"
		}
		if f, ok := t.final[fin]; ok {
			return w + f
		}
	}
	return py
}

// plainLatin is s lower case, without apostrophes or accents (ü → u).
func plainLatin(s string) string { return strings.Join(NameWords(s), "") }

var wgMemo = NewMemo[[]string](100_000)

// PinyinOfWadeGiles returns the pinyin readings of a Latin word that is a
// Wade–Giles syllable (or a run of them, as "Chia-jui" is written
// "chiajui"), nil otherwise.
func PinyinOfWadeGiles(w string) []string { return wgMemo.Get(w, pinyinOfWadeGiles) }

func pinyinOfWadeGiles(w string) []string {
	if len(w) > 24 {
		return nil
	}
	t := wg()
	var out []string
	var walk func(rest, acc string, depth int)
	walk = func(rest, acc string, depth int) {
		if rest == "" {
			if acc != w {
				out = append(out, acc)
			}
			return
		}
		// A syllable is at most 7 letters: a rest longer than the
		// syllables left can take is no reading.
		if depth == 3 || len(out) >= 8 || len(rest) > 7*(3-depth) {
			return
		}
		for n := min(len(rest), 7); n >= 1; n-- {
			for _, py := range t.toPinyin[rest[:n]] {
				walk(rest[n:], acc+py, depth+1)
			}
		}
	}
	walk(w, "", 0)
	return out
}

// IsPinyinOfWadeGiles says whether reading is one of PinyinOfWadeGiles(w)
// without working out (and keeping) every reading of w: most words asked
// about are read by no syllables that spell reading, and a search asks it
// of every candidate's whole name run together, a word seldom seen twice.
func IsPinyinOfWadeGiles(w, reading string) bool {
	if len(w) > 24 || reading == w || !spellsReading(wg(), w, reading, 0) {
		return false
	}
	// PinyinOfWadeGiles keeps the first readings it finds only.
	return slices.Contains(PinyinOfWadeGiles(w), reading)
}

// WadeGilesSpellings returns every word w for which
// IsPinyinOfWadeGiles(w, reading) may hold: the runs of at most three
// Wade–Giles syllables whose pinyin readings spell reading. A search asks
// IsPinyinOfWadeGiles of each of its words against every word of every
// candidate; a word not in the set is answered without walking its
// syllables.
func WadeGilesSpellings(reading string) map[string]bool {
	t := wg()
	out := map[string]bool{}
	var walk func(rest, acc string, depth int)
	walk = func(rest, acc string, depth int) {
		if rest == "" {
			out[acc] = true
			return
		}
		if depth == 3 {
			return
		}
		for n := 1; n <= len(rest); n++ {
			for _, k := range t.fromPinyin[rest[:n]] {
				walk(rest[n:], acc+k, depth+1)
			}
		}
	}
	walk(reading, "", 0)
	return out
}

// spellsReading says whether rest splits into at most 3-depth Wade–Giles
// syllables whose readings spell target: the walk of pinyinOfWadeGiles,
// following only the readings target begins with.
func spellsReading(t *wgTables, rest, target string, depth int) bool {
	if rest == "" {
		return target == ""
	}
	if depth == 3 || len(rest) > 7*(3-depth) {
		return false
	}
	for n := min(len(rest), 7); n >= 1; n-- {
		for _, py := range t.toPinyin[rest[:n]] {
			if strings.HasPrefix(target, py) && spellsReading(t, rest[n:], target[len(py):], depth+1) {
				return true
			}
		}
	}
	return false
}

// ---- Hangul: syllable blocks decomposed (Unicode's arithmetic), jamo by
// names/hangul.txt.

var hangulTable = sync.OnceValue(func() (t [3][][2]string) {
	t[0], t[1], t[2] = make([][2]string, 19), make([][2]string, 21), make([][2]string, 28)
	for _, f := range readTable("hangul.txt") {
		var i int
		fmt.Sscan(f[1], &i)
		pos := strings.Index("IMF", f[0])
		if f[0] == "F" && i == 0 {
			continue
		}
		t[pos][i] = [2]string{dash(f[3]), dash(f[4])}
	}
	return t
})

var hangulRomanizer = romanizer{systems: []string{SystemRR, SystemMR}, word: func(w string, _ bool) []string {
	t := hangulTable()
	var rr, mr strings.Builder
	for _, r := range w {
		if r < 0xAC00 || r > 0xD7A3 {
			rr.WriteRune(r)
			mr.WriteRune(r)
			continue
		}
		s := int(r - 0xAC00)
		ini, med, fin := s/(21*28), s%(21*28)/28, s%28
		for i, b := range []*strings.Builder{&rr, &mr} {
			b.WriteString(t[0][ini][i])
			b.WriteString(t[1][med][i])
			b.WriteString(t[2][fin][i])
		}
	}
	return []string{rr.String(), mr.String()}
}}

// ---- Cyrillic: names/cyrillic.txt.

var cyrillicTable = sync.OnceValue(func() map[rune][5]string {
	m := map[rune][5]string{}
	for _, f := range readTable("cyrillic.txt") {
		m[[]rune(f[0])[0]] = [5]string{dash(f[1]), dash(f[2]), dash(f[3]), dash(f[4]), dash(f[5])}
	}
	return m
})

var cyrillicRomanizer = romanizer{systems: []string{SystemGOST, SystemBGN, SystemUkrainian}, word: func(w string, _ bool) []string {
	t := cyrillicTable()
	var gost, bgn, ukr strings.Builder
	prev, i := rune(0), 0
	for _, r := range w {
		e, ok := t[r]
		if !ok {
			gost.WriteRune(r)
			bgn.WriteRune(r)
			ukr.WriteRune(r)
			prev, i = r, 0
			continue
		}
		gost.WriteString(e[0])
		if i == 0 || strings.ContainsRune("аеёиоуыэюяіїєъь", prev) {
			bgn.WriteString(e[2])
		} else {
			bgn.WriteString(e[1])
		}
		switch {
		case r == 'г' && prev == 'з':
			ukr.WriteString("gh")
		case i == 0:
			ukr.WriteString(e[4])
		default:
			ukr.WriteString(e[3])
		}
		prev = r
		i++
	}
	return []string{gost.String(), bgn.String(), ukr.String()}
}}

// ---- Arabic: consonants by names/arabic.txt; the article ال is written
// as a word of its own ("al"), as most Latin spellings do.

var arabicTable = sync.OnceValue(func() map[rune]string {
	m := map[rune]string{}
	for _, f := range readTable("arabic.txt") {
		v := ""
		if len(f) > 1 {
			v = dash(f[1])
		}
		m[[]rune(f[0])[0]] = v
	}
	return m
})

var arabicRomanizer = romanizer{systems: []string{SystemArabic}, word: func(w string, _ bool) []string {
	// A name of the equivalence table is written as its group's name
	// (محمد "muhammad"): the vowels an abjad leaves out are known.
	if g := Equivalent(w); len(g) > 0 {
		return []string{g[0]}
	}
	t := arabicTable()
	var b strings.Builder
	rest := w
	if strings.HasPrefix(w, "ال") && len([]rune(w)) > 3 {
		b.WriteString("al ")
		rest = strings.TrimPrefix(w, "ال")
	}
	rs := []rune(rest)
	for i, r := range rs {
		v, ok := t[r]
		switch {
		case !ok:
			b.WriteRune(r)
		case r == 'ا' && i > 0:
			b.WriteString("a")
		default:
			b.WriteString(v)
		}
		// A short vowel is not written after ح or ه; the phonetic key
		// keeps an h only before a vowel, as Latin spellings have it
		// (حسين "Hussein").
		if (r == 'ح' || r == 'ه') && i+1 < len(rs) && !strings.ContainsRune("اويى", rs[i+1]) {
			b.WriteString("a")
		}
	}
	return []string{b.String()}
}}

// MachineForm is a form made by search from a name (a transliteration, a
// reading), of kind system.
func MachineForm(system, of string, parts [][]string) NameForm {
	f := NameForm{Kind: system, Of: of, machine: true}
	var texts []string
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		f.Parts = append(f.Parts, p)
		f.Words = append(f.Words, p...)
		texts = append(texts, titleWords(p))
	}
	f.Text = strings.Join(texts, " ")
	return f
}
