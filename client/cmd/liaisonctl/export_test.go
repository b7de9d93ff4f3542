package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// TestExport_HandlingCodes: bravo's export of alpha's leads writes the H0
// replica and refuses the H2 one, naming its code; alpha exports its own.
func TestExport_HandlingCodes(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	open := bravo.waitLead(t, alpha.createReleased(t, "open", "H0", "bravo"))
	closed := bravo.waitLead(t, alpha.createReleased(t, "closed", "H2", "bravo"))
	refusedH2 := "refused " + closed.GetId() + " (alpha, H2): handling code H2 of alpha forbids export without the originator's permission"

	t.Run("NDJSON", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "export", "--kind", "leads").wantCode(t, exitFailed)
		got := &liaisonv1.Lead{}
		if err := protojson.Unmarshal([]byte(r.stdout), got); err != nil || strings.Count(r.stdout, "\n") != 1 {
			t.Fatalf("stdout is not one lead: %v\n%s", err, r.stdout)
		}
		if diff := cmp.Diff(open, got, protocmp.Transform()); diff != "" {
			t.Errorf("exported lead (-want +got):\n%s", diff)
		}
		wantContains(t, "stderr", r.stderr, refusedH2, "\nexported 1, refused 1\nerror: 1 lead not exported\n  "+askPermission)
		// The same as leads export: one implementation.
		l := bravo.ctl(t, "analyst", "leads", "export")
		if l.stdout != r.stdout || l.stderr != r.stderr || l.code != r.code {
			t.Errorf("leads export and export --kind leads differ:\n%+v\n%+v", l, r)
		}
	})
	t.Run("CSV", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "leads.csv") // the format from the extension
		r := bravo.ctl(t, "analyst", "export", "--kind", "leads", "--out", out).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, refusedH2,
			// leadJSON has what a row cannot hold.
			"refused "+open.GetId()+" (alpha, H0): the CSV columns cannot hold its locations, subject's aliases, subject's sex; export it with --format ndjson\n",
			"exported 0, refused 2")
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b); got != strings.Join(csvColumns, ",")+"\n" {
			t.Errorf("CSV written: %q, want the header row alone", got)
		}
	})
	t.Run("Since", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "export", "--kind", "leads", "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)).wantCode(t, exitOK)
		if r.stdout != "" || r.stderr != "exported 0, refused 0\n" {
			t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
		}
		r = bravo.ctl(t, "analyst", "export", "--kind", "leads", "--since", "2020-01-01T00:00:00Z", "--origin", "bravo").wantCode(t, exitOK)
		wantContains(t, "stderr", r.stderr, "exported 0, refused 0")
	})
	t.Run("Own", func(t *testing.T) {
		r := alpha.ctl(t, "supervisor", "export", "--kind", "leads", "--format", "ndjson", "--progress").wantCode(t, exitOK)
		if n := strings.Count(r.stdout, "\n"); n != 2 {
			t.Errorf("alpha exported %d of its 2 leads", n)
		}
		wantContains(t, "stderr", r.stderr, "exported 2, refused 0")
	})
}

func TestExport_Usage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"NoKind", []string{"export"}, "error: export needs --kind KIND (leads)"},
		{"OtherKind", []string{"export", "--kind", "cases"}, `error: --kind "cases": the kinds that can be exported are leads`},
		{"BadFormat", []string{"export", "--kind", "leads", "--format", "xml"}, `--format "xml": want ndjson or csv`},
		{"BadSince", []string{"export", "--kind", "leads", "--since", "yesterday"}, `--since: "yesterday" is not an RFC 3339 time`},
		{"Argument", []string{"export", "leads"}, `export takes no arguments, got ["leads"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ctl(t, "", tc.args...).wantCode(t, exitUsage)
			wantContains(t, "stderr", r.stderr, tc.stderr, "usage: liaisonctl export --kind leads")
		})
	}
}

func TestLeadToCSV_Unfit(t *testing.T) {
	t.Parallel()
	l := &liaisonv1.Lead{
		Title:     "t",
		Subjects:  []*liaisonv1.Person{{}, {}},
		Routes:    []*liaisonv1.Route{{}},
		Locations: []*liaisonv1.Location{{Name: "Kupang"}},
	}
	_, err := leadToCSV(l)
	if err == nil || err.Error() != "the CSV columns cannot hold its 2 subjects (a row holds one), locations, routes; export it with --format ndjson" {
		t.Errorf("err = %v", err)
	}
	l = &liaisonv1.Lead{Title: "t", Subjects: []*liaisonv1.Person{{
		Names:     []*liaisonv1.PersonName{{FamilyName: "a"}, {FamilyName: "b"}},
		Documents: []*liaisonv1.IdentityDocument{{Number: "1", Expiry: &liaisonv1.Date{Year: 2030, Month: 1, Day: 1}}},
	}}}
	if _, err := leadToCSV(l); err == nil || !strings.Contains(err.Error(), "subject's second name, document expiry;") {
		t.Errorf("err = %v", err)
	}
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{45000, 100000, 5 * time.Second, "[##########--------------]  45%  45,000/100,000 lines  9,000/s  ETA 6s"},
		{0, 100000, 0, "[------------------------]   0%  0/100,000 lines  0/s  ETA -"},
		{100000, 100000, 12300 * time.Millisecond, "[########################] 100%  100,000/100,000 lines  8,130/s  ETA 0s"},
		{1234567, 0, time.Second, "1,234,567 lines  1,234,567/s"},
	} {
		if got := progressLine(tc.done, tc.total, "lines", tc.elapsed); got != tc.want {
			t.Errorf("progressLine(%d, %d, %v) =\n%q, want\n%q", tc.done, tc.total, tc.elapsed, got, tc.want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 8130: "8,130", -1234: "-1,234", 1000000: "1,000,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
