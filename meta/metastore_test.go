package meta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestHeapMetastoreRebuilds: with the HEAP metastore nothing of the
// namespace is on disk outside the journal; a restart rebuilds it from the
// Raft snapshot and the log after it, and stopping removes the memory
// file.
func TestHeapMetastoreRebuilds(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.Metastore = MetastoreHEAP })
	for i := range 5 {
		e.mkdir(t, fmt.Sprintf("/before-%d", i))
	}
	if err := e.m.node.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e.mkdir(t, fmt.Sprintf("/after-%d", i))
	}
	heapFile := e.m.fsm.path
	if _, err := os.Stat(filepath.Join(e.cfg.JournalDir, metastoreName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a HEAP master keeps %s in the journal folder: %v", metastoreName, err)
	}
	want := dumpNamespace(t, e.m)
	e.restart(t)
	if _, err := os.Stat(heapFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stopped master left its memory file %s: %v", heapFile, err)
	}
	if got := dumpNamespace(t, e.m); got != want {
		t.Fatalf("namespace after a HEAP restart:\n%s\nwant:\n%s", got, want)
	}
	ctx := context.Background()
	if _, err := e.m.GetStatus(ctx, "/after-4"); err != nil {
		t.Fatal(err)
	}
}

// TestMetastoreDir puts the on-disk metastore outside the journal folder.
func TestMetastoreDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ms")
	e := newEnvWith(t, func(c *Config) { c.MetastoreDir = dir })
	e.mkdir(t, "/x")
	if _, err := os.Stat(filepath.Join(dir, metastoreName)); err != nil {
		t.Fatal(err)
	}
	e.restart(t)
	if _, err := e.m.GetStatus(context.Background(), "/x"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := FormatJournal(context.Background(), e.cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, metastoreName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("formatJournal left the metastore in %s: %v", dir, err)
	}
}

func TestMetastoreKindChecked(t *testing.T) {
	cfg := Config{JournalDir: t.TempDir(), RaftAddr: freeAddr(t), RootUFS: t.TempDir(), Metastore: "ROCKSDB", OpenUFS: testOpenUFS}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, cfg)
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Open with metastore ROCKSDB: %v, want EINVAL naming it", err)
	}
}

// TestMetastoreRebuiltAfterMachineCrash: a metastore that was open when
// the machine went down (its state file names another boot) may be torn,
// so it is set aside and rebuilt from the journal; one left open by a
// process that died in this boot is trusted.
func TestMetastoreRebuiltAfterMachineCrash(t *testing.T) {
	e := newEnvWith(t, func(c *Config) {})
	for i := range 5 {
		e.mkdir(t, fmt.Sprintf("/before-%d", i))
	}
	if err := e.m.node.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e.mkdir(t, fmt.Sprintf("/after-%d", i))
	}
	want := dumpNamespace(t, e.m)
	path := e.m.fsm.path
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.ReadFile(metastoreStatePath(path)); string(st) != "clean\n" {
		t.Fatalf("state after a clean close: %q", st)
	}

	// Left open in this boot (a killed process): trusted as it is.
	if err := writeMetastoreState(path, "open "+bootID()); err != nil {
		t.Fatal(err)
	}
	e.m = e.open(t)
	if got := dumpNamespace(t, e.m); got != want {
		t.Fatalf("after a process crash:\n%s\nwant:\n%s", got, want)
	}
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}

	// Left open in another boot, and torn: rebuilt from the journal.
	if err := writeMetastoreState(path, "open some-earlier-boot"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("torn by a power cut"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.m = e.open(t)
	if got := dumpNamespace(t, e.m); got != want {
		t.Fatalf("after a machine crash:\n%s\nwant:\n%s", got, want)
	}
	aside, _ := filepath.Glob(path + ".unclean-*")
	if len(aside) != 1 {
		t.Fatalf("the torn metastore was not kept aside: %v", aside)
	}
}
