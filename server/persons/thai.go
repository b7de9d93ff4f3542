package persons

import (
	"strings"
	"sync"
)

// Thai in RTGS by names/thai.txt: a left-to-right reading of syllables —
// an optional leading vowel, an initial consonant or cluster, the vowel
// marks around it (or the inherent vowel: "o" in a closed syllable, "a" in
// an open one), and a final consonant. It reads the names of the
// evaluation set as the Royal Institute writes them in most cases; it does
// not know the exceptions a dictionary would (linking consonants such as
// ณัฐพล "Natthaphon", read here "Natphon" — the phonetic key absorbs
// the difference).

type thaiTables struct {
	initial, final map[rune]string
	cluster, mute  map[rune]bool
	vowels         []thaiVowel
}

type thaiVowel struct {
	lead, tail []rune // around the consonant
	value      string
}

var thaiTable = sync.OnceValue(func() *thaiTables {
	t := &thaiTables{initial: map[rune]string{}, final: map[rune]string{}, cluster: map[rune]bool{}, mute: map[rune]bool{}}
	for _, f := range readTable("thai.txt") {
		switch f[0] {
		case "C":
			r := []rune(f[1])[0]
			t.initial[r], t.final[r] = dash(f[2]), dash(f[3])
		case "K", "S":
			for _, x := range f[1:] {
				if f[0] == "K" {
					t.cluster[[]rune(x)[0]] = true
				} else {
					t.mute[[]rune(x)[0]] = true
				}
			}
		case "V":
			lead, tail, _ := strings.Cut(f[1], "C")
			t.vowels = append(t.vowels, thaiVowel{[]rune(lead), []rune(tail), f[2]})
		}
	}
	return t
})

var thaiRomanizer = romanizer{systems: []string{SystemRTGS}, word: func(w string, _ bool) []string {
	return []string{thaiRTGS(w)}
}}

func isThaiConsonant(r rune) bool { return r >= 'ก' && r <= 'ฮ' }

// thaiDependent are the vowel marks written after or over a consonant.
func thaiDependent(r rune) bool { return strings.ContainsRune("ะัาำิีึืุู", r) }

func thaiRTGS(w string) string {
	t := thaiTable()
	// Tone marks and the short-vowel mark do not change the spelling.
	var rs []rune
	// NameWords decomposes sara am (ำ) into nikhahit and sara aa.
	for _, r := range strings.ReplaceAll(w, "ํา", "ำ") {
		switch r {
		case '่', '้', '๊', '๋', '็':
		case '์': // the mark silences the consonant before it (and its vowel)
			if n := len(rs); n > 0 && strings.ContainsRune("ิุ", rs[n-1]) {
				rs = rs[:n-1]
			}
			if n := len(rs); n > 0 {
				rs = rs[:n-1]
			}
			if n := len(rs); n > 1 && rs[n-1] == 'ท' && isThaiConsonant(rs[n-2]) { // จันทร์ "chan"
				rs = rs[:n-1]
			}
		default:
			rs = append(rs, r)
		}
	}
	var b strings.Builder
	i := 0
	// initialAt reads the initial consonant or cluster at i: its Latin
	// letters and its length.
	initialAt := func(i int) (string, int) {
		c := rs[i]
		if i+1 < len(rs) && isThaiConsonant(rs[i+1]) {
			next := rs[i+1]
			vowel := i+2 < len(rs) && !isThaiConsonant(rs[i+2])
			switch {
			case c == 'ห' && strings.ContainsRune("งญนมยรลว", next) && (vowel || i+2 == len(rs)): // a leading ห only sets the tone
				return t.initial[next], 2
			case !vowel:
			case c == 'อ' && next == 'ย':
				return "y", 2
			case next == 'ร' && t.mute[c]: // ศรี "si"
				return t.initial[c], 2
			case t.cluster[c] && strings.ContainsRune("รลว", next):
				return t.initial[c] + t.initial[next], 2
			}
		}
		return t.initial[c], 1
	}
	// isFinal says whether the consonant at j closes the syllable before
	// it: it is not followed by a vowel mark of its own.
	isFinal := func(j int) bool {
		if j >= len(rs) || !isThaiConsonant(rs[j]) {
			return false
		}
		// One consonant left at the end is the final of a syllable of its
		// own (ธนากร "thanakon"); so is one before รร (สุวรรณ "suwan").
		if j+2 == len(rs) && isThaiConsonant(rs[j+1]) && !(rs[j] == 'ช' && rs[j+1] == 'ร') || j+2 < len(rs) && rs[j+1] == 'ร' && rs[j+2] == 'ร' {
			return false
		}
		if j+1 < len(rs) && (thaiDependent(rs[j+1]) || rs[j+1] == 'อ' && j+2 < len(rs) && isThaiConsonant(rs[j+2]) && rs[j] != 'อ') {
			return false
		}
		return true
	}
	for i < len(rs) {
		r := rs[i]
		if !isThaiConsonant(r) && !strings.ContainsRune("เแโใไ", r) {
			if !thaiDependent(r) {
				b.WriteRune(r)
			}
			i++
			continue
		}
		matched := false
		for _, v := range t.vowels {
			lead := len(v.lead)
			if i+lead >= len(rs) || string(rs[i:i+lead]) != string(v.lead) || !isThaiConsonant(rs[i+lead]) {
				continue
			}
			ini, n := initialAt(i + lead)
			// A leading vowel over two consonants that are no cluster: the
			// first takes "a" (เจริญ "charoen").
			if lead > 0 && strings.ContainsRune("เแ", rs[i]) && n == 1 && i+lead+1 < len(rs) && isThaiConsonant(rs[i+lead+1]) && i+lead+2 < len(rs) &&
				(thaiDependent(rs[i+lead+2]) || string(rs[i+lead+2:min(len(rs), i+lead+2+len(v.tail))]) == string(v.tail) && len(v.tail) > 0) {
				b.WriteString(ini + "a")
				rs = append(rs[:i+lead], rs[i+lead+1:]...)
				ini, n = initialAt(i + lead)
			}
			j := i + lead + n
			if j+len(v.tail) > len(rs) || string(rs[j:j+len(v.tail)]) != string(v.tail) {
				continue
			}
			if len(v.tail) == 0 && lead == 0 {
				continue // the inherent vowel is decided below
			}
			j += len(v.tail)
			b.WriteString(ini + v.value)
			if isFinal(j) {
				b.WriteString(t.final[rs[j]])
				j++
				if j < len(rs) && rs[j] == 'ร' && (j+1 == len(rs)) { // เพชร "phet"
					j++
				}
			}
			i, matched = j, true
			break
		}
		if matched {
			continue
		}
		ini, n := initialAt(i)
		j := i + n
		switch {
		case j+1 < len(rs) && rs[j] == 'ว' && isFinal(j+1): // ชวน "chuan"
			b.WriteString(ini + "ua" + t.final[rs[j+1]])
			i = j + 2
		case j+1 < len(rs) && rs[j] == 'ร' && rs[j+1] == 'ร': // สรรพ "sap"
			b.WriteString(ini + "a")
			if isFinal(j + 2) {
				b.WriteString(t.final[rs[j+2]])
				i = j + 3
			} else {
				b.WriteString("n")
				i = j + 2
			}
		case isFinal(j):
			b.WriteString(ini + "o" + t.final[rs[j]])
			i = j + 1
		case j >= len(rs) && i > 0:
			b.WriteString(t.final[r])
			i = j
		default:
			b.WriteString(ini + "a")
			i = j
		}
	}
	return b.String()
}
