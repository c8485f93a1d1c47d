package meta

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
)

// formatLockTimeout is how long Format waits for a journal file's lock
// before deciding that a master holds it.
const formatLockTimeout = 200 * time.Millisecond

// Format erases the master's journal in journalDir: raft.db, snapshots/ and
// metastore.db, and nothing else. It refuses (EBUSY) while a master has
// the files open.
func Format(journalDir string) error {
	if journalDir == "" {
		return fmt.Errorf("meta: format: empty journal folder: %w", syscall.EINVAL)
	}
	files := []string{filepath.Join(journalDir, metastoreName), filepath.Join(journalDir, raftDBName)}
	for _, f := range files {
		if err := checkUnlocked(f); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("meta: format: %w", err)
		}
	}
	if err := os.RemoveAll(filepath.Join(journalDir, snapshotDirName)); err != nil {
		return fmt.Errorf("meta: format: %w", err)
	}
	return nil
}

// checkUnlocked fails when another process holds the bbolt file's lock.
func checkUnlocked(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: formatLockTimeout, ReadOnly: true})
	if errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("meta: format: a master is running: %s is locked: %w", path, syscall.EBUSY)
	}
	if err != nil {
		// A damaged file is what formatting is for; only a lock stops it.
		return nil
	}
	return db.Close()
}
