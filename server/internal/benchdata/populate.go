// Package benchdata generates test data: synthetic persons written
// straight into a store's person index, for the bench
// (server/cmd/liaisonbench) and the search measurements of server/search.
//
// It is not part of any node and no node calls it. What it writes is not
// what a node writes: index rows only, with no lead behind them and no
// audit event — a shortcut that real records never take (a lead's persons
// are indexed in the transaction that writes the lead and its event). Run
// it on a database made for a benchmark, never on one that holds real
// records.
package benchdata

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/google/uuid"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/store"
)

// populateBatch is the records written per transaction by Populate.
const populateBatch = 2000

// Populate fills the person index of s with n synthetic persons, for
// benchmarks (test data, see the package comment): each the one subject of
// a synthetic lead record of the store's own agency (only index rows are
// written — no lead, no audit event; being the own agency's, no handling
// policy looks the lead up), 2,000 records per transaction. Names follow a skewed distribution like real ones (a few
// family names are very common); some persons have a name in Han script
// with its transliteration, aliases, documents; all have one or two Thai
// mobile numbers. It returns up to 1,000 names and phone numbers of
// persons it inserted, to search for. The same seed gives the same
// persons.
func Populate(ctx context.Context, s *store.Store, n int, seed int64) (names []string, phones []string, err error) {
	batch := make([]store.IndexedRecord, 0, populateBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.Write(ctx, func(tx *store.Tx) error {
			for _, r := range batch {
				if err := tx.IndexPersons(r); err != nil {
					return err
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	names, phones, err = Persons(n, seed, func(i int, p *liaisonv1.Person) error {
		batch = append(batch, store.IndexedRecord{
			Kind: liaisonv1.RecordKind_RECORD_KIND_LEAD, ID: uuid.Must(uuid.NewV7()).String(),
			Title: fmt.Sprintf("synthetic lead %d", i), OriginAgency: s.Agency(), Persons: []*liaisonv1.Person{p},
		})
		if len(batch) == populateBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("populate: %w", err)
	}
	return names, phones, nil
}

// Persons makes the n persons of seed, calling each with every one, and
// returns the sample names and phone numbers Populate does: the samples of
// a database Populate filled earlier with the same n and seed.
func Persons(n int, seed int64, each func(int, *liaisonv1.Person) error) (names, phones []string, err error) {
	g := newGenerator(seed)
	every := max(n/1000, 1)
	for i := 0; i < n; i++ {
		p := g.person()
		if i%every == 0 && len(names) < 1000 {
			nm := p.GetNames()[0]
			if nm.GetLatinFamilyName() != "" {
				names = append(names, nm.GetLatinFamilyName()+" "+nm.GetLatinGivenNames())
			} else {
				names = append(names, nm.GetFamilyName()+" "+nm.GetGivenNames())
			}
			phones = append(phones, p.GetPhoneNumbers()[0].GetNumber())
		}
		if err := each(i, p); err != nil {
			return nil, nil, err
		}
	}
	return names, phones, nil
}

// generator makes synthetic persons.
type generator struct {
	r               *rand.Rand
	family, given   []string
	familyZ, givenZ *rand.Zipf
}

// Syllables of the synthetic Latin names (pinyin-, Thai- and
// Indonesian-like).
var syllables = strings.Fields(`a an ang ba bai ban bao bu cha chai chan chen cheng chi chu da dai dan de di dong du en fa fan fang fei fu
	ga gan gao ge gu gua guo ha hai han hao he hong hu hua huang ja jai jia jian jin ka kai kan ke kh kit la lai lan le li lian lin
	ling liu long lu ma mai man mei min ming mo na nai nan ni ning nu pa pai pan peng pi ping po qi qian qin ra rai ran ren ri rong
	sa sai san se shan shen shi si som song su ta tai tan teng ti tian tong tu wa wan wang wei wen wu xia xian xiao xin xu ya yan
	yang ye yi yin yong yu yuan za zhang zhao zhen zheng zhi zhou zhu`)

func newGenerator(seed int64) *generator {
	r := rand.New(rand.NewSource(seed))
	g := &generator{r: r}
	word := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(syllables[r.Intn(len(syllables))])
		}
		return b.String()
	}
	seen := map[string]bool{}
	pool := func(size, minSyl, maxSyl int) []string {
		var out []string
		for len(out) < size {
			w := word(minSyl + r.Intn(maxSyl-minSyl+1))
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
		return out
	}
	g.family = pool(5000, 1, 2)
	g.given = pool(50000, 1, 3)
	// A few family names are very common: the most common is held by
	// about one person in eight, as "Wang" or "Chen" are.
	g.familyZ = rand.NewZipf(r, 1.07, 1, uint64(len(g.family)-1))
	g.givenZ = rand.NewZipf(r, 1.01, 20, uint64(len(g.given)-1))
	return g
}

func title(w string) string { return strings.ToUpper(w[:1]) + w[1:] }

func (g *generator) person() *liaisonv1.Person {
	r := g.r
	family := title(g.family[g.familyZ.Uint64()])
	given := title(g.given[g.givenZ.Uint64()])
	if r.Intn(3) == 0 {
		given += " " + title(g.given[g.givenZ.Uint64()])
	}
	p := &liaisonv1.Person{Id: uuid.Must(uuid.NewV7()).String()}
	if r.Intn(10) == 0 {
		// Written in Han script, with the transliteration.
		p.Names = []*liaisonv1.PersonName{{
			FamilyName: string(rune(0x4e00 + r.Intn(0x5000))), GivenNames: string(rune(0x4e00+r.Intn(0x5000))) + string(rune(0x4e00+r.Intn(0x5000))),
			LatinFamilyName: family, LatinGivenNames: given,
		}}
	} else {
		p.Names = []*liaisonv1.PersonName{{FamilyName: family, GivenNames: given}}
	}
	if r.Intn(5) == 0 {
		p.Aliases = []string{title(g.given[g.givenZ.Uint64()])}
	}
	switch k := r.Intn(10); {
	case k < 7:
		d := time.Date(1950+r.Intn(56), 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.Intn(365))
		p.DateOfBirth = &liaisonv1.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}
	case k < 9:
		p.DateOfBirth = &liaisonv1.Date{Year: int32(1950 + r.Intn(56))}
	}
	for i := 0; i < 1+r.Intn(2); i++ {
		p.PhoneNumbers = append(p.PhoneNumbers, &liaisonv1.PhoneNumber{Number: fmt.Sprintf("+668%08d", r.Intn(100_000_000))})
	}
	if r.Intn(2) == 0 {
		p.Documents = []*liaisonv1.IdentityDocument{{
			Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: fmt.Sprintf("%c%08d", 'A'+r.Intn(26), r.Intn(100_000_000)),
			IssuingCountry: []string{"CHN", "THA", "IDN", "VNM"}[r.Intn(4)],
		}}
	}
	return p
}
