package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestHygiene_BackupOwnerOnly: a backup holds everything the database
// holds, so it is readable by its owner only, whatever the umask, and the
// backup leaves no other file behind.
func TestHygiene_BackupOwnerOnly(t *testing.T) {
	// Not parallel: the umask is the process's.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dbPath, _ := auditedNode(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "backup.db")
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"backup", "--db", dbPath, "--out", out}, &stdout); err != nil {
		t.Fatalf("backup: %v\n%s", err, stdout.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() != "backup.db" {
			t.Errorf("the backup left %s (mode %v) behind", e.Name(), fi.Mode().Perm())
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
}
