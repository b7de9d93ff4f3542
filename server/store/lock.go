package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes the lock of the database at path — an exclusive flock on
// path + ".lock", owner-only — and holds it while the store is open. A
// second node process on the same file would append audit events under
// the sequence numbers the first one writes (each keeps the head in
// memory), breaking both; the second is refused instead. The kernel drops
// the lock when the process ends however it ends, so a crash leaves
// nothing to clean up. Read-only opening (OpenReadOnly) takes no lock:
// offline tools may read a running node's file.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is open in another node process (it holds %s): one node a database", path, path+".lock")
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
