package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/liaison-exchange/liaison/server/audit"
)

// Backup copies the database file at src, while its node runs, into a new
// file out, and returns the copy's size. out must not exist.
//
// The copy is made with VACUUM INTO on a read-only connection of its own:
// one read transaction, so the copy is the database as of one commit,
// whatever the node writes meanwhile (WAL mode lets it go on writing). It
// is written under a temporary name next to out, fsynced, and only then
// given its name, so a file at out is always a complete copy. Check the
// copy with CheckFile before trusting it.
//
// Restoring is starting a node on the copy (Open migrates it if it is of
// an older schema); see `liaison federation fast-forward` for the repair a
// partner may then need.
func Backup(ctx context.Context, src, out string) (int64, error) {
	if _, err := os.Stat(src); err != nil {
		return 0, err
	}
	if _, err := os.Lstat(out); err == nil {
		return 0, fmt.Errorf("%s already exists; refusing to overwrite it", out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	// VACUUM INTO needs a target that does not exist or is empty: an empty
	// file with a unique name (and owner-only permissions) is both.
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-*")
	if err != nil {
		return 0, err
	}
	tmpName := tmp.Name()
	tmp.Close()
	placed := false
	defer func() {
		if !placed {
			os.Remove(tmpName)
		}
	}()
	if err := vacuumInto(ctx, src, tmpName); err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	if err := syncPath(tmpName); err != nil {
		return 0, err
	}
	if err := place(tmpName, out); err != nil {
		return 0, err
	}
	placed = true
	var size int64
	if fi, err := os.Stat(out); err == nil {
		size = fi.Size()
	}
	return size, nil
}

// vacuumInto writes a consistent copy of the database at src into dst.
func vacuumInto(ctx context.Context, src, dst string) error {
	// mode=ro: the backup never writes to the node's database. (query_only
	// would refuse VACUUM INTO altogether.)
	d, err := openDB(src, connFileRO, "")
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
	return syncPath(filepath.Dir(out))
}

// syncPath fsyncs a file or directory.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// FileCheck is what CheckFile found in a database file.
type FileCheck struct {
	// SchemaVersion is the file's highest migration applied.
	SchemaVersion int
	// Problems are what PRAGMA integrity_check reported; none if sound.
	Problems []string
	// Audit is the verification of its audit log (without checkpoints).
	Audit audit.Result
}

// OK says whether the file is sound and its audit log verifies.
func (c FileCheck) OK() bool { return len(c.Problems) == 0 && c.Audit.OK }

// CheckFile checks a database file the way a restored one must be checked
// (a backup, before it is trusted): SQLite's integrity check and the audit
// chain, on the file opened read-only. An error means the checks could not
// be run; a failed check is in the result.
func CheckFile(ctx context.Context, path string) (FileCheck, error) {
	r, err := openReadOnly(path, connFileRO)
	if err != nil {
		return FileCheck{}, err
	}
	defer r.Close()
	var c FileCheck
	if c.SchemaVersion, err = r.SchemaVersion(ctx); err != nil {
		return FileCheck{}, err
	}
	if c.Problems, err = r.IntegrityCheck(ctx); err != nil {
		return FileCheck{}, err
	}
	if c.Audit, err = r.VerifyAudit(ctx, VerifyOptions{}); err != nil {
		return FileCheck{}, err
	}
	return c, nil
}
