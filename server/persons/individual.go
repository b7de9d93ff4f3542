package persons

import (
	"slices"
	"strings"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// Match says how sure it is that two person records are one individual.
type Match int

const (
	// NoMatch: different people, or nothing to tell them apart by.
	NoMatch Match = iota
	// PossibleMatch: the same name and birth year, the full date of birth
	// unknown on at least one side, and no document to tell them apart.
	// A person has to decide.
	PossibleMatch
	// CertainMatch: a document in common (type, number and issuing
	// country), or the same name and full date of birth.
	CertainMatch
)

// Individual says whether a and b are the same individual, by the same
// normalised forms search uses: documents as DocumentNumber writes them,
// names as NameWords does, in any order of their words (family name first
// or last), from any written form, transliteration or alias.
//
// A person with no birth year is linked by document only: a name alone is
// too common to hold anyone up on.
func Individual(a, b *liaisonv1.Person) Match {
	da, db := documentKeys(a), documentKeys(b)
	for k := range da {
		if db[k] {
			return CertainMatch
		}
	}
	if !shareName(a, b) {
		return NoMatch
	}
	x, y := a.GetDateOfBirth(), b.GetDateOfBirth()
	if x.GetYear() == 0 || x.GetYear() != y.GetYear() {
		return NoMatch
	}
	if x.GetMonth() != 0 && y.GetMonth() != 0 && x.GetMonth() != y.GetMonth() {
		return NoMatch
	}
	if x.GetDay() != 0 && y.GetDay() != 0 {
		if x.GetDay() != y.GetDay() {
			return NoMatch
		}
		if x.GetMonth() != 0 && y.GetMonth() != 0 {
			return CertainMatch
		}
	}
	// Both documented, none in common: told apart by their papers.
	if len(da) > 0 && len(db) > 0 {
		return NoMatch
	}
	return PossibleMatch
}

// documentKeys are a person's documents as type, normalised number and
// issuing country.
func documentKeys(p *liaisonv1.Person) map[string]bool {
	out := map[string]bool{}
	for _, d := range p.GetDocuments() {
		if n := DocumentNumber(d.GetNumber()); n != "" {
			out[d.GetType().String()+"|"+n+"|"+strings.ToUpper(d.GetIssuingCountry())] = true
		}
	}
	return out
}

// nameKeys are the words of each of a person's name forms, sorted: the
// same name whatever the order it was written in.
func nameKeys(p *liaisonv1.Person) map[string]bool {
	out := map[string]bool{}
	for _, f := range NameForms(p) {
		w := slices.Clone(f.Words)
		slices.Sort(w)
		out[strings.Join(w, " ")] = true
		// A part written with and without spaces ("Xiao Ming", "Xiaoming").
		for _, seg := range f.Segmentations()[1:] {
			seg = slices.Clone(seg)
			slices.Sort(seg)
			out[strings.Join(seg, " ")] = true
		}
	}
	return out
}

func shareName(a, b *liaisonv1.Person) bool {
	ka, kb := nameKeys(a), nameKeys(b)
	for k := range ka {
		if kb[k] {
			return true
		}
	}
	return false
}
