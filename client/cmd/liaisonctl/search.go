package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func init() {
	// A group that is itself the command: "liaisonctl search Chen Wei".
	register(&group{name: "search", summary: "find persons across every record this node holds (SearchService)", commands: []*command{
		{name: "", detail: "NAME is the words of the line joined (\"search Chen Wei\" is \"search 'Chen Wei'\"). A number with spaces is best quoted; unquoted, the groups of digits right after --phone or --document are taken as part of it (\"--phone +66 81 234 5678\"). A query that matched more persons than a search reads at once says so; its next pages go on to older persons.",
			synopsis: "[NAME...] [--phone NUMBER] [--region CC] [--document NUMBER] [--dob YYYY[-MM[-DD]]] [--born-from YYYY] [--born-to YYYY] [--page-size N]",
			args:     []string{"NAME..."}, setup: searchPersons,
			summary: "find persons by name (the words of the line, in any script and order), phone, document or birth, " +
				"in own and partners' leads and cases, best match first, each with why it matched; the search is audited"},
	}})
}

func (c *cli) searchService() (liaisonv1.SearchServiceClient, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, err
	}
	return liaisonv1.NewSearchServiceClient(conn), nil
}

func searchPersons(fs *flag.FlagSet) handler {
	var phone, document groupsFlag
	fs.Var(&phone, "phone", "a phone `NUMBER`, international (+66 81 234 5678) or national with --region; "+
		"quote it if it has spaces, though the groups of digits that follow it unquoted are taken as part of it")
	region := fs.String("region", "", "the country `CC` (ISO 3166-1 alpha-2, like TH) of a --phone number in national format")
	fs.Var(&document, "document", "an identity document `NUMBER`; spaces, dashes and case do not matter (quote it if it has spaces, "+
		"though the groups of digits that follow it unquoted are taken as part of it)")
	dob := fs.String("dob", "", "born on `YYYY[-MM[-DD]]`: in a year, a month or on a day")
	bornFrom := fs.Int("born-from", 0, "born in `YYYY` or later")
	bornTo := fs.Int("born-to", 0, "born in `YYYY` or earlier")
	size := fs.Int("page-size", 0, "at most `N` persons (node default 20, at most 200)")
	token := fs.String("page-token", "", "the page after the one that printed `TOKEN` (same criteria)")
	return func(ctx context.Context, c *cli, args []string) error {
		req := &liaisonv1.SearchPersonsRequest{
			Name: strings.Join(args, " "), Phone: phone.s, PhoneRegion: strings.ToUpper(strings.TrimSpace(*region)), Document: document.s,
			PageToken: *token,
		}
		var err error
		if req.DateOfBirth, err = parseDate("--dob", *dob); err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			v    int
			dst  *int32
		}{{"--born-from", *bornFrom, &req.BirthYearFrom}, {"--born-to", *bornTo, &req.BirthYearTo}, {"--page-size", *size, &req.PageSize}} {
			if f.v < 0 || f.v > math.MaxInt32 {
				return usageErrorf("%s %d is out of range", f.name, f.v)
			}
			*f.dst = int32(f.v)
		}
		svc, err := c.searchService()
		if err != nil {
			return err
		}
		resp, err := svc.SearchPersons(ctx, req)
		if err != nil {
			return err
		}
		return c.print(resp, func(w io.Writer) { hitTable(w, resp) })
	}
}

var hitColumns = []string{"SCORE", "KIND", "RECORD", "ORIGIN", "TITLE", "PERSON", "WHY"}

// hitTable lists the persons found, best first, and the threshold below
// which matches were left out.
func hitTable(w io.Writer, resp *liaisonv1.SearchPersonsResponse) {
	capped := func() {
		if resp.GetCapped() {
			fmt.Fprintln(w, "capped: the query matched more persons than a search reads at once; these are ranked among the most recently recorded. The next page goes on to older ones, or narrow it (date or year of birth, more of the name, a document or phone).")
		}
	}
	if len(resp.GetHits()) == 0 {
		fmt.Fprintf(w, "no persons found scoring at least the threshold %d\n", resp.GetThreshold())
		capped()
		printNextPage(w, resp.GetNextPageToken())
		return
	}
	row(w, hitColumns...)
	for _, h := range resp.GetHits() {
		row(w, fmt.Sprint(h.GetScore()), enumName(h.GetRecordKind()), h.GetRecordId(), h.GetOriginAgency(),
			restricted(truncate(h.GetRecordTitle(), 40), h.GetRestriction()), hitPerson(h.GetPerson()), strings.Join(h.GetReasons(), "; "))
	}
	fmt.Fprintf(w, "\nthreshold %d: weaker matches are left out\n", resp.GetThreshold())
	capped()
	printNextPage(w, resp.GetNextPageToken())
}

// hitPerson is a person in one cell: the names with their
// transliterations, and the date of birth.
func hitPerson(p *liaisonv1.Person) string {
	var names []string
	for _, n := range p.GetNames() {
		names = append(names, personName(n))
	}
	s := strings.Join(names, " / ")
	if d := date(p.GetDateOfBirth()); d != "" {
		s += ", born " + d
	}
	return orDash(s)
}

// groupsFlag is --phone or --document: a number, best quoted if it has
// spaces. Typed unquoted ("--phone +66 81 234 5678"), its groups of digits
// would become a name to search for; so the words right after the flag's
// value that hold only digits and ( ) . / - are taken as the rest of the
// number. No name is made of such words.
type groupsFlag struct{ s string }

func (g *groupsFlag) String() string {
	if g == nil {
		return ""
	}
	return g.s
}

func (g *groupsFlag) Set(v string) error {
	g.s = v
	return nil
}

// Continue implements multiWordValue.
func (g *groupsFlag) Continue(word string) bool {
	if g.s == "" || !isDigitGroup(word) {
		return false
	}
	g.s += " " + word
	return true
}

// isDigitGroup says whether word is a group of digits of a number ("81",
// "(081)", "234-5678"). A "+" begins a phone number, so it is not one.
func isDigitGroup(word string) bool {
	digit := false
	for _, r := range word {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case strings.ContainsRune("()./-", r):
		default:
			return false
		}
	}
	return digit && word[0] != '-'
}

// parseDate reads a date flag given as YYYY, YYYY-MM or YYYY-MM-DD; nil if
// it is empty. Whether the date exists is the node's to say.
func parseDate(flagName, v string) (*liaisonv1.Date, error) {
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, "-")
	var n [3]int32
	for i, p := range parts {
		x, err := strconv.ParseUint(p, 10, 16)
		if i > 2 || err != nil || (i == 0 && len(p) != 4) || (i > 0 && len(p) > 2) {
			return nil, usageErrorf("%s: %q is not a date of birth like 1980, 1980-03 or 1980-03-14", flagName, v)
		}
		n[i] = int32(x)
	}
	return &liaisonv1.Date{Year: n[0], Month: n[1], Day: n[2]}, nil
}
