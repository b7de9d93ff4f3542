package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// ndjsonLead is leadJSON on one line, with the title given.
func ndjsonLead(t *testing.T, title string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(strings.Replace(leadJSON, "Kupang boats", title, 1))); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// writeNamed writes content to a file called name in a temp dir.
func writeNamed(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// summaryPattern is the last line of an import before any error.
var summaryPattern = regexp.MustCompile(`^imported [\d,]+ leads? \(created [\d,]+, already imported [\d,]+\), rejected [\d,]+(, unfinished [\d,]+)? of [\d,]+ lines? in \d+\.\ds \([\d,]+ lines/s\)$`)

// summary is the summary line of an import's stderr, checked for its form,
// without the time and rate.
func summary(t *testing.T, stderr string) string {
	t.Helper()
	for _, l := range lines(stderr) {
		if i := strings.LastIndexByte(l, '\r'); i >= 0 {
			l = l[i+1:] // after the progress line, blanked
		}
		if strings.HasPrefix(l, "imported ") {
			if !summaryPattern.MatchString(l) {
				t.Errorf("summary line %q is not of the documented form", l)
			}
			s, _, _ := strings.Cut(l, " in ")
			return s
		}
	}
	t.Fatalf("no summary line in:\n%s", stderr)
	return ""
}

func countLeads(t *testing.T, n *testNode) int {
	t.Helper()
	var resp liaisonv1.ListLeadsResponse
	n.ctl(t, "analyst", "leads", "list", "--page-size", "1000", "-o", "json").wantCode(t, exitOK).decode(t, &resp)
	return len(resp.GetLeads())
}

// TestImport_Report: a file with good, bad and repeated lines gets the
// exact report; a second run creates nothing; every good line counts as
// imported.
func TestImport_Report(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	good1, good2 := ndjsonLead(t, "Kupang boats"), ndjsonLead(t, "Batam ferries")
	noTitle := ndjsonLead(t, "")
	nationalPhone := strings.Replace(ndjsonLead(t, "national phone"), `"+66 81 234 5678"`, `"081 234 5678"`, 1)
	// The same lead as good1 written another way: keys in another order.
	var m map[string]any
	if err := json.Unmarshal([]byte(good1), &m); err != nil {
		t.Fatal(err)
	}
	reordered, _ := json.MarshalIndent(m, "", "")
	good1Again := strings.ReplaceAll(string(reordered), "\n", " ")
	file := strings.Join([]string{
		good1,                                 // 1
		noTitle,                               // 2
		`{"title": "x", "colour": "red"}`,     // 3
		`{"title": "broken`,                   // 4
		`{"title": "x",, }`,                   // 5
		"  ",                                  // 6: blank, skipped
		nationalPhone,                         // 7
		good2,                                 // 8
		good1Again,                            // 9
		noTitle,                               // 10
		`{"title": "t", "crimeAreas": ["x"]}`, // 11
	}, "\n") + "\n"
	path := writeNamed(t, "leads.ndjson", file)
	wantReport := strings.Join([]string{
		"line 2: INVALID_ARGUMENT: lead.title: must be at least 1 characters [string.min_len]",
		`line 3: cannot parse: unknown field "colour" (column 16)`,
		`line 4: cannot parse: unexpected EOF`,
		`line 5: cannot parse: syntax error: unexpected token , (column 15)`,
		`line 7: INVALID_ARGUMENT: lead.subjects[0].phone_numbers[0].number: "081 234 5678" is not in international format (+…); give its region`,
		"line 9: duplicate of line 1 (imported once)",
		"line 10: duplicate of line 2 (rejected)",
		`line 11: cannot parse: invalid value for enum field crimeAreas: "x" (column 31)`,
	}, "\n") + "\n"

	r := n.ctl(t, "analyst", "import", path).wantCode(t, exitFailed)
	if diff := cmp.Diff(wantReport, r.stdout); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if got, want := summary(t, r.stderr), "imported 3 leads (created 2, already imported 1), rejected 7 of 10 lines"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	wantContains(t, "stderr", r.stderr, "\nerror: 7 of 10 lines rejected\n")
	if strings.Contains(r.stderr, "\r") {
		t.Errorf("a progress line on a stderr that is not a terminal:\n%q", r.stderr)
	}
	if got := countLeads(t, n); got != 2 {
		t.Errorf("%d leads on the node, want 2", got)
	}

	t.Run("Again", func(t *testing.T) {
		r := n.ctl(t, "analyst", "import", path, "--batch", "2", "--parallel", "3").wantCode(t, exitFailed)
		if diff := cmp.Diff(wantReport, r.stdout); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		if got, want := summary(t, r.stderr), "imported 3 leads (created 0, already imported 3), rejected 7 of 10 lines"; got != want {
			t.Errorf("summary %q, want %q", got, want)
		}
		if got := countLeads(t, n); got != 2 {
			t.Errorf("%d leads on the node after a second run, want 2", got)
		}
	})
	t.Run("GoodLinesOnly", func(t *testing.T) {
		// Other file, same leads: nothing new, and every line accepted.
		good := writeNamed(t, "good.jsonl", strings.Join([]string{good2, good1Again, good1}, "\n"))
		r := n.ctl(t, "service", "import", good).wantCode(t, exitOK)
		if r.stdout != "line 3: duplicate of line 2 (imported once)\n" {
			t.Errorf("report %q", r.stdout)
		}
		if got, want := summary(t, r.stderr), "imported 3 leads (created 0, already imported 3), rejected 0 of 3 lines"; got != want {
			t.Errorf("summary %q, want %q", got, want)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		r := n.ctl(t, "analyst", "import", path, "-o", "json").wantCode(t, exitFailed)
		var resp liaisonv1.ImportLeadsResponse
		r.decode(t, &resp)
		var got []string
		for _, res := range resp.GetResults() {
			got = append(got, fmt.Sprintf("%d %s %s %t %s", res.GetLine(), enumName(res.GetOutcome()), res.GetCode(), res.GetLeadId() != "", res.GetMessage()))
		}
		want := []string{
			"1 already-imported  true ",
			"2 rejected INVALID_ARGUMENT false lead.title: must be at least 1 characters [string.min_len]",
			`3 rejected INVALID_ARGUMENT false cannot parse: unknown field "colour" (column 16)`,
			"4 rejected INVALID_ARGUMENT false cannot parse: unexpected EOF",
			"5 rejected INVALID_ARGUMENT false cannot parse: syntax error: unexpected token , (column 15)",
			`7 rejected INVALID_ARGUMENT false lead.subjects[0].phone_numbers[0].number: "081 234 5678" is not in international format (+…); give its region`,
			"8 already-imported  true ",
			"9 already-imported  true duplicate of line 1",
			"10 rejected INVALID_ARGUMENT false duplicate of line 2",
			`11 rejected INVALID_ARGUMENT false cannot parse: invalid value for enum field crimeAreas: "x" (column 31)`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		if a, b := resp.GetResults()[0].GetLeadId(), resp.GetResults()[7].GetLeadId(); a != b {
			t.Errorf("line 9 repeats line 1 but names lead %s, not %s", b, a)
		}
	})
	t.Run("Auditor", func(t *testing.T) {
		r := n.ctl(t, "auditor", "import", path).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ", "request id: ", "the import stopped early: run it again")
		if got := summary(t, r.stderr); !strings.Contains(got, "imported 0 leads (created 0, already imported 0)") || !strings.Contains(got, ", unfinished ") {
			t.Errorf("summary %q", got)
		}
	})
}

// TestImport_Progress: with --progress the line is drawn (and blanked)
// on stderr, whatever stderr is.
func TestImport_Progress(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	var b strings.Builder
	for i := range 300 {
		b.WriteString(ndjsonLead(t, fmt.Sprintf("lead %d", i)) + "\n")
	}
	r := n.ctl(t, "analyst", "import", writeNamed(t, "many.ndjson", b.String()), "--progress", "--batch", "10", "--parallel", "1").wantCode(t, exitOK)
	if r.stdout != "" {
		t.Errorf("report of a clean import: %q", r.stdout)
	}
	wantContains(t, "stderr", r.stderr, "\r[", " lines  ", "/s  ETA ", "/300 lines")
	if got := summary(t, r.stderr); got != "imported 300 leads (created 300, already imported 0), rejected 0 of 300 lines" {
		t.Errorf("summary %q", got)
	}
}

func TestImport_Usage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"NoFile", []string{"import"}, "import takes FILE, got []"},
		{"BadFormat", []string{"import", "x.txt", "--format", "xml"}, `--format "xml": want ndjson or csv`},
		{"BadBatch", []string{"import", "x.ndjson", "--batch", "1001"}, "--batch 1001 is out of range (1 to 1000)"},
		{"BadParallel", []string{"import", "x.ndjson", "--parallel", "0"}, "--parallel 0 is out of range (1 to 16)"},
		{"ProgressBoth", []string{"import", "x.ndjson", "--progress", "--no-progress"}, "--progress and --no-progress contradict each other"},
		{"Help", []string{"help", "import"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.name == "Help" {
				r := ctl(t, "", tc.args...).wantCode(t, exitOK)
				wantContains(t, "help", r.stdout, "usage: liaisonctl import FILE", "--format FORMAT", "subject_documents", "passport:E1234567:CHN", "--no-progress")
				return
			}
			r := ctl(t, "", tc.args...).wantCode(t, exitUsage)
			wantContains(t, "stderr", r.stderr, tc.stderr)
		})
	}
}

func TestFileFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ given, path, want string }{
		{"", "a.ndjson", formatNDJSON}, {"", "a.JSONL", formatNDJSON}, {"", "a.json", formatNDJSON},
		{"", "a.csv", formatCSV}, {"", "a.CSV", formatCSV}, {"", "-", formatNDJSON}, {"", "a.txt", formatNDJSON},
		{"csv", "a.ndjson", formatCSV}, {"NDJSON", "a.csv", formatNDJSON},
	} {
		if got, err := fileFormat("--format", tc.given, tc.path, formatNDJSON); err != nil || got != tc.want {
			t.Errorf("fileFormat(%q, %q) = %q, %v; want %q", tc.given, tc.path, got, err, tc.want)
		}
	}
}

// csvInput is a CSV file of two leads as a spreadsheet would write it:
// a multi-line quoted summary, a subject in Cyrillic with its
// transliteration, phones and documents the node normalises.
const csvInput = `title,summary,crime_areas,source_reliability,information_accuracy,handling_code,handling_conditions,originator_reference,review_date,subject_family_name,subject_given_names,subject_latin_family_name,subject_latin_given_names,subject_date_of_birth,subject_nationalities,subject_phones,subject_documents,subject_role
Kupang boats,"Recruiter advertises crossings on messaging apps.
Payment through ""hawala"", in cash.",migrant-smuggling;document-fraud,B,2,H3,not to be shared with third countries,ALPHA-2025-17,2027-03-31,Иванов,Иван,Ivanov,Ivan,1980-03,RUS;IDN,+66 81 234 5678;+7 912 345-67-89,passport:ab 123-456:RUS;national-id:x1:IDN,recruiter
Batam ferries,Ferries leave at night,trafficking,A,1,H0,,,,,,,,,,,,
`

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, s)
	}
	return recs
}

// TestImport_CSVRoundTrip: leads imported from CSV export to the same
// cells, but for what the node normalises or fills in.
func TestImport_CSVRoundTrip(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	in := writeNamed(t, "leads.csv", csvInput)
	r := n.ctl(t, "analyst", "import", in).wantCode(t, exitOK)
	if got := summary(t, r.stderr); got != "imported 2 leads (created 2, already imported 0), rejected 0 of 2 lines" {
		t.Errorf("summary %q", got)
	}
	n.ctl(t, "analyst", "import", in).wantCode(t, exitOK)
	if got := countLeads(t, n); got != 2 {
		t.Errorf("%d leads after importing the CSV twice, want 2", got)
	}

	out := filepath.Join(t.TempDir(), "export.csv")
	r = n.ctl(t, "analyst", "export", "--kind", "leads", "--out", out).wantCode(t, exitOK)
	wantContains(t, "stderr", r.stderr, "exported 2, refused 0")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := readCSV(t, string(b))
	want := readCSV(t, csvInput)
	if diff := cmp.Diff(want[0], got[0]); diff != "" {
		t.Fatalf("header (-want +got):\n%s", diff)
	}
	// What the node changes: phones to E.164, document numbers to upper
	// case without separators, and a review date where none was given.
	col := func(name string) int { return slices.Index(csvColumns, name) }
	want[1][col("subject_phones")] = "+66812345678;+79123456789"
	want[1][col("subject_documents")] = "passport:AB123456:RUS;national-id:X1:IDN"
	rows := got[1:]
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(b[0], a[0]) }) // by title: Kupang, Batam
	if len(rows) != 2 {
		t.Fatalf("%d rows exported, want 2", len(rows))
	}
	for i, row := range rows {
		for j, cell := range row {
			if cell != want[i+1][j] {
				if csvColumns[j] == "review_date" && i == 1 {
					if _, err := time.Parse(time.DateOnly, cell); err != nil {
						t.Errorf("default review date %q: %v", cell, err)
					}
					continue // the node's default
				}
				t.Errorf("row %d (%s), column %s: exported %q, imported %q", i+1, row[0], csvColumns[j], cell, want[i+1][j])
			}
		}
	}

	// Same leads, same cells: as NDJSON the export holds them whole.
	r = n.ctl(t, "analyst", "export", "--kind", "leads").wantCode(t, exitOK)
	var leads []*liaisonv1.Lead
	for _, line := range lines(r.stdout) {
		l := &liaisonv1.Lead{}
		if err := protojson.Unmarshal([]byte(line), l); err != nil {
			t.Fatal(err)
		}
		leads = append(leads, l)
	}
	if len(leads) != 2 || leads[1].GetSubjects()[0].GetNames()[0].GetFamilyName() != "Иванов" {
		t.Errorf("NDJSON export: %v", leads)
	}
}

func TestImport_CSVErrors(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	t.Run("UnknownColumns", func(t *testing.T) {
		r := n.ctl(t, "analyst", "import", writeNamed(t, "x.csv", "title,colour,summary,Size\nt,red,s,1\n")).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, `x.csv: line 1: unknown column(s) "colour", "Size" in the header row (the columns are title, summary, crime_areas,`)
		if r.stdout != "" {
			t.Errorf("stdout: %q", r.stdout)
		}
	})
	t.Run("NoHeader", func(t *testing.T) {
		r := n.ctl(t, "analyst", "import", writeNamed(t, "x.csv", "")).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "no header row: a CSV file starts with one naming its columns")
	})
	t.Run("BadCells", func(t *testing.T) {
		// The header names a subset of the columns, in its own order and
		// case; line 3's quoted cell runs over two lines.
		file := "Title,CRIME_AREAS,source_reliability,information_accuracy,handling_code,summary,subject_documents,subject_date_of_birth\n" +
			"ok,other,B,2,H0,s,,\n" +
			"two lines,other,B,2,H0,\"a\nb\",,\n" +
			"bad area,piracy,B,2,H0,s,,\n" +
			"bad codes,other,D,5,H9,s,passport-E1;visa:1:THA,1980-3-\n" +
			"too many,other,B,2,H0,s,,,extra\n" +
			"bare \"quote,other,B,2,H0,s,,\n" +
			"no eval,other,,,H0,s,,\n"
		r := n.ctl(t, "analyst", "import", writeNamed(t, "x.csv", file)).wantCode(t, exitFailed)
		want := strings.Join([]string{
			`line 5: cannot parse: column crime_areas: "piracy" is not one of migrant-smuggling, trafficking, document-fraud, telecom-fraud, money-laundering, other`,
			`line 6: cannot parse: column source_reliability: "D" is not one of A, B, C, X; column information_accuracy: "5" is not one of 1, 2, 3, 4; ` +
				`column handling_code: "H9" is not one of H0, H1, H2, H3; ` +
				`column subject_date_of_birth: "1980-3-" is not a date of birth like 1980, 1980-03 or 1980-03-14; ` +
				`column subject_documents: "passport-E1" is not TYPE:NUMBER:COUNTRY (like passport:E1234567:CHN); ` +
				`column subject_documents: document "visa:1:THA": type "visa" is not one of passport, national-id, residence-permit, travel-document, driving-licence, other`,
			"line 7: cannot parse: 9 cells, but the header row names 8 columns",
			`line 8: cannot parse: bare " in non-quoted-field`,
			"line 9: INVALID_ARGUMENT: lead.evaluation: value is required [required]",
		}, "\n") + "\n"
		if diff := cmp.Diff(want, r.stdout); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		if got := summary(t, r.stderr); got != "imported 2 leads (created 2, already imported 0), rejected 5 of 7 lines" {
			t.Errorf("summary %q", got)
		}
	})
}

// TestImport_Measure100k imports 100,000 leads from an NDJSON file into a
// fresh node with the production settings that matter (synchronous=FULL,
// the default rate limit) and logs the time. Slow, so only on request:
//
//	LIAISON_MEASURE_IMPORT=100000 go test -tags sqlite_fts5 -run Measure100k -v ./client/cmd/liaisonctl/
func TestImport_Measure100k(t *testing.T) {
	count := 0
	if _, err := fmt.Sscan(os.Getenv("LIAISON_MEASURE_IMPORT"), &count); err != nil || count <= 0 {
		t.Skip("set LIAISON_MEASURE_IMPORT to the number of leads to import")
	}
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	cfg.Database.Synchronous = "full"
	cfg.Limits = config.Limits{}
	cfg.SetDefaults()
	n := &testNode{Node: nodetest.Start(t, pki, cfg, nil), cfg: cfg}

	var b strings.Builder
	for i := range count {
		fmt.Fprintf(&b, `{"title":"Lead %d","summary":"Recruiter advertises crossings on messaging apps; payment through hawala.",`+
			`"crimeAreas":["CRIME_AREA_MIGRANT_SMUGGLING"],"originatorReference":"ALPHA-%d",`+
			`"evaluation":{"sourceReliability":"SOURCE_RELIABILITY_B","informationAccuracy":"INFORMATION_ACCURACY_2"},`+
			`"handling":{"code":"HANDLING_CODE_H0"},"subjects":[{"names":[{"familyName":"Chen","givenNames":"Wei %d"}],`+
			`"nationalities":["CHN"],"phoneNumbers":[{"number":"+66 81 %03d %04d"}],`+
			`"documents":[{"type":"DOCUMENT_TYPE_PASSPORT","number":"E%08d","issuingCountry":"CHN"}],"role":"NETWORK_ROLE_RECRUITER"}]}`+"\n",
			i, i, i, i/10000, i%10000, i)
	}
	path := writeNamed(t, "leads.ndjson", b.String())
	fi, _ := os.Stat(path)
	args := append([]string{"import", path}, n.flags("service")...)
	if extra := os.Getenv("LIAISON_MEASURE_IMPORT_ARGS"); extra != "" {
		args = append(args, strings.Fields(extra)...)
	}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	elapsed := time.Since(start)
	if code != exitOK {
		t.Fatalf("exit status %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	t.Logf("%d leads (%.1f MB of NDJSON) in %v: %.0f leads/s\n%s", count, float64(fi.Size())/1e6, elapsed.Round(time.Millisecond),
		float64(count)/elapsed.Seconds(), stderr.String())

	// A second run creates nothing.
	stderr.Reset()
	start = time.Now()
	if code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("second run: exit status %d:\n%s", code, stderr.String())
	}
	t.Logf("again in %v:\n%s", time.Since(start).Round(time.Millisecond), stderr.String())
	if !strings.Contains(stderr.String(), fmt.Sprintf("(created 0, already imported %s)", thousands(int64(count)))) {
		t.Errorf("second run created leads:\n%s", stderr.String())
	}
}

// TestImport_Interrupted: an import cut short (here: before it began)
// never exits 0, and says how to finish it.
func TestImport_Interrupted(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	path := writeNamed(t, "leads.ndjson", ndjsonLead(t, "a")+"\n"+ndjsonLead(t, "b")+"\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, append([]string{"import", path}, n.flags("analyst")...), strings.NewReader(""), &stdout, &stderr)
	if code != exitFailed {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", code, exitFailed, stderr.String())
	}
	wantContains(t, "stderr", stderr.String(), "\nerror: ", "the import stopped early: run it again to finish it")
	if got := summary(t, stderr.String()); !strings.HasPrefix(got, "imported 0 leads (created 0, already imported 0)") {
		t.Errorf("summary %q", got)
	}
}
