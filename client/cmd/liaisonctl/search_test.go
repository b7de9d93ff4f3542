package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// searchHits runs a search on p as an analyst and returns its hits.
func searchHits(t *testing.T, p *peer, args ...string) *liaisonv1.SearchPersonsResponse {
	t.Helper()
	var resp liaisonv1.SearchPersonsResponse
	p.ctl(t, "analyst", append([]string{"search", "-o", "json"}, args...)...).wantCode(t, exitOK).decode(t, &resp)
	return &resp
}

// hitIDs are the records of the hits, in order.
func hitIDs(resp *liaisonv1.SearchPersonsResponse) []string {
	var ids []string
	for _, h := range resp.GetHits() {
		ids = append(ids, h.GetRecordId())
	}
	return ids
}

func TestSearch(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	p := &peer{n.Node}
	// Ivanov, born 1980-03, phone +66 81 234 5678, passport AB123456; in
	// the case too, with the same phone; Chen Wei, born 1975, in the case.
	lead := createLead(t, n, "Kupang boats")
	c := createCase(t, p, "Kupang network")

	t.Run("NameWords", func(t *testing.T) {
		// The words of the line are the name, quoted or not.
		quoted := p.ctl(t, "analyst", "search", "Chen Wei", "-o", "json").wantCode(t, exitOK)
		unquoted := p.ctl(t, "analyst", "search", "Chen", "Wei", "-o", "json").wantCode(t, exitOK)
		if quoted.stdout != unquoted.stdout {
			t.Errorf("quoted:\n%s\nunquoted:\n%s", quoted.stdout, unquoted.stdout)
		}
		resp := searchHits(t, p, "Chen", "Wei")
		if len(resp.GetHits()) != 1 {
			t.Fatalf("hits for Chen Wei: %v", resp.GetHits())
		}
		h := resp.GetHits()[0]
		if h.GetRecordKind() != liaisonv1.RecordKind_RECORD_KIND_CASE || h.GetRecordId() != c.GetId() || h.GetOriginAgency() != "alpha" ||
			h.GetRecordTitle() != "Kupang network" || h.GetScore() != 100 || len(h.GetReasons()) == 0 {
			t.Errorf("hit for Chen Wei: %v", h)
		}
		// Flags before, between and after the words.
		for _, args := range [][]string{{"--page-size", "5", "Chen", "Wei"}, {"Chen", "--page-size", "5", "Wei"}, {"Wei", "Chen", "--dob", "1975"}} {
			if got := hitIDs(searchHits(t, p, args...)); !cmp.Equal(got, []string{c.GetId()}) {
				t.Errorf("search %q: %v, want the case", args, got)
			}
		}
	})
	t.Run("Table", func(t *testing.T) {
		r := p.ctl(t, "analyst", "search", "Ivan", "Ivanov").wantCode(t, exitOK)
		ls := lines(r.stdout)
		if len(ls) != 4 {
			t.Fatalf("want a header, 2 hits and the threshold:\n%s", r.stdout)
		}
		if got := strings.Fields(ls[0]); !cmp.Equal(got, []string{"SCORE", "KIND", "RECORD", "ORIGIN", "TITLE", "PERSON", "WHY"}) {
			t.Errorf("header %q", ls[0])
		}
		var leadRow, caseRow string
		for _, l := range ls[1:3] {
			switch {
			case strings.Contains(l, lead.GetId()):
				leadRow = l
			case strings.Contains(l, c.GetId()):
				caseRow = l
			}
		}
		if !regexp.MustCompile(`^\d+ +lead +` + lead.GetId() + ` +alpha +Kupang boats +Иванов, Иван \[Ivanov, Ivan\], born 1980-03 +name "Ivan Ivanov" .+$`).MatchString(leadRow) {
			t.Errorf("lead row %q", leadRow)
		}
		if !regexp.MustCompile(`^\d+ +case +` + c.GetId() + ` +alpha +Kupang network +Ivanov, Ivan +name "Ivan Ivanov" .+$`).MatchString(caseRow) {
			t.Errorf("case row %q", caseRow)
		}
		if !regexp.MustCompile(`\n\nthreshold \d+: weaker matches are left out\n$`).MatchString(r.stdout) {
			t.Errorf("no threshold at the end:\n%s", r.stdout)
		}
	})
	t.Run("PhoneFormats", func(t *testing.T) {
		both := []string{lead.GetId(), c.GetId()}
		for _, args := range [][]string{
			{"--phone", "+66812345678"},
			{"--phone", "+66 81 234 5678"},
			{"--phone", "+66", "81", "234", "5678"},
			{"--phone=+66", "81", "234", "5678"},
			{"--phone", "+66-81-234-5678"},
			{"--phone", "081 234 5678", "--region", "TH"},
			{"--region", "th", "--phone", "(081)", "234-5678"},
			{"--phone", "0812345678", "--region", "TH"},
		} {
			resp := searchHits(t, p, args...)
			got := hitIDs(resp)
			if !cmp.Equal(len(got), 2) || !cmp.Equal(map[string]bool{got[0]: true, got[1]: true}, map[string]bool{both[0]: true, both[1]: true}) {
				t.Errorf("search %q: %v, want the lead and the case", args, got)
				continue
			}
			for _, h := range resp.GetHits() {
				if h.GetScore() != 100 || !strings.Contains(strings.Join(h.GetReasons(), "; "), "+66812345678") {
					t.Errorf("search %q: hit %v", args, h)
				}
			}
		}
		// A phone typed unquoted, then a name: both criteria.
		resp := searchHits(t, p, "--phone", "+66", "81", "234", "5678", "Ivanov")
		if got := hitIDs(resp); len(got) != 2 {
			t.Errorf("phone and name: %v, want the lead and the case", got)
		}
		for _, h := range resp.GetHits() {
			if len(h.GetReasons()) != 2 {
				t.Errorf("phone and name: reasons %q, want one per criterion", h.GetReasons())
			}
		}
		if got := hitIDs(searchHits(t, p, "--phone", "+66 81 234 5678", "Chen")); len(got) != 0 {
			t.Errorf("Ivanov's phone and the name Chen: %v, want nothing", got)
		}
		r := p.ctl(t, "analyst", "search", "--phone", "+66", "81", "234", "5678").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, lead.GetId(), c.GetId(), "phone +66812345678")
		if got := hitIDs(searchHits(t, p, "--phone", "+66 81 234 5670")); len(got) != 0 {
			t.Errorf("another number: %v", got)
		}
	})
	t.Run("OtherTerms", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"--document", "ab-123 456"}, []string{lead.GetId()}},
			{[]string{"--dob", "1980-03"}, []string{lead.GetId()}},
			// The day of Ivanov's birth is not recorded.
			{[]string{"--dob", "1980-03-14"}, []string{lead.GetId()}},
			{[]string{"--dob", "1981"}, nil},
			{[]string{"--document", "AB", "123", "456"}, []string{lead.GetId()}},
			{[]string{"--born-from", "1974", "--born-to", "1976"}, []string{c.GetId()}},
			{[]string{"Ivanov", "--born-to", "1979"}, nil},
		} {
			if got := hitIDs(searchHits(t, p, tc.args...)); !cmp.Equal(tc.want, got) {
				t.Errorf("search %q: %v, want %v", tc.args, got, tc.want)
			}
		}
		r := p.ctl(t, "analyst", "search", "Nobody", "Atall").wantCode(t, exitOK)
		if !regexp.MustCompile(`^no persons found scoring at least the threshold \d+\n$`).MatchString(r.stdout) {
			t.Errorf("no hits: %q", r.stdout)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		for _, tc := range []struct {
			args   []string
			stderr []string
		}{
			// A rule on the request as a whole: no field is named.
			{nil, []string{"error: INVALID_ARGUMENT: ", "\n  give a name, phone, document, date of birth or birth years to search for [search.terms]\n"}},
			{[]string{"--phone", "081 234 5678"}, []string{"error: INVALID_ARGUMENT: ", "\n  field phone: "}},
			{[]string{"--phone", "call me"}, []string{"error: INVALID_ARGUMENT: ", "\n  field phone: "}},
			{[]string{"--dob", "1980-13"}, []string{"error: INVALID_ARGUMENT: ", "\n  field date_of_birth.month: "}},
			{[]string{"--born-from", "1990", "--born-to", "1980"}, []string{"error: INVALID_ARGUMENT: ", "\n  birth_year_from must not be after birth_year_to [search.birth_years]\n"}},
		} {
			r := p.ctl(t, "analyst", append([]string{"search"}, tc.args...)...).wantCode(t, exitFailed)
			wantContains(t, "stderr", r.stderr, tc.stderr...)
			wantContains(t, "stderr", r.stderr, "request id: ")
			if strings.Contains(r.stderr, "field :") {
				t.Errorf("an empty field named:\n%s", r.stderr)
			}
		}
		r := p.ctl(t, "auditor", "search", "Chen").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ")
	})
	t.Run("Audited", func(t *testing.T) {
		var events liaisonv1.ListAuditEventsResponse
		p.ctl(t, "auditor", "audit", "list", "--action", liaisonv1.SearchService_SearchPersons_FullMethodName, "--outcome", "OK", "-o", "json").wantCode(t, exitOK).decode(t, &events)
		var details []string
		for _, e := range events.GetEvents() {
			details = append(details, e.GetDetail())
		}
		wantContains(t, "audited searches", strings.Join(details, "\n"), `name="Chen Wei"`, "phone=+66812345678")
	})
}

// A partner's released lead is found on the partner's node, its origin
// named.
func TestSearch_PartnersRecords(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	l := bravo.waitLead(t, alpha.createReleased(t, "Kupang boats", "H0", "bravo"))
	var resp liaisonv1.SearchPersonsResponse
	eventually(t, func() error {
		if err := bravo.tryJSON("analyst", &resp, "search", "Ivanov"); err != nil {
			return err
		}
		if len(resp.GetHits()) != 1 {
			return fmt.Errorf("bravo finds %d persons named Ivanov", len(resp.GetHits()))
		}
		return nil
	})
	if h := resp.GetHits()[0]; h.GetRecordId() != l.GetId() || h.GetOriginAgency() != "alpha" || h.GetRecordKind() != liaisonv1.RecordKind_RECORD_KIND_LEAD {
		t.Errorf("bravo's hit: %v", h)
	}
	r := bravo.ctl(t, "analyst", "search", "--phone", "+66", "81", "234", "5678").wantCode(t, exitOK)
	if ls := lines(r.stdout); len(ls) != 3 || !regexp.MustCompile(`^100 +lead +`+l.GetId()+` +alpha +Kupang boats +`).MatchString(ls[1]) {
		t.Errorf("bravo's table:\n%s", r.stdout)
	}
}

func TestParse_Search(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args  []string
		name  []string
		phone string
	}{
		{[]string{"search", "Chen Wei"}, []string{"Chen Wei"}, ""},
		{[]string{"search", "Chen", "Wei"}, []string{"Chen", "Wei"}, ""},
		{[]string{"search"}, nil, ""},
		{[]string{"search", "--phone", "+66 81 234 5678"}, nil, "+66 81 234 5678"},
		{[]string{"search", "--phone", "+66", "81", "234", "5678"}, nil, "+66 81 234 5678"},
		{[]string{"search", "--phone=+66", "81", "234", "5678", "Chen"}, []string{"Chen"}, "+66 81 234 5678"},
		{[]string{"search", "Chen", "--phone", "(081)", "234-5678", "--region", "TH", "Wei"}, []string{"Chen", "Wei"}, "(081) 234-5678"},
		// Only the words right after the value; a "+" begins another
		// number, a letter a name.
		{[]string{"search", "--phone", "+66", "81", "Chen", "234"}, []string{"Chen", "234"}, "+66 81"},
		{[]string{"search", "--phone", "+66", "+81"}, []string{"+81"}, "+66"},
		{[]string{"search", "--phone", "+66", "81a"}, []string{"81a"}, "+66"},
		{[]string{"search", "--phone", "+66", "--", "81"}, []string{"81"}, "+66"},
		{[]string{"search", "--phone", "+66", "-o", "json", "81"}, []string{"81"}, "+66"},
		{[]string{"search", "--document", "AB", "123", "Ivanov"}, []string{"Ivanov"}, ""},
	} {
		inv, err := parse(tc.args)
		if err != nil {
			t.Errorf("parse(%q): %v", tc.args, err)
			continue
		}
		if inv.group.name != "search" || inv.cmd.name != "" {
			t.Errorf("parse(%q): command %s %s, want search", tc.args, inv.group.name, inv.cmd.name)
		}
		if !cmp.Equal(tc.name, inv.args) {
			t.Errorf("parse(%q): words %q, want %q", tc.args, inv.args, tc.name)
		}
		if got := inv.flags.Lookup("phone").Value.String(); got != tc.phone {
			t.Errorf("parse(%q): --phone %q, want %q", tc.args, got, tc.phone)
		}
		if got, want := inv.flags.Lookup("document").Value.String(), map[bool]string{true: "AB 123"}[slices.Contains(tc.args, "--document")]; got != want {
			t.Errorf("parse(%q): --document %q, want %q", tc.args, got, want)
		}
	}
}

func TestIsDigitGroup(t *testing.T) {
	t.Parallel()
	for w, want := range map[string]bool{
		"81": true, "(081)": true, "234-5678": true, "12.34": true, "5/6": true,
		"+81": false, "-81": false, "81a": false, "": false, "()": false, "Chen": false, "٨١": false,
	} {
		if got := isDigitGroup(w); got != want {
			t.Errorf("isDigitGroup(%q) = %v, want %v", w, got, want)
		}
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]*liaisonv1.Date{
		"1980": {Year: 1980}, "1980-03": {Year: 1980, Month: 3}, "1980-3": {Year: 1980, Month: 3}, "1980-03-14": {Year: 1980, Month: 3, Day: 14},
		// Whether it exists is the node's to say.
		"1980-13-40": {Year: 1980, Month: 13, Day: 40},
	} {
		got, err := parseDate("--dob", in)
		if err != nil || got.GetYear() != want.GetYear() || got.GetMonth() != want.GetMonth() || got.GetDay() != want.GetDay() {
			t.Errorf("parseDate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"80", "1980-", "1980-003", "1980/03", "March 1980", "1980-03-14-1", "-1980", "+1980"} {
		if got, err := parseDate("--dob", in); err == nil {
			t.Errorf("parseDate(%q) = %v, want an error", in, got)
		}
	}
	if got, err := parseDate("--dob", ""); got != nil || err != nil {
		t.Errorf(`parseDate("") = %v, %v`, got, err)
	}
}

func TestRun_UsageOfSearch(t *testing.T) {
	t.Parallel()
	runUsage(t, []usageCase{
		{name: "Help", args: []string{"help", "search"}, code: exitOK, stdout: []string{"usage: liaisonctl search [NAME...] [--phone NUMBER]", "--phone NUMBER", "--dob YYYY[-MM[-DD]]", "--born-from YYYY", "--region CC"}},
		{name: "DashH", args: []string{"search", "Chen", "-h"}, code: exitOK, stdout: []string{"usage: liaisonctl search [NAME...]"}},
		{name: "BadDOB", args: []string{"search", "--dob", "14/03/1980"}, code: exitUsage, stderr: []string{`--dob: "14/03/1980" is not a date of birth like 1980, 1980-03 or 1980-03-14`, "usage: liaisonctl search "}},
		{name: "BadYear", args: []string{"search", "--born-from", "nineteen"}, code: exitUsage, stderr: []string{`invalid value "nineteen" for flag --born-from`}},
		{name: "BadPageSize", args: []string{"search", "x", "--page-size", "-1"}, code: exitUsage, stderr: []string{"--page-size -1 is out of range"}},
		{name: "PhoneWithoutValue", args: []string{"search", "--phone"}, code: exitUsage, stderr: []string{"flag --phone needs a value"}},
		{name: "UnknownFlag", args: []string{"search", "--name", "Chen"}, code: exitUsage, stderr: []string{"unknown flag --name"}},
	})
}

// A page with no hit in its window of candidates still shows how to go on
// to older ones.
func TestHitTable_EmptyCappedPage(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	hitTable(&b, &liaisonv1.SearchPersonsResponse{Threshold: 50, Capped: true, NextPageToken: "tok"})
	for _, want := range []string{"no persons found scoring at least the threshold 50", "capped:", "next page: --page-token tok"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
