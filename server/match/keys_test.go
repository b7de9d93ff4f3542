package match

import (
	"bytes"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func person(family, given, latinFamily, latinGiven string, dob *liaisonv1.Date) *liaisonv1.Person {
	return &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: family, GivenNames: given, LatinFamilyName: latinFamily, LatinGivenNames: latinGiven}}, DateOfBirth: dob}
}

func keysOf(kind liaisonv1.MatchKeyKind, p *liaisonv1.Person) map[string]bool {
	out := map[string]bool{}
	for _, k := range Keys(p) {
		if k.Kind == kind {
			out[string(k.Input)] = true
		}
	}
	return out
}

func meet(a, b map[string]bool) bool {
	for k := range a {
		if b[k] {
			return true
		}
	}
	return false
}

func TestKeys_DocumentNormalised(t *testing.T) {
	doc := func(n, country string) *liaisonv1.Person {
		return &liaisonv1.Person{Documents: []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: n, IssuingCountry: country}}}
	}
	k := liaisonv1.MatchKeyKind_MATCH_KEY_KIND_DOCUMENT
	if !meet(keysOf(k, doc("E1234567", "CHN")), keysOf(k, doc("e 123-4567", "CHN"))) {
		t.Error("E1234567 and 'e 123-4567' give different document keys")
	}
	if meet(keysOf(k, doc("E1234567", "CHN")), keysOf(k, doc("E1234567", "THA"))) {
		t.Error("the same number of two issuing countries gives one key")
	}
	if meet(keysOf(k, doc("E1234567", "CHN")), keysOf(k, doc("E1234568", "CHN"))) {
		t.Error("two numbers give one key")
	}
	if len(Keys(doc("E1234567", ""))) != 0 {
		t.Error("a document without issuing country gives a key")
	}
}

func TestKeys_NamesAcrossScriptsAndSpellings(t *testing.T) {
	dob := &liaisonv1.Date{Year: 1980, Month: 3, Day: 2}
	k := liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_DATE_OF_BIRTH
	record := keysOf(k, person("陈", "伟", "CHEN", "Wei", dob))
	for _, q := range []*liaisonv1.Person{
		person("", "", "Chen", "Wei", dob),
		person("", "", "Wei", "Chen", dob),               // order
		person("", "", "Ch'en", "Wei", dob),              // Wade–Giles
		person("陈伟", "", "", "", dob),                    // native script only
		{Aliases: []string{"CHENWEI"}, DateOfBirth: dob}, // spacing
	} {
		if !meet(record, keysOf(k, q)) {
			t.Errorf("%v does not meet the record 陈伟 / CHEN Wei", q.GetNames())
		}
	}
	kim := keysOf(k, person("김", "성민", "", "", dob))
	if !meet(kim, keysOf(k, person("", "", "Gim", "Seongmin", dob))) || !meet(kim, keysOf(k, person("", "", "Kim", "Sung-min", dob))) {
		t.Error("김성민 does not meet Gim Seongmin and Kim Sung-min")
	}
	if !meet(keysOf(k, person("", "", "Mohammed", "Ali", dob)), keysOf(k, person("", "", "Muhammad", "Ali", dob))) {
		t.Error("Mohammed Ali does not meet Muhammad Ali")
	}
	// Not everyone meets: another name, another date.
	if meet(record, keysOf(k, person("", "", "Nguyen", "Van Thanh", dob))) {
		t.Error("Nguyen Van Thanh meets Chen Wei")
	}
	if meet(record, keysOf(k, person("", "", "Chen", "Wei", &liaisonv1.Date{Year: 1980, Month: 3, Day: 3}))) {
		t.Error("another date of birth meets")
	}
	if !meet(keysOf(liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_BIRTH_YEAR, person("", "", "Chen", "Wei", &liaisonv1.Date{Year: 1980})),
		keysOf(liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_BIRTH_YEAR, person("陈", "伟", "", "", dob))) {
		t.Error("a name with the year of birth does not meet the full date's year")
	}
	if len(keysOf(k, person("", "", "Chen", "Wei", &liaisonv1.Date{Year: 1980}))) != 0 {
		t.Error("a year alone gives a full-date key")
	}
}

// TestKeys_YearKeysOfAFullDate: with the full date of birth known, a
// name's words run together give date keys but no year keys (each key is
// an evaluation at every query); a one-word form's own key keeps its year
// key even where it is also another form's words run together.
func TestKeys_YearKeysOfAFullDate(t *testing.T) {
	dob := &liaisonv1.Date{Year: 1980, Month: 3, Day: 2}
	date, year := liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_DATE_OF_BIRTH, liaisonv1.MatchKeyKind_MATCH_KEY_KIND_NAME_BIRTH_YEAR
	full := person("", "", "Chen", "Wei", dob)
	if d, y := len(keysOf(date, full)), len(keysOf(year, full)); d != 3 || y != 1 {
		t.Errorf("Chen Wei with a full date: %d date keys and %d year keys, want 3 (words, run together both ways) and 1 (words)", d, y)
	}
	yearOnly := person("", "", "Chen", "Wei", &liaisonv1.Date{Year: 1980})
	if y := len(keysOf(year, yearOnly)); y != 3 {
		t.Errorf("Chen Wei with a year only: %d year keys, want 3", y)
	}
	// A one-word record with its full date meets the two-word name of a
	// year-only query, through the year.
	oneWord := &liaisonv1.Person{Aliases: []string{"CHENWEI"}, DateOfBirth: dob}
	if !meet(keysOf(year, oneWord), keysOf(year, yearOnly)) {
		t.Error("CHENWEI with a full date does not meet Chen Wei born 1980")
	}
	both := &liaisonv1.Person{Names: full.GetNames(), Aliases: []string{"CHENWEI"}, DateOfBirth: dob}
	if y := len(keysOf(year, both)); y != 2 {
		t.Errorf("Chen Wei alias CHENWEI with a full date: %d year keys, want 2 (each form's words)", y)
	}
}

func TestOPRF_BlindQueryFindsTheHoldersEntry(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	ev, err := newEvaluator(secret, "bravo", "alpha", 1)
	if err != nil {
		t.Fatal(err)
	}
	keys := Keys(&liaisonv1.Person{Documents: []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "E1234567", IssuingCountry: "CHN"}}})
	held, err := ev.entries(keys)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blind(ev.public, keys)
	if err != nil {
		t.Fatal(err)
	}
	elements, err := ev.evaluate(b.Blinded)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := b.finalize(elements)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Entry(outs[0]), held[0]) {
		t.Fatal("the unblinded evaluation's entry is not the holder's entry")
	}
	epoch, entry, err := parseToken(token(1, outs[0]))
	if err != nil || epoch != 1 || !bytes.Equal(entry, held[0]) {
		t.Fatalf("token round trip: epoch %d, %v", epoch, err)
	}
	// Another partner's or epoch's key gives other entries, and a blind
	// evaluation under another key gives other outputs: its canary would
	// not come back (the canaries of two partners or epochs differ too).
	for _, o := range []struct {
		partner string
		epoch   int64
	}{{"charlie", 1}, {"alpha", 2}} {
		other, err := newEvaluator(secret, "bravo", o.partner, o.epoch)
		if err != nil {
			t.Fatal(err)
		}
		e2, _ := other.entries(keys)
		if bytes.Equal(e2[0], held[0]) {
			t.Errorf("%s epoch %d has the same entry", o.partner, o.epoch)
		}
		elements, err := other.evaluate(b.Blinded)
		if err != nil {
			t.Fatal(err)
		}
		outs2, err := b.finalize(elements)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(Entry(outs2[0]), held[0]) {
			t.Errorf("an evaluation under %s epoch %d's key gave alpha epoch 1's entry", o.partner, o.epoch)
		}
		if bytes.Equal(canary("bravo", o.partner, o.epoch).Input, canary("bravo", "alpha", 1).Input) {
			t.Errorf("%s epoch %d has alpha epoch 1's canary", o.partner, o.epoch)
		}
	}
	if _, _, err := parseToken("not-a-token"); err == nil {
		t.Error("a junk token parsed")
	}
}
