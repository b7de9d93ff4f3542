package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// dbFileMode is the mode of the database and of its WAL and shared-memory
// files: they hold every record and the audit log, and only the node's
// user has any business reading them.
const dbFileMode = 0o600

// ownerOnly creates the database file owner-only if it does not exist yet
// and tightens one (and its WAL and shared-memory files) that an earlier
// version or a copy left readable by others.
//
// SQLite creates a new database 0644 whatever the directory, and gives its
// WAL and shared-memory files the database file's permissions; creating the
// (empty, hence valid) file first is what makes all three owner-only. The
// umask can only remove permissions, so 0600 holds even with umask 0.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, dbFileMode)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != dbFileMode {
			if err := os.Chmod(p, dbFileMode); err != nil {
				return fmt.Errorf("make %s readable by its owner only: %w", p, err)
			}
		}
	}
	return nil
}
