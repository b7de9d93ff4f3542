package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

func TestAudit_List(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	l := createLead(t, n, "Kupang boats")
	n.ctl(t, "analyst", "leads", "release", l.GetId(), "--to", "bravo").wantCode(t, exitFailed)

	list := func(t *testing.T, args ...string) []*liaisonv1.AuditEvent {
		t.Helper()
		var resp liaisonv1.ListAuditEventsResponse
		n.ctl(t, "auditor", append(append([]string{"audit", "list"}, args...), "-o", "json")...).wantCode(t, exitOK).decode(t, &resp)
		return resp.GetEvents()
	}
	all := list(t)
	if len(all) < 2 {
		t.Fatalf("%d audit events, want at least the create and the refused release", len(all))
	}

	t.Run("Outcome", func(t *testing.T) {
		for _, outcome := range []string{"PERMISSION_DENIED", "PermissionDenied"} {
			got := list(t, "--outcome", outcome, "--resource", "leads/"+l.GetId())
			if len(got) != 1 || got[0].GetAction() != liaisonv1.LeadService_ReleaseLead_FullMethodName {
				t.Errorf("--outcome %s: %v, want the refused release", outcome, got)
			}
		}
	})
	t.Run("Action", func(t *testing.T) {
		got := list(t, "--action", liaisonv1.LeadService_CreateLead_FullMethodName, "--agency", "alpha")
		if len(got) != 1 || got[0].GetResource() != "leads/"+l.GetId() || got[0].GetOutcome() != "OK" {
			t.Errorf("creates: %v, want the one of %s", got, l.GetId())
		}
		if got := list(t, "--principal", got[0].GetPrincipal()); len(got) != 2 {
			t.Errorf("events of the analyst: %d, want 2", len(got))
		}
	})
	t.Run("Time", func(t *testing.T) {
		if got := list(t, "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(got) != 0 {
			t.Errorf("events since an hour from now: %v", got)
		}
		if got := list(t, "--until", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)); len(got) != 0 {
			t.Errorf("events until an hour ago: %v", got)
		}
	})
	t.Run("AllPages", func(t *testing.T) {
		got := list(t, "--page-size", "1", "--all")
		if len(got) < len(all) || got[0].GetSequence() <= got[len(got)-1].GetSequence() {
			t.Errorf("%d events by pages of one, want at least %d, newest first", len(got), len(all))
		}
	})
	t.Run("Table", func(t *testing.T) {
		r := n.ctl(t, "auditor", "audit", "list", "--resource", "leads/"+l.GetId()).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "SEQ ", " PRINCIPAL ", " OUTCOME ", " REQUEST ID ",
			liaisonv1.LeadService_ReleaseLead_FullMethodName, " PERMISSION_DENIED ")
	})
	t.Run("NotAnAuditor", func(t *testing.T) {
		r := n.ctl(t, "supervisor", "audit", "list").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ")
	})
}

// TestAudit_ListRecord: --record finds the calls that returned a record
// among others (issue 12), as well as those aimed at it.
func TestAudit_ListRecord(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	seen := createLead(t, n, "Kupang boats")
	n.ctl(t, "analyst", "leads", "list").wantCode(t, exitOK)

	var resp liaisonv1.ListAuditEventsResponse
	n.ctl(t, "auditor", "audit", "list", "--record", seen.GetId(), "--outcome", "OK", "-o", "json").wantCode(t, exitOK).decode(t, &resp)
	var got []string
	for _, e := range resp.GetEvents() {
		got = append(got, e.GetAction())
	}
	want := []string{liaisonv1.LeadService_ListLeads_FullMethodName, liaisonv1.LeadService_CreateLead_FullMethodName}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events about %s: %q, want %q", seen.GetId(), got, want)
	}
	r := n.ctl(t, "auditor", "audit", "list", "--record", seen.GetId()).wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, liaisonv1.LeadService_ListLeads_FullMethodName, liaisonv1.LeadService_CreateLead_FullMethodName)
}

func TestAudit_Verify(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	createLead(t, n, "Kupang boats")

	r := n.ctl(t, "auditor", "audit", "verify").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, "RESULT:", "ok, the chain verifies", "EVENTS CHECKED:", "HEAD HASH:")
	var resp liaisonv1.VerifyAuditLogResponse
	n.ctl(t, "auditor", "audit", "verify", "-o", "json").wantCode(t, exitOK).decode(t, &resp)
	if !resp.GetOk() || resp.GetEventsChecked() < 2 {
		t.Errorf("verify: %v, want ok over at least 2 events", &resp)
	}
	r = n.ctl(t, "analyst", "audit", "verify").wantCode(t, exitFailed)
	wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ")

	t.Run("Broken", func(t *testing.T) {
		db, err := sql.Open("sqlite3", "file:"+n.cfg.Database.Path+"?_busy_timeout=10000")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "UPDATE audit_events SET detail = 'edited' WHERE seq = 1"); err != nil {
			t.Fatal(err)
		}
		r := n.ctl(t, "auditor", "audit", "verify").wantCode(t, exitVerifyFailed)
		wantContains(t, "stdout", r.stdout, "BROKEN", "FIRST BAD SEQUENCE:")
		if !strings.HasPrefix(r.stderr, "error: audit chain broken at sequence 1: ") {
			t.Errorf("stderr does not name the first bad sequence:\n%s", r.stderr)
		}
		var resp liaisonv1.VerifyAuditLogResponse
		r = n.ctl(t, "auditor", "audit", "verify", "-o", "json").wantCode(t, exitVerifyFailed)
		r.decode(t, &resp)
		if resp.GetOk() || resp.GetFirstBadSequence() != 1 || resp.GetProblem() == "" {
			t.Errorf("verify after an edit: %v, want not ok at sequence 1 with a problem", &resp)
		}
	})
}
