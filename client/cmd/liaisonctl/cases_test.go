package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// caseJSON is a case as an analyst would write it: Ivanov, who is also
// the subject of leadJSON (the same phone number), and Chen Wei.
const caseJSON = `{
  "title": "Kupang network",
  "summary": "Joint investigation of the Kupang crossings.\nSecond line.",
  "crimeAreas": ["CRIME_AREA_MIGRANT_SMUGGLING"],
  "originatorReference": "ALPHA-C-7",
  "partnerReferences": [{"agency": "bravo", "reference": "BR-2025-9"}],
  "subjects": [
    {"names": [{"familyName": "Ivanov", "givenNames": "Ivan"}], "phoneNumbers": [{"number": "+66 81 234 5678"}]},
    {"names": [{"familyName": "陈", "givenNames": "伟", "latinFamilyName": "Chen", "latinGivenNames": "Wei"}], "dateOfBirth": {"year": 1975}}
  ]
}`

// caseLine is a line of the header of the detail view of a case, aligned
// at the width of its longest key, "PARTNER REFS:".
func caseLine(key, value string) string { return kv(15, key, value) }

// caseSubject is a line of a subject of a case, aligned at the width of
// "      sources:".
func caseSubject(key, value string) string { return kv(16, key, value) }

// entryLine is a line of the detail view of an entry, aligned at width:
// 11 for a request ("ANSWERED:"), 14 for a response ("RESPONDS TO:"), 10
// for a note ("WRITTEN:").
func entryLine(width int, key, value string) string { return kv(width, key, value) }

// createCase creates caseJSON with the title given on p as an analyst.
func createCase(t *testing.T, p *peer, title string) *liaisonv1.Case {
	t.Helper()
	var resp liaisonv1.CreateCaseResponse
	file := writeFile(t, strings.Replace(caseJSON, "Kupang network", title, 1))
	p.ctl(t, "analyst", "cases", "create", "-f", file, "-o", "json").wantCode(t, exitOK).decode(t, &resp)
	return resp.GetCase()
}

// addEntry adds an entry on p from the flags given and returns it.
func addEntry(t *testing.T, p *peer, caseID string, flags ...string) *liaisonv1.CaseEntry {
	t.Helper()
	var resp liaisonv1.AddCaseEntryResponse
	p.ctl(t, "analyst", append([]string{"cases", "add-entry", caseID, "-o", "json"}, flags...)...).wantCode(t, exitOK).decode(t, &resp)
	return resp.GetEntry()
}

// entriesOf lists the entries of a case on p, all pages, as JSON: the
// output and what it decodes to.
func entriesOf(p *peer, caseID string) (string, []*liaisonv1.CaseEntry, error) {
	r := p.try("analyst", "cases", "entries", caseID, "--all", "--page-size", "2", "-o", "json")
	if r.code != exitOK {
		return "", nil, fmt.Errorf("cases entries on %s: exit status %d: %s", p.Agency, r.code, r.stderr)
	}
	var resp liaisonv1.ListCaseEntriesResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &resp); err != nil {
		return "", nil, err
	}
	return r.stdout, resp.GetEntries(), nil
}

// waitEntries waits until p lists the entries of a case in the states
// given, by entry id, and returns them.
func waitEntries(t *testing.T, p *peer, caseID string, want map[string]liaisonv1.EntryState) []*liaisonv1.CaseEntry {
	t.Helper()
	var got []*liaisonv1.CaseEntry
	eventually(t, func() error {
		var err error
		if _, got, err = entriesOf(p, caseID); err != nil {
			return err
		}
		states := map[string]liaisonv1.EntryState{}
		for _, e := range got {
			states[e.GetId()] = e.GetState()
		}
		if !cmp.Equal(want, states) {
			return fmt.Errorf("%s lists entries in states %v, want %v", p.Agency, states, want)
		}
		return nil
	})
	return got
}

// openRequests lists the open requests on p with the flags given.
func openRequests(t *testing.T, p *peer, flags ...string) []*liaisonv1.OpenRequest {
	t.Helper()
	var resp liaisonv1.ListOpenRequestsResponse
	p.ctl(t, "analyst", append([]string{"requests", "list", "-o", "json"}, flags...)...).wantCode(t, exitOK).decode(t, &resp)
	return resp.GetRequests()
}

func requestIDs(rs []*liaisonv1.OpenRequest) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.GetEntry().GetId())
	}
	return ids
}

const (
	applied  = liaisonv1.EntryState_ENTRY_STATE_APPLIED
	pending  = liaisonv1.EntryState_ENTRY_STATE_PENDING
	rejected = liaisonv1.EntryState_ENTRY_STATE_REJECTED
)

func TestCases_SharedWithPartner(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)

	// Created as a table: the request id on stderr, the case on stdout.
	r := alpha.ctl(t, "analyst", "cases", "create", "-f", writeFile(t, caseJSON)).wantCode(t, exitOK)
	if !strings.HasPrefix(r.stderr, "request id: ") || uuidPattern.FindString(r.stderr) == "" {
		t.Errorf("stderr does not give the request id (a UUIDv7):\n%s", r.stderr)
	}
	id := uuidPattern.FindString(strings.SplitN(r.stdout, "\n", 2)[0])
	if id == "" {
		t.Fatalf("first line of the created case is not its ID:\n%s", r.stdout)
	}
	wantContains(t, "stdout", r.stdout, caseLine("ORIGIN:", "alpha (own record)"), caseLine("STATUS:", "open"), "\nSUBJECTS: 2\n")

	t.Run("Get", func(t *testing.T) {
		r := alpha.ctl(t, "analyst", "cases", "get", id).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout,
			caseLine("ID:", id),
			caseLine("ORIGIN:", "alpha (own record)"),
			caseLine("STATUS:", "open"),
			caseLine("VERSION:", "1"),
			caseLine("TITLE:", "Kupang network"),
			caseLine("SUMMARY:", "Joint investigation of the Kupang crossings.")+"\n"+caseLine("", "Second line."),
			caseLine("CRIME AREAS:", "migrant-smuggling"),
			caseLine("REFERENCE:", "ALPHA-C-7"),
			caseLine("PARTNER REFS:", "bravo: BR-2025-9"),
			caseLine("CREATED:", ""), " by spiffe://alpha.liaison.test/analyst/",
			"\nSUBJECTS: 2, each person once\n",
			caseSubject("  [1] name:", "Ivanov, Ivan"),
			caseSubject("      phone:", "+66812345678"),
			caseSubject("      sources:", "case"),
			caseSubject("  [2] name:", "陈, 伟 [Chen, Wei]"),
			caseSubject("      born:", "1975"),
			"\n\nENTRIES:        0\nOPEN REQUESTS:  0\n",
		)
		if strings.Contains(r.stdout, "SHARED WITH:") || strings.Contains(r.stdout, "CLOSED:") {
			t.Errorf("an unshared open case shows SHARED WITH or CLOSED:\n%s", r.stdout)
		}
	})

	// Shared with bravo, it reaches bravo's node.
	r = alpha.ctl(t, "supervisor", "cases", "share", id, "--to", "bravo").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, caseLine("SHARED WITH:", "bravo"), caseLine("VERSION:", "2"))
	eventually(t, func() error {
		var resp liaisonv1.GetCaseResponse
		if err := bravo.tryJSON("analyst", &resp, "cases", "get", id); err != nil {
			return err
		}
		if v := resp.GetCase().GetVersion(); v < 2 {
			return fmt.Errorf("bravo holds version %d", v)
		}
		return nil
	})

	t.Run("GetOnPartner", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "cases", "get", id).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout,
			caseLine("ORIGIN:", "alpha (replica: alpha's node is the home; entries written here are proposals it applies)"),
			caseLine("SHARED WITH:", "bravo"),
			caseLine("TITLE:", "Kupang network"))
		var resp liaisonv1.GetCaseResponse
		bravo.ctl(t, "analyst", "cases", "get", id, "-o", "json").wantCode(t, exitOK).decode(t, &resp)
		if c := resp.GetCase(); c.GetOriginAgency() != "alpha" || c.GetId() != id || len(resp.GetSubjects()) != 2 {
			t.Errorf("bravo's copy: origin %q id %s, %d subjects", c.GetOriginAgency(), c.GetId(), len(resp.GetSubjects()))
		}
	})
	t.Run("List", func(t *testing.T) {
		other := createCase(t, alpha, "unshared")
		for _, tc := range []struct {
			node *peer
			args []string
			want []string
		}{
			{alpha, nil, []string{other.GetId(), id}},
			{alpha, []string{"--shared-with", "bravo"}, []string{id}},
			{alpha, []string{"--status", "open", "--crime-area", "migrant-smuggling", "--page-size", "1", "--all"}, []string{other.GetId(), id}},
			{alpha, []string{"--status", "closed"}, nil},
			{alpha, []string{"--updated-after", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, nil},
			{bravo, nil, []string{id}},
			{bravo, []string{"--origin", "alpha"}, []string{id}},
			{bravo, []string{"--origin", "bravo"}, nil},
		} {
			var resp liaisonv1.ListCasesResponse
			tc.node.ctl(t, "analyst", append([]string{"cases", "list", "-o", "json"}, tc.args...)...).wantCode(t, exitOK).decode(t, &resp)
			var got []string
			for _, c := range resp.GetCases() {
				got = append(got, c.GetId())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s: cases list %v (-want +got):\n%s", tc.node.Agency, tc.args, diff)
			}
		}
		r := bravo.ctl(t, "analyst", "cases", "list").wantCode(t, exitOK)
		ls := lines(r.stdout)
		if len(ls) != 2 {
			t.Fatalf("want a header and one case:\n%s", r.stdout)
		}
		if got := strings.Fields(ls[0]); !cmp.Equal(got, []string{"ID", "ORIGIN", "STATUS", "VERSION", "CRIME", "AREAS", "SHARED", "WITH", "LEADS", "UPDATED", "TITLE"}) {
			t.Errorf("header %q", ls[0])
		}
		if got := strings.Fields(ls[1]); len(got) != 10 || got[0] != id || got[1] != "alpha" || got[2] != "open" || got[3] != "2" ||
			got[4] != "migrant-smuggling" || got[5] != "bravo" || got[6] != "0" || strings.Join(got[8:], " ") != "Kupang network" {
			t.Errorf("row %q", ls[1])
		}
	})

	// alpha asks bravo, urgently, with a deadline that passes during the
	// test; bravo asks alpha.
	due := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	r = alpha.ctl(t, "analyst", "cases", "add-entry", id, "--kind", "request", "--urgency", "urgent", "--due", due, "--text", "Who owns the boat?").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout,
		entryLine(11, "STATE:", "applied #1"),
		entryLine(11, "KIND:", "request"),
		entryLine(11, "AGENCY:", "alpha"),
		entryLine(11, "URGENCY:", "urgent"),
		entryLine(11, "OWED BY:", "bravo"),
		entryLine(11, "ANSWERED:", "no"),
		entryLine(11, "TEXT:", "Who owns the boat?"),
		entryLine(11, "AUTHOR:", "spiffe://alpha.liaison.test/analyst/"))
	wantContains(t, "stderr", r.stderr, "request id: ")
	alphaReq := uuidPattern.FindString(strings.SplitN(r.stdout, "\n", 2)[0])

	r = bravo.ctl(t, "analyst", "cases", "add-entry", id, "--kind", "request", "--urgency", "high", "--text", "Trace +66 81 234 5678.").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout,
		entryLine(11, "STATE:", "pending (the home node alpha has not applied it yet)"),
		entryLine(11, "AGENCY:", "bravo"),
		entryLine(11, "URGENCY:", "high"),
		entryLine(11, "OWED BY:", "alpha"))
	if strings.Contains(r.stdout, "APPLIED:") {
		t.Errorf("a pending entry shows when it was applied:\n%s", r.stdout)
	}
	bravoReq := uuidPattern.FindString(strings.SplitN(r.stdout, "\n", 2)[0])
	if alphaReq == "" || bravoReq == "" {
		t.Fatalf("no entry ids: %q %q", alphaReq, bravoReq)
	}
	waitEntries(t, bravo, id, map[string]liaisonv1.EntryState{alphaReq: applied, bravoReq: applied})

	t.Run("RequestsBefore", func(t *testing.T) {
		// What bravo owes: alpha's request, overdue soon.
		if got := requestIDs(openRequests(t, bravo)); !cmp.Equal(got, []string{alphaReq}) {
			t.Errorf("bravo owes %v, want alpha's request %s", got, alphaReq)
		}
		if got := requestIDs(openRequests(t, bravo, "--owed-to-us")); !cmp.Equal(got, []string{bravoReq}) {
			t.Errorf("bravo awaits %v, want its request %s", got, bravoReq)
		}
		if got := requestIDs(openRequests(t, alpha)); !cmp.Equal(got, []string{bravoReq}) {
			t.Errorf("alpha owes %v, want bravo's request %s", got, bravoReq)
		}
		eventually(t, func() error {
			var resp liaisonv1.ListOpenRequestsResponse
			if err := bravo.tryJSON("analyst", &resp, "requests", "list"); err != nil {
				return err
			}
			if len(resp.GetRequests()) != 1 || !resp.GetRequests()[0].GetOverdue() {
				return fmt.Errorf("alpha's request is not overdue yet: %v", resp.GetRequests())
			}
			return nil
		})
		r := bravo.ctl(t, "analyst", "requests", "list").wantCode(t, exitOK)
		ls := lines(r.stdout)
		if len(ls) != 2 {
			t.Fatalf("want a header and one request:\n%s", r.stdout)
		}
		if got := strings.Fields(ls[0]); !cmp.Equal(got, []string{"DUE", "OVERDUE", "OPEN", "FOR", "URGENCY", "ASKED", "BY", "OWED", "BY", "CASE", "ENTRY", "ID", "TEXT"}) {
			t.Errorf("header %q", ls[0])
		}
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +OVERDUE by \d+s +\d+s +urgent +alpha +bravo +` + id + ` Kupang network +` + alphaReq + ` +Who owns the boat\?$`).MatchString(ls[1]) {
			t.Errorf("row %q", ls[1])
		}
		r = bravo.ctl(t, "analyst", "requests", "list", "--owed-to-us").wantCode(t, exitOK)
		// High urgency: due in 3 days.
		wantContains(t, "stdout", r.stdout, " in 2d23h ", " high ", bravoReq, "Trace +66 81 234 5678.")
	})

	// alpha answers bravo's request, bravo alpha's.
	r = alpha.ctl(t, "analyst", "cases", "add-entry", id, "--kind", "response", "--responds-to", bravoReq, "--text", "The phone is registered in Kupang.").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, entryLine(14, "STATE:", "applied #3"), entryLine(14, "RESPONDS TO:", bravoReq))
	alphaAnswer := uuidPattern.FindString(strings.SplitN(r.stdout, "\n", 2)[0])
	bravoAnswer := addEntry(t, bravo, id, "--kind", "response", "--responds-to", alphaReq, "--text", "A shell company.").GetId()
	outcome := addEntry(t, bravo, id, "--kind", "outcome", "--outcome", "arrest", "--count", "2", "--text", "Two arrests in Kupang.").GetId()
	waitEntries(t, alpha, id, map[string]liaisonv1.EntryState{alphaReq: applied, bravoReq: applied, alphaAnswer: applied, bravoAnswer: applied, outcome: applied})

	t.Run("SameEntriesOnBothNodes", func(t *testing.T) {
		var a, b string
		eventually(t, func() error {
			var err error
			var ea, eb []*liaisonv1.CaseEntry
			if a, ea, err = entriesOf(alpha, id); err != nil {
				return err
			}
			if b, eb, err = entriesOf(bravo, id); err != nil {
				return err
			}
			if len(ea) != 5 || len(eb) != 5 || eb[4].GetSequence() != 5 {
				return fmt.Errorf("alpha lists %d entries, bravo %d", len(ea), len(eb))
			}
			// Each node names its own officers and the other's by
			// pseudonym: the entries are the same but for their authors.
			if !cmp.Equal(ea, eb, protocmp.Transform(), protocmp.IgnoreFields(&liaisonv1.CaseEntry{}, "author")) {
				return fmt.Errorf("the nodes list different entries:\nalpha:\n%s\nbravo:\n%s", a, b)
			}
			return nil
		})
		r := bravo.ctl(t, "analyst", "cases", "entries", id).wantCode(t, exitOK)
		ls := lines(r.stdout)
		if len(ls) != 6 {
			t.Fatalf("want a header and 5 entries:\n%s", r.stdout)
		}
		if got := strings.Fields(ls[0]); !cmp.Equal(got, []string{"#", "ID", "STATE", "AGENCY", "AUTHOR", "KIND", "WRITTEN", "DETAILS", "TEXT"}) {
			t.Errorf("header %q", ls[0])
		}
		for i, want := range []string{
			`^1 +` + alphaReq + ` +applied +alpha +analyst/[0-9a-f]{16} +request +\S+ +urgent, due \S+, owed by bravo, answered by ` + bravoAnswer + ` +Who owns the boat\?$`,
			`^2 +` + bravoReq + ` +applied +bravo +analyst/alice +request +\S+ +high, due \S+, owed by alpha, answered by ` + alphaAnswer + ` +Trace \+66 81 234 5678\.$`,
			`^3 +` + alphaAnswer + ` +applied +alpha +analyst/[0-9a-f]{16} +response +\S+ +answers ` + bravoReq + ` +The phone is registered in Kupang\.$`,
			`^4 +` + bravoAnswer + ` +applied +bravo +analyst/alice +response +\S+ +answers ` + alphaReq + ` +A shell company\.$`,
			`^5 +` + outcome + ` +applied +bravo +analyst/alice +outcome +\S+ +arrest × 2 +Two arrests in Kupang\.$`,
		} {
			if !regexp.MustCompile(want).MatchString(ls[i+1]) {
				t.Errorf("row %d: %q\ndoes not match %s", i+1, ls[i+1], want)
			}
		}
		if strings.Contains(r.stdout, "REJECTED") {
			t.Errorf("rejections listed:\n%s", r.stdout)
		}
	})
	t.Run("RequestsAfter", func(t *testing.T) {
		for _, tc := range []struct {
			node *peer
			args []string
			want string
		}{
			{bravo, nil, "no open requests: this agency owes no answers\n"},
			{bravo, []string{"--owed-to-us"}, "no open requests: this agency awaits no answers\n"},
			{alpha, nil, "no open requests: this agency owes no answers\n"},
		} {
			r := tc.node.ctl(t, "analyst", append([]string{"requests", "list"}, tc.args...)...).wantCode(t, exitOK)
			if r.stdout != tc.want {
				t.Errorf("%s: requests list %v: %q, want %q", tc.node.Agency, tc.args, r.stdout, tc.want)
			}
			if got := openRequests(t, tc.node, tc.args...); len(got) != 0 {
				t.Errorf("%s: requests list %v: %v", tc.node.Agency, tc.args, got)
			}
		}
		r := bravo.ctl(t, "analyst", "cases", "get", id).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "\nENTRIES:        5\nOPEN REQUESTS:  0\n")
	})
	t.Run("PartnerCannotChangeTheCase", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "cases", "update", id, "-f", writeFile(t, `{"title": "ours now"}`)).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule record.home_node_only on cases/"+id)
		r = bravo.ctl(t, "supervisor", "cases", "close", id, "--reason", "done").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule record.home_node_only on cases/"+id)
	})
}

func TestCases_RejectedEntry(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	c := createCase(t, alpha, "rejections")
	id := c.GetId()
	alpha.ctl(t, "supervisor", "cases", "share", id, "--to", "bravo").wantCode(t, exitOK)
	req := addEntry(t, alpha, id, "--kind", "request", "--urgency", "high", "--text", "Where is the safe house?")
	waitEntries(t, bravo, id, map[string]liaisonv1.EntryState{req.GetId(): applied})

	t.Run("OnlyTheDebtorAnswers", func(t *testing.T) {
		r := alpha.ctl(t, "analyst", "cases", "add-entry", id, "--kind", "response", "--responds-to", req.GetId(), "--text", "we answer ourselves").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule response.wrong_agency on cases/"+id, "request id: ")
	})

	// Two answers written on bravo while alpha is away: bravo's view has
	// the request open for both; alpha applies the first and rejects the
	// second.
	alpha.Stop(t)
	r := bravo.ctl(t, "analyst", "cases", "add-entry", id, "--kind", "response", "--responds-to", req.GetId(), "--text", "In Atambua.").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, entryLine(14, "STATE:", "pending (the home node alpha has not applied it yet)"))
	first := uuidPattern.FindString(strings.SplitN(r.stdout, "\n", 2)[0])
	second := addEntry(t, bravo, id, "--kind", "response", "--responds-to", req.GetId(), "--text", "Actually in Kefamenanu.")
	note := addEntry(t, bravo, id, "--kind", "note", "--text", "A note after the rejected one.")
	if second.GetState() != pending || note.GetState() != pending {
		t.Fatalf("entries written on bravo while alpha is away: %v, %v", second.GetState(), note.GetState())
	}
	r = bravo.ctl(t, "analyst", "cases", "entries", id).wantCode(t, exitOK)
	if ls := lines(r.stdout); len(ls) != 5 || !strings.HasPrefix(ls[2], "-  ") || !strings.Contains(ls[2], " pending ") {
		t.Errorf("want the request and 3 pending entries, numbered -:\n%s", r.stdout)
	}
	alpha.Restart(t)

	es := waitEntries(t, bravo, id, map[string]liaisonv1.EntryState{req.GetId(): applied, first: applied, second.GetId(): rejected, note.GetId(): applied})
	var reason string
	for _, e := range es {
		if e.GetId() == second.GetId() {
			reason = e.GetRejectionReason()
		}
	}
	if !strings.HasPrefix(reason, "request.closed: ") {
		t.Errorf("rejection reason %q, want the rule request.closed", reason)
	}
	r = bravo.ctl(t, "analyst", "cases", "entries", id).wantCode(t, exitOK)
	ls := lines(r.stdout)
	if len(ls) != 6 {
		t.Fatalf("want a header, 4 entries and the rejection:\n%s", r.stdout)
	}
	rejectedRow := regexp.MustCompile(`^- +` + second.GetId() + ` +rejected +bravo +analyst/alice +response +\S+ +answers ` + req.GetId() + ` +Actually in Kefamenanu\.$`)
	if !slices.ContainsFunc(ls[1:5], rejectedRow.MatchString) {
		t.Errorf("no row of the rejected entry matches %s", rejectedRow)
	}
	if want := "entry " + second.GetId() + " REJECTED by the case's home node: " + reason; ls[5] != want {
		t.Errorf("last line %q, want %q", ls[5], want)
	}
	wantContains(t, "stdout", r.stdout, "\n\nentry "+second.GetId()+" REJECTED")

	// The rejected entry is not on the home node; the note after it is.
	_, home, err := entriesOf(alpha, id)
	if err != nil {
		t.Fatal(err)
	}
	var homeIDs []string
	for _, e := range home {
		homeIDs = append(homeIDs, e.GetId())
	}
	if want := []string{req.GetId(), first, note.GetId()}; !cmp.Equal(want, homeIDs) {
		t.Errorf("alpha lists %v, want %v", homeIDs, want)
	}
}

func TestCases_UpdateLinkClose(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	p := &peer{n.Node}
	c := createCase(t, p, "Kupang network")
	id := c.GetId()
	lead := createLead(t, n, "Kupang boats")

	t.Run("Update", func(t *testing.T) {
		r := n.ctl(t, "analyst", "cases", "update", id, "-f", writeFile(t, `{"title": "Kupang and Rote", "status": "CASE_STATUS_ACTIVE", "partner_references": null}`)).wantCode(t, exitOK)
		// Without partner references the longest key is "CRIME AREAS:".
		wantContains(t, "stdout", r.stdout, kv(14, "TITLE:", "Kupang and Rote"), kv(14, "STATUS:", "active"), kv(14, "VERSION:", "2"))
		if strings.Contains(r.stdout, "PARTNER REFS:") {
			t.Errorf("partner references not cleared:\n%s", r.stdout)
		}
		var events liaisonv1.ListAuditEventsResponse
		n.ctl(t, "auditor", "audit", "list", "--action", liaisonv1.CaseService_UpdateCase_FullMethodName, "-o", "json").wantCode(t, exitOK).decode(t, &events)
		if len(events.GetEvents()) != 1 || events.GetEvents()[0].GetDetail() != "fields=[title status partner_references]" {
			t.Errorf("audited updates: %v, want one with fields=[title status partner_references]", events.GetEvents())
		}
		r = n.ctl(t, "analyst", "cases", "update", id, "-f", writeFile(t, `{"summary": "x"}`), "--etag", c.GetEtag()).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: ABORTED: ")
		r = n.ctl(t, "analyst", "cases", "update", id, "-f", writeFile(t, `{"sharedWith": ["bravo"]}`)).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: INVALID_ARGUMENT: ", `field update_mask.paths[0]: "shared_with" cannot be updated`)
		r = n.ctl(t, "analyst", "cases", "update", id, "-f", writeFile(t, `{"titel": "x"}`)).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, `unknown field "titel"`)
	})
	t.Run("LinkLead", func(t *testing.T) {
		r := n.ctl(t, "analyst", "cases", "link-lead", id, lead.GetId()).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, caseLine("LINKED LEADS:", lead.GetId()))
		// Ivanov is in the case and in the lead (the same phone number):
		// listed once, with both sources.
		r = n.ctl(t, "analyst", "cases", "get", id).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout,
			"\nSUBJECTS: 2, each person once\n",
			caseSubject("  [1] name:", "Ivanov, Ivan")+"\n",
			caseSubject("      sources:", "case, leads/"+lead.GetId())+"\n",
			caseSubject("  [2] name:", "陈, 伟 [Chen, Wei]"),
			caseSubject("      sources:", "case")+"\n")
		var resp liaisonv1.GetCaseResponse
		n.ctl(t, "analyst", "cases", "get", id, "-o", "json").wantCode(t, exitOK).decode(t, &resp)
		if s := resp.GetSubjects(); len(s) != 2 || !cmp.Equal(s[0].GetSources(), []string{"case", "leads/" + lead.GetId()}) {
			t.Errorf("subjects: %v", s)
		}
		r = n.ctl(t, "analyst", "cases", "unlink-lead", id, lead.GetId()).wantCode(t, exitOK)
		if strings.Contains(r.stdout, "LINKED LEADS:") {
			t.Errorf("still linked:\n%s", r.stdout)
		}
		r = n.ctl(t, "analyst", "cases", "unlink-lead", id, lead.GetId()).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: NOT_FOUND: lead "+lead.GetId()+" is not linked to case "+id)
	})
	t.Run("EntryOnUnsharedCase", func(t *testing.T) {
		r := n.ctl(t, "analyst", "cases", "add-entry", id, "--kind", "request", "--urgency", "normal", "--text", "anyone?").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule request.no_partner on cases/"+id)
		r = n.ctl(t, "analyst", "cases", "add-entry", id, "-f", writeFile(t, `{"kind": "CASE_ENTRY_KIND_NOTE", "text": "From a file.\nTwo lines."}`)).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, entryLine(10, "STATE:", "applied #1"), entryLine(10, "KIND:", "note"),
			entryLine(10, "TEXT:", "From a file.")+"\n"+entryLine(10, "", "Two lines."))
	})
	t.Run("Close", func(t *testing.T) {
		r := n.ctl(t, "analyst", "cases", "close", id, "--reason", "done").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ")
		r = n.ctl(t, "supervisor", "cases", "close", id, "--reason", "network dismantled").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, caseLine("STATUS:", "closed"), caseLine("CLOSED:", "20"), caseLine("CLOSE REASON:", "network dismantled"))
		r = n.ctl(t, "analyst", "cases", "add-entry", id, "--kind", "note", "--text", "late").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule case.closed on cases/"+id)
		var list liaisonv1.ListCasesResponse
		n.ctl(t, "analyst", "cases", "list", "--status", "closed", "-o", "json").wantCode(t, exitOK).decode(t, &list)
		if len(list.GetCases()) != 1 || list.GetCases()[0].GetId() != id {
			t.Errorf("closed cases: %v", list.GetCases())
		}
		var reopened liaisonv1.ReopenCaseResponse
		n.ctl(t, "supervisor", "cases", "reopen", id, "--reason", "new lead", "-o", "json").wantCode(t, exitOK).decode(t, &reopened)
		if c := reopened.GetCase(); c.GetStatus() != liaisonv1.CaseStatus_CASE_STATUS_OPEN || c.GetCloseTime() != nil {
			t.Errorf("reopened case: %v", c)
		}
		r = n.ctl(t, "supervisor", "cases", "reopen", id, "--reason", "again").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule case.not_closed on cases/"+id)
	})
}

func TestCases_CreateIdempotent(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	const key = "0190f1c2-0000-7000-8000-00000000c0de"
	args := append([]string{"cases", "create", "-f", "-", "--request-id", key, "-o", "json"}, n.flags("analyst")...)
	var first, again liaisonv1.CreateCaseResponse
	r := ctl(t, caseJSON, args...).wantCode(t, exitOK)
	r.decode(t, &first)
	wantContains(t, "stderr", r.stderr, "request id: "+key)
	ctl(t, caseJSON, args...).wantCode(t, exitOK).decode(t, &again)
	if first.GetCase().GetId() != again.GetCase().GetId() {
		t.Errorf("a retry with the same --request-id created case %s besides %s", again.GetCase().GetId(), first.GetCase().GetId())
	}
	r = n.ctl(t, "analyst", "cases", "create", "-f", writeFile(t, `{"title": "no crime area"}`)).wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: INVALID_ARGUMENT: ", "\n  field case.crime_areas: ")
}

// Entries the node refuses: its field violations are shown with the flag
// that sets each field.
func TestCases_EntryRefused(t *testing.T) {
	t.Parallel()
	// Shared with bravo, which need not be running.
	alpha := &peer{startNode(t).Node}
	id := createCase(t, alpha, "refusals").GetId()
	alpha.ctl(t, "supervisor", "cases", "share", id, "--to", "bravo").wantCode(t, exitOK)
	for _, tc := range []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"ResponseWithoutRespondsTo", []string{"--kind", "response", "--text", "t"},
			[]string{"error: INVALID_ARGUMENT: ", "\n  field entry.response.request_entry_id: ", "\n  --responds-to sets entry.response.request_entry_id\n"}},
		{"RequestWithoutUrgency", []string{"--kind", "request", "--text", "t"},
			[]string{"error: INVALID_ARGUMENT: ", "\n  field entry.request.urgency: ", "\n  --urgency sets entry.request.urgency\n"}},
		{"OutcomeWithoutKind", []string{"--kind", "outcome", "--text", "t", "--count", "0"},
			[]string{"error: INVALID_ARGUMENT: ", "\n  field entry.outcome.kind: ", "\n  field entry.outcome.count: ", "\n  --count sets entry.outcome.count\n", "\n  --outcome sets entry.outcome.kind\n"}},
		{"WithoutText", []string{"--kind", "note"},
			[]string{"error: INVALID_ARGUMENT: ", "\n  field entry.text: ", "\n  --text sets entry.text\n"}},
		{"DetailsOfAnotherKind", []string{"--kind", "note", "--text", "t", "--urgency", "high"},
			[]string{"error: INVALID_ARGUMENT: ", "case_entry.details_match_kind"}},
		{"DueBeforeWritten", []string{"--kind", "request", "--urgency", "high", "--due", "2020-01-01T00:00:00Z", "--text", "t"},
			[]string{"error: INVALID_ARGUMENT: ", "\n  field entry.request.due_time: must be after the time the request is written", "\n  --due sets entry.request.due_time\n"}},
		{"RequestedOfStranger", []string{"--kind", "request", "--urgency", "high", "--requested-of", "charlie", "--text", "t"},
			[]string{"error: INVALID_ARGUMENT: ", `field entry.request.requested_of: "charlie" is not a party to case`, "\n  --requested-of sets entry.request.requested_of\n"}},
		{"UnknownRequest", []string{"--kind", "response", "--responds-to", "0190f1c2-0000-7000-8000-000000000001", "--text", "t"},
			[]string{"error: FAILED_PRECONDITION: ", "rule response.request_not_found on cases/" + id}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := alpha.ctl(t, "analyst", append([]string{"cases", "add-entry", id}, tc.args...)...).wantCode(t, exitFailed)
			wantContains(t, "stderr", r.stderr, tc.stderr...)
			if r.stdout != "" || strings.Contains(r.stderr, "retry safely") {
				t.Errorf("a refused entry: stdout %q, stderr %q", r.stdout, r.stderr)
			}
		})
	}
	t.Run("FromFile", func(t *testing.T) {
		// Made from a file, the fields are the file's: no flag is named.
		r := alpha.ctl(t, "analyst", "cases", "add-entry", id, "-f", writeFile(t, `{"kind": "CASE_ENTRY_KIND_RESPONSE", "text": "t", "response": {}}`)).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: INVALID_ARGUMENT: ", "\n  field entry.response.request_entry_id: ")
		if strings.Contains(r.stderr, "--responds-to") {
			t.Errorf("a flag named for an entry from a file:\n%s", r.stderr)
		}
	})
	t.Run("NoCase", func(t *testing.T) {
		r := alpha.ctl(t, "analyst", "cases", "add-entry", "0190f1c2-0000-7000-8000-000000000001", "--kind", "note", "--text", "t").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: NOT_FOUND: ")
		r = alpha.ctl(t, "analyst", "cases", "entries", "not-a-uuid").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: INVALID_ARGUMENT: ", "field case_id: ")
	})
}

func TestRun_UsageOfCaseCommands(t *testing.T) {
	t.Parallel()
	runUsage(t, []usageCase{
		{name: "Help", args: []string{"help"}, code: exitOK, stdout: []string{"cases:", "  add-entry ", "  link-lead ", "requests:", "search:", "  search "}},
		{name: "CasesHelp", args: []string{"cases", "-h"}, code: exitOK, stdout: []string{"liaisonctl cases add-entry ID --kind note|request|response|outcome --text TEXT", "liaisonctl cases reopen ID --reason TEXT"}},
		{name: "AddEntryHelp", args: []string{"help", "cases", "add-entry"}, code: exitOK, stdout: []string{"--responds-to ENTRY_ID", "--urgency URGENCY", "--outcome KIND", "--count N", "-f FILE"}},
		{name: "RequestsHelp", args: []string{"requests", "list", "--help"}, code: exitOK, stdout: []string{"usage: liaisonctl requests list [--owed-to-us]", "--owed-to-us "}},
		{name: "CreateWithoutFile", args: []string{"cases", "create"}, code: exitUsage, stderr: []string{"cases create needs -f FILE"}},
		{name: "CreateBadRequestID", args: []string{"cases", "create", "-f", "x.json", "--request-id", "42"}, code: exitUsage, stderr: []string{`--request-id "42" is not a UUID`}},
		{name: "UpdateWithoutFile", args: []string{"cases", "update", "x"}, code: exitUsage, stderr: []string{"cases update needs -f PATCH"}},
		{name: "ShareWithoutPartner", args: []string{"cases", "share", "x"}, code: exitUsage, stderr: []string{"cases share needs --to AGENCY"}},
		{name: "CloseWithoutReason", args: []string{"cases", "close", "x"}, code: exitUsage, stderr: []string{"cases close needs --reason TEXT"}},
		{name: "ReopenWithoutReason", args: []string{"cases", "reopen", "x", "--reason", " "}, code: exitUsage, stderr: []string{"cases reopen needs --reason TEXT"}},
		{name: "LinkOneArgument", args: []string{"cases", "link-lead", "x"}, code: exitUsage, stderr: []string{`cases link-lead takes CASE_ID LEAD_ID, got ["x"]`}},
		{name: "ListBadStatus", args: []string{"cases", "list", "--status", "draft"}, code: exitUsage, stderr: []string{`--status: "draft" is not one of open, active, suspended, closed`}},
		{name: "ListBadTime", args: []string{"cases", "list", "--updated-after", "today"}, code: exitUsage, stderr: []string{`--updated-after: "today" is not an RFC 3339 time`}},
		{name: "EntriesBadPageSize", args: []string{"cases", "entries", "x", "--page-size=-1"}, code: exitUsage, stderr: []string{"--page-size -1 is out of range"}},
		{name: "AddEntryWithoutKind", args: []string{"cases", "add-entry", "x", "--text", "t"}, code: exitUsage, stderr: []string{"cases add-entry needs --kind KIND and --text TEXT, or -f FILE"}},
		{name: "AddEntryUnknownKind", args: []string{"cases", "add-entry", "x", "--kind", "memo", "--text", "t"}, code: exitUsage, stderr: []string{`--kind: "memo" is not one of note, request, response, outcome`}},
		{name: "AddEntryBadUrgency", args: []string{"cases", "add-entry", "x", "--kind", "request", "--urgency", "asap", "--text", "t"}, code: exitUsage, stderr: []string{`--urgency: "asap" is not one of normal, high, urgent`}},
		{name: "AddEntryBadOutcome", args: []string{"cases", "add-entry", "x", "--kind", "outcome", "--outcome", "raid", "--text", "t"}, code: exitUsage, stderr: []string{`--outcome: "raid" is not one of arrest, charge, conviction, disruption, victims-identified, assets-seized`}},
		{name: "AddEntryBadDue", args: []string{"cases", "add-entry", "x", "--kind", "request", "--due", "friday", "--text", "t"}, code: exitUsage, stderr: []string{`--due: "friday" is not an RFC 3339 time`}},
		{name: "AddEntryBadCount", args: []string{"cases", "add-entry", "x", "--kind", "outcome", "--count", "two", "--text", "t"}, code: exitUsage, stderr: []string{`invalid value "two" for flag --count`}},
		{name: "AddEntryFileAndFlags", args: []string{"cases", "add-entry", "x", "-f", "e.json", "--kind", "note", "--text", "t"}, code: exitUsage, stderr: []string{"-f reads the whole entry from a file: it does not go with --kind, --text"}},
		{name: "RequestsArgument", args: []string{"requests", "list", "mine"}, code: exitUsage, stderr: []string{`requests list takes no arguments, got ["mine"]`}},
		{name: "RequestsBadPageSize", args: []string{"requests", "list", "--page-size", "-3"}, code: exitUsage, stderr: []string{"--page-size -3 is out of range"}},
	})
}

func TestEntryRendering(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e     *liaisonv1.CaseEntry
		home  string
		state string
	}{
		{&liaisonv1.CaseEntry{State: applied, Sequence: 7}, "alpha", "applied #7"},
		{&liaisonv1.CaseEntry{State: applied}, "alpha", "applied (its position has not arrived yet)"},
		{&liaisonv1.CaseEntry{State: pending}, "alpha", "pending (the home node alpha has not applied it yet)"},
		{&liaisonv1.CaseEntry{State: pending}, "", "pending (the case's home node has not applied it yet)"},
		{&liaisonv1.CaseEntry{State: rejected, RejectionReason: "request.closed: request X was already answered by entry Y"}, "alpha",
			"REJECTED: request.closed: request X was already answered by entry Y"},
	} {
		if got := entryState(tc.e, tc.home); got != tc.state {
			t.Errorf("entryState(%v, %q) = %q, want %q", tc.e, tc.home, got, tc.state)
		}
	}
	for got, want := range map[string]string{
		entryDetails(&liaisonv1.CaseEntry{Kind: liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_NOTE}): "-",
		entryDetails(&liaisonv1.CaseEntry{Kind: liaisonv1.CaseEntryKind_CASE_ENTRY_KIND_OUTCOME,
			Outcome: &liaisonv1.OutcomeDetails{Kind: liaisonv1.OutcomeKind_OUTCOME_KIND_VICTIMS_IDENTIFIED, Count: 12}}): "victims-identified × 12",
		shortAuthor("spiffe://alpha.liaison.test/analyst/alice"): "analyst/alice",
		shortAuthor("someone"): "someone",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestTimeLeft(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		due     time.Time
		overdue bool
		want    string
	}{
		{at.Add(7*24*time.Hour - time.Minute), false, "in 6d23h"},
		{at.Add(-(2*time.Hour + 13*time.Minute + 5*time.Second)), true, "OVERDUE by 2h13m"},
		// The node's clock says overdue, this one not yet.
		{at.Add(time.Second), true, "OVERDUE by 0s"},
		{at.Add(-45 * time.Second), false, "OVERDUE by 45s"},
	} {
		if got := timeLeft(tc.due, tc.overdue, at); got != tc.want {
			t.Errorf("timeLeft(%v, %v) = %q, want %q", tc.due.Sub(at), tc.overdue, got, tc.want)
		}
	}
}
