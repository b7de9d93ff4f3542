package main

import (
	"database/sql"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// statusLine is a line of federation status and federation check: the keys
// align at the width of "LAST DRIFT CHECK:" and "RECORDS COMPARED:".
func statusLine(key, value string) string { return kv(19, key, value) }

func TestFederation_StatusAndCheck(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	alpha.createReleased(t, "Kupang boats", "H0", "bravo")

	// The release is envelope 1 of alpha's channel to bravo.
	var st liaisonv1.GetFederationStatusResponse
	eventually(t, func() error {
		if err := alpha.tryJSON("analyst", &st, "federation", "status"); err != nil {
			return err
		}
		if len(st.GetPartners()) != 1 || st.GetPartners()[0].GetLastSequenceAcknowledged() != 1 {
			return fmt.Errorf("bravo has not acknowledged sequence 1: %v", &st)
		}
		return nil
	})
	p := st.GetPartners()[0]
	if st.GetAgency() != "alpha" || p.GetAgency() != "bravo" || !p.GetConnected() || p.GetAddress() != bravo.Addr() ||
		p.GetLastSequenceAssigned() != 1 || p.GetLastSequenceApplied() != 1 || p.GetEnvelopesWaiting() != 0 || p.GetLastContact() == nil {
		t.Errorf("status of bravo on alpha: %v", p)
	}

	t.Run("Table", func(t *testing.T) {
		r := alpha.ctl(t, "supervisor", "federation", "status").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout,
			"AGENCY:  alpha\n\n",
			statusLine("PARTNER:", "bravo"),
			statusLine("CONNECTED:", "yes"),
			statusLine("ADDRESS:", bravo.Addr()),
			statusLine("WAITING:", "0 envelopes not yet receipted"),
			statusLine("OLDEST WAITING:", "-"),
			statusLine("SEQUENCES:", "assigned 1, sent 1, acknowledged 1, applied by bravo 1"),
			statusLine("LAST ERROR:", "-"),
			statusLine("LAST DRIFT CHECK:", "never"),
		)
		if !regexp.MustCompile(`\nLAST CONTACT: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+s ago\)\n`).MatchString(r.stdout) {
			t.Errorf("no LAST CONTACT with its age:\n%s", r.stdout)
		}
	})
	t.Run("Inbound", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "federation", "status").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, statusLine("PARTNER:", "alpha"), statusLine("INBOUND:", "last applied 1, last contact 20"))
	})
	t.Run("Check", func(t *testing.T) {
		r := alpha.ctl(t, "analyst", "federation", "check").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout,
			statusLine("PARTNER:", "bravo"),
			statusLine("RESULT:", "in step"),
			statusLine("RECORDS COMPARED:", "1"),
			statusLine("DIFFERENCES:", "0"),
			statusLine("REPAIRS QUEUED:", "0"),
			statusLine("SUMMARY:", "in step: 1 records compared"),
			statusLine("ERROR:", "-"),
		)
		if r.stderr != "" {
			t.Errorf("stderr: %s", r.stderr)
		}
		var resp liaisonv1.CheckDriftResponse
		alpha.ctl(t, "supervisor", "federation", "check", "-o", "json").wantCode(t, exitOK).decode(t, &resp)
		if rs := resp.GetResults(); len(rs) != 1 || rs[0].GetPartner() != "bravo" || !rs[0].GetInStep() || rs[0].GetRecordsCompared() != 1 || rs[0].GetError() != "" {
			t.Errorf("check: %v, want bravo in step over 1 record", &resp)
		}
		// The status shows the check.
		r = alpha.ctl(t, "analyst", "federation", "status").wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "s ago): in step\n"+statusLine("", "in step: 1 records compared\n"))
	})
	t.Run("AuditorMayNotCheck", func(t *testing.T) {
		r := alpha.ctl(t, "auditor", "federation", "check").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ", "request id: ")
	})
	t.Run("AuditorMayNotReadStatus", func(t *testing.T) {
		// Auditors reach the audit log only (issue 13).
		r := alpha.ctl(t, "auditor", "federation", "status").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ", "request id: ")
	})
}

// Drift found is repaired and is no failure; a partner that cannot be
// checked is.
func TestFederation_CheckDriftAndFailure(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	l := alpha.createReleased(t, "Kupang boats", "H0", "bravo")
	bravo.waitLead(t, l)

	// bravo loses its replica behind its node's back.
	db, err := sql.Open("sqlite3", "file:"+bravo.Cfg.Database.Path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM leads WHERE id = ?", l.GetId()); err != nil {
		t.Fatal(err)
	}
	r := alpha.ctl(t, "analyst", "federation", "check").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout,
		statusLine("RESULT:", "DRIFT: 1 differences, 1 repairs queued"),
		l.GetId()+": should be v2, is absent; 1 repairs queued",
		statusLine("ERROR:", "-"))
	bravo.waitLead(t, l)
	r = alpha.ctl(t, "analyst", "federation", "status").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, "s ago): DRIFT: 1 differences, 1 repairs queued\n")

	bravo.Stop(t)
	var st liaisonv1.GetFederationStatusResponse
	eventually(t, func() error {
		if err := alpha.tryJSON("analyst", &st, "federation", "status"); err != nil {
			return err
		}
		if p := st.GetPartners()[0]; p.GetConnected() || p.GetLastError() == "" {
			return fmt.Errorf("bravo still connected, or no error: %v", p)
		}
		return nil
	})
	r = alpha.ctl(t, "analyst", "federation", "check").wantCode(t, exitFailed)
	wantContains(t, "stdout", r.stdout, statusLine("RESULT:", "FAILED: "), statusLine("ERROR:", "lead: partner digest: Unavailable: "))
	if !strings.HasPrefix(r.stderr, "error: could not check bravo: ") {
		t.Errorf("stderr does not say which partner could not be checked:\n%s", r.stderr)
	}
	var resp liaisonv1.CheckDriftResponse
	r = alpha.ctl(t, "analyst", "federation", "check", "-o", "json").wantCode(t, exitFailed)
	r.decode(t, &resp)
	if rs := resp.GetResults(); len(rs) != 1 || rs[0].GetError() == "" || rs[0].GetInStep() {
		t.Errorf("check of a stopped partner: %v", &resp)
	}
	r = alpha.ctl(t, "analyst", "federation", "status").wantCode(t, exitOK)
	wantContains(t, "stdout", r.stdout, statusLine("CONNECTED:", "no"), "s ago): FAILED: ")
	if strings.Contains(r.stdout, statusLine("LAST ERROR:", "-")) || !regexp.MustCompile(`\nLAST ERROR: +\S.* \(at \d{4}-.*Z \(\d+s ago\)\)\n`).MatchString(r.stdout) {
		t.Errorf("LAST ERROR does not give the error and its time:\n%s", r.stdout)
	}
}

func TestStatusTable(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(at.Add(-d)) }
	resp := &liaisonv1.GetFederationStatusResponse{Agency: "alpha", Partners: []*liaisonv1.PartnerStatus{{
		Agency: "bravo", Address: "bravo.example:8443", LastContact: ago(3 * time.Second),
		EnvelopesWaiting: 4, OldestWaitingTime: ago(3*time.Minute + 12*time.Second),
		LastSequenceAssigned: 9, LastSequenceSent: 7, LastSequenceAcknowledged: 5, LastSequenceApplied: 5,
		LastError: "receive: connection reset", LastErrorTime: ago(2*time.Hour + 5*time.Minute),
		InboundLastApplied: 3, InboundLastContact: ago(50 * time.Hour),
		LastDriftCheck: &liaisonv1.DriftCheckResult{Time: ago(time.Minute), Differences: 2, RepairsQueued: 2, Summary: "2 of 9 records differ"},
		Witness: &liaisonv1.WitnessStatus{
			WitnessedSize: 120, WitnessedTime: ago(10 * time.Minute),
			ForkAlarm: true, ForkAlarmReason: "checkpoint of 80 events, fewer than the 120 already witnessed", ForkAlarmTime: ago(9 * time.Minute),
			ForkAlarmRefusals: 3, ForkAlarmLastTime: ago(time.Second),
			CosignedSize: 40, CosignedTime: ago(2 * time.Second),
		},
	}, {
		Agency: "charlie",
		// A check that could not run, by a node whose clock is ahead.
		LastDriftCheck: &liaisonv1.DriftCheckResult{Time: ago(-5 * time.Second), Error: "partner digest: unavailable", Summary: "drift check could not run"},
	}}}
	var b strings.Builder
	c := &cli{stdout: &b, output: outputTable}
	if err := c.print(resp, func(w io.Writer) { statusTable(w, resp, at) }); err != nil {
		t.Fatal(err)
	}
	want := `AGENCY:  alpha

PARTNER:           bravo
CONNECTED:         no
ADDRESS:           bravo.example:8443
LAST CONTACT:      2025-03-01T11:59:57Z (3s ago)
WAITING:           4 envelopes not yet receipted
OLDEST WAITING:    3m12s (since 2025-03-01T11:56:48Z)
SEQUENCES:         assigned 9, sent 7, acknowledged 5, applied by bravo 5
INBOUND:           last applied 3, last contact 2025-02-27T10:00:00Z (2d2h ago)
LAST ERROR:        receive: connection reset (at 2025-03-01T09:55:00Z (2h5m ago))
FORK ALARM:        RAISED 2025-03-01T11:51:00Z (9m0s ago): bravo's audit log is inconsistent with the checkpoint this node cosigned: checkpoint of 80 events, fewer than the 120 already witnessed; 3 checkpoint(s) refused, the last 2025-03-01T11:59:59Z (1s ago)
WITNESSING:        bravo's audit log cosigned at 120 events, 2025-03-01T11:50:00Z (10m0s ago)
WITNESSED BY:      this node's audit log cosigned at 40 events, 2025-03-01T11:59:58Z (2s ago)
LAST DRIFT CHECK:  2025-03-01T11:59:00Z (1m0s ago): DRIFT: 2 differences, 2 repairs queued
                   2 of 9 records differ

PARTNER:           charlie
CONNECTED:         no
ADDRESS:           -
LAST CONTACT:      never
WAITING:           0 envelopes not yet receipted
OLDEST WAITING:    -
SEQUENCES:         assigned 0, sent 0, acknowledged 0, applied by charlie 0
INBOUND:           last applied 0, last contact never
LAST ERROR:        -
FORK ALARM:        -
WITNESSING:        never cosigned
WITNESSED BY:      never cosigned
LAST DRIFT CHECK:  2025-03-01T12:00:05Z (5s from now): FAILED: partner digest: unavailable
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0s", 999 * time.Millisecond: "0s", 45 * time.Second: "45s", 3*time.Minute + 12*time.Second: "3m12s",
		time.Hour: "1h0m", 2*time.Hour + 5*time.Minute + 59*time.Second: "2h5m", 76 * time.Hour: "3d4h", -time.Second: "0s",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestRun_UsageOfFederationCommands(t *testing.T) {
	t.Parallel()
	runUsage(t, []usageCase{
		{name: "Help", args: []string{"help"}, code: exitOK, stdout: []string{"federation:", "permissions:", "  receipts ", "  export ", "  status ", "  check ", "  grant "}},
		{name: "FederationHelp", args: []string{"help", "federation"}, code: exitOK, stdout: []string{"liaisonctl federation status", "liaisonctl federation check"}},
		{name: "CheckHelp", args: []string{"federation", "check", "-h"}, code: exitOK, stdout: []string{"drift is reported, not a failure: exit status 1 only if a partner could not be checked"}},
		{name: "LeadsHelp", args: []string{"leads", "--help"}, code: exitOK, stdout: []string{"liaisonctl leads receipts ID", "liaisonctl leads export [--id ID]..."}},
		{name: "ExportHelp", args: []string{"help", "leads", "export"}, code: exitOK, stdout: []string{"--id ID", "--origin AGENCY", "--updated-after TIME", "--out FILE"}},
		{name: "PermissionsHelp", args: []string{"permissions", "-h"}, code: exitOK, stdout: []string{"liaisonctl permissions request LEAD_ID --purpose export --justification TEXT", "liaisonctl permissions refuse ID --reason TEXT"}},
		{name: "StatusArgument", args: []string{"federation", "status", "bravo"}, code: exitUsage, stderr: []string{`federation status takes no arguments, got ["bravo"]`}},
		{name: "ReceiptsWithoutID", args: []string{"leads", "receipts"}, code: exitUsage, stderr: []string{"leads receipts takes ID, got []"}},
		{name: "ExportIDAndFilter", args: []string{"leads", "export", "--id", "x", "--origin", "bravo"}, code: exitUsage, stderr: []string{"--id exports exactly the leads named: it does not go with --origin or --updated-after"}},
		{name: "ExportBadTime", args: []string{"leads", "export", "--updated-after", "today"}, code: exitUsage, stderr: []string{`--updated-after: "today" is not an RFC 3339 time`}},
		{name: "RequestWithoutPurpose", args: []string{"permissions", "request", "x", "--justification", "j"}, code: exitUsage, stderr: []string{"permissions request needs --purpose export"}},
		{name: "RequestBadPurpose", args: []string{"permissions", "request", "x", "--purpose", "evidence", "--justification", "j"}, code: exitUsage, stderr: []string{`--purpose: "evidence" is not one of export`}},
		{name: "RequestWithoutJustification", args: []string{"permissions", "request", "x", "--purpose", "export"}, code: exitUsage, stderr: []string{"permissions request needs --justification TEXT"}},
		{name: "ListBadDirection", args: []string{"permissions", "list", "--direction", "sideways"}, code: exitUsage, stderr: []string{`--direction: "sideways" is not one of outgoing, incoming`}},
		{name: "ListBadStatus", args: []string{"permissions", "list", "--status", "draft"}, code: exitUsage, stderr: []string{`--status: "draft" is not one of pending, granted, refused`}},
		{name: "GrantWithoutReason", args: []string{"permissions", "grant", "x"}, code: exitUsage, stderr: []string{"permissions grant needs --reason TEXT"}},
		{name: "RefuseWithoutReason", args: []string{"permissions", "refuse", "x", "--reason", " "}, code: exitUsage, stderr: []string{"permissions refuse needs --reason TEXT"}},
		{name: "RefuseHelp", args: []string{"help", "permissions", "refuse"}, code: exitOK, stdout: []string{"--reason TEXT", "why the request is refused"}},
	})
}
