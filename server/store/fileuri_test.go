package store

import (
	"context"
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
