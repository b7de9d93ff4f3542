package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
)

// deliveries polls alpha's receipts of lead id until cond holds of them.
func waitDeliveries(t *testing.T, alpha *peer, id string, cond func([]*liaisonv1.Delivery) error) []*liaisonv1.Delivery {
	t.Helper()
	var resp liaisonv1.ListLeadReceiptsResponse
	eventually(t, func() error {
		if err := alpha.tryJSON("analyst", &resp, "leads", "receipts", id); err != nil {
			return err
		}
		return cond(resp.GetDeliveries())
	})
	return resp.GetDeliveries()
}

func TestLeads_Receipts(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	l := alpha.createReleased(t, "Kupang boats", "H0", "bravo")
	id := l.GetId()
	waitDeliveries(t, alpha, id, func(ds []*liaisonv1.Delivery) error {
		if len(ds) != 1 || ds[0].GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED {
			return fmt.Errorf("no receipt of the release yet: %v", ds)
		}
		return nil
	})

	// bravo is down when the lead is withdrawn: its deletion waits.
	bravo.Stop(t)
	alpha.ctl(t, "supervisor", "leads", "withdraw", id, "--reason", "source burnt").wantCode(t, exitOK)
	r := alpha.ctl(t, "analyst", "leads", "receipts", id).wantCode(t, exitOK)
	ls := lines(r.stdout)
	if len(ls) != 4 {
		t.Fatalf("want a header, 2 deliveries and a summary:\n%s", r.stdout)
	}
	if got := strings.Fields(ls[0]); !cmp.Equal(got, []string{"PARTNER", "SEQ", "KIND", "VERSION", "SENT", "STATUS", "RECEIPT", "TIME", "REASON"}) {
		t.Errorf("header %q", ls[0])
	}
	wantFields := func(line string, want ...string) {
		t.Helper()
		got := strings.Fields(line)
		if len(got) != 8 || !cmp.Equal(got[:4], want[:4]) || got[5] != want[4] || (want[4] == "waiting") != (got[6] == "-") || got[7] != "-" {
			t.Errorf("row %q, want partner, seq, kind, version %v and status %s", line, want[:4], want[4])
		}
	}
	wantFields(ls[1], "bravo", "1", "lead", "2", "applied")
	wantFields(ls[2], "bravo", "2", "tombstone", "3", "waiting")
	if ls[3] != "deletion not yet confirmed by: bravo" {
		t.Errorf("summary %q, want deletion not yet confirmed by: bravo", ls[3])
	}

	bravo.Restart(t)
	ds := waitDeliveries(t, alpha, id, func(ds []*liaisonv1.Delivery) error {
		if len(ds) != 2 || ds[1].GetStatus() != liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED {
			return fmt.Errorf("no receipt of the deletion yet: %v", ds)
		}
		return nil
	})
	if d := ds[1]; d.GetPartner() != "bravo" || d.GetSequence() != 2 || d.GetKind() != liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE ||
		d.GetRecordVersion() != 3 || d.GetCreateTime() == nil || d.GetReceiptTime() == nil {
		t.Errorf("deletion delivery: %v", d)
	}

	t.Run("Table", func(t *testing.T) {
		r := alpha.ctl(t, "supervisor", "leads", "receipts", id).wantCode(t, exitOK)
		ls := lines(r.stdout)
		if len(ls) != 4 {
			t.Fatalf("want a header, 2 deliveries and a summary:\n%s", r.stdout)
		}
		wantFields(ls[2], "bravo", "2", "tombstone", "3", "applied")
		if ls[3] != "deletion confirmed by: bravo" {
			t.Errorf("summary %q, want deletion confirmed by: bravo", ls[3])
		}
		wantContains(t, "stdout", r.stdout, "\n\ndeletion confirmed by: bravo\n")
	})
	t.Run("OnReplica", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "leads", "receipts", id).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule record.home_node_only on leads/"+id+": ", "request id: ")
	})
	t.Run("NeverReleased", func(t *testing.T) {
		draft := createLeadOn(t, alpha, "draft")
		r := alpha.ctl(t, "analyst", "leads", "receipts", draft.GetId()).wantCode(t, exitOK)
		wantContains(t, "stdout", r.stdout, "nothing was sent to partners about lead "+draft.GetId())
		var resp liaisonv1.ListLeadReceiptsResponse
		alpha.ctl(t, "analyst", "leads", "receipts", draft.GetId(), "-o", "json").wantCode(t, exitOK).decode(t, &resp)
		if len(resp.GetDeliveries()) != 0 {
			t.Errorf("deliveries of a draft: %v", resp.GetDeliveries())
		}
	})
}

// createLeadOn creates a draft lead on p.
func createLeadOn(t *testing.T, p *peer, title string) *liaisonv1.Lead {
	t.Helper()
	var resp liaisonv1.CreateLeadResponse
	p.ctl(t, "analyst", "leads", "create", "-f", writeFile(t, leadWithHandling(title, "H0")), "-o", "json").wantCode(t, exitOK).decode(t, &resp)
	return resp.GetLead()
}

func TestDeletionSummary(t *testing.T) {
	t.Parallel()
	d := func(partner string, seq uint64, kind liaisonv1.EnvelopeKind, st liaisonv1.ReceiptStatus) *liaisonv1.Delivery {
		return &liaisonv1.Delivery{Partner: partner, Sequence: seq, Kind: kind, Status: st}
	}
	const (
		lead    = liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD
		tomb    = liaisonv1.EnvelopeKind_ENVELOPE_KIND_LEAD_TOMBSTONE
		applied = liaisonv1.ReceiptStatus_RECEIPT_STATUS_APPLIED
		waiting = liaisonv1.ReceiptStatus_RECEIPT_STATUS_UNSPECIFIED
	)
	got := deletionSummary([]*liaisonv1.Delivery{
		d("bravo", 1, lead, applied), d("bravo", 2, tomb, applied),
		d("charlie", 4, lead, applied), d("charlie", 5, tomb, waiting),
		d("delta", 1, lead, applied), d("delta", 2, tomb, liaisonv1.ReceiptStatus_RECEIPT_STATUS_REJECTED),
		// A repair re-sent the tombstone: the last one counts.
		d("echo", 3, tomb, applied), d("echo", 9, tomb, waiting),
	})
	want := []string{"deletion confirmed by: bravo", "deletion not yet confirmed by: charlie, delta (rejected), echo"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := deletionSummary([]*liaisonv1.Delivery{d("bravo", 1, lead, waiting)}); got != nil {
		t.Errorf("summary without tombstones: %q", got)
	}
}

func TestLeads_Export(t *testing.T) {
	t.Parallel()
	alpha, bravo := startPair(t)
	open := bravo.waitLead(t, alpha.createReleased(t, "open", "H0", "bravo"))
	closed := bravo.waitLead(t, alpha.createReleased(t, "closed", "H2", "bravo"))

	// parse reads NDJSON back into leads.
	parse := func(t *testing.T, ndjson string) []*liaisonv1.Lead {
		t.Helper()
		if ndjson != "" && !strings.HasSuffix(ndjson, "\n") {
			t.Errorf("output does not end in a newline: %q", ndjson)
		}
		var out []*liaisonv1.Lead
		for _, line := range lines(ndjson) {
			l := &liaisonv1.Lead{}
			if err := protojson.Unmarshal([]byte(line), l); err != nil {
				t.Fatalf("line is not a lead: %v\n%s", err, line)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, []byte(line)); err != nil || compact.String() != line {
				t.Errorf("line is not compact JSON: %s", line)
			}
			out = append(out, l)
		}
		return out
	}
	wantLeads := func(t *testing.T, got []*liaisonv1.Lead, want ...*liaisonv1.Lead) {
		t.Helper()
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("exported leads (-want +got):\n%s", diff)
		}
	}

	t.Run("H0ByID", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "leads", "export", "--id", open.GetId()).wantCode(t, exitOK)
		if n := strings.Count(r.stdout, "\n"); n != 1 {
			t.Errorf("%d lines, want 1", n)
		}
		wantLeads(t, parse(t, r.stdout), open)
		if r.stderr != "exported 1, refused 0\n" {
			t.Errorf("stderr %q, want exported 1, refused 0", r.stderr)
		}
		// -o does not change the format.
		j := bravo.ctl(t, "analyst", "leads", "export", "--id", open.GetId(), "-o", "json").wantCode(t, exitOK)
		if j.stdout != r.stdout {
			t.Errorf("with -o json:\n%s\nwithout:\n%s", j.stdout, r.stdout)
		}
	})
	t.Run("H2ByID", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "leads", "export", "--id", open.GetId(), "--id", closed.GetId()).wantCode(t, exitFailed)
		if r.stdout != "" {
			t.Errorf("an all-or-nothing export that was refused wrote:\n%s", r.stdout)
		}
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ",
			"\n  rule handling.h2 on leads/"+closed.GetId()+": handling code H2 of alpha forbids export",
			"\n  request id: ", "\n  nothing was exported: with --id the export is all or nothing",
			"liaisonctl permissions request LEAD_ID --purpose export")
		if strings.Contains(r.stderr, "exported ") {
			t.Errorf("a failed export counts what it exported:\n%s", r.stderr)
		}
	})
	t.Run("All", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "leads", "export").wantCode(t, exitFailed)
		wantLeads(t, parse(t, r.stdout), open)
		wantContains(t, "stderr", r.stderr,
			"refused "+closed.GetId()+" (alpha, H2): handling code H2 of alpha forbids export without the originator's permission",
			"\nexported 1, refused 1\nerror: 1 lead not exported\n  to export a partner's lead")
		if !strings.HasPrefix(r.stderr, "refused ") {
			t.Errorf("stderr does not start with the refusal:\n%s", r.stderr)
		}
	})
	t.Run("Out", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "leads.ndjson")
		r := bravo.ctl(t, "analyst", "leads", "export", "--origin", "alpha", "--updated-after", "2020-01-01T00:00:00Z", "--out", out).wantCode(t, exitFailed)
		if r.stdout != "" {
			t.Errorf("stdout with --out: %s", r.stdout)
		}
		wantContains(t, "stderr", r.stderr, "exported 1, refused 1")
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		wantLeads(t, parse(t, string(b)), open)
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode of the export: %v %v, want 0600", fi.Mode(), err)
		}
		if es, _ := os.ReadDir(dir); len(es) != 1 {
			t.Errorf("files left beside the export: %v", es)
		}
	})
	t.Run("OutRefused", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "leads.ndjson")
		r := bravo.ctl(t, "analyst", "leads", "export", "--id", closed.GetId(), "--out", out).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "\n  "+out+" was not written\n")
		if es, _ := os.ReadDir(dir); len(es) != 0 {
			t.Errorf("files left after a refused export: %v", es)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "leads", "export", "--origin", "bravo").wantCode(t, exitOK)
		if r.stdout != "" || r.stderr != "exported 0, refused 0\n" {
			t.Errorf("stdout %q stderr %q, want nothing and exported 0, refused 0", r.stdout, r.stderr)
		}
	})
	t.Run("UpdatedAfterNow", func(t *testing.T) {
		after := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		r := bravo.ctl(t, "analyst", "leads", "export", "--updated-after", after).wantCode(t, exitOK)
		wantContains(t, "stderr", r.stderr, "exported 0, refused 0")
	})
	t.Run("NotFound", func(t *testing.T) {
		r := bravo.ctl(t, "analyst", "leads", "export", "--id", "0190f1c2-0000-7000-8000-000000000001").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: NOT_FOUND: ", "request id: ")
	})
	t.Run("OwnLeads", func(t *testing.T) {
		// Handling codes bind recipients: alpha exports its own H2 lead.
		r := alpha.ctl(t, "supervisor", "leads", "export").wantCode(t, exitOK)
		if got := parse(t, r.stdout); len(got) != 2 {
			t.Errorf("alpha exported %d of its 2 leads", len(got))
		}
		wantContains(t, "stderr", r.stderr, "exported 2, refused 0")
	})
	t.Run("Auditor", func(t *testing.T) {
		r := bravo.ctl(t, "auditor", "leads", "export").wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: PERMISSION_DENIED: ", "request id: ")
	})
	// Last: it withdraws a lead.
	t.Run("Withdrawn", func(t *testing.T) {
		alpha.ctl(t, "supervisor", "leads", "withdraw", closed.GetId(), "--reason", "source burnt").wantCode(t, exitOK)
		gone := proto.Clone(closed).(*liaisonv1.Lead)
		gone.Version++
		bravo.waitLead(t, gone)
		// A withdrawn lead has no content left to export: a bulk export
		// leaves it out (it is not a refusal), asked for by id it is a
		// broken rule, and no permission is suggested.
		r := bravo.ctl(t, "analyst", "leads", "export", "--origin", "alpha").wantCode(t, exitOK)
		wantLeads(t, parse(t, r.stdout), open)
		wantContains(t, "stderr", r.stderr, "exported 1, refused 0")
		r = bravo.ctl(t, "analyst", "leads", "export", "--id", closed.GetId()).wantCode(t, exitFailed)
		wantContains(t, "stderr", r.stderr, "error: FAILED_PRECONDITION: ", "rule lead.withdrawn on leads/"+closed.GetId())
		if strings.Contains(r.stderr, "permissions request") {
			t.Errorf("permission is suggested for a withdrawn lead:\n%s", r.stderr)
		}
	})
}
