package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

// A database whose directory is named with the characters a file: URI
// treats specially opens exactly that file, not a shorter or shared one.
func TestOpen_PathWithURICharacters(t *testing.T) {
	for _, name := range []string{"seed#0", "what?now", "100%", "plain"} {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "node.db")
		s, err := Open(context.Background(), path, Options{Agency: "alpha"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s: the database is not at %s: %v", name, path, err)
		}
		if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
			t.Errorf("%s: files next to the database's directory: %v", name, entries)
		}
	}
}

// TestConn_TempStoreInMemory: the node's writer and readers keep
// temporary tables in memory (nodeDriver), not in temporary files.
func TestConn_TempStoreInMemory(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "node.db"))
	defer mustClose(t, s)
	const memory = 2 // PRAGMA temp_store: 0 default, 1 file, 2 memory
	for name, d := range map[string]*sql.DB{"writer": s.wdb, "reader": s.rdb} {
		var got int
		if err := d.QueryRow("PRAGMA temp_store").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != memory {
			t.Errorf("%s: temp_store = %d, want %d (memory)", name, got, memory)
		}
	}
}
