package main

// Leads as CSV, for import and export: a header row naming the columns
// (in any order, any of them left out; names are not case-sensitive), then
// one lead a row. The columns:
//
//	title                       the lead's title
//	summary                     its narrative
//	crime_areas                 ;-separated short names: migrant-smuggling,
//	                            trafficking, document-fraud, telecom-fraud,
//	                            money-laundering, other
//	source_reliability          A, B, C or X
//	information_accuracy        1, 2, 3 or 4
//	handling_code               H0, H1, H2 or H3
//	handling_conditions         the conditions of H3
//	originator_reference        the originator's own reference
//	review_date                 YYYY-MM-DD (empty: the node's default)
//
// and at most one subject a row:
//
//	subject_family_name         the name as written, in any script
//	subject_given_names
//	subject_latin_family_name   its Latin transliteration
//	subject_latin_given_names
//	subject_date_of_birth       YYYY, YYYY-MM or YYYY-MM-DD
//	subject_nationalities       ;-separated ISO 3166-1 alpha-3 codes (CHN;THA)
//	subject_phones              ;-separated, in international format (+66 81 234 5678)
//	subject_documents           ;-separated TYPE:NUMBER:COUNTRY
//	                            (passport:E1234567:CHN); TYPE is passport,
//	                            national-id, residence-permit,
//	                            travel-document, driving-licence or other
//	subject_role                organiser, recruiter, transporter,
//	                            facilitator, document-forger, financier or
//	                            unknown
//
// A row with no subject_* cell filled has no subject. An unknown column is
// an error naming it. NDJSON (one protojson liaison.v1.Lead a line) is the
// lossless format: an export to CSV refuses, naming what does not fit, a
// lead these columns cannot hold whole — more than one subject, locations,
// routes, aliases, a second name, sex or a document's expiry — rather than
// writing part of it, or one row per subject (which would import as
// several leads). Ids, versions and times, set by the node, are not
// written.

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// csvColumns are the columns of a lead, in the order an export writes them.
var csvColumns = []string{
	"title", "summary", "crime_areas", "source_reliability", "information_accuracy", "handling_code", "handling_conditions",
	"originator_reference", "review_date",
	"subject_family_name", "subject_given_names", "subject_latin_family_name", "subject_latin_given_names",
	"subject_date_of_birth", "subject_nationalities", "subject_phones", "subject_documents", "subject_role",
}

// csvListSep separates the values of a list cell.
const csvListSep = ";"

// csvHeader maps each column of a header row to its index. Unknown and
// repeated columns are errors.
func csvHeader(header []string) (map[string]int, error) {
	idx := map[string]int{}
	var unknown, repeated []string
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if i == 0 {
			name = strings.TrimPrefix(name, "\uFEFF") // a spreadsheet's byte order mark
		}
		switch _, seen := idx[name]; {
		case !slices.Contains(csvColumns, name):
			unknown = append(unknown, fmt.Sprintf("%q", h))
		case seen:
			repeated = append(repeated, fmt.Sprintf("%q", h))
		default:
			idx[name] = i
		}
	}
	switch {
	case len(unknown) > 0:
		return nil, fmt.Errorf("unknown column(s) %s in the header row (the columns are %s)", strings.Join(unknown, ", "), strings.Join(csvColumns, ", "))
	case len(repeated) > 0:
		return nil, fmt.Errorf("column(s) %s appear twice in the header row", strings.Join(repeated, ", "))
	}
	return idx, nil
}

// leadFromCSV reads a lead from a row whose columns idx names. Only the
// form of each cell is checked here: the node checks the lead's rules.
func leadFromCSV(idx map[string]int, rec []string) (*liaisonv1.Lead, error) {
	cell := func(name string) string {
		if i, ok := idx[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	code := func(name string) string { return strings.TrimSpace(cell(name)) }
	var bad []string
	fail := func(name string, err error) { bad = append(bad, "column "+name+": "+err.Error()) }

	l := &liaisonv1.Lead{Title: cell("title"), Summary: cell("summary"), OriginatorReference: cell("originator_reference")}
	for _, s := range csvList(code("crime_areas")) {
		a, err := parseEnum(s, crimeAreaName)
		if err != nil {
			fail("crime_areas", err)
			continue
		}
		l.CrimeAreas = append(l.CrimeAreas, a)
	}
	if sr, ia := code("source_reliability"), code("information_accuracy"); sr != "" || ia != "" {
		l.Evaluation = &liaisonv1.Evaluation{}
		var err error
		if sr != "" {
			if l.Evaluation.SourceReliability, err = parseEnum(sr, enumSuffix[liaisonv1.SourceReliability]); err != nil {
				fail("source_reliability", err)
			}
		}
		if ia != "" {
			if l.Evaluation.InformationAccuracy, err = parseEnum(ia, enumSuffix[liaisonv1.InformationAccuracy]); err != nil {
				fail("information_accuracy", err)
			}
		}
	}
	if hc, cond := code("handling_code"), cell("handling_conditions"); hc != "" || cond != "" {
		l.Handling = &liaisonv1.Handling{Conditions: cond}
		if hc != "" {
			var err error
			if l.Handling.Code, err = parseEnum(hc, enumSuffix[liaisonv1.HandlingCode]); err != nil {
				fail("handling_code", err)
			}
		}
	}
	if s := code("review_date"); s != "" {
		if t, err := time.Parse(time.DateOnly, s); err != nil {
			fail("review_date", fmt.Errorf("%q is not a date like 2027-03-31", s))
		} else {
			l.ReviewDate = &liaisonv1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
		}
	}

	p := &liaisonv1.Person{}
	hasSubject := false
	for _, c := range csvColumns {
		if strings.HasPrefix(c, "subject_") && code(c) != "" {
			hasSubject = true
		}
	}
	name := &liaisonv1.PersonName{
		FamilyName: cell("subject_family_name"), GivenNames: cell("subject_given_names"),
		LatinFamilyName: cell("subject_latin_family_name"), LatinGivenNames: cell("subject_latin_given_names"),
	}
	if name.FamilyName+name.GivenNames+name.LatinFamilyName+name.LatinGivenNames != "" {
		p.Names = []*liaisonv1.PersonName{name}
	}
	if s := code("subject_date_of_birth"); s != "" {
		d, err := parseDate("", s)
		if err != nil {
			fail("subject_date_of_birth", fmt.Errorf("%q is not a date of birth like 1980, 1980-03 or 1980-03-14", s))
		}
		p.DateOfBirth = d
	}
	p.Nationalities = csvList(code("subject_nationalities"))
	for _, n := range csvList(code("subject_phones")) {
		p.PhoneNumbers = append(p.PhoneNumbers, &liaisonv1.PhoneNumber{Number: n})
	}
	for _, s := range csvList(code("subject_documents")) {
		d, err := csvDocument(s)
		if err != nil {
			fail("subject_documents", err)
			continue
		}
		p.Documents = append(p.Documents, d)
	}
	if s := code("subject_role"); s != "" {
		var err error
		if p.Role, err = parseEnum[liaisonv1.NetworkRole](s, nil); err != nil {
			fail("subject_role", err)
		}
	}
	if hasSubject {
		l.Subjects = []*liaisonv1.Person{p}
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "; "))
	}
	return l, nil
}

// csvList splits a list cell, dropping empty items.
func csvList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, csvListSep) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// csvDocument reads TYPE:NUMBER:COUNTRY.
func csvDocument(s string) (*liaisonv1.IdentityDocument, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%q is not TYPE:NUMBER:COUNTRY (like passport:E1234567:CHN)", s)
	}
	t, err := parseEnum[liaisonv1.DocumentType](parts[0], nil)
	if err != nil {
		return nil, fmt.Errorf("document %q: type %w", s, err)
	}
	return &liaisonv1.IdentityDocument{Type: t, Number: strings.TrimSpace(parts[1]), IssuingCountry: strings.TrimSpace(parts[2])}, nil
}

// csvUnfitError says why a lead cannot be written as a CSV row.
type csvUnfitError struct{ what []string }

func (e *csvUnfitError) Error() string {
	return "the CSV columns cannot hold its " + strings.Join(e.what, ", ") + "; export it with --format ndjson"
}

// leadToCSV is the row of a lead, in csvColumns order, or a
// *csvUnfitError if the columns cannot hold all of it.
func leadToCSV(l *liaisonv1.Lead) ([]string, error) {
	var unfit []string
	if n := len(l.GetSubjects()); n > 1 {
		unfit = append(unfit, fmt.Sprintf("%d subjects (a row holds one)", n))
	}
	if len(l.GetLocations()) > 0 {
		unfit = append(unfit, "locations")
	}
	if len(l.GetRoutes()) > 0 {
		unfit = append(unfit, "routes")
	}
	p := &liaisonv1.Person{}
	if len(l.GetSubjects()) == 1 {
		p = l.GetSubjects()[0]
		if len(p.GetNames()) > 1 {
			unfit = append(unfit, "subject's second name")
		}
		if len(p.GetAliases()) > 0 {
			unfit = append(unfit, "subject's aliases")
		}
		if p.GetSex() != liaisonv1.Sex_SEX_UNSPECIFIED {
			unfit = append(unfit, "subject's sex")
		}
		for _, d := range p.GetDocuments() {
			if d.GetExpiry() != nil {
				unfit = append(unfit, "document expiry")
				break
			}
		}
		for _, ph := range p.GetPhoneNumbers() {
			if ph.GetRegion() != "" {
				unfit = append(unfit, "phone region")
				break
			}
		}
	}
	if len(unfit) > 0 {
		return nil, &csvUnfitError{unfit}
	}
	var areas, phones, docs []string
	for _, a := range l.GetCrimeAreas() {
		areas = append(areas, crimeAreaName(a))
	}
	for _, ph := range p.GetPhoneNumbers() {
		phones = append(phones, ph.GetNumber())
	}
	for _, d := range p.GetDocuments() {
		docs = append(docs, enumName(d.GetType())+":"+d.GetNumber()+":"+d.GetIssuingCountry())
	}
	name := &liaisonv1.PersonName{}
	if len(p.GetNames()) == 1 {
		name = p.GetNames()[0]
	}
	orEmpty := func(s string, set bool) string {
		if !set {
			return ""
		}
		return s
	}
	ev, h := l.GetEvaluation(), l.GetHandling()
	role := ""
	if p.GetRole() != liaisonv1.NetworkRole_NETWORK_ROLE_UNSPECIFIED {
		role = enumName(p.GetRole())
	}
	return []string{
		l.GetTitle(), l.GetSummary(), strings.Join(areas, csvListSep),
		orEmpty(enumSuffix(ev.GetSourceReliability()), ev.GetSourceReliability() != 0),
		orEmpty(enumSuffix(ev.GetInformationAccuracy()), ev.GetInformationAccuracy() != 0),
		orEmpty(enumSuffix(h.GetCode()), h.GetCode() != 0), h.GetConditions(),
		l.GetOriginatorReference(), date(l.GetReviewDate()),
		name.GetFamilyName(), name.GetGivenNames(), name.GetLatinFamilyName(), name.GetLatinGivenNames(),
		date(p.GetDateOfBirth()), strings.Join(p.GetNationalities(), csvListSep), strings.Join(phones, csvListSep),
		strings.Join(docs, csvListSep), role,
	}, nil
}

// csvEncoder writes leads as CSV rows after the header row.
type csvEncoder struct{ w *csv.Writer }

func newCSVEncoder(w io.Writer) (*csvEncoder, error) {
	e := &csvEncoder{w: csv.NewWriter(w)}
	return e, e.w.Write(csvColumns)
}

func (e *csvEncoder) encode(l *liaisonv1.Lead) error {
	rec, err := leadToCSV(l)
	if err != nil {
		return err
	}
	if err := e.w.Write(rec); err != nil {
		return writeError{err}
	}
	return nil
}

func (e *csvEncoder) flush() error {
	e.w.Flush()
	return e.w.Error()
}
