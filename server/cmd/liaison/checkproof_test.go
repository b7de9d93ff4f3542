package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/audit"
	"github.com/liaison-exchange/liaison/server/auditsvc"
	"github.com/liaison-exchange/liaison/server/config"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// Evidence of one event, taken from a running node, checks offline with
// the log's verifier key alone; one byte of the event changed, or another
// node's key, and it does not.
func TestAuditCheckProof_OfflineWithTheKeysOnly(t *testing.T) {
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	cfg.Audit.CheckpointInterval = config.Duration{Duration: time.Second}
	n := nodetest.Start(t, pki, cfg, nil)
	ctx := context.Background()
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	created, err := leads.CreateLead(ctx, &liaisonv1.CreateLeadRequest{Lead: &liaisonv1.Lead{
		Title: "prove me", Summary: "s", CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_OTHER},
		Evaluation: &liaisonv1.Evaluation{SourceReliability: 1, InformationAccuracy: 1},
		Handling:   &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0},
	}})
	if err != nil {
		t.Fatal(err)
	}
	auditor := liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
	evs, err := auditor.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Resource: "leads/" + created.GetLead().GetId()})
	if err != nil || len(evs.GetEvents()) != 1 {
		t.Fatalf("the create's event: %v %v", evs, err)
	}
	seq := evs.GetEvents()[0].GetSequence()
	var ev *liaisonv1.AuditEvidence
	nodetest.Eventually(t, 5*time.Second, func() error {
		r, err := auditor.ProveAuditEvent(ctx, &liaisonv1.ProveAuditEventRequest{Sequence: seq})
		ev = r.GetEvidence()
		return err
	})
	dir := t.TempDir()
	file := filepath.Join(dir, "evidence.json")
	b, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(file, key string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, []string{"audit", "check-proof", file, "--log-key", key}, &out)
		return out.String(), err
	}
	out, err := check(file, pki.Path("alpha", "log.vkey"))
	if err != nil || !strings.Contains(out, "evidence OK") || !strings.Contains(out, "CreateLead") || !strings.Contains(out, created.GetLead().GetId()) {
		t.Fatalf("genuine evidence: %v\n%s", err, out)
	}
	t.Logf("%s", out)

	// One byte of the event's resource changed.
	bad := strings.Replace(string(b), created.GetLead().GetId()[:8], "00000000", 1)
	if bad == string(b) {
		t.Fatal("the evidence does not name the lead")
	}
	badFile := filepath.Join(dir, "changed.json")
	if err := os.WriteFile(badFile, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	// A bulk read's event covers the ids it returned: its evidence carries
	// them, and checks.
	if _, err := leads.ListLeads(ctx, &liaisonv1.ListLeadsRequest{}); err != nil {
		t.Fatal(err)
	}
	lists, err := auditor.ListAuditEvents(ctx, &liaisonv1.ListAuditEventsRequest{Action: liaisonv1.LeadService_ListLeads_FullMethodName})
	if err != nil || len(lists.GetEvents()) != 1 {
		t.Fatalf("the list's event: %v %v", lists, err)
	}
	listed, err := auditor.ProveAuditEvent(ctx, &liaisonv1.ProveAuditEventRequest{Sequence: lists.GetEvents()[0].GetSequence()})
	if err != nil {
		t.Fatal(err)
	}
	if ids := listed.GetEvidence().GetRecordIds(); len(ids) != 1 || ids[0] != created.GetLead().GetId() {
		t.Errorf("the list's evidence names records %v, want the lead", ids)
	}
	k := audit.Keys{Log: readKey(t, pki.Path("alpha", "log.vkey"))}
	if _, err := auditsvc.CheckEvidence(listed.GetEvidence(), k); err != nil {
		t.Errorf("the list's evidence: %v", err)
	}
	listed.GetEvidence().RecordIds = nil
	if _, err := auditsvc.CheckEvidence(listed.GetEvidence(), k); err == nil {
		t.Error("the list's evidence checked without the ids it covers")
	}

	for name, c := range map[string][2]string{
		"changed event": {badFile, pki.Path("alpha", "log.vkey")},
		"another key":   {file, pki.Path("bravo", "log.vkey")},
	} {
		out, err := check(c[0], c[1])
		var code exitError
		if !errors.As(err, &code) || code != 2 || !strings.Contains(out, "NOT VALID") {
			t.Errorf("%s: %v\n%s; want NOT VALID, exit status 2", name, err, out)
		}
	}
}

func readKey(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
