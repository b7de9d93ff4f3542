package search

import (
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/persons"
	"github.com/liaison-exchange/liaison/server/store"
)

func pname(family, given, latinFamily, latinGiven string) *liaisonv1.PersonName {
	return &liaisonv1.PersonName{FamilyName: family, GivenNames: given, LatinFamilyName: latinFamily, LatinGivenNames: latinGiven}
}

func TestSearch_MatchName(t *testing.T) {
	t.Parallel()
	chen := &liaisonv1.Person{Names: []*liaisonv1.PersonName{pname("陈", "伟", "Chen", "Wei")}}
	garcia := &liaisonv1.Person{Names: []*liaisonv1.PersonName{pname("Moreno", "Luis", "", "")}, Aliases: []string{"José García"}}
	wang := &liaisonv1.Person{Names: []*liaisonv1.PersonName{pname("Wang", "Xiao Ming", "", "")}}
	strauss := &liaisonv1.Person{Names: []*liaisonv1.PersonName{pname("Strauß", "Jörg", "", "")}}
	for _, tc := range []struct {
		name, query string
		p           *liaisonv1.Person
		score       int
		reason      string
	}{
		{"Same", "Chen Wei", chen, 100, `name "Chen Wei" matches the Latin transliteration "Chen Wei" of "陈 伟"`},
		{"Case", "chen wei", chen, 100, `name "chen wei" matches the Latin transliteration "Chen Wei" of "陈 伟" (case ignored)`},
		{"Swapped", "Wei Chen", chen, 100, `name "Wei Chen" matches the Latin transliteration "Chen Wei" of "陈 伟": all 2 words, in another order`},
		{"Spacing", "ChenWei", chen, 100, `name "ChenWei" matches the Latin transliteration "Chen Wei" of "陈 伟": the same letters, spaced differently`},
		{"SpacingSwapped", "weichen", chen, 100, `name "weichen" matches the Latin transliteration "Chen Wei" of "陈 伟": the same letters, spaced differently, in another order`},
		{"HanAsWritten", "陈 伟", chen, 100, `name "陈 伟" matches the name "陈 伟"`},
		{"HanRunTogether", "陈伟", chen, 100, `name "陈伟" matches the name "陈 伟": the same letters, spaced differently`},
		{"AliasAccents", "jose garcia", garcia, 100, `name "jose garcia" matches alias "José García" (accents and case ignored)`},
		{"AliasAccentsOnly", "Jose Garcia", garcia, 100, `name "Jose Garcia" matches alias "José García" (accents ignored)`},
		{"AliasSwappedAccents", "García José", garcia, 100, `name "García José" matches alias "José García": all 2 words, in another order`},
		{"LetterVariants", "Strauss Jorg", strauss, 100, `name "Strauss Jorg" matches the name "Strauß Jörg" (accents and letter variants ignored)`},
		{"AllVariants", "strauss jorg", strauss, 100, `name "strauss jorg" matches the name "Strauß Jörg" (accents, case and letter variants ignored)`},
		{"GivenNamesRunTogether", "Wang Xiaoming", wang, 100, `name "Wang Xiaoming" matches the name "Wang Xiao Ming" (spacing ignored)`},
		{"GivenNamesFirst", "Xiaoming Wang", wang, 100, `name "Xiaoming Wang" matches the name "Wang Xiao Ming": all 2 words, in another order (spacing ignored)`},
		{"GivenNamesFirstSpaced", "Xiao Ming Wang", wang, 100, `name "Xiao Ming Wang" matches the name "Wang Xiao Ming": all 3 words, in another order`},
		{"Partial", "Chen", chen, 50, `name "Chen" matches the Latin transliteration "Chen Wei" of "陈 伟": 1 of 2 words in common (chen), score 50`},
		{"PartialThree", "Wang Ming", wang, 66, `name "Wang Ming" matches the name "Wang Xiao Ming": 2 of 3 words in common (ming, wang), score 66`},
		{"ExtraWord", "Chen Wei Long", chen, 66, `name "Chen Wei Long" matches the Latin transliteration "Chen Wei" of "陈 伟": 2 of 3 words in common (chen, wei), score 66`},
		{"Below", "Chen Li Na", chen, 25, `name "Chen Li Na" matches the Latin transliteration "Chen Wei" of "陈 伟": 1 of 4 words in common (chen), score 25`},
		{"None", "Somchai", chen, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := matchNameForms(tc.query, persons.NameWords(tc.query), persons.NameForms(tc.p), 0)
			if m.score != tc.score || m.reason != tc.reason {
				t.Errorf("matchNameForms(%q) = %d %q\nwant               %d %q", tc.query, m.score, m.reason, tc.score, tc.reason)
			}
		})
	}
}

func date(y, m, d int32) *liaisonv1.Date { return &liaisonv1.Date{Year: y, Month: m, Day: d} }

func TestSearch_MatchBirth(t *testing.T) {
	t.Parallel()
	born := func(d *liaisonv1.Date) *liaisonv1.Person { return &liaisonv1.Person{DateOfBirth: d} }
	for _, tc := range []struct {
		name   string
		want   *liaisonv1.Date
		p      *liaisonv1.Person
		ok     bool
		reason string
	}{
		{"Exact", date(1980, 2, 29), born(date(1980, 2, 29)), true, "born 1980-02-29"},
		{"OtherDay", date(1980, 2, 29), born(date(1980, 2, 28)), false, ""},
		{"OtherYear", date(1980, 2, 29), born(date(1981, 2, 28)), false, ""},
		{"YearOnlyQuery", date(1980, 0, 0), born(date(1980, 2, 29)), true, "born 1980-02-29"},
		{"YearMonthQuery", date(1980, 2, 0), born(date(1980, 2, 29)), true, "born 1980-02-29"},
		{"YearMonthQueryOtherMonth", date(1980, 3, 0), born(date(1980, 2, 29)), false, ""},
		{"OnlyYearRecorded", date(1980, 2, 29), born(date(1980, 0, 0)), true, "born 1980 (only the year is recorded), consistent with 1980-02-29"},
		{"NoDayRecorded", date(1980, 2, 29), born(date(1980, 2, 0)), true, "born 1980-02 (the day is not recorded), consistent with 1980-02-29"},
		{"Unknown", date(1980, 0, 0), born(nil), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, reason := matchBirth(tc.want, tc.p)
			if ok != tc.ok || reason != tc.reason {
				t.Errorf("matchBirth = %v %q, want %v %q", ok, reason, tc.ok, tc.reason)
			}
		})
	}
	years := []struct {
		from, to int32
		p        *liaisonv1.Person
		ok       bool
		reason   string
	}{
		{1975, 1985, born(date(1980, 2, 29)), true, "born 1980-02-29, within the years 1975–1985"},
		{1980, 1980, born(date(1980, 0, 0)), true, "born 1980, within the years 1980–1980"},
		{1981, 0, born(date(1980, 2, 29)), false, ""},
		{1981, 0, born(date(1990, 1, 0)), true, "born 1990-01, within the years from 1981"},
		{0, 1979, born(date(1980, 2, 29)), false, ""},
		{0, 1980, born(date(1980, 2, 29)), true, "born 1980-02-29, within the years up to 1980"},
		{1900, 2100, born(nil), false, ""},
	}
	for _, tc := range years {
		ok, reason := matchBirthYears(tc.from, tc.to, tc.p)
		if ok != tc.ok || reason != tc.reason {
			t.Errorf("matchBirthYears(%d, %d, %v) = %v %q, want %v %q", tc.from, tc.to, tc.p.GetDateOfBirth(), ok, reason, tc.ok, tc.reason)
		}
	}
}

func TestSearch_MatchIdentifiers(t *testing.T) {
	t.Parallel()
	p := &liaisonv1.Person{
		PhoneNumbers: []*liaisonv1.PhoneNumber{{Number: "+66812345678"}},
		Documents: []*liaisonv1.IdentityDocument{
			{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_NATIONAL_ID, Number: "X1"},
			{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: "E1234567", IssuingCountry: "CHN"},
		},
	}
	if ok, r := matchPhone("+66812345678", p); !ok || r != "phone +66812345678 matches exactly" {
		t.Errorf("matchPhone = %v %q", ok, r)
	}
	if ok, _ := matchPhone("+66812345679", p); ok {
		t.Error("matchPhone matched another number")
	}
	if ok, r := matchDocument("E1234567", p); !ok || r != "document E1234567 (passport, CHN) matches exactly" {
		t.Errorf("matchDocument = %v %q", ok, r)
	}
	if ok, r := matchDocument("X1", p); !ok || r != "document X1 (national ID) matches exactly" {
		t.Errorf("matchDocument = %v %q", ok, r)
	}
	if ok, _ := matchDocument("E123456", p); ok {
		t.Error("matchDocument matched a prefix")
	}
}

func TestSearch_NameMatchExpression(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"chen"}, `"chen"`},
		{[]string{"chen", "wei"}, `("chen" AND "wei") OR "chenwei"`},
		{[]string{"a", "b", "c"}, `("a" AND "b" AND "c") OR "abc"`},
		{[]string{"chen", "chen"}, `"chen" OR "chenchen"`},
		// Words from persons.NameWords never hold a quote; the expression
		// escapes one anyway, so no input can change its structure.
		{[]string{`a"b`, "NEAR(c"}, `("a""b" AND "NEAR(c") OR "a""bNEAR(c"`},
		{nil, `""`},
	} {
		if got := store.NameMatchExpression(tc.words); got != tc.want {
			t.Errorf("NameMatchExpression(%q) = %s, want %s", tc.words, got, tc.want)
		}
	}
}
