package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// auditedNode runs a node, makes some audited calls and returns the path of
// its database and a client of its auditor.
func auditedNode(t *testing.T) (string, liaisonv1.AuditServiceClient) {
	t.Helper()
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	n := nodetest.Start(t, pki, cfg, nil)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))
	for i := 0; i < 10; i++ {
		_, err := leads.CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: &liaisonv1.Lead{
			Title: "audit me", Summary: "s", CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_OTHER},
			Evaluation: &liaisonv1.Evaluation{SourceReliability: 1, InformationAccuracy: 1},
			Handling:   &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return cfg.Database.Path, liaisonv1.NewAuditServiceClient(n.Conn(t, "auditor"))
}

func offlineVerify(t *testing.T, db string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), []string{"audit", "verify", "--db", db}, &out)
	return out.String(), err
}

func tamper(t *testing.T, db, stmt string) {
	t.Helper()
	d, err := sql.Open("sqlite3", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := d.Exec(stmt)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s changed %d rows, want 1", stmt, n)
	}
}

func TestAuditVerify_FindsTampering(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stmt    string
		wantBad int64
	}{
		{"edited detail", "UPDATE audit_events SET detail = 'nothing to see' WHERE seq = 4", 4},
		{"edited principal", "UPDATE audit_events SET principal = 'spiffe://alpha.liaison.test/analyst/mallory' WHERE seq = 2", 2},
		{"edited outcome", "UPDATE audit_events SET outcome = 'PermissionDenied' WHERE seq = 7", 7},
		{"edited hash", "UPDATE audit_events SET hash = zeroblob(32) WHERE seq = 3", 3},
		{"deleted row", "DELETE FROM audit_events WHERE seq = 5", 5},
		// The node keeps appending after the deleted last event: a gap.
		{"deleted last row", "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, auditor := auditedNode(t)
			before, err := auditor.VerifyAuditLog(context.Background(), &liaisonv1.VerifyAuditLogRequest{})
			if err != nil || !before.GetOk() {
				t.Fatalf("untouched chain does not verify: %v %v", before, err)
			}
			if out, err := offlineVerify(t, db); err != nil {
				t.Fatalf("offline verify of untouched chain: %v\n%s", err, out)
			}
			want := tc.wantBad
			if want < 0 {
				want = maxSeq(t, db)
			}
			tamper(t, db, tc.stmt)

			online, err := auditor.VerifyAuditLog(context.Background(), &liaisonv1.VerifyAuditLogRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if online.GetOk() || online.GetFirstBadSequence() != want {
				t.Errorf("online verifier: ok=%v first bad %d (%s), want first bad %d", online.GetOk(), online.GetFirstBadSequence(), online.GetProblem(), want)
			}
			out, err := offlineVerify(t, db)
			var code exitError
			if !errors.As(err, &code) || code != 2 {
				t.Errorf("offline verifier: err %v, want exit status 2", err)
			}
			if !strings.Contains(out, fmt.Sprintf("BROKEN at event %d:", want)) {
				t.Errorf("offline verifier output %q does not name event %d", out, want)
			}
		})
	}
}

func maxSeq(t *testing.T, db string) int64 {
	t.Helper()
	d, err := sql.Open("sqlite3", "file:"+db+"?_query_only=on")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int64
	if err := d.QueryRow("SELECT max(seq) FROM audit_events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAuditVerify_TruncatedWhileStopped deletes the newest events of a
// stopped node: the chain that remains is consistent, but the head the node
// recorded in the same transactions no longer matches it.
func TestAuditVerify_TruncatedWhileStopped(t *testing.T) {
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	n := nodetest.Start(t, pki, cfg, nil)
	if _, err := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst")).ListLeads(context.Background(), &liaisonv1.ListLeadsRequest{}); err != nil {
		t.Fatal(err)
	}
	n.Stop(t)
	last := maxSeq(t, cfg.Database.Path)
	tamper(t, cfg.Database.Path, "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)")
	out, err := offlineVerify(t, cfg.Database.Path)
	if err == nil || !strings.Contains(out, fmt.Sprintf("BROKEN at event %d: events %d to %d are missing", last, last, last)) {
		t.Fatalf("truncated chain: err %v, output %q", err, out)
	}
}

func TestAuditVerify_MissingFile(t *testing.T) {
	_, err := offlineVerify(t, t.TempDir()+"/nope.db")
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("verify of a missing file: %v", err)
	}
}
