package e2e

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	liaisonv1 "github.com/liaison-exchange/liaison/gen/liaison/v1"
	"github.com/liaison-exchange/liaison/server/nodetest"
)

// TestHygiene_DatabaseFilesOwnerOnly: the database and its WAL and
// shared-memory files are readable by the node's user only, even when the
// directory already exists, the umask lets everything through, or an
// older version left them world-readable.
func TestHygiene_DatabaseFilesOwnerOnly(t *testing.T) {
	// Not parallel: the umask is the process's.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	pki := nodetest.NewPKI(t, "alpha")
	dir := t.TempDir() // exists before the node starts
	cfg := pki.Config("alpha", dir)
	n := nodetest.Start(t, pki, cfg, nil)
	if _, err := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst")).CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: newLead("file modes")}); err != nil {
		t.Fatal(err)
	}
	files := []string{cfg.Database.Path, cfg.Database.Path + "-wal", cfg.Database.Path + "-shm"}
	check := func(when string) {
		t.Helper()
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Errorf("%s: %v", when, err)
				continue
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", when, filepath.Base(f), fi.Mode().Perm())
			}
		}
	}
	check("fresh database")

	// Files an older version left readable by everyone are tightened at
	// the next start.
	n.Stop(t)
	for _, f := range files {
		if err := os.Chmod(f, 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	n.Restart(t)
	if _, err := liaisonv1.NewLeadServiceClient(n.Conn(t, "analyst")).CreateLead(context.Background(), &liaisonv1.CreateLeadRequest{Lead: newLead("after restart")}); err != nil {
		t.Fatal(err)
	}
	check("after a restart on 0644 files")
}
