package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/liaison-exchange/liaison/gen/db"
	"github.com/liaison-exchange/liaison/server/store"
)

// backup copies a node's database, while the node runs, into a new file
// and verifies the copy.
//
// The copy is made with VACUUM INTO on a read-only connection of its own:
// one read transaction, so the copy is the database as of one commit,
// whatever the node writes meanwhile (WAL mode lets it go on writing). It
// is written under a temporary name next to --out, fsynced, and only then
// given its name, so a file at --out is always a complete copy. The copy is
// then checked like a restored database would be: PRAGMA integrity_check
// and the audit chain (as `liaison audit verify`).
func backup(ctx context.Context, args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet("backup", flag.ContinueOnError)
	dbPath := fset.String("db", "", "the node's database file")
	out := fset.String("out", "", "the backup file to write; must not exist")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *dbPath == "" || *out == "" || fset.NArg() > 0 {
		return errors.New("backup: usage: liaison backup --db FILE --out FILE")
	}
	if _, err := os.Stat(*dbPath); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("backup: %s already exists; refusing to overwrite it", *out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}

	start := time.Now()
	// VACUUM INTO needs a target that does not exist or is empty: an empty
	// file with a unique name (and owner-only permissions) is both.
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".partial-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	placed := false
	defer func() {
		if !placed {
			os.Remove(tmpName)
		}
	}()
	if err := vacuumInto(ctx, *dbPath, tmpName); err != nil {
		return fmt.Errorf("backup: copy %s: %w", *dbPath, err)
	}
	if err := syncFile(tmpName); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := place(tmpName, *out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	placed = true
	size := int64(0)
	if fi, err := os.Stat(*out); err == nil {
		size = fi.Size()
	}
	fmt.Fprintf(stdout, "backup of %s written to %s (%d bytes, %s)\n", *dbPath, *out, size, time.Since(start).Round(time.Millisecond))

	ok, err := verifyCopy(ctx, *out, stdout)
	if err != nil {
		return fmt.Errorf("backup: verify %s: %w", *out, err)
	}
	if !ok {
		fmt.Fprintf(stdout, "the backup %s does NOT verify: do not restore it\n", *out)
		return exitError(2)
	}
	return nil
}

// vacuumInto writes a consistent copy of the database at src into dst.
func vacuumInto(ctx context.Context, src, dst string) error {
	// mode=ro: the backup never writes to the node's database. (query_only
	// would refuse VACUUM INTO altogether.)
	d, err := sql.Open("sqlite3", store.FileURI(src, url.Values{"mode": {"ro"}, "_busy_timeout": {"10000"}}))
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = d.ExecContext(ctx, "VACUUM INTO ?", dst)
	return err
}

// place gives the finished copy its name without ever replacing a file
// that appeared there meanwhile (a hard link fails if the name exists),
// then makes the new name durable.
func place(tmp, out string) error {
	if err := os.Link(tmp, out); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s appeared while the backup ran; refusing to overwrite it", out)
		}
		// A file system without hard links: rename, after checking again.
		if _, serr := os.Lstat(out); serr == nil {
			return fmt.Errorf("%s appeared while the backup ran; refusing to overwrite it", out)
		}
		if err := os.Rename(tmp, out); err != nil {
			return err
		}
	} else if err := os.Remove(tmp); err != nil {
		return err
	}
	return syncFile(filepath.Dir(out))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// verifyCopy runs PRAGMA integrity_check and the audit chain verification
// on a database file opened read-only, and prints both results. It reports
// whether both passed; an error means they could not be run.
func verifyCopy(ctx context.Context, path string, stdout io.Writer) (bool, error) {
	d, err := sql.Open("sqlite3", store.FileURI(path, url.Values{"mode": {"ro"}}))
	if err != nil {
		return false, err
	}
	defer d.Close()
	var version int
	if err := d.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, err
	}
	fmt.Fprintf(stdout, "schema version: %d (this binary: %d)\n", version, store.SchemaVersion())

	rows, err := d.QueryContext(ctx, "PRAGMA integrity_check(100)")
	if err != nil {
		return false, err
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return false, err
		}
		problems = append(problems, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	integrityOK := len(problems) == 1 && problems[0] == "ok"
	if integrityOK {
		fmt.Fprintln(stdout, "integrity_check: ok")
	} else {
		fmt.Fprintf(stdout, "integrity_check: FAILED:\n  %s\n", strings.Join(problems, "\n  "))
	}

	res, err := store.VerifyAuditDB(ctx, db.New(d), store.VerifyOptions{})
	if err != nil {
		return false, err
	}
	if res.OK {
		fmt.Fprintf(stdout, "audit chain OK: %d events, head %d %x\n", res.Checked, res.HeadSeq, res.HeadHash)
	} else {
		fmt.Fprintf(stdout, "audit chain BROKEN at event %d: %s (%d events verified before it)\n", res.FirstBad, res.Problem, res.Checked)
	}
	return integrityOK && res.OK, nil
}
