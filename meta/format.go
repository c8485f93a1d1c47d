package meta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.etcd.io/bbolt"

	"github.com/alluxio-go/alluxio/ufs"
)

// formatLockTimeout is how long Format waits for a journal file's lock
// before deciding that a master holds it.
const formatLockTimeout = 200 * time.Millisecond

// Format erases the master's journal in journalDir: raft.db, raft-log/, snapshots/,
// metastore.db and its state file, and nothing else. It refuses (EBUSY) while a master has
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
	for _, f := range append(files, metastoreStatePath(files[0])) {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("meta: format: %w", err)
		}
	}
	for _, d := range []string{snapshotDirName, raftLogDirName, raftLogDirName + ".new"} {
		if err := os.RemoveAll(filepath.Join(journalDir, d)); err != nil {
			return fmt.Errorf("meta: format: %w", err)
		}
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

// FormatJournal erases what a master keeps as cfg describes it: with the
// embedded journal, Format of the journal folder and the metastore in
// cfg.MetastoreDir; with the UFS journal, every log file, epoch marker and
// checkpoint in the shared journal folder and the local metastore. It
// refuses while this host's master holds its metastore.
func FormatJournal(ctx context.Context, cfg Config) error {
	var files []string
	if cfg.MetastoreDir != "" && cfg.MetastoreDir != cfg.JournalDir {
		files = append(files, filepath.Join(cfg.MetastoreDir, metastoreName))
	}
	for _, f := range files {
		if err := checkUnlocked(f); err != nil {
			return err
		}
	}
	if cfg.JournalType != JournalUFS {
		if err := Format(cfg.JournalDir); err != nil {
			return err
		}
	} else if err := formatUFSJournal(ctx, cfg); err != nil {
		return err
	}
	for _, f := range files {
		for _, g := range []string{f, metastoreStatePath(f)} {
			if err := os.Remove(g); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("meta: format: %w", err)
			}
		}
	}
	return nil
}

// formatUFSJournal empties the folders of a UFS journal.
func formatUFSJournal(ctx context.Context, cfg Config) error {
	open := cfg.OpenUFS
	if open == nil {
		open = ufs.Open
	}
	store, err := open(cfg.JournalDir, cfg.JournalOptions)
	if err != nil {
		return fmt.Errorf("meta: format journal folder %s: %w", ufs.Redact(cfg.JournalDir), err)
	}
	defer store.Close()
	for _, d := range []string{ujLogs, ujEpochs, ujCheckpoints} {
		var names []string
		err := store.List(ctx, d, func(fi ufs.FileInfo) error {
			names = append(names, d+"/"+fi.Name)
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("meta: format journal folder %s: %w", ufs.Redact(cfg.JournalDir), err)
		}
		for _, n := range names {
			if err := store.Delete(ctx, n); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("meta: format journal folder %s: %s: %w", ufs.Redact(cfg.JournalDir), n, err)
			}
		}
	}
	return nil
}
