package persons

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// NameWords splits a name into its search words: lower case, accents
// removed from Latin letters, apostrophes dropped ("O'Brien" → "obrien"),
// every other non-letter, non-digit rune a separator. Marks of other
// scripts are kept (they are letters' vowels and tones in Thai, say).
func NameWords(s string) []string {
	var words []string
	var b strings.Builder
	latinBase := false
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			if !latinBase && b.Len() > 0 {
				b.WriteRune(r)
			}
		case r == '\'' || r == '’' || r == 'ʼ':
			// inside a word: dropped
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			latinBase = unicode.Is(unicode.Latin, r)
			b.WriteRune(unicode.ToLower(r))
		default:
			latinBase = false
			flush()
		}
	}
	flush()
	for i, w := range words {
		words[i] = norm.NFC.String(w)
	}
	return words
}

// NameForms are the written forms of a person's names that search
// matches: each name as written and its transliteration, and each alias.
func NameForms(p *liaisonv1.Person) []NameForm {
	var out []NameForm
	for _, n := range p.GetNames() {
		if f := newForm(n.GetFamilyName(), n.GetGivenNames(), "as written"); f != nil {
			out = append(out, *f)
		}
		if f := newForm(n.GetLatinFamilyName(), n.GetLatinGivenNames(), "Latin transliteration"); f != nil {
			out = append(out, *f)
		}
	}
	for _, a := range p.GetAliases() {
		if f := newForm(a, "", "alias"); f != nil {
			out = append(out, *f)
		}
	}
	return out
}

// NameForm is one written form of a name.
type NameForm struct {
	// Text is the name as recorded ("Chen Wei", "陈 伟").
	Text string
	// Kind says what it is: "as written", "Latin transliteration", "alias".
	Kind string
	// Words are its search words in recorded order (family name first when
	// the record separates family and given names).
	Words []string
}

func newForm(family, given, kind string) *NameForm {
	words := append(NameWords(family), NameWords(given)...)
	if len(words) == 0 {
		return nil
	}
	text := strings.TrimSpace(strings.TrimSpace(family) + " " + strings.TrimSpace(given))
	return &NameForm{Text: text, Kind: kind, Words: words}
}

// IndexTokens is the text indexed for a person's names: every word of every
// form, and each form's words run together in recorded and in reverse order
// ("chenwei", "weichen"), so "ChenWei" finds "Chen Wei" and spacing does not
// matter.
func IndexTokens(p *liaisonv1.Person) string {
	seen := map[string]bool{}
	var out []string
	add := func(w string) {
		if w != "" && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, f := range NameForms(p) {
		for _, w := range f.Words {
			add(w)
		}
		if len(f.Words) > 1 {
			add(strings.Join(f.Words, ""))
			rev := make([]string, len(f.Words))
			for i, w := range f.Words {
				rev[len(rev)-1-i] = w
			}
			add(strings.Join(rev, ""))
		}
	}
	return strings.Join(out, " ")
}
