package search

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/persons"
)

// nameMatch is how well a name query matches one person: the best of the
// person's name forms.
type nameMatch struct {
	score  int
	reason string
	byKeys bool // through the keys that survive transliteration (matchKeys)
}

// matchNameForms scores the query words against a person's written name
// forms (persons.NameForms) and explains the best. The score of a form is 100 × |Q∩N| / |Q∪N| over the
// word sets of the query (Q) and of the form (N), taking the better of the
// form's segmentations ("Xiao Ming" and "Xiaoming"); it is 100 too when
// the query's words run together equal the form's words run together in
// recorded or swapped order ("ChenWei", "陈伟"). Ties go to the earlier
// form: a name as written before its transliteration, names before
// aliases. q are the query's words (persons.NameWords of query). The
// reason is written only for a score of at least min.
func matchNameForms(query string, q []string, forms []persons.NameForm, min int) nameMatch {
	best, bestForm := 0, persons.NameForm{}
	for _, f := range forms {
		if score, _ := scoreForm(query, q, f, false); score > best {
			best, bestForm = score, f
		}
	}
	if best == 0 || best < min {
		return nameMatch{score: best}
	}
	_, how := scoreForm(query, q, bestForm, true)
	return nameMatch{score: best, reason: fmt.Sprintf("name %q matches %s%s", query, describeForm(bestForm), how)}
}

// scoreForm scores one form and, if asked to explain, says how it matched
// (": all 2 words, in another order", " (accents and case ignored)", …).
func scoreForm(query string, q []string, f persons.NameForm, explain bool) (int, string) {
	qs := set(q)
	bestScore, bestUnion, bestSeg := 0, 0, -1
	var bestCommon []string
	segs := f.Segmentations()
	for i, seg := range segs {
		common, union := overlap(qs, set(seg))
		if s := 100 * len(common) / union; s > bestScore {
			bestScore, bestCommon, bestUnion, bestSeg = s, common, union, i
		}
	}
	run := strings.Join(q, "")
	switch {
	case bestScore == 100 && !explain:
		return 100, ""
	case bestScore == 100:
		note := sameWords(query, f)
		if bestSeg > 0 {
			note = " (spacing ignored)"
		}
		if words := persons.UniqueWords(segs[bestSeg]); !slices.Equal(persons.UniqueWords(q), words) {
			return 100, fmt.Sprintf(": all %d words, in another order%s", len(words), note)
		}
		return 100, note
	case run == strings.Join(f.Words, ""):
		return 100, ": the same letters, spaced differently"
	case run == strings.Join(f.Swapped(), ""):
		return 100, ": the same letters, spaced differently, in another order"
	case bestScore == 0 || !explain:
		return bestScore, ""
	}
	slices.Sort(bestCommon)
	return bestScore, fmt.Sprintf(": %d of %d words in common (%s), score %d",
		len(bestCommon), bestUnion, strings.Join(bestCommon, ", "), bestScore)
}

// sameWords says what, if anything, was ignored to match the query's
// words to the form's: letter case, accents, other spellings of a letter
// ("ß", "ø"). Words are compared in the order of their search words, so
// "Garcia José" against "José García" notes the accents too.
func sameWords(query string, f persons.NameForm) string {
	a, b := persons.WrittenWords(query), persons.WrittenWords(f.Text)
	if len(a) != len(b) {
		return ""
	}
	x, y := sortedRaw(a), sortedRaw(b)
	// The fewest differences that, ignored, make the words equal.
	type aspect struct {
		name string
		fold func(string) string
	}
	aspects := []aspect{{"accents", foldAccents}, {"case", strings.ToLower}, {"letter variants", persons.FoldLetterVariants}}
	for _, set := range [][]int{{}, {1}, {0}, {2}, {0, 1}, {1, 2}, {0, 2}, {0, 1, 2}} {
		fx, fy := x, y
		var names []string
		for _, i := range set {
			fx, fy = aspects[i].fold(fx), aspects[i].fold(fy)
			names = append(names, aspects[i].name)
		}
		if fx == fy {
			if len(names) == 0 {
				return ""
			}
			return " (" + joinWords(names) + " ignored)"
		}
	}
	return ""
}

// joinWords writes "a", "a and b", "a, b and c".
func joinWords(w []string) string {
	if len(w) == 1 {
		return w[0]
	}
	return strings.Join(w[:len(w)-1], ", ") + " and " + w[len(w)-1]
}

// sortedRaw joins words as written in the order of their search words.
func sortedRaw(words []string) string {
	type pair struct{ key, raw string }
	ps := make([]pair, len(words))
	for i, w := range words {
		ps[i] = pair{strings.Join(persons.NameWords(w), ""), w}
	}
	slices.SortStableFunc(ps, func(a, b pair) int { return strings.Compare(a.key, b.key) })
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.raw)
		b.WriteByte(' ')
	}
	return b.String()
}

func foldAccents(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func describeForm(f persons.NameForm) string {
	switch {
	case f.Kind == "alias":
		return fmt.Sprintf("alias %q", f.Text)
	case f.Of != "":
		return fmt.Sprintf("the Latin transliteration %q of %q", f.Text, f.Of)
	case f.Kind == "Latin transliteration":
		return fmt.Sprintf("the Latin transliteration %q", f.Text)
	}
	return fmt.Sprintf("the name %q", f.Text)
}

func set(words []string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// overlap returns the words in both sets and the size of their union.
func overlap(a, b map[string]bool) ([]string, int) {
	var common []string
	for w := range a {
		if b[w] {
			common = append(common, w)
		}
	}
	return common, len(a) + len(b) - len(common)
}

// matchBirth reports whether p's date of birth agrees with d — every part
// recorded on both sides is equal; a person with no recorded date of
// birth never matches — and says so ("born 1980-02-29").
func matchBirth(d *liaisonv1.Date, p *liaisonv1.Person) (bool, string) {
	b := p.GetDateOfBirth()
	if b.GetYear() == 0 || b.GetYear() != d.GetYear() ||
		d.GetMonth() > 0 && b.GetMonth() > 0 && b.GetMonth() != d.GetMonth() ||
		d.GetDay() > 0 && b.GetDay() > 0 && b.GetDay() != d.GetDay() {
		return false, ""
	}
	reason := "born " + formatDate(b)
	switch {
	case d.GetMonth() > 0 && b.GetMonth() == 0:
		reason += fmt.Sprintf(" (only the year is recorded), consistent with %s", formatDate(d))
	case d.GetDay() > 0 && b.GetDay() == 0:
		reason += fmt.Sprintf(" (the day is not recorded), consistent with %s", formatDate(d))
	}
	return true, reason
}

// matchBirthYears reports whether p was born in from..to (0: open).
func matchBirthYears(from, to int32, p *liaisonv1.Person) (bool, string) {
	b := p.GetDateOfBirth()
	y := b.GetYear()
	if y == 0 || from > 0 && y < from || to > 0 && y > to {
		return false, ""
	}
	return true, fmt.Sprintf("born %s, within the years %s", formatDate(b), yearRange(from, to))
}

func yearRange(from, to int32) string {
	switch {
	case to == 0:
		return fmt.Sprintf("from %d", from)
	case from == 0:
		return fmt.Sprintf("up to %d", to)
	}
	return fmt.Sprintf("%d–%d", from, to)
}

// formatDate writes the recorded parts of a date: "1980", "1980-02",
// "1980-02-29".
func formatDate(d *liaisonv1.Date) string {
	switch {
	case d.GetMonth() == 0:
		return fmt.Sprintf("%04d", d.GetYear())
	case d.GetDay() == 0:
		return fmt.Sprintf("%04d-%02d", d.GetYear(), d.GetMonth())
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
}

// matchPhone reports whether p has the E.164 number.
func matchPhone(e164 string, p *liaisonv1.Person) (bool, string) {
	for _, ph := range p.GetPhoneNumbers() {
		if ph.GetNumber() == e164 {
			return true, fmt.Sprintf("phone %s matches exactly", e164)
		}
	}
	return false, ""
}

// matchDocument reports whether p holds a document with the normalised
// number, and names the document.
func matchDocument(number string, p *liaisonv1.Person) (bool, string) {
	for _, d := range p.GetDocuments() {
		if d.GetNumber() != number {
			continue
		}
		what := documentTypes[d.GetType()]
		if what == "" {
			what = "document"
		}
		if c := d.GetIssuingCountry(); c != "" {
			what += ", " + c
		}
		return true, fmt.Sprintf("document %s (%s) matches exactly", number, what)
	}
	return false, ""
}

var documentTypes = map[liaisonv1.DocumentType]string{
	liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT:         "passport",
	liaisonv1.DocumentType_DOCUMENT_TYPE_NATIONAL_ID:      "national ID",
	liaisonv1.DocumentType_DOCUMENT_TYPE_RESIDENCE_PERMIT: "residence permit",
	liaisonv1.DocumentType_DOCUMENT_TYPE_TRAVEL_DOCUMENT:  "travel document",
	liaisonv1.DocumentType_DOCUMENT_TYPE_DRIVING_LICENCE:  "driving licence",
	liaisonv1.DocumentType_DOCUMENT_TYPE_OTHER:            "other document",
}
