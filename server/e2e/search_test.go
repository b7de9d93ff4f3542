package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/persons"
)

// srchNode bundles the clients a search test uses on one node.
type srchNode struct {
	*nodetest.Node
	leads, supervisor liaisonv1.LeadServiceClient
	cases             liaisonv1.CaseServiceClient
	search            liaisonv1.SearchServiceClient
	auditor           liaisonv1.AuditServiceClient
}

func srchClients(t *testing.T, n *nodetest.Node) *srchNode {
	return &srchNode{
		Node:       n,
		leads:      liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst")),
		supervisor: liaisonv1.NewLeadServiceClient(n.Conn(t, "supervisor")),
		cases:      liaisonv1.NewCaseServiceClient(n.Conn(t, "analyst")),
		search:     liaisonv1.NewSearchServiceClient(n.Conn(t, "analyst")),
		auditor:    liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor")),
	}
}

func srchStartAlpha(t *testing.T) *srchNode {
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	return srchClients(t, nodetest.Start(t, pki, pki.Config("alpha", t.TempDir(), "bravo"), nil))
}

// srchName is a subject's name: as written and, if given, its Latin
// transliteration.
func srchName(family, given, latinFamily, latinGiven string) *liaisonv1.PersonName {
	return &liaisonv1.PersonName{FamilyName: family, GivenNames: given, LatinFamilyName: latinFamily, LatinGivenNames: latinGiven}
}

func srchPerson(names ...*liaisonv1.PersonName) *liaisonv1.Person {
	return &liaisonv1.Person{Names: names}
}

// createLead creates a lead with the subjects and returns it.
func (n *srchNode) createLead(t *testing.T, title string, subjects ...*liaisonv1.Person) *liaisonv1.Lead {
	t.Helper()
	l := newLead(title)
	l.Subjects = subjects
	r, err := n.leads.CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: l})
	if err != nil {
		t.Fatalf("create lead %q: %v", title, err)
	}
	return r.GetLead()
}

func (n *srchNode) find(t *testing.T, req *liaisonv1.SearchPersonsRequest) *liaisonv1.SearchPersonsResponse {
	t.Helper()
	r, err := n.search.SearchPersons(context.Background(), req)
	if err != nil {
		t.Fatalf("search %v: %v", req, err)
	}
	if r.GetThreshold() != 50 {
		t.Errorf("search %v: threshold %d, want 50", req, r.GetThreshold())
	}
	for i, h := range r.GetHits() {
		if h.GetScore() < r.GetThreshold() || h.GetScore() > 100 {
			t.Errorf("search %v: hit %d scores %d, outside threshold..100", req, i, h.GetScore())
		}
		if i > 0 && h.GetScore() > r.GetHits()[i-1].GetScore() {
			t.Errorf("search %v: hit %d scores %d, more than the hit before it", req, i, h.GetScore())
		}
		if len(h.GetReasons()) == 0 {
			t.Errorf("search %v: hit %d gives no reason", req, i)
		}
	}
	return r
}

// hitOf returns the hit of record id, or nil.
func hitOf(r *liaisonv1.SearchPersonsResponse, id string) *liaisonv1.PersonHit {
	for _, h := range r.GetHits() {
		if h.GetRecordId() == id {
			return h
		}
	}
	return nil
}

func describeHits(r *liaisonv1.SearchPersonsResponse) string {
	var b strings.Builder
	for _, h := range r.GetHits() {
		fmt.Fprintf(&b, "\n  %s %q (%s) %d %q", h.GetRecordKind(), h.GetRecordTitle(), h.GetOriginAgency(), h.GetScore(), h.GetReasons())
	}
	if b.Len() == 0 {
		return " none"
	}
	return b.String()
}

func TestSearch_NamesInScripts(t *testing.T) {
	t.Parallel()
	n := srchStartAlpha(t)
	chen := n.createLead(t, "Han script", srchPerson(srchName("陈", "伟", "Chen", "Wei")))
	thai := n.createLead(t, "Thai script", srchPerson(srchName("ใจดี", "สมชาย", "Jaidee", "Somchai")))
	garcia := n.createLead(t, "Accents", srchPerson(srchName("García", "José", "", "")))
	alias := &liaisonv1.Person{Names: []*liaisonv1.PersonName{srchName("Moreno", "Luis", "", "")}, Aliases: []string{"José García", "El Flaco"}}
	aliased := n.createLead(t, "Aliases", alias)
	other := n.createLead(t, "Another Chen", srchPerson(srchName("Chen", "Li Na", "", "")))

	for _, tc := range []struct {
		query  string
		lead   *liaisonv1.Lead
		reason string // the exact reason, if given
	}{
		{"Chen Wei", chen, `name "Chen Wei" matches the Latin transliteration "Chen Wei" of "陈 伟"`},
		{"chen wei", chen, `name "chen wei" matches the Latin transliteration "Chen Wei" of "陈 伟" (case ignored)`},
		{"Wei Chen", chen, `name "Wei Chen" matches the Latin transliteration "Chen Wei" of "陈 伟": all 2 words, in another order`},
		{"ChenWei", chen, `name "ChenWei" matches the Latin transliteration "Chen Wei" of "陈 伟": the same letters, spaced differently`},
		{"CHEN  WEI", chen, ""},
		{"陈伟", chen, `name "陈伟" matches the name "陈 伟": the same letters, spaced differently`},
		{"陈 伟", chen, `name "陈 伟" matches the name "陈 伟"`},
		{"伟 陈", chen, ""},
		{"ใจดี สมชาย", thai, `name "ใจดี สมชาย" matches the name "ใจดี สมชาย"`},
		{"สมชาย ใจดี", thai, `name "สมชาย ใจดี" matches the name "ใจดี สมชาย": all 2 words, in another order`},
		{"ใจดีสมชาย", thai, ""},
		{"Jaidee Somchai", thai, `name "Jaidee Somchai" matches the Latin transliteration "Jaidee Somchai" of "ใจดี สมชาย"`},
		{"somchai jaidee", thai, ""},
		{"José García", garcia, `name "José García" matches the name "García José": all 2 words, in another order`},
		{"Jose Garcia", garcia, `name "Jose Garcia" matches the name "García José": all 2 words, in another order (accents ignored)`},
		{"garcia jose", garcia, `name "garcia jose" matches the name "García José" (accents and case ignored)`},
		{"jose garcia", aliased, `name "jose garcia" matches alias "José García" (accents and case ignored)`},
		{"El Flaco", aliased, `name "El Flaco" matches alias "El Flaco"`},
		{"flaco el", aliased, ""},
		{"Luis Moreno", aliased, ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			r := n.find(t, &liaisonv1.SearchPersonsRequest{Name: tc.query})
			h := hitOf(r, tc.lead.GetId())
			if h == nil {
				t.Fatalf("%q does not find %q; hits:%s", tc.query, tc.lead.GetTitle(), describeHits(r))
			}
			if h.GetScore() != 100 || h.GetRecordKind() != liaisonv1.RecordKind_RECORD_KIND_LEAD || h.GetOriginAgency() != "alpha" ||
				h.GetRecordTitle() != tc.lead.GetTitle() || h.GetPerson().GetId() != tc.lead.GetSubjects()[0].GetId() {
				t.Errorf("%q: hit %v", tc.query, h)
			}
			if tc.reason != "" && !slices.Equal(h.GetReasons(), []string{tc.reason}) {
				t.Errorf("%q: reasons %q\nwant %q", tc.query, h.GetReasons(), tc.reason)
			}
			if hitOf(r, other.GetId()) != nil && tc.lead == chen {
				t.Errorf("%q also finds Chen Li Na (one word of four shared):%s", tc.query, describeHits(r))
			}
		})
	}

	// A partial name is a weaker hit, explained. Given names of several
	// words count as one too ("Li Na", "Lina").
	r := n.find(t, &liaisonv1.SearchPersonsRequest{Name: "Chen"})
	if h := hitOf(r, chen.GetId()); h == nil || h.GetScore() != 50 ||
		h.GetReasons()[0] != `name "Chen" matches the Latin transliteration "Chen Wei" of "陈 伟": 1 of 2 words in common (chen), score 50` {
		t.Errorf(`"Chen": hits:%s`, describeHits(r))
	}
	if h := hitOf(r, other.GetId()); h == nil || h.GetScore() != 50 ||
		h.GetReasons()[0] != `name "Chen" matches the name "Chen Li Na": 1 of 2 words in common (chen), score 50` {
		t.Errorf(`"Chen": hits:%s`, describeHits(r))
	}
	// Words found in different names of a person do not add up: each
	// name (or alias) is scored on its own.
	spread := n.createLead(t, "Spread", &liaisonv1.Person{Names: []*liaisonv1.PersonName{srchName("Chen", "Wei", "", "")}, Aliases: []string{"Boss Li"}})
	r = n.find(t, &liaisonv1.SearchPersonsRequest{Name: "Chen Li"})
	if hitOf(r, spread.GetId()) != nil || hitOf(r, chen.GetId()) != nil || hitOf(r, other.GetId()).GetScore() != 66 {
		t.Errorf(`"Chen Li": want only Chen Li Na (66), not "Chen Wei" alias "Boss Li" (33 each):%s`, describeHits(r))
	}
}

// thaiMobile is one number written in several national and international
// formats.
var thaiMobile = []struct{ number, region string }{
	{"081-234-5678", "TH"},
	{"+66 81 234 5678", ""},
	{"+66812345678", ""},
	{"(08) 1234 5678", "TH"},
}

func TestSearch_PhoneFormats(t *testing.T) {
	t.Parallel()
	n := srchStartAlpha(t)
	var leads []*liaisonv1.Lead
	for i, f := range thaiMobile {
		p := srchPerson(srchName("Phone", fmt.Sprintf("Format %d", i), "", ""))
		p.PhoneNumbers = []*liaisonv1.PhoneNumber{{Number: f.number, Region: f.region}}
		l := n.createLead(t, fmt.Sprintf("stored as %q", f.number), p)
		if got := l.GetSubjects()[0].GetPhoneNumbers()[0]; got.GetNumber() != "+66812345678" || got.GetRegion() != "" {
			t.Fatalf("%q/%s stored as %v, want +66812345678", f.number, f.region, got)
		}
		leads = append(leads, l)
	}
	n.createLead(t, "another number", &liaisonv1.Person{
		Names: []*liaisonv1.PersonName{srchName("Phone", "Other", "", "")}, PhoneNumbers: []*liaisonv1.PhoneNumber{{Number: "+66812345679"}},
	})
	for _, q := range thaiMobile {
		r := n.find(t, &liaisonv1.SearchPersonsRequest{Phone: q.number, PhoneRegion: q.region})
		if len(r.GetHits()) != len(leads) {
			t.Errorf("phone %q/%s: %d hits, want %d:%s", q.number, q.region, len(r.GetHits()), len(leads), describeHits(r))
		}
		for _, l := range leads {
			h := hitOf(r, l.GetId())
			if h == nil || h.GetScore() != 100 || !slices.Equal(h.GetReasons(), []string{"phone +66812345678 matches exactly"}) {
				t.Errorf("phone %q/%s: the subject %s: hit %v", q.number, q.region, l.GetTitle(), h)
			}
		}
	}
	if r := n.find(t, &liaisonv1.SearchPersonsRequest{Phone: "+66 81 234 5670"}); len(r.GetHits()) != 0 {
		t.Errorf("a number nobody has finds:%s", describeHits(r))
	}
}

func TestSearch_DocumentNumber(t *testing.T) {
	t.Parallel()
	n := srchStartAlpha(t)
	withDoc := func(given, number string) *liaisonv1.Person {
		p := srchPerson(srchName("Document", given, "", ""))
		p.Documents = []*liaisonv1.IdentityDocument{{Type: liaisonv1.DocumentType_DOCUMENT_TYPE_PASSPORT, Number: number, IssuingCountry: "CHN"}}
		return p
	}
	plain := n.createLead(t, "plain", withDoc("Plain", "E1234567"))
	spaced := n.createLead(t, "spaced", withDoc("Spaced", "e 123-4567"))
	n.createLead(t, "longer", withDoc("Longer", "E12345678"))
	for _, q := range []string{"e 123-4567", "E1234567", "E-123 4567", "e1234567"} {
		r := n.find(t, &liaisonv1.SearchPersonsRequest{Document: q})
		if len(r.GetHits()) != 2 {
			t.Errorf("document %q: %d hits, want 2:%s", q, len(r.GetHits()), describeHits(r))
		}
		for _, l := range []*liaisonv1.Lead{plain, spaced} {
			h := hitOf(r, l.GetId())
			if h == nil || h.GetScore() != 100 || !slices.Equal(h.GetReasons(), []string{"document E1234567 (passport, CHN) matches exactly"}) {
				t.Errorf("document %q: lead %s: hit %v", q, l.GetTitle(), h)
			}
		}
	}
	if r := n.find(t, &liaisonv1.SearchPersonsRequest{Document: "E123456"}); len(r.GetHits()) != 0 {
		t.Errorf("a prefix of the number finds:%s", describeHits(r))
	}
}

func TestSearch_DateOfBirth(t *testing.T) {
	t.Parallel()
	n := srchStartAlpha(t)
	born := func(given string, d *liaisonv1.Date) *liaisonv1.Person {
		p := srchPerson(srchName("Birthday", given, "", ""))
		p.DateOfBirth = d
		return p
	}
	leap := n.createLead(t, "born 1980-02-29", born("Leap", &liaisonv1.Date{Year: 1980, Month: 2, Day: 29}))
	year := n.createLead(t, "born 1980", born("Year", &liaisonv1.Date{Year: 1980}))
	march := n.createLead(t, "born 1980-03", born("March", &liaisonv1.Date{Year: 1980, Month: 3}))
	older := n.createLead(t, "born 1975-06-01", born("Older", &liaisonv1.Date{Year: 1975, Month: 6, Day: 1}))
	unknown := n.createLead(t, "born when?", born("Unknown", nil))
	titles := func(r *liaisonv1.SearchPersonsResponse) []string {
		var out []string
		for _, h := range r.GetHits() {
			out = append(out, h.GetRecordTitle())
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		name string
		req  *liaisonv1.SearchPersonsRequest
		want []*liaisonv1.Lead
	}{
		{"ExactDate", &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 1980, Month: 2, Day: 29}}, []*liaisonv1.Lead{leap, year}},
		{"OtherDay", &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 1980, Month: 2, Day: 28}}, []*liaisonv1.Lead{year}},
		{"YearAndMonth", &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 1980, Month: 3}}, []*liaisonv1.Lead{year, march}},
		{"Year", &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 1980}}, []*liaisonv1.Lead{leap, year, march}},
		{"YearRange", &liaisonv1.SearchPersonsRequest{BirthYearFrom: 1970, BirthYearTo: 1979}, []*liaisonv1.Lead{older}},
		{"YearRangeWide", &liaisonv1.SearchPersonsRequest{BirthYearFrom: 1975, BirthYearTo: 1980}, []*liaisonv1.Lead{leap, year, march, older}},
		{"YearsFrom", &liaisonv1.SearchPersonsRequest{BirthYearFrom: 1976}, []*liaisonv1.Lead{leap, year, march}},
		{"YearsUpTo", &liaisonv1.SearchPersonsRequest{BirthYearTo: 1975}, []*liaisonv1.Lead{older}},
		{"NoneThatYear", &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 1990}}, nil},
		{"NameAndYear", &liaisonv1.SearchPersonsRequest{Name: "Birthday", DateOfBirth: &liaisonv1.Date{Year: 1975}}, []*liaisonv1.Lead{older}},
		{"NameAndRange", &liaisonv1.SearchPersonsRequest{Name: "birthday leap", BirthYearFrom: 1980, BirthYearTo: 1980}, []*liaisonv1.Lead{leap}},
		{"NameOnly", &liaisonv1.SearchPersonsRequest{Name: "Birthday"}, []*liaisonv1.Lead{leap, year, march, older, unknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := n.find(t, tc.req)
			var want []string
			for _, l := range tc.want {
				want = append(want, l.GetTitle())
			}
			slices.Sort(want)
			if got := titles(r); !slices.Equal(got, want) {
				t.Errorf("found %q, want %q:%s", got, want, describeHits(r))
			}
		})
	}
	r := n.find(t, &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 1980, Month: 2, Day: 29}})
	if h := hitOf(r, leap.GetId()); h == nil || !slices.Equal(h.GetReasons(), []string{"born 1980-02-29"}) || h.GetScore() != 100 {
		t.Errorf("exact date: hit %v", h)
	}
	if h := hitOf(r, year.GetId()); h == nil || !slices.Equal(h.GetReasons(), []string{"born 1980 (only the year is recorded), consistent with 1980-02-29"}) {
		t.Errorf("year only recorded: hit %v", h)
	}
}

// TestSearch_LeadsReplicasCasesAndWithdrawal: one search finds a person in
// the node's own leads and cases and in a partner's replica, each hit
// naming its record and origin; a withdrawn lead leaves search at once on
// its home node and, when the tombstone arrives, on the partner.
func TestSearch_LeadsReplicasCasesAndWithdrawal(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, nil)
	alpha, bravo := srchClients(t, a), srchClients(t, b)
	ctx := context.Background()
	subject := func() *liaisonv1.Person {
		return &liaisonv1.Person{
			Names:        []*liaisonv1.PersonName{srchName("Nguyễn", "Văn Đức", "", "")},
			PhoneNumbers: []*liaisonv1.PhoneNumber{{Number: "+84 912 345 678"}},
		}
	}
	query := &liaisonv1.SearchPersonsRequest{Name: "Nguyen Van Duc"}

	// alpha's lead, released to bravo.
	own := alpha.createLead(t, "Alpha's lead on Duc", subject())
	rel, err := alpha.supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: own.GetId(), Partners: []string{"bravo"}})
	if err != nil {
		t.Fatal(err)
	}
	// bravo's own lead and case.
	bravoLead := bravo.createLead(t, "Bravo's lead on Duc", subject())
	cr, err := bravo.cases.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: &liaisonv1.Case{
		Title: "Joint case on Duc", CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
		Subjects: []*liaisonv1.Person{subject()},
	}})
	if err != nil {
		t.Fatalf("create case: %v", err)
	}
	bravoCase := cr.GetCase()

	var r *liaisonv1.SearchPersonsResponse
	nodetest.Eventually(t, 10*time.Second, func() error {
		r = bravo.find(t, query)
		if hitOf(r, own.GetId()) == nil {
			return fmt.Errorf("bravo does not find alpha's released lead yet; hits:%s", describeHits(r))
		}
		return nil
	})
	for _, want := range []struct {
		id, title, origin string
		kind              liaisonv1.RecordKind
	}{
		{rel.GetLead().GetId(), "Alpha's lead on Duc", "alpha", liaisonv1.RecordKind_RECORD_KIND_LEAD},
		{bravoLead.GetId(), "Bravo's lead on Duc", "bravo", liaisonv1.RecordKind_RECORD_KIND_LEAD},
	} {
		h := hitOf(r, want.id)
		if h == nil || h.GetRecordTitle() != want.title || h.GetOriginAgency() != want.origin || h.GetRecordKind() != want.kind || h.GetScore() != 100 {
			t.Errorf("bravo's hit for %q: %v; hits:%s", want.title, h, describeHits(r))
		}
	}
	if reason := hitOf(r, own.GetId()).GetReasons(); !slices.Equal(reason, []string{`name "Nguyen Van Duc" matches the name "Nguyễn Văn Đức" (accents and letter variants ignored)`}) {
		t.Errorf("reasons %q", reason)
	}
	t.Run("Case", func(t *testing.T) {
		h := hitOf(r, bravoCase.GetId())
		if h == nil || h.GetRecordKind() != liaisonv1.RecordKind_RECORD_KIND_CASE || h.GetOriginAgency() != "bravo" ||
			h.GetRecordTitle() != "Joint case on Duc" || h.GetScore() != 100 {
			t.Errorf("bravo's case: hit %v; hits:%s", h, describeHits(r))
		}
	})
	byPhone := bravo.find(t, &liaisonv1.SearchPersonsRequest{Phone: "+84912345678"})
	if want := 2 + btoi(bravoCase != nil); len(byPhone.GetHits()) != want {
		t.Errorf("bravo by phone: %d hits, want %d:%s", len(byPhone.GetHits()), want, describeHits(byPhone))
	}

	// Withdrawal: gone from alpha at once, from bravo when the tombstone
	// arrives; bravo's own records stay.
	if _, err := alpha.supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: own.GetId(), Reason: "source burned"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []*liaisonv1.SearchPersonsRequest{query, {Phone: "+84912345678"}, {Name: "Duc"}} {
		if r := alpha.find(t, q); len(r.GetHits()) != 0 {
			t.Errorf("alpha still finds its withdrawn lead by %v:%s", q, describeHits(r))
		}
	}
	nodetest.Eventually(t, 10*time.Second, func() error {
		if r := bravo.find(t, query); hitOf(r, own.GetId()) != nil {
			return fmt.Errorf("bravo still finds alpha's withdrawn lead:%s", describeHits(r))
		}
		return nil
	})
	for _, q := range []*liaisonv1.SearchPersonsRequest{query, {Phone: "+84912345678"}} {
		r := bravo.find(t, q)
		if hitOf(r, own.GetId()) != nil || hitOf(r, bravoLead.GetId()) == nil || (bravoCase != nil && hitOf(r, bravoCase.GetId()) == nil) {
			t.Errorf("bravo after the withdrawal, by %v:%s", q, describeHits(r))
		}
	}
	// Bravo withdraws its own lead: gone at once.
	if _, err := bravo.supervisor.WithdrawLead(ctx, &liaisonv1.WithdrawLeadRequest{Id: bravoLead.GetId(), Reason: "closed"}); err != nil {
		t.Fatal(err)
	}
	if r := bravo.find(t, query); hitOf(r, bravoLead.GetId()) != nil {
		t.Errorf("bravo still finds its own withdrawn lead:%s", describeHits(r))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// srchRandomName makes a name of two or three random words, each of two
// or three syllables.
func srchRandomName(r *rand.Rand) (family, given string) {
	const consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
	word := func() string {
		var b strings.Builder
		for i := 0; i < 2+r.Intn(2); i++ {
			b.WriteByte(consonants[r.Intn(len(consonants))])
			b.WriteByte(vowels[r.Intn(len(vowels))])
			if r.Intn(3) == 0 {
				b.WriteByte(consonants[r.Intn(len(consonants))])
			}
		}
		s := b.String()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	family, given = word(), word()
	if r.Intn(3) == 0 {
		given += " " + word()
	}
	return family, given
}

// TestSearch_RandomNames: among 2,000 persons with random names, each is
// found by its name with a full score, and 500 other random names — sharing
// no word with any indexed name, and not spelling one run together — find
// nobody at or above the threshold.
func TestSearch_RandomNames(t *testing.T) {
	t.Parallel()
	n := srchStartAlpha(t)
	r := rand.New(rand.NewSource(20240229))
	type person struct{ family, given, lead string }
	var people []person
	tokens := map[string]bool{}
	for len(people) < 2000 {
		var subjects []*liaisonv1.Person
		for len(subjects) < 100 {
			f, g := srchRandomName(r)
			p := srchPerson(srchName(f, g, "", ""))
			subjects = append(subjects, p)
			for _, tok := range strings.Fields(persons.IndexTokens(p)) {
				tokens[tok] = true
			}
		}
		l := n.createLead(t, fmt.Sprintf("random names %d", len(people)/100), subjects...)
		for _, s := range l.GetSubjects() {
			people = append(people, person{s.GetNames()[0].GetFamilyName(), s.GetNames()[0].GetGivenNames(), l.GetId()})
		}
	}
	var strangers []string
	for len(strangers) < 500 {
		f, g := srchRandomName(r)
		words := persons.NameWords(f + " " + g)
		unrelated := !tokens[strings.Join(words, "")]
		for _, w := range words {
			unrelated = unrelated && !tokens[w]
		}
		if unrelated {
			strangers = append(strangers, f+" "+g)
		}
	}

	// Searches run from 8 goroutines: every one is an audited write too.
	work := make(chan func(), 64)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				f()
			}
		}()
	}
	var mu sync.Mutex
	var missed, falseHits []string
	for _, p := range people {
		work <- func() {
			name := p.family + " " + p.given
			resp, err := n.search.SearchPersons(context.Background(), &liaisonv1.SearchPersonsRequest{Name: name, PageSize: 200})
			found := false
			for _, h := range resp.GetHits() {
				nm := h.GetPerson().GetNames()[0]
				found = found || h.GetRecordId() == p.lead && nm.GetFamilyName() == p.family && nm.GetGivenNames() == p.given && h.GetScore() == 100
			}
			if err != nil || !found {
				mu.Lock()
				missed = append(missed, fmt.Sprintf("%q (%v)", name, err))
				mu.Unlock()
			}
		}
	}
	for _, s := range strangers {
		work <- func() {
			resp, err := n.search.SearchPersons(context.Background(), &liaisonv1.SearchPersonsRequest{Name: s, PageSize: 200})
			if err != nil || len(resp.GetHits()) > 0 {
				mu.Lock()
				falseHits = append(falseHits, fmt.Sprintf("%q (%v):%s", s, err, describeHits(resp)))
				mu.Unlock()
			}
		}
	}
	close(work)
	wg.Wait()
	if len(missed) > 0 {
		t.Errorf("%d of %d indexed names not found with score 100, e.g. %s", len(missed), len(people), missed[0])
	}
	if len(falseHits) > 0 {
		t.Errorf("%d of %d unrelated names find someone, e.g. %s", len(falseHits), len(strangers), falseHits[0])
	}
}

func TestSearch_Audited(t *testing.T) {
	t.Parallel()
	n := srchStartAlpha(t)
	ctx := context.Background()
	n.find(t, &liaisonv1.SearchPersonsRequest{Name: "Chen Wei", Phone: "+66 81 234 5678", DateOfBirth: &liaisonv1.Date{Year: 1980, Month: 2}})
	if _, err := n.search.SearchPersons(ctx, &liaisonv1.SearchPersonsRequest{Phone: "12", PhoneRegion: "TH"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad phone: %v, want InvalidArgument", err)
	}
	r, err := n.auditor.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Action: liaisonv1.SearchService_SearchPersons_FullMethodName})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range r.GetEvents() {
		got = append(got, fmt.Sprintf("%s %s %s %s", e.GetRole(), e.GetResource(), e.GetOutcome(), e.GetDetail()))
	}
	slices.Sort(got)
	want := []string{
		`analyst persons INVALID_ARGUMENT phone="12"`,
		`analyst persons OK name="Chen Wei" phone=+66812345678 date_of_birth=1980-02`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit events of SearchPersons:\n got %q\nwant %q", got, want)
	}
}

func TestSearch_Validation(t *testing.T) {
	t.Parallel()
	n := srchStartAlpha(t)
	ctx := context.Background()
	t.Run("NoCriterion", func(t *testing.T) {
		for _, req := range []*liaisonv1.SearchPersonsRequest{{}, {PageSize: 10}, {PhoneRegion: "TH"}} {
			_, err := n.search.SearchPersons(ctx, req)
			st := status.Convert(err)
			var rules []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						rules = append(rules, v.GetDescription())
					}
				}
			}
			if st.Code() != codes.InvalidArgument || len(rules) != 1 || !strings.Contains(rules[0], "search.terms") {
				t.Errorf("%v: %v %q, want InvalidArgument with rule search.terms", req, st.Code(), rules)
			}
		}
	})
	for _, tc := range []struct {
		name  string
		req   *liaisonv1.SearchPersonsRequest
		field string
	}{
		{"PhoneNotPossible", &liaisonv1.SearchPersonsRequest{Phone: "+66 12"}, "phone"},
		{"PhoneNationalWithoutRegion", &liaisonv1.SearchPersonsRequest{Phone: "081-234-5678"}, "phone"},
		{"PhoneLetters", &liaisonv1.SearchPersonsRequest{Phone: "+66 CALL ME"}, "phone"},
		{"PhoneRegionLowerCase", &liaisonv1.SearchPersonsRequest{Phone: "0812345678", PhoneRegion: "th"}, "phone_region"},
		{"NameWithoutLetters", &liaisonv1.SearchPersonsRequest{Name: "?!-"}, "name"},
		{"NameTooLong", &liaisonv1.SearchPersonsRequest{Name: strings.Repeat("a", 201)}, "name"},
		{"DocumentWithoutLetters", &liaisonv1.SearchPersonsRequest{Document: " - / "}, "document"},
		{"DateOfBirthInvalid", &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Year: 1981, Month: 2, Day: 29}}, "date_of_birth"},
		{"DateOfBirthYearZero", &liaisonv1.SearchPersonsRequest{DateOfBirth: &liaisonv1.Date{Month: 2}}, "date_of_birth.year"},
		{"BirthYearsReversed", &liaisonv1.SearchPersonsRequest{BirthYearFrom: 1990, BirthYearTo: 1980}, ""},
		{"PageSizeTooBig", &liaisonv1.SearchPersonsRequest{Name: "Chen", PageSize: 201}, "page_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.search.SearchPersons(ctx, tc.req)
			wantViolation(t, err, tc.field)
		})
	}
}

// TestSearch_IndexFollowsUpdates: a write that leaves the title and the
// subjects as they were (a release) keeps the index rows; one that changes
// a subject or the title rewrites them, on the home node and on the
// partner's replica.
func TestSearch_IndexFollowsUpdates(t *testing.T) {
	t.Parallel()
	a, b := nodetest.Pair(t, nil)
	alpha, bravo := srchClients(t, a), srchClients(t, b)
	ctx := context.Background()
	l := alpha.createLead(t, "Kupang recruiter", srchPerson(srchName("Chen", "Wei", "", "")))
	rel, err := alpha.supervisor.ReleaseLead(ctx, &liaisonv1.ReleaseLeadRequest{Id: l.GetId(), Partners: []string{"bravo"}})
	if err != nil {
		t.Fatal(err)
	}
	found := func(n *srchNode, name, title string) error {
		h := hitOf(n.find(t, &liaisonv1.SearchPersonsRequest{Name: name}), l.GetId())
		switch {
		case title == "" && h != nil:
			return fmt.Errorf("%s still finds %q in %q", n.Agency, name, h.GetRecordTitle())
		case title != "" && h == nil:
			return fmt.Errorf("%s does not find %q", n.Agency, name)
		case title != "" && h.GetRecordTitle() != title:
			return fmt.Errorf("%s finds %q under the title %q, want %q", n.Agency, name, h.GetRecordTitle(), title)
		}
		return nil
	}
	both := func(name, title string) {
		t.Helper()
		for _, n := range []*srchNode{alpha, bravo} {
			nodetest.Eventually(t, 10*time.Second, func() error { return found(n, name, title) })
		}
	}
	both("Chen Wei", "Kupang recruiter") // after the release: rows kept

	// A subject renamed: the old name is gone, the new one found.
	lead := &liaisonv1.Lead{Id: l.GetId(), Etag: rel.GetLead().GetEtag(), Subjects: []*liaisonv1.Person{srchPerson(srchName("Li", "Na", "", ""))}}
	up, err := alpha.leads.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{Lead: lead, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"subjects"}}})
	if err != nil {
		t.Fatal(err)
	}
	both("Li Na", "Kupang recruiter")
	both("Chen Wei", "")

	// Only the title changed: the hit names the new title.
	lead = &liaisonv1.Lead{Id: l.GetId(), Etag: up.GetLead().GetEtag(), Title: "Kupang boats"}
	if _, err := alpha.leads.UpdateLead(ctx, &liaisonv1.UpdateLeadRequest{Lead: lead, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
		t.Fatal(err)
	}
	both("Li Na", "Kupang boats")
}

// A common name matched by more persons than a search reads at once: over
// mTLS, the first page says it was capped, and the page tokens go on to
// the oldest person, each person once, every page audited.
func TestSearch_PagesPastTheCap(t *testing.T) {
	t.Parallel()
	n := srchStartAlpha(t)
	const leads, perLead = 7, 100 // 700 persons: more than the 500 a search reads
	want := map[string]bool{}
	for i := range leads {
		var subjects []*liaisonv1.Person
		for j := range perLead {
			given := fmt.Sprintf("Given%03d", i*perLead+j)
			subjects = append(subjects, srchPerson(srchName("Pagerson", given, "", "")))
			want[given] = true
		}
		n.createLead(t, fmt.Sprintf("pages %d", i), subjects...)
	}
	req := &liaisonv1.SearchPersonsRequest{Name: "Pagerson", PageSize: 200}
	seen := map[string]bool{}
	pages := 0
	for {
		r := n.find(t, req)
		pages++
		if pages == 1 && !r.GetCapped() {
			t.Error("first page: not capped")
		}
		for _, h := range r.GetHits() {
			given := h.GetPerson().GetNames()[0].GetGivenNames()
			if seen[given] {
				t.Fatalf("page %d repeats %s", pages, given)
			}
			seen[given] = true
		}
		if req.PageToken = r.GetNextPageToken(); req.PageToken == "" {
			break
		}
		if pages == 20 {
			t.Fatalf("pages do not end (%d persons)", len(seen))
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d persons over %d pages, want %d", len(seen), pages, len(want))
	}
	r, err := n.auditor.ListAuditEvents(context.Background(), &liaisonv1.ListAuditEventsRequest{Action: liaisonv1.SearchService_SearchPersons_FullMethodName})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GetEvents()) != pages {
		t.Errorf("%d audit events of SearchPersons, want one a page (%d)", len(r.GetEvents()), pages)
	}
}
