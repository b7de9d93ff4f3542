package persons

import (
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func TestIndividual(t *testing.T) {
	t.Parallel()
	person := func(family, given string, y, m, d int32, doc string) *liaisonv1.Person {
		p := &liaisonv1.Person{Names: []*liaisonv1.PersonName{{FamilyName: family, GivenNames: given}}, DateOfBirth: &liaisonv1.Date{Year: y, Month: m, Day: d}}
		if doc != "" {
			p.Documents = []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: doc, IssuingCountry: "IDN"}}
		}
		return p
	}
	base := person("Siregar", "Budi", 1990, 3, 4, "B1234567")
	for _, c := range []struct {
		name  string
		other *liaisonv1.Person
		want  Match
	}{
		{"SameDocumentOtherName", person("Other", "Name", 0, 0, 0, "b-123 4567"), CertainMatch},
		{"SameNameAndFullBirthDateNoDocument", person("SIRÉGAR", "budi", 1990, 3, 4, ""), CertainMatch},
		{"NameWordsInOtherOrder", person("Budi", "Siregar", 1990, 3, 4, ""), CertainMatch},
		{"SameNameAndYearOnly", person("Siregar", "Budi", 1990, 0, 0, ""), PossibleMatch},
		{"SameNameYearAndMonth", person("Siregar", "Budi", 1990, 3, 0, ""), PossibleMatch},
		{"SameNameOtherMonth", person("Siregar", "Budi", 1990, 4, 0, ""), NoMatch},
		{"SameNameOtherFullDate", person("Siregar", "Budi", 1990, 3, 5, ""), NoMatch},
		{"SameNameAndYearOtherDocument", person("Siregar", "Budi", 1990, 0, 0, "X9"), NoMatch},
		{"SameNameNoBirthYear", person("Siregar", "Budi", 0, 0, 0, ""), NoMatch},
		{"OtherNameSameBirthDate", person("Siregar", "Ani", 1990, 3, 4, ""), NoMatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Individual(base, c.other); got != c.want {
				t.Fatalf("Individual = %d, want %d", got, c.want)
			}
			if got := Individual(c.other, base); got != c.want {
				t.Fatalf("Individual (swapped) = %d, want %d", got, c.want)
			}
		})
	}
}
