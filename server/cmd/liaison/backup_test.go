package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
	"github.com/liaison-exchange/liaison/server/store"
)

func backupLead(title string) *liaisonv1.Lead {
	return &liaisonv1.Lead{
		Title: title, Summary: "written while a backup runs", CrimeAreas: []liaisonv1.CrimeArea{liaisonv1.CrimeArea_CRIME_AREA_OTHER},
		Evaluation: &liaisonv1.Evaluation{SourceReliability: 1, InformationAccuracy: 1},
		Handling:   &liaisonv1.Handling{Code: liaisonv1.HandlingCode_HANDLING_CODE_H0},
	}
}

// integrityCheck runs PRAGMA integrity_check on a database file,
// read-only: "ok", or the problems it found.
func integrityCheck(t *testing.T, path string) string {
	t.Helper()
	c, err := store.CheckFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Problems) > 0 {
		return strings.Join(c.Problems, "; ")
	}
	return "ok"
}

// TestBackup_UnderWriteLoadRestores: a backup taken while writers keep
// creating leads restores to a database that passes integrity_check and
// audit verification and holds every lead acknowledged before the backup
// started.
func TestBackup_UnderWriteLoadRestores(t *testing.T) {
	t.Parallel()
	pki := nodetest.NewPKI(t, "alpha", "bravo")
	cfg := pki.Config("alpha", t.TempDir(), "bravo")
	n := nodetest.Start(t, pki, cfg, nil)
	leads := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst"))

	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := leads.CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: backupLead(fmt.Sprintf("writer %d lead %d", w, i))})
				if err != nil {
					t.Errorf("create: %v", err)
					return
				}
				mu.Lock()
				acked[r.GetLead().GetId()] = true
				mu.Unlock()
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	nodetest.Eventually(t, 20*time.Second, func() error {
		if c := count(); c < 100 {
			return fmt.Errorf("%d leads written", c)
		}
		return nil
	})
	mu.Lock()
	before := maps.Clone(acked)
	mu.Unlock()

	out := filepath.Join(t.TempDir(), "alpha-backup.db")
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"backup", "--db", cfg.Database.Path, "--out", out}, &stdout)
	// The writers go on a little after the copy, then stop.
	atLeast := count() + 20
	nodetest.Eventually(t, 20*time.Second, func() error {
		if c := count(); c < atLeast {
			return fmt.Errorf("%d leads written", c)
		}
		return nil
	})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, stdout.String())
	}
	for _, want := range []string{"written to " + out, "integrity_check: ok\n", "audit chain OK: "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*partial*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	t.Run("RefusesToOverwrite", func(t *testing.T) {
		info, _ := os.Stat(out)
		var o bytes.Buffer
		err := run(context.Background(), []string{"backup", "--db", cfg.Database.Path, "--out", out}, &o)
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("second backup to the same file: %v", err)
		}
		if again, _ := os.Stat(out); !again.ModTime().Equal(info.ModTime()) || again.Size() != info.Size() {
			t.Errorf("the existing backup was touched")
		}
	})

	t.Run("Restores", func(t *testing.T) {
		// Restore = start a node on the copy.
		rcfg := pki.Config("alpha", t.TempDir(), "bravo")
		rcfg.Database.Path = out
		r := nodetest.Start(t, pki, rcfg, nil)
		if res := integrityCheck(t, out); res != "ok" {
			t.Errorf("integrity_check of the restored database: %s", res)
		}
		res, err := liaisonv1.NewAuditServiceClient(r.Conn(t, "auditor")).VerifyAuditLog(context.Background(), &liaisonv1.VerifyAuditLogRequest{})
		if err != nil || !res.GetOk() {
			t.Fatalf("audit log of the restored node: %v %v", res, err)
		}
		rleads := liaisonv1.NewLeadServiceClient(r.Conn(t, "analyst"))
		var missing []string
		for id := range before {
			if _, err := rleads.GetLead(context.Background(), &liaisonv1.GetLeadRequest{Id: id}); err != nil {
				missing = append(missing, fmt.Sprintf("%s (%v)", id, err))
			}
		}
		if len(missing) > 0 {
			t.Errorf("%d of %d leads acknowledged before the backup are missing: %v", len(missing), len(before), missing)
		}
	})
}

// TestBackup_CopyThatDoesNotVerify: a database whose audit chain was
// tampered with is copied, but the command says the copy does not verify
// and exits with status 2.
func TestBackup_CopyThatDoesNotVerify(t *testing.T) {
	t.Parallel()
	dbPath, _ := auditedNode(t)
	tamper(t, dbPath, "UPDATE audit_events SET detail = 'nothing to see' WHERE seq = 3")
	out := filepath.Join(t.TempDir(), "tampered.db")
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"backup", "--db", dbPath, "--out", out}, &stdout)
	var ee exitError
	if !errors.As(err, &ee) || ee != 2 {
		t.Fatalf("backup of a tampered database: %v, want exit status 2\n%s", err, stdout.String())
	}
	for _, want := range []string{"integrity_check: ok\n", "audit chain BROKEN at event 3", "does NOT verify"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestBackup_Usage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"NoArguments", nil, "usage: liaison backup --db FILE --out FILE"},
		{"NoOut", []string{"--db", filepath.Join(dir, "x.db")}, "usage: liaison backup"},
		{"MissingDatabase", []string{"--db", filepath.Join(dir, "nope.db"), "--out", filepath.Join(dir, "b.db")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"backup"}, tc.args...), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("backup %v: %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}
