package persons

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// NameWords splits a name into its search words: lower case, accents
// removed from Latin letters (and the Latin letters without a decomposition
// folded: "ø" → "o", "ß" → "ss"), apostrophes dropped ("O'Brien" →
// "obrien"), every other non-letter, non-digit rune a separator. Marks are
// removed where they are accents or optional vowel signs — Latin, Greek,
// Cyrillic ("Пётр" → "петр"), Arabic and Hebrew — and kept in other
// scripts, where they are part of the spelling (vowels and tones in Thai,
// say).
//
// The words never contain a double quote, a space or any other separator,
// so they can be quoted as FTS5 strings as they are.
func NameWords(s string) []string {
	if words, ok := asciiNameWords(s); ok {
		return words
	}
	return unicodeNameWords(s)
}

// asciiNameWords is NameWords of a name written in ASCII alone (ok), the
// commonest case, without decomposing and recomposing it: letters lower
// case, digits as they are, apostrophes and backticks dropped, every
// other character a separator. TestNameWords_ASCIIAsUnicode checks it
// against unicodeNameWords.
func asciiNameWords(s string) (words []string, ok bool) {
	if !isASCII(s) {
		return nil, false
	}
	var b []byte
	for i := 0; i <= len(s); i++ {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
		}
		switch {
		case c == '\'' || c == '`':
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			b = append(b, c)
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		case len(b) > 0:
			words = append(words, string(b))
			b = b[:0]
		}
	}
	return words, true
}

// isASCII says whether s is written in ASCII alone.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unicodeNameWords is NameWords of any name.
func unicodeNameWords(s string) []string {
	var words []string
	var b strings.Builder
	dropMarks := false
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	// Apostrophes go before decomposition: NFKD turns the acute accent
	// used as one ("O´Brien") into a space and a combining mark.
	for _, r := range norm.NFKD.String(strings.Map(dropApostrophe, s)) {
		switch {
		case unicode.Is(unicode.M, r): // Mn, and Mc: Devanagari vowel signs
			if !dropMarks && b.Len() > 0 {
				b.WriteRune(r)
			}
		case r == '\u0640': // Arabic tatweel: a stretch of the line, not a letter
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			dropMarks = unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic, unicode.Arabic, unicode.Hebrew)
			writeFolded(&b, unicode.ToLower(r))
		default:
			dropMarks = false
			flush()
		}
	}
	flush()
	for i, w := range words {
		words[i] = norm.NFC.String(w)
	}
	return words
}

// WrittenWords splits a name into words as NameWords does, but keeps each
// word as written (case, accents): what a person typed, word by word.
func WrittenWords(s string) []string {
	return strings.FieldsFunc(norm.NFC.String(strings.Map(dropApostrophe, s)), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.M, r)
	})
}

// dropApostrophe removes the characters written as apostrophes inside
// names (O'Brien, N’Diaye, Hawaiʻi).
func dropApostrophe(r rune) rune {
	switch r {
	case '\'', '’', '‘', 'ʼ', 'ʻ', '`', '´':
		return -1
	}
	return r
}

// latinFolds are the Latin letters (lower case) that carry a diacritic or
// ligature but have no Unicode decomposition, with the letters they are
// commonly transcribed as in passports (ICAO 9303 transliteration).
var latinFolds = map[rune]string{
	'ß': "ss", 'ø': "o", 'ł': "l", 'đ': "d", 'ð': "d", 'æ': "ae", 'œ': "oe",
	'þ': "th", 'ı': "i", 'ħ': "h", 'ŧ': "t", 'ŋ': "n", 'ƒ': "f",
}

// FoldLetterVariants writes the Latin letters without a decomposition as
// NameWords does ("ß" → "ss", "ø" → "o"); everything else is kept.
func FoldLetterVariants(s string) string {
	var b strings.Builder
	for _, r := range s {
		writeFolded(&b, r)
	}
	return b.String()
}

func writeFolded(b *strings.Builder, r rune) {
	if f, ok := latinFolds[unicode.ToLower(r)]; ok {
		if unicode.IsUpper(r) {
			f = strings.ToUpper(f[:1]) + f[1:]
		}
		b.WriteString(f)
		return
	}
	b.WriteRune(r)
}

// NameForm is one written form of a name.
type NameForm struct {
	// Text is the name as recorded ("Chen Wei", "陈 伟").
	Text string
	// Kind says what it is: "as written", "Latin transliteration", "alias".
	Kind string
	// Of is, for a Latin transliteration, the name as written that it
	// transliterates ("陈 伟"); empty otherwise.
	Of string
	// Words are its search words in recorded order (family name first when
	// the record separates family and given names).
	Words []string
	// Parts are the words of the family name and of the given names, the
	// parts present (one part for an alias or a name given in one field).
	Parts [][]string
	// machine is set on a transliteration made here (Romanizations), not
	// recorded by anyone.
	machine bool
}

// Machine says the form is a transliteration made by search, not a
// spelling anyone recorded.
func (f NameForm) Machine() bool { return f.machine }

// Swapped is the form's words in the other order people write the name
// in: given names before the family name, or, for a form in one part, its
// words reversed.
func (f NameForm) Swapped() []string {
	if len(f.Parts) == 2 {
		return append(append([]string{}, f.Parts[1]...), f.Parts[0]...)
	}
	rev := make([]string, len(f.Words))
	for i, w := range f.Words {
		rev[len(rev)-1-i] = w
	}
	return rev
}

// Segmentations are the ways the form can be split into words: its
// words, and — when a part has several words ("Xiao Ming") — each part
// run together ("xiaoming"), since a name part is written with and without
// spaces.
func (f NameForm) Segmentations() [][]string {
	out := [][]string{f.Words}
	joined := make([]string, 0, len(f.Parts))
	multi := false
	for _, p := range f.Parts {
		joined = append(joined, strings.Join(p, ""))
		multi = multi || len(p) > 1
	}
	if multi {
		out = append(out, joined)
	}
	return out
}

// NameForms are the written forms of a person's names that search
// matches: each name as written and its transliteration, and each alias.
func NameForms(p *liaisonv1.Person) []NameForm {
	var out []NameForm
	for _, n := range p.GetNames() {
		written := newForm(n.GetFamilyName(), n.GetGivenNames(), "as written", "")
		if written != nil {
			out = append(out, *written)
		}
		of := ""
		if written != nil {
			of = written.Text
		}
		if f := newForm(n.GetLatinFamilyName(), n.GetLatinGivenNames(), "Latin transliteration", of); f != nil {
			out = append(out, *f)
		}
	}
	for _, a := range p.GetAliases() {
		if f := newForm(a, "", "alias", ""); f != nil {
			out = append(out, *f)
		}
	}
	return out
}

func newForm(family, given, kind, of string) *NameForm {
	f := &NameForm{Kind: kind, Of: of}
	for _, part := range []string{family, given} {
		if w := NameWords(part); len(w) > 0 {
			f.Parts = append(f.Parts, w)
			f.Words = append(f.Words, w...)
		}
	}
	if len(f.Words) == 0 {
		return nil
	}
	f.Text = strings.Join(strings.Fields(family+" "+given), " ")
	return f
}

// IndexTokens is the text indexed for a person's names: every word of
// every form (each name part run together too: "xiaoming" for "Xiao
// Ming"), and each form's words run together in recorded and in swapped
// order ("chenwei", "weichen"), so "ChenWei" finds "Chen Wei" and spacing
// does not matter. The forms are the names as recorded and their machine
// transliterations (Romanizations); each word and each run also brings
// its keys (WordKeys, RunKeys), so a spelling of another system or of
// another country finds the person.
func IndexTokens(p *liaisonv1.Person) string {
	seen := map[string]bool{}
	var out []string
	add := func(ws ...string) {
		for _, w := range ws {
			if w != "" && !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	for _, f := range AllForms(NameForms(p)) {
		for _, seg := range f.Segmentations() {
			for _, w := range seg {
				add(w)
				add(WordKeys(w)...)
			}
		}
		if len(f.Words) > 1 {
			add(strings.Join(f.Words, ""))
			add(strings.Join(f.Swapped(), ""))
			add(RunKeys(f.Words)...)
			add(RunKeys(f.Swapped())...)
		}
	}
	return strings.Join(out, " ")
}

// UniqueWords is words with each word once, in first-seen order.
func UniqueWords(words []string) []string {
	seen := make(map[string]bool, len(words))
	out := make([]string, 0, len(words))
	for _, w := range words {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}
