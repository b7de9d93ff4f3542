package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// Output formats.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// print writes the response m: as protojson with -o json, else as the
// table that table writes (through a tabwriter).
func (c *cli) print(m proto.Message, table func(w io.Writer)) error {
	if c.output == outputJSON {
		b, err := protojson.MarshalOptions{Multiline: true}.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode response: %w", err)
		}
		_, err = c.stdout.Write(append(b, '\n'))
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// printLead prints the response of a call returning one lead: the lead in
// detail, or the whole response as JSON.
func (c *cli) printLead(resp proto.Message, l *liaisonv1.Lead) error {
	return c.print(resp, func(w io.Writer) { c.leadDetail(w, l) })
}

// printNextPage says how to read on after a list that has more pages.
func printNextPage(w io.Writer, token string) {
	if token != "" {
		fmt.Fprintf(w, "\nnext page: --page-token %s\n", token)
	}
}

var leadColumns = []string{"ID", "ORIGIN", "STATUS", "VERSION", "EVAL", "HANDLING", "CRIME AREAS", "RELEASED TO", "UPDATED", "TITLE"}

func leadTable(w io.Writer, leads []*liaisonv1.Lead) {
	row(w, leadColumns...)
	for _, l := range leads {
		row(w, l.GetId(), l.GetOriginAgency(), enumName(l.GetStatus()), fmt.Sprint(l.GetVersion()),
			evaluation(l.GetEvaluation()), truncate(handling(l.GetHandling()), 40), crimeAreas(l.GetCrimeAreas()),
			orDash(strings.Join(l.GetReleasedTo(), ",")), timestamp(l.GetUpdateTime()), restricted(l.GetTitle(), l.GetRestriction()))
	}
}

// leadDetail is the key/value view of one lead, its subjects included.
func (c *cli) leadDetail(w io.Writer, l *liaisonv1.Lead) {
	kv := func(k, v string) {
		if v != "" {
			row(w, k, v)
		}
	}
	origin := c.originLabel(l.GetOriginAgency(), fmt.Sprintf("replica of %s's record, read-only", l.GetOriginAgency()))
	kv("ID:", l.GetId())
	kv("ORIGIN:", origin)
	kv("STATUS:", enumName(l.GetStatus()))
	kv("VERSION:", fmt.Sprint(l.GetVersion()))
	kv("ETAG:", l.GetEtag())
	kv("TITLE:", l.GetTitle())
	if l.GetSummary() != "" {
		for i, line := range strings.Split(l.GetSummary(), "\n") {
			row(w, onFirst(i, "SUMMARY:"), line)
		}
	}
	kv("CRIME AREAS:", crimeAreas(l.GetCrimeAreas()))
	kv("EVALUATION:", evaluation(l.GetEvaluation()))
	kv("HANDLING:", handling(l.GetHandling()))
	if r := l.GetRestriction(); r != nil {
		kv("RESTRICTION:", r.GetMeaning())
		if r.GetPermissionGranted() {
			kv("PERMISSION:", "granted by "+r.GetOriginator()+" (export)")
		}
	}
	kv("CONTACT:", contact(l.GetContact()))
	kv("REFERENCE:", l.GetOriginatorReference())
	kv("RELEASED TO:", strings.Join(l.GetReleasedTo(), ", "))
	kv("REVIEW DATE:", date(l.GetReviewDate()))
	created := timestamp(l.GetCreateTime())
	if l.GetCreatedBy() != "" {
		created += " by " + l.GetCreatedBy()
	}
	kv("CREATED:", created)
	kv("UPDATED:", timestamp(l.GetUpdateTime()))
	if l.GetWithdrawTime() != nil {
		kv("WITHDRAWN:", timestamp(l.GetWithdrawTime()))
		kv("REASON:", l.GetWithdrawReason())
	}
	for i, loc := range l.GetLocations() {
		row(w, onFirst(i, "LOCATIONS:"), location(loc))
	}
	for i, r := range l.GetRoutes() {
		row(w, onFirst(i, "ROUTES:"), route(r))
	}
	if len(l.GetSubjects()) > 0 {
		// A line without a tab: the subjects align among themselves.
		fmt.Fprintf(w, "SUBJECTS: %d\n", len(l.GetSubjects()))
	}
	for i, p := range l.GetSubjects() {
		person(w, fmt.Sprintf("  [%d] ", i+1), p)
	}
}

// originLabel is a record's origin agency, marked as the caller's own
// record or, in the words of replica, as a partner's; unmarked if the
// caller's agency cannot be told.
func (c *cli) originLabel(origin, replica string) string {
	switch own := c.callerAgency(); {
	case own != "" && origin == own:
		return origin + " (own record)"
	case own != "":
		return origin + " (" + replica + ")"
	}
	return origin
}

// onFirst labels the first line of a list of values.
func onFirst(i int, label string) string {
	if i == 0 {
		return label
	}
	return ""
}

// person writes a person's facts, the first line headed by head.
func person(w io.Writer, head string, p *liaisonv1.Person) {
	indent := strings.Repeat(" ", len(head))
	first := true
	kv := func(k, v string) {
		if v == "" {
			return
		}
		h := indent
		if first {
			h, first = head, false
		}
		row(w, h+k+":", v)
	}
	for _, n := range p.GetNames() {
		kv("name", personName(n))
	}
	for _, a := range p.GetAliases() {
		kv("alias", a)
	}
	kv("born", date(p.GetDateOfBirth()))
	if p.GetSex() != 0 {
		kv("sex", enumName(p.GetSex()))
	}
	kv("nationality", strings.Join(p.GetNationalities(), ", "))
	for _, d := range p.GetDocuments() {
		s := enumName(d.GetType()) + " " + d.GetNumber()
		var more []string
		if d.GetIssuingCountry() != "" {
			more = append(more, d.GetIssuingCountry())
		}
		if d.GetExpiry() != nil {
			more = append(more, "expires "+date(d.GetExpiry()))
		}
		if len(more) > 0 {
			s += " (" + strings.Join(more, ", ") + ")"
		}
		kv("document", s)
	}
	for _, ph := range p.GetPhoneNumbers() {
		s := ph.GetNumber()
		if ph.GetRegion() != "" {
			s += " (" + ph.GetRegion() + ")"
		}
		kv("phone", s)
	}
	if p.GetRole() != 0 {
		kv("role", enumName(p.GetRole()))
	}
	kv("id", p.GetId())
}

// personName is "Family, Given", with the Latin transliteration if any.
func personName(n *liaisonv1.PersonName) string {
	join := func(family, given string) string {
		if family != "" && given != "" {
			return family + ", " + given
		}
		return family + given
	}
	s := join(n.GetFamilyName(), n.GetGivenNames())
	if latin := join(n.GetLatinFamilyName(), n.GetLatinGivenNames()); latin != "" {
		s += " [" + latin + "]"
	}
	return s
}

func location(l *liaisonv1.Location) string {
	if l.GetCountry() == "" {
		return l.GetName()
	}
	return l.GetName() + " (" + l.GetCountry() + ")"
}

func route(r *liaisonv1.Route) string {
	stops := make([]string, 0, len(r.GetStops()))
	for _, s := range r.GetStops() {
		stops = append(stops, location(s))
	}
	s := strings.Join(stops, " → ")
	if r.GetMode() != 0 {
		s += " by " + enumName(r.GetMode())
	}
	if r.GetDescription() != "" {
		s += ": " + r.GetDescription()
	}
	return s
}

// evaluation is the 4x4 code, e.g. "B2"; "-" if there is none.
func evaluation(e *liaisonv1.Evaluation) string {
	if e == nil {
		return "-"
	}
	return enumSuffix(e.GetSourceReliability()) + enumSuffix(e.GetInformationAccuracy())
}

// restricted is a title cell with a partner's handling code after it
// ("Kupang boats [H2 of alpha]"), or what stands for a withheld one.
func restricted(title string, r *liaisonv1.Restriction) string {
	switch {
	case r == nil:
		return title
	case r.GetWithheld():
		return fmt.Sprintf("(withheld: %s of %s, needs %s's permission)", enumSuffix(r.GetCode()), r.GetOriginator(), r.GetOriginator())
	}
	return fmt.Sprintf("%s [%s of %s]", title, enumSuffix(r.GetCode()), r.GetOriginator())
}

// contact is a contact point on one line.
func contact(c *liaisonv1.ContactPoint) string {
	var parts []string
	for _, p := range []string{c.GetDesk(), c.GetPhone(), c.GetEmail()} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// handling is the code, e.g. "H1", with the conditions of H3.
func handling(h *liaisonv1.Handling) string {
	if h == nil {
		return "-"
	}
	s := enumSuffix(h.GetCode())
	if h.GetConditions() != "" {
		s += ": " + h.GetConditions()
	}
	return s
}

func crimeAreas(as []liaisonv1.CrimeArea) string {
	names := make([]string, 0, len(as))
	for _, a := range as {
		names = append(names, crimeAreaName(a))
	}
	return orDash(strings.Join(names, ","))
}

// date writes a date with its unknown parts left out ("1980-03").
func date(d *liaisonv1.Date) string {
	switch {
	case d == nil:
		return ""
	case d.GetMonth() == 0:
		return fmt.Sprintf("%04d", d.GetYear())
	case d.GetDay() == 0:
		return fmt.Sprintf("%04d-%02d", d.GetYear(), d.GetMonth())
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
}

func timestamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// row writes one tabwriter row. Tabs and line breaks inside a cell would
// break the table, so they become spaces.
func row(w io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, c)
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}
