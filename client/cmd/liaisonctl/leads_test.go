package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// leadJSON is a lead as an analyst would write it, with one subject whose
// document and phone numbers the node normalises.
const leadJSON = `{
  "title": "Kupang boats",
  "summary": "Recruiter advertises crossings on messaging apps.\nPayment through hawala.",
  "crimeAreas": ["CRIME_AREA_MIGRANT_SMUGGLING", "CRIME_AREA_DOCUMENT_FRAUD"],
  "originatorReference": "ALPHA-2025-17",
  "evaluation": {"sourceReliability": "SOURCE_RELIABILITY_B", "informationAccuracy": "INFORMATION_ACCURACY_2"},
  "handling": {"code": "HANDLING_CODE_H3", "conditions": "not to be shared with third countries"},
  "locations": [{"name": "Kupang", "country": "IDN"}],
  "subjects": [{
    "names": [{"familyName": "Иванов", "givenNames": "Иван", "latinFamilyName": "Ivanov", "latinGivenNames": "Ivan"}],
    "aliases": ["Vanya"],
    "dateOfBirth": {"year": 1980, "month": 3},
    "sex": "SEX_MALE",
    "nationalities": ["RUS", "IDN"],
    "documents": [{"type": "DOCUMENT_TYPE_PASSPORT", "number": "ab 123-456", "issuingCountry": "RUS"}],
    "phoneNumbers": [{"number": "+66 81 234 5678"}],
    "role": "NETWORK_ROLE_RECRUITER"
  }]
}`

// createLead creates leadJSON with the title given and returns the lead.
func createLead(t *testing.T, n *testNode, title string) *liaisonv1.Lead {
	t.Helper()
	file := writeFile(t, strings.Replace(leadJSON, "Kupang boats", title, 1))
	var resp liaisonv1.CreateLeadResponse
	n.ctl(t, "analyst", "leads", "create", "-f", file, "-o", "json").wantCode(t, exitOK).decode(t, &resp)
	return resp.GetLead()
}

// field is a line of the detail view of a lead: the keys above the
// subjects align at the width of the longest, "CRIME AREAS:".
func field(key, value string) string { return fmt.Sprintf("%-14s%s", key, value) }

// subject is a line of a subject in the detail view, aligned at the width
// of "      nationality:".
func subject(key, value string) string { return fmt.Sprintf("%-20s%s", key, value) }

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}`)

func TestLeads_CreateGet(t *testing.T) {
	t.Parallel()
	n := startNode(t)

	file := writeFile(t, leadJSON)
	r := n.ctl(t, "analyst", "leads", "create", "-f", file).wantCode(t, exitOK)
	requestID := uuidPattern.FindString(r.stderr)
	if !strings.HasPrefix(r.stderr, "request id: ") || requestID == "" {
		t.Errorf("stderr does not give the request id (a UUIDv7):\n%s", r.stderr)
	}
	id := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(r.stdout, "\n", 2)[0], "ID:"))
	if !uuidPattern.MatchString(id) {
		t.Fatalf("first line of the created lead is not its ID:\n%s", r.stdout)
	}

	t.Run("Table", func(t *testing.T) {
		r := n.ctl(t, "analyst", "leads", "get", id).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout,
			field("ORIGIN:", "alpha (own record)"),
			field("STATUS:", "draft"),
			field("VERSION:", "1"),
			field("TITLE:", "Kupang boats"),
			field("SUMMARY:", "Recruiter advertises crossings on messaging apps.")+"\n"+field("", "Payment through hawala."),
			field("CRIME AREAS:", "migrant-smuggling,document-fraud"),
			field("EVALUATION:", "B2"),
			field("HANDLING:", "H3: not to be shared with third countries"),
			field("REFERENCE:", "ALPHA-2025-17"),
			field("LOCATIONS:", "Kupang (IDN)"),
			field("CREATED:", ""), "by spiffe://alpha.liaison.test/analyst/",
			"\nSUBJECTS: 1\n",
			subject("  [1] name:", "Иванов, Иван [Ivanov, Ivan]"),
			subject("      alias:", "Vanya"),
			subject("      born:", "1980-03"),
			subject("      sex:", "male"),
			subject("      nationality:", "RUS, IDN"),
			subject("      document:", "passport AB123456 (RUS)"),
			subject("      phone:", "+66812345678"),
			subject("      role:", "recruiter"),
		)
	})
	t.Run("JSON", func(t *testing.T) {
		var resp liaisonv1.GetLeadResponse
		n.ctl(t, "analyst", "leads", "get", id, "-o", "json").wantCode(t, exitOK).decode(t, &resp)
		l := resp.GetLead()
		if l.GetId() != id || l.GetOriginAgency() != "alpha" || l.GetVersion() != 1 || l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_DRAFT {
			t.Errorf("got id %s origin %s version %d status %v, want %s alpha 1 draft", l.GetId(), l.GetOriginAgency(), l.GetVersion(), l.GetStatus(), id)
		}
		if got := l.GetSubjects()[0].GetDocuments()[0].GetNumber(); got != "AB123456" {
			t.Errorf("document number %q, want AB123456", got)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		r := n.ctl(t, "analyst", "leads", "get", "0190f1c2-0000-7000-8000-000000000001").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: NOT_FOUND: no lead 0190f1c2-0000-7000-8000-000000000001", "  request id: ")
	})
	t.Run("Replica", func(t *testing.T) {
		// A bravo certificate reads alpha's lead as someone else's record
		// (the node refuses it, but the rendering is what is tested here).
		var b strings.Builder
		c := &cli{opts: n.options("bravo", "analyst"), stdout: &b, output: outputTable}
		l := &liaisonv1.Lead{Id: id, OriginAgency: "alpha"}
		if err := c.printLead(&liaisonv1.GetLeadResponse{Lead: l}, l); err != nil {
			t.Fatal(err)
		}
		wantContains(t, "detail", b.String(), field("ORIGIN:", "alpha (replica of alpha's record, read-only)"))
	})
}

func TestLeads_CreateIdempotentFromStdin(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	const key = "0190f1c2-0000-7000-8000-00000000abcd"
	var first, again liaisonv1.CreateLeadResponse
	args := append([]string{"leads", "create", "-f", "-", "--request-id", key, "-o", "json"}, n.flags("analyst")...)
	r := ctl(t, leadJSON, args...).wantCode(t, exitOK)
	r.decode(t, &first)
	wantContains(t, "stderr", r.stderr, "request id: "+key)
	ctl(t, leadJSON, args...).wantCode(t, exitOK).decode(t, &again)
	if first.GetLead().GetId() != again.GetLead().GetId() {
		t.Errorf("a retry with the same --request-id created lead %s besides %s", again.GetLead().GetId(), first.GetLead().GetId())
	}
	r = ctl(t, strings.Replace(leadJSON, "Kupang", "Dili", 1), args...).wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: ALREADY_EXISTS: ")
}

func TestLeads_CreateInvalid(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	t.Run("FieldViolations", func(t *testing.T) {
		bad := `{"crimeAreas": ["CRIME_AREA_OTHER"], "summary": "s",
			"evaluation": {"sourceReliability": "SOURCE_RELIABILITY_A", "informationAccuracy": "INFORMATION_ACCURACY_1"},
			"handling": {"code": "HANDLING_CODE_H3"}}`
		r := n.ctl(t, "analyst", "leads", "create", "-f", writeFile(t, bad)).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: INVALID_ARGUMENT: ", "\n  field lead.title: ", "\n  field lead.handling: conditions are required for handling code H3", "\n  request id: ")
		if r.stdout != "" {
			t.Errorf("a failed create wrote to stdout:\n%s", r.stdout)
		}
		if strings.Contains(r.stderr, "retry safely") {
			t.Errorf("a refused create is offered a retry:\n%s", r.stderr)
		}
	})
	t.Run("UnknownField", func(t *testing.T) {
		file := writeFile(t, strings.Replace(leadJSON, `"title"`, `"titel"`, 1))
		r := n.ctl(t, "analyst", "leads", "create", "-f", file).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, file+": ", `unknown field "titel"`)
	})
	t.Run("MissingFile", func(t *testing.T) {
		r := n.ctl(t, "analyst", "leads", "create", "-f", "/nonexistent/lead.json").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: open /nonexistent/lead.json: no such file or directory")
	})
}

func TestLeads_List(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	start := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	var ids []string
	for _, title := range []string{"first", "second", "third"} {
		ids = append(ids, createLead(t, n, title).GetId())
	}
	sup := "supervisor"
	n.ctl(t, sup, "leads", "release", ids[1], "--to", "bravo").wantCode(t, exitOK)

	listIDs := func(t *testing.T, args ...string) ([]string, string) {
		t.Helper()
		var resp liaisonv1.ListLeadsResponse
		n.ctl(t, "analyst", append(append([]string{"leads", "list"}, args...), "-o", "json")...).wantCode(t, exitOK).decode(t, &resp)
		var got []string
		for _, l := range resp.GetLeads() {
			got = append(got, l.GetId())
		}
		return got, resp.GetNextPageToken()
	}
	newestFirst := []string{ids[2], ids[1], ids[0]}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"All", nil, newestFirst},
		{"Released", []string{"--status", "released"}, []string{ids[1]}},
		{"DraftProtoName", []string{"--status=LEAD_STATUS_DRAFT"}, []string{ids[2], ids[0]}},
		{"CrimeArea", []string{"--crime-area", "document-fraud"}, newestFirst},
		{"OtherCrimeArea", []string{"--crime-area", "TRAFFICKING"}, nil},
		{"Origin", []string{"--origin", "alpha"}, newestFirst},
		{"OtherOrigin", []string{"--origin", "bravo"}, nil},
		{"UpdatedAfter", []string{"--updated-after", start}, newestFirst},
		{"UpdatedAfterNow", []string{"--updated-after", time.Now().UTC().Add(time.Hour).Format(time.RFC3339)}, nil},
		{"AllPages", []string{"--page-size", "1", "--all"}, newestFirst},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next := listIDs(t, tc.args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if next != "" {
				t.Errorf("next page token %q after the last page", next)
			}
		})
	}
	t.Run("Paging", func(t *testing.T) {
		got, next := listIDs(t, "--page-size", "2")
		if diff := cmp.Diff(newestFirst[:2], got); diff != "" || next == "" {
			t.Fatalf("first page (-want +got):\n%s\nnext %q", diff, next)
		}
		got, next = listIDs(t, "--page-size", "2", "--page-token", next)
		if diff := cmp.Diff(newestFirst[2:], got); diff != "" || next != "" {
			t.Errorf("second page (-want +got):\n%s\nnext %q", diff, next)
		}
	})
	t.Run("Table", func(t *testing.T) {
		r := n.ctl(t, "analyst", "leads", "list", "--page-size", "2").wantCode(t, exitOK)
		lines := strings.Split(r.stdout, "\n")
		if got := strings.Fields(lines[0]); !cmp.Equal(got, []string{"ID", "ORIGIN", "STATUS", "VERSION", "EVAL", "HANDLING", "CRIME", "AREAS", "RELEASED", "TO", "UPDATED", "TITLE"}) {
			t.Errorf("header %q", lines[0])
		}
		wantContains(t, "table", lines[1], ids[2], " alpha ", " draft ", " B2 ", " H3: not to be shared with third countri… ", " migrant-smuggling,document-fraud ", " - ", "third")
		wantContains(t, "table", lines[2], ids[1], " released ", " 2 ", " bravo ", "second")
		wantContains(t, "table", r.stdout, "\nnext page: --page-token ")
	})
}

func TestLeads_Update(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	l := createLead(t, n, "Kupang boats")

	// Keys in JSON and proto spelling; null clears a field.
	patch := writeFile(t, `{"title": "Kupang boats, Rote route", "crime_areas": ["CRIME_AREA_MIGRANT_SMUGGLING"], "originatorReference": null}`)
	var resp liaisonv1.UpdateLeadResponse
	n.ctl(t, "analyst", "leads", "update", l.GetId(), "-f", patch, "-o", "json").wantCode(t, exitOK).decode(t, &resp)
	got := resp.GetLead()
	if got.GetVersion() != 2 || got.GetTitle() != "Kupang boats, Rote route" || got.GetOriginatorReference() != "" ||
		!cmp.Equal(got.GetCrimeAreas(), []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING}) {
		t.Errorf("after update: version %d title %q reference %q crime areas %v; want 2, the new title, no reference, migrant smuggling",
			got.GetVersion(), got.GetTitle(), got.GetOriginatorReference(), got.GetCrimeAreas())
	}
	if got.GetSummary() != l.GetSummary() || len(got.GetSubjects()) != 1 {
		t.Errorf("fields outside the patch changed: summary %q, %d subjects", got.GetSummary(), len(got.GetSubjects()))
	}

	// The node audits the mask it got: exactly the keys of the patch.
	var events liaisonv1.ListAuditEventsResponse
	n.ctl(t, "auditor", "audit", "list", "--action", liaisonv1.LeadService_UpdateLead_FullMethodName, "-o", "json").wantCode(t, exitOK).decode(t, &events)
	if len(events.GetEvents()) != 1 || events.GetEvents()[0].GetDetail() != "fields=[title crime_areas originator_reference]" {
		t.Errorf("audited updates: %v, want one with fields=[title crime_areas originator_reference]", events.GetEvents())
	}

	t.Run("StaleEtag", func(t *testing.T) {
		r := n.ctl(t, "analyst", "leads", "update", l.GetId(), "-f", patch, "--etag", l.GetEtag()).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: ABORTED: ", "request id: ")
	})
	t.Run("CurrentEtag", func(t *testing.T) {
		p := writeFile(t, `{"summary": "Moved to Rote."}`)
		r := n.ctl(t, "analyst", "leads", "update", l.GetId(), "-f", p, "--etag", got.GetEtag()).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, field("VERSION:", "3"), field("SUMMARY:", "Moved to Rote."))
	})
	t.Run("NotUpdatable", func(t *testing.T) {
		p := writeFile(t, `{"status": "LEAD_STATUS_RELEASED"}`)
		r := n.ctl(t, "analyst", "leads", "update", l.GetId(), "-f", p).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: INVALID_ARGUMENT: ", `  field update_mask.paths[0]: "status" cannot be updated`)
	})
	t.Run("InvalidResult", func(t *testing.T) {
		p := writeFile(t, `{"crimeAreas": []}`)
		r := n.ctl(t, "analyst", "leads", "update", l.GetId(), "-f", p).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: INVALID_ARGUMENT: ", "  field lead.crime_areas: ")
	})
	t.Run("OtherID", func(t *testing.T) {
		p := writeFile(t, `{"id": "0190f1c2-0000-7000-8000-000000000001", "title": "x"}`)
		r := n.ctl(t, "analyst", "leads", "update", l.GetId(), "-f", p).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "the patch has id 0190f1c2-0000-7000-8000-000000000001, not "+l.GetId())
	})
	t.Run("EmptyPatch", func(t *testing.T) {
		r := n.ctl(t, "analyst", "leads", "update", l.GetId(), "-f", writeFile(t, `{}`)).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "the patch names no field to change")
	})
}

func TestLeads_ReleaseWithdraw(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	l := createLead(t, n, "Kupang boats")
	id := l.GetId()

	t.Run("AnalystMayNotRelease", func(t *testing.T) {
		r := n.ctl(t, "analyst", "leads", "release", id, "--to", "bravo").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, `error: PERMISSION_DENIED: role "analyst" may not call /liaison.v1.LeadService/ReleaseLead`, "\n  request id: ")
		if r.stdout != "" {
			t.Errorf("stdout: %s", r.stdout)
		}
	})
	t.Run("UnknownPartner", func(t *testing.T) {
		r := n.ctl(t, "supervisor", "leads", "release", id, "--to", "bravo,charlie").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: INVALID_ARGUMENT: ", `  field partners[1]: "charlie" is not a partner of this node`)
	})
	t.Run("StaleEtag", func(t *testing.T) {
		r := n.ctl(t, "supervisor", "leads", "release", id, "--to", "bravo", "--etag", "stale").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: ABORTED: ")
	})
	t.Run("Release", func(t *testing.T) {
		r := n.ctl(t, "supervisor", "leads", "release", id, "--to", "bravo", "--etag", l.GetEtag()).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, field("STATUS:", "released"), field("RELEASED TO:", "bravo"), field("VERSION:", "2"))
	})
	t.Run("WithdrawAsAnalyst", func(t *testing.T) {
		r := n.ctl(t, "analyst", "leads", "withdraw", id, "--reason", "source burnt").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ")
	})
	t.Run("Withdraw", func(t *testing.T) {
		var resp liaisonv1.WithdrawLeadResponse
		n.ctl(t, "supervisor", "leads", "withdraw", id, "--reason", "source burnt", "-o", "json").wantCode(t, exitOK).decode(t, &resp)
		if got := resp.GetLead(); got.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN || got.GetWithdrawReason() != "source burnt" {
			t.Errorf("status %v reason %q, want withdrawn, source burnt", got.GetStatus(), got.GetWithdrawReason())
		}
		r := n.ctl(t, "analyst", "leads", "get", id).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, field("STATUS:", "withdrawn"), field("WITHDRAWN:", ""), field("REASON:", "source burnt"))
	})
	t.Run("WithdrawAgain", func(t *testing.T) {
		r := n.ctl(t, "supervisor", "leads", "withdraw", id, "--reason", "again").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "\n  rule lead.withdrawn on leads/"+id+": lead "+id+" is withdrawn")
	})
}
