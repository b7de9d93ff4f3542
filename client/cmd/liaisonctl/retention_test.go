package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// expiredLead creates on p a lead whose review date has passed.
func (p *peer) expiredLead(t *testing.T, title string) *liaisonv1.Lead {
	t.Helper()
	r, err := liaisonv1.NewLeadServiceClient(p.Conn(t, "analyst")).CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: &liaisonv1.Lead{
		Title: title, Summary: "s", CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
		Evaluation: &liaisonv1.Evaluation{SourceReliability: 2, InformationAccuracy: 2},
		Handling:   &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0},
		ReviewDate: &liaisonv1.Date{Year: 2020, Month: 1, Day: 15},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetLead()
}

func TestRetention_PreviewAndRun(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	ctx := context.Background()
	gone := alpha.expiredLead(t, "Kupang boats")
	var released liaisonv1.ReleaseLeadResponse
	alpha.ctl(t, "supervisor", "leads", "release", gone.GetId(), "--to", "bravo", "-o", "json").wantCode(t, exitOK).decode(t, &released)
	bravo.waitLead(t, released.GetLead())
	kept := alpha.expiredLead(t, "Dili crossings")
	cases := liaisonv1.NewCaseServiceClient(alpha.Conn(t, "analyst"))
	c, err := cases.CreateCase(ctx, &liaisonv1.CreateCaseRequest{Case: &liaisonv1.Case{
		Title: "Operation Tide", CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_MIGRANT_SMUGGLING},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cases.LinkLead(ctx, &liaisonv1.LinkLeadRequest{CaseId: c.GetCase().GetId(), LeadId: kept.GetId()}); err != nil {
		t.Fatal(err)
	}
	why := "linked to open case " + c.GetCase().GetId()
	// Columns as the tabwriter pads them: the id, then each header's width.
	purgeLine := fmt.Sprintf("%-38s%-13s%-15s%s\n", gone.GetId(), "2020-01-15", "bravo", "Kupang boats")
	keptLine := fmt.Sprintf("%-38s%-13s%-*s%s\n", kept.GetId(), "2020-01-15", len(why)+2, why, "Dili crossings")

	t.Run("Preview", func(t *testing.T) {
		r := alpha.ctl(t, "supervisor", "retention", "preview").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout,
			"Z: 1 lead to purge, 1 lead kept (linked to open cases)\n\nTO PURGE\n",
			fmt.Sprintf("%-38s%-13s%-15s%s\n", "ID", "REVIEW DATE", "PARTNERS TOLD", "TITLE"), purgeLine,
			"\nKEPT\n", keptLine)
		if !strings.HasPrefix(r.stdout, "AS OF 20") {
			t.Errorf("stdout does not start with the time:\n%s", r.stdout)
		}
		// Analysts and auditors may not look (issue 13); JSON on request.
		for _, role := range []string{"analyst", "auditor"} {
			r := alpha.ctl(t, role, "retention", "preview").wantCode(t, exitFailed)
			wantContains(t, "stderr", r.stderr, "PERMISSION_DENIED")
		}
		var resp liaisonv1.PreviewPurgeResponse
		alpha.ctl(t, "supervisor", "retention", "preview", "-o", "json").wantCode(t, exitOK).decode(t, &resp)
		if len(resp.GetPurge()) != 1 || resp.GetPurge()[0].GetRecordId() != gone.GetId() || len(resp.GetKeep()) != 1 ||
			resp.GetKeep()[0].GetKeptBecause() != why || resp.GetAsOf() == nil {
			t.Errorf("preview as JSON: %v", &resp)
		}
	})
	t.Run("RunNeedsSupervisor", func(t *testing.T) {
		r := alpha.ctl(t, "analyst", "retention", "run").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "PERMISSION_DENIED")
	})
	t.Run("Run", func(t *testing.T) {
		r := alpha.ctl(t, "supervisor", "retention", "run").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "Z: 1 lead purged, 1 lead kept (linked to open cases)\n\nPURGED\n", purgeLine, "\nKEPT\n", keptLine)
		l := bravo.waitLead(t, &liaisonv1.Lead{Id: gone.GetId(), Version: released.GetLead().GetVersion() + 1})
		if l.GetStatus() != liaisonv1.LeadStatus_LEAD_STATUS_WITHDRAWN || l.GetTitle() != "" {
			t.Errorf("bravo's copy after the purge: %v", l)
		}
		r = alpha.ctl(t, "supervisor", "retention", "preview").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "Z: 0 leads to purge, 1 lead kept (linked to open cases)\n\nKEPT\n", keptLine)
		if strings.Contains(r.stdout, "TO PURGE") {
			t.Errorf("an empty purge table:\n%s", r.stdout)
		}
	})
}
