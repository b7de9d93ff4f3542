package store

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports_OnlyStoreImportsGenDB: the sqlc queries (gen/db) are the
// store's own; every other package goes through the store's verbs, so
// that driver errors, connection strings and SQL stay in one room.
func TestImports_OnlyStoreImportsGenDB(t *testing.T) {
	t.Parallel()
	const genDB = "github.com/liaison-exchange/liaison/gen/db"
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(root, "server", "store")
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "gen" && filepath.Dir(path) == root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || filepath.Dir(path) == self {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == genDB {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s imports %s: only server/store may", rel, genDB)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d files checked: is %s the module root?", checked, root)
	}
}
