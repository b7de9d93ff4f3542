package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func migrationFS(files ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for _, f := range files {
		table := strings.TrimSuffix(strings.SplitN(f, "_", 2)[1], ".sql")
		m["migrations/"+f] = &fstest.MapFile{Data: []byte("CREATE TABLE " + table + " (x INTEGER);")}
	}
	return m
}

func openRaw(t *testing.T) *sql.DB {
	t.Helper()
	d, err := sql.Open("sqlite3", FileURI(filepath.Join(t.TempDir(), "m.db"), nil))
	if err != nil {
		t.Fatal(err)
	}
	d.SetMaxOpenConns(1)
	t.Cleanup(func() { d.Close() })
	return d
}

func tables(t *testing.T, d *sql.DB) []string {
	t.Helper()
	rows, err := d.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'schema_migrations' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func userVersion(t *testing.T, d *sql.DB) int {
	t.Helper()
	var v int
	if err := d.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMigrate_LowerNumberArrivingLater: branches add migrations in
// parallel (0008 here, 0007 there). A database that got 0008 first still
// gets 0007 once both are in the binary, which a high-water mark skips.
func TestMigrate_LowerNumberArrivingLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := openRaw(t)
	if err := migrateFrom(ctx, d, migrationFS("0001_a.sql", "0003_c.sql")); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, d); !slices.Equal(got, []string{"a", "c"}) || userVersion(t, d) != 3 {
		t.Fatalf("tables %v, user_version %d; want a and c, 3", got, userVersion(t, d))
	}
	if err := migrateFrom(ctx, d, migrationFS("0001_a.sql", "0002_b.sql", "0003_c.sql")); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, d); !slices.Equal(got, []string{"a", "b", "c"}) || userVersion(t, d) != 3 {
		t.Fatalf("tables %v, user_version %d; want a, b and c, 3", got, userVersion(t, d))
	}
	// Again: nothing to do.
	if err := migrateFrom(ctx, d, migrationFS("0001_a.sql", "0002_b.sql", "0003_c.sql")); err != nil {
		t.Fatal(err)
	}
}

// TestMigrate_DatabaseOfTheHighWaterMark: a database migrated before the
// applied migrations were tracked one by one has 1..user_version.
func TestMigrate_DatabaseOfTheHighWaterMark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := openRaw(t)
	if _, err := d.Exec("CREATE TABLE a (x INTEGER); CREATE TABLE b (x INTEGER); PRAGMA user_version = 2"); err != nil {
		t.Fatal(err)
	}
	if err := migrateFrom(ctx, d, migrationFS("0001_a.sql", "0002_b.sql", "0004_d.sql")); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, d); !slices.Equal(got, []string{"a", "b", "d"}) || userVersion(t, d) != 4 {
		t.Fatalf("tables %v, user_version %d; want a, b and d, 4", got, userVersion(t, d))
	}
}

func TestMigrate_Refused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("OlderBinary", func(t *testing.T) {
		d := openRaw(t)
		if err := migrateFrom(ctx, d, migrationFS("0001_a.sql", "0002_b.sql")); err != nil {
			t.Fatal(err)
		}
		err := migrateFrom(ctx, d, migrationFS("0001_a.sql"))
		if err == nil || !strings.Contains(err.Error(), "migration 2 applied") {
			t.Errorf("a binary without migration 2 on a database that has it: %v", err)
		}
	})
	t.Run("SameNumber", func(t *testing.T) {
		d := openRaw(t)
		err := migrateFrom(ctx, d, migrationFS("0001_a.sql", "0002_b.sql", "0002_c.sql"))
		if err == nil || !strings.Contains(err.Error(), "same number") {
			t.Errorf("two migrations numbered 2: %v", err)
		}
	})
}
