// Package match is blind hit/no-hit (issue 14): a node asks a partner
// whether it holds a person, without telling it who (Prüm II's two steps).
//
// The blocking keys of a person (Keys) are derived from the same name
// keys as local search (server/persons): documents, phones, and a name
// key with the date or year of birth. The holder publishes to each partner
// an index of Entry(F(k, key)) for its discoverable persons, F the OPRF of
// RFC 9497 (ristretto255-SHA512, verifiable mode) under a key it keeps for
// that partner and epoch. To ask, a node blinds its keys, the holder
// evaluates them blind (MatchPeerService.EvaluateBlinded, budgeted and
// audited), and the asker unblinds and looks the results up in the
// holder's index it keeps. See docs/matching.md.
package match

import (
	"fmt"
	"slices"
	"strings"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/persons"
)

// Key is one blocking key of a person: its kind and the bytes the OPRF
// takes (domain-separated by kind; never sent anywhere in the clear).
type Key struct {
	Kind  liaisonv1.MatchKeyKind
	Input []byte
}

// keyVersion is part of every key's input: a change of the derivation
// below must change it, or old and new keys would silently not meet.
const keyVersion = "liaison-match-key-v1"

func key(kind liaisonv1.MatchKeyKind, parts ...string) Key {
	return Key{Kind: kind, Input: []byte(keyVersion + "\x00" + strings.Join(append([]string{kind.String()}, parts...), "\x00"))}
}

// Keys are a person's blocking keys, each once, in a fixed order:
//   - DOCUMENT for each identity document with an issuing country: the
//     document type, its number upper-cased without separators
//     (persons.DocumentNumber: "e 123-4567" is "E1234567") and the
//     issuing country;
//   - PHONE for each phone number in E.164 (stored numbers are normalised
//     already; a number that does not parse is left out);
//   - NAME_DATE_OF_BIRTH for each name key with a full date of birth, and
//     NAME_BIRTH_YEAR for each name key with the year of birth — where the
//     full date is known, not for the keys of a form's words run together
//     (the date's keys carry those; each key costs an evaluation on both
//     sides at every query, and a two-word name has two of them).
//
// The name keys (nameKeys) are computed over every written form of every
// name and alias and their machine transliterations, so that a name in
// one script and a romanization of it under another system meet.
func Keys(p *liaisonv1.Person) []Key {
	var out []Key
	seen := map[string]bool{}
	add := func(k Key) {
		if !seen[string(k.Input)] {
			seen[string(k.Input)] = true
			out = append(out, k)
		}
	}
	for _, d := range p.GetDocuments() {
		n := persons.DocumentNumber(d.GetNumber())
		if n == "" || d.GetIssuingCountry() == "" || d.GetType() == liaisonv1.DocumentType_DOCUMENT_TYPE_UNSPECIFIED {
			continue
		}
		add(key(liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT, d.GetType().String(), n, d.GetIssuingCountry()))
	}
	for _, ph := range p.GetPhoneNumbers() {
		n, err := persons.E164(ph.GetNumber(), ph.GetRegion())
		if err != nil {
			continue
		}
		add(key(liaisonv1.MatchKeyKind_MATCH_KEY_KIND_PHONE, n))
	}
	dob := p.GetDateOfBirth()
	if dob.GetYear() == 0 {
		return out
	}
	names := nameKeys(p)
	full := dob.GetMonth() > 0 && dob.GetDay() > 0
	if full {
		date := fmt.Sprintf("%04d-%02d-%02d", dob.GetYear(), dob.GetMonth(), dob.GetDay())
		for _, n := range names {
			add(key(liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_DATE_OF_BIRTH, n.key, date))
		}
	}
	year := fmt.Sprintf("%04d", dob.GetYear())
	for _, n := range names {
		if full && n.runTogether {
			continue // the date's keys carry it
		}
		add(key(liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_BIRTH_YEAR, n.key, year))
	}
	return out
}

// maxNameKeys bounds the name keys of one person (each costs an OPRF
// evaluation on both sides).
const maxNameKeys = 12

// nameKey is a name key, and whether it is only a form's words run
// together (not any form's words as such).
type nameKey struct {
	key         string
	runTogether bool
}

// nameKeys are the name keys of a person, each once, at most
// maxNameKeys. For each form of its names (persons.AllForms: as written,
// Latin transliterations, aliases, and the machine transliterations of
// native-script names under the main standards of their script), Arabic
// articles left out:
//   - its words, each replaced by its group of equivalent names
//     (names/equivalents.txt: "Mohammed" → muhammad) or else its phonetic
//     skeleton (names/skeleton.txt: "Seongmin" and "Sungmin" → sqmn),
//     sorted, so that word order, accents, case and romanization system
//     do not matter;
//   - the skeleton of its words run together, in recorded and in swapped
//     order, so that "ChenWei" written as one word meets "Chen Wei".
//
// Forms with words that have no skeleton (letters other than a–z, e.g. a
// native-script form whose transliteration is a form of its own) give no
// key of their own.
func nameKeys(p *liaisonv1.Person) []nameKey {
	var out []nameKey
	at := map[string]int{}
	add := func(k string, runTogether bool) {
		if k == "" {
			return
		}
		if i, ok := at[k]; ok {
			// a one-word form's key may be another form's words run
			// together: it is a form's words as such all the same
			out[i].runTogether = out[i].runTogether && runTogether
			return
		}
		if len(out) < maxNameKeys {
			at[k] = len(out)
			out = append(out, nameKey{k, runTogether})
		}
	}
	for _, f := range persons.AllForms(persons.NameForms(p)) {
		words := persons.WithoutArticles(f.Words)
		canon := make([]string, 0, len(words))
		for _, w := range words {
			c := canonWord(w)
			if c == "" {
				canon = nil
				break
			}
			canon = append(canon, c)
		}
		if len(canon) == 0 {
			continue
		}
		slices.Sort(canon)
		add(strings.Join(canon, " "), false)
		if len(words) > 1 {
			add(persons.Skeleton(strings.Join(words, "")), true)
			swapped := persons.WithoutArticles(f.Swapped())
			add(persons.Skeleton(strings.Join(swapped, "")), true)
		}
	}
	return out
}

// canonWord is a word's group of equivalent names (the first, marked with
// "="), or else its skeleton; "" if it has neither.
func canonWord(w string) string {
	if g := persons.Equivalent(w); len(g) > 0 {
		return "=" + slices.Min(g)
	}
	return persons.Skeleton(w)
}
