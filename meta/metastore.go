package meta

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/alluxio-go/alluxio/meta/zkelect"
	"github.com/alluxio-go/alluxio/ufs"
)

// Metastore kinds (alluxio.master.metastore).
const (
	// MetastoreROCKS keeps the namespace in an on-disk bbolt file in
	// Config.MetastoreDir, so memory does not grow with the number of
	// inodes and a restart replays only what is newer than the file.
	// (Alluxio's name; the store is bbolt, not RocksDB.)
	MetastoreROCKS = "ROCKS"
	// MetastoreHEAP keeps it in a file in memory (tmpfs) that is dropped
	// when the master stops: every start rebuilds the namespace from the
	// journal's snapshot or checkpoint and log.
	MetastoreHEAP = "HEAP"
)

// openMetastore opens the state machine's store as cfg.Metastore says.
func openMetastore(cfg Config, log *slog.Logger) (*fsm, error) {
	switch cfg.Metastore {
	case "", MetastoreROCKS:
		if err := os.MkdirAll(cfg.MetastoreDir, 0o700); err != nil {
			return nil, fmt.Errorf("metastore directory: %w", err)
		}
		return openFSM(filepath.Join(cfg.MetastoreDir, metastoreName), log)
	case MetastoreHEAP:
		dir, err := os.MkdirTemp(heapDir(), "alluxio-metastore-")
		if err != nil {
			return nil, fmt.Errorf("%s metastore: %w", MetastoreHEAP, err)
		}
		f, err := openFSM(filepath.Join(dir, metastoreName), log)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		f.removeDir = dir
		return f, nil
	}
	return nil, fmt.Errorf("metastore %q (alluxio.master.metastore): want %s or %s: %w",
		cfg.Metastore, MetastoreROCKS, MetastoreHEAP, syscall.EINVAL)
}

// heapDir is where a HEAP metastore's file lives: shared memory when the
// machine has it.
func heapDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// openUFSJournal opens the shared journal folder and joins the ZooKeeper
// election.
func (m *Master) openUFSJournal() (*ufsJournal, error) {
	cfg := m.cfg
	store, err := cfg.OpenUFS(cfg.JournalDir, cfg.JournalOptions)
	if err != nil {
		return nil, fmt.Errorf("meta: journal folder %s: %w", ufs.Redact(cfg.JournalDir), err)
	}
	if _, err := store.Stat(context.Background(), ""); err != nil {
		store.Close()
		return nil, fmt.Errorf("meta: journal folder %s: %w", ufs.Redact(cfg.JournalDir), err)
	}
	var elect elector = newSoloElector(cfg.RPCAddr)
	if len(cfg.ZooKeeper.Servers) > 0 {
		zc := cfg.ZooKeeper
		zc.Logger = cfg.Logger
		c, err := zkelect.Join(zc, cfg.RPCAddr)
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("meta: %w", err)
		}
		elect = c
	}
	j, err := openUFSJournal(ufsJournalConfig{
		Store: store, Where: ufs.Redact(cfg.JournalDir), Elect: elect, RPCAddr: cfg.RPCAddr,
		CheckpointEntries: cfg.Checkpoint.PeriodEntries, TailInterval: cfg.TailInterval, Notify: m.leaderCh,
	}, m.fsm, m.log)
	if err != nil {
		elect.Close()
		store.Close()
		return nil, err
	}
	return j, nil
}
