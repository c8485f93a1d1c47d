package meta

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
)

// dump returns every key and value of the metastore, by bucket.
func dump(t testing.TB, f *fsm) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := f.view(func(tx *txn) error {
		return tx.tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"/"+hex.EncodeToString(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func nextInodeID(t testing.TB, f *fsm) uint64 {
	t.Helper()
	var id uint64
	f.view(func(tx *txn) error { id = tx.getU64(keyNextInode); return nil })
	return id
}

// TestRestart closes and reopens a master on the same journal: the state is
// intact, no entry is applied twice, and new ids do not collide.
func TestRestart(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.mkdir(t, "/a/b")
	f1 := e.writeFile(t, "/a/b/f", "one") // Overwrite: a replay would give it a new id
	e.writeUFS(t, "/loaded/x", "x")
	if _, err := e.m.GetStatus(ctx, "/loaded/x"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.node.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	// Entries after the snapshot are replayed by Raft on restart.
	f2 := e.writeFile(t, "/a/f2", "two")
	if err := e.m.Delete(ctx, "/a/b/f", false); err != nil {
		t.Fatal(err)
	}
	f3 := e.writeFile(t, "/a/b/f", "three")
	if err := e.m.Rename(ctx, "/a/f2", "/a/b/g"); err != nil {
		t.Fatal(err)
	}

	before := dump(t, e.m.fsm)
	count, next := inodeCount(t, e.m), nextInodeID(t, e.m.fsm)
	applied := e.m.fsm.lastApplied()
	e.restart(t)

	if n := inodeCount(t, e.m); n != count {
		t.Errorf("inode count %d after restart, was %d", n, count)
	}
	if n := nextInodeID(t, e.m.fsm); n != next {
		t.Errorf("next inode id %d after restart, was %d: entries applied twice", n, next)
	}
	if a := e.m.fsm.lastApplied(); a < applied {
		t.Errorf("lastApplied went back from %d to %d", applied, a)
	}
	after := dump(t, e.m.fsm)
	delete(before, "meta/"+hex.EncodeToString(keyLastApplied))
	delete(after, "meta/"+hex.EncodeToString(keyLastApplied))
	if !maps.Equal(before, after) {
		t.Error("state changed across a restart")
	}
	for _, c := range []struct {
		path string
		id   uint64
	}{{"/a/b/f", f3.ID}, {"/a/b/g", f2.ID}} {
		fi, err := e.m.GetStatus(ctx, c.path)
		if err != nil || fi.ID != c.id {
			t.Errorf("%s after restart: %+v %v (want id %d)", c.path, fi, err, c.id)
		}
	}
	if f1.ID == f3.ID {
		t.Fatal("test setup: ids reused")
	}
	nf := e.writeFile(t, "/new", "n")
	if nf.ID < next {
		t.Errorf("new id %d collides with the range before the restart (next was %d)", nf.ID, next)
	}
	if s := e.m.Stats(); s.State != "Leader" || s.LastApplied < applied || s.Leader != e.cfg.RaftAddr {
		t.Errorf("stats %+v", s)
	}
}

// TestRootURIChange reopens with another root under-store: the mount is
// updated and the root is listed from the new store.
func TestRootURIChange(t *testing.T) {
	e := newEnv(t, -1)
	e.writeUFS(t, "/old", "o")
	if got := names(t, e.m, "/"); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("list / = %v", got)
	}
	id := e.m.Mounts()[0].ID
	newRoot := t.TempDir()
	if err := os.WriteFile(newRoot+"/new", []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.cfg.RootUFS = newRoot
	e.restart(t)
	ms := e.m.Mounts()
	if len(ms) != 1 || ms[0].UfsURI != newRoot || ms[0].ID != id {
		t.Fatalf("mounts after root change %+v", ms)
	}
	if got := names(t, e.m, "/"); !slices.Equal(got, []string{"new"}) {
		t.Errorf("list / from the new root = %v", got)
	}
}

// TestSnapshotRestore forces a snapshot and restores it into a fresh FSM,
// then into one with other content.
func TestSnapshotRestore(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.mkdir(t, "/a/b")
	e.writeFile(t, "/a/b/f", "data")
	if err := e.m.Mount(ctx, "/ext", t.TempDir(), MountOptions{Options: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.node.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	want := dump(t, e.m.fsm)

	snaps, err := raft.NewFileSnapshotStore(e.cfg.JournalDir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		t.Fatalf("snapshots: %v %v", list, err)
	}
	restore := func(f *fsm) {
		t.Helper()
		_, rc, err := snaps.Open(list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Restore(rc); err != nil {
			t.Fatal(err)
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	fresh, err := openFSM(filepath.Join(t.TempDir(), metastoreName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fresh.close() })
	restore(fresh)
	if got := dump(t, fresh); !maps.Equal(got, want) {
		t.Errorf("restored state differs: %d keys, want %d", len(got), len(want))
	}

	// Over existing state, with the restore hook called.
	dir := t.TempDir()
	other, err := openFSM(filepath.Join(dir, metastoreName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.close() })
	called := false
	other.onRestore = func() { called = true }
	applyAt(t, other, 1, &createDirectoryCmd{Path: "/zzz", Mode: 0o700})
	restore(other)
	if got := dump(t, other); !maps.Equal(got, want) {
		t.Error("restore over existing state kept some of it")
	}
	if !called {
		t.Error("restore hook not called")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 { // metastore.db and its state file
		t.Errorf("restore left files behind: %v", ents)
	}
}

// applyAt applies one command at a Raft index and returns its result.
func applyAt(t testing.TB, f *fsm, index uint64, c command) *applyResult {
	t.Helper()
	data, err := encodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data}).(*applyResult)
	if !ok {
		t.Fatal("apply returned no result")
	}
	return r
}

// TestApplySkipsApplied checks the replay guard and batch application.
func TestApplySkipsApplied(t *testing.T) {
	f, err := openFSM(filepath.Join(t.TempDir(), metastoreName), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.close() })
	if r := applyAt(t, f, 5, &createDirectoryCmd{Path: "/a", Mode: 0o755}); r.err != nil {
		t.Fatal(r.err)
	}
	state := dump(t, f)
	for _, idx := range []uint64{3, 5} {
		if r := applyAt(t, f, idx, &createDirectoryCmd{Path: "/b", Mode: 0o755}); r.err != nil || r.value != nil {
			t.Errorf("entry %d: %+v", idx, r)
		}
	}
	if !maps.Equal(dump(t, f), state) {
		t.Error("an applied entry was applied again")
	}

	// A batch: an invalid command yields its error and changes nothing,
	// later ones still apply, non-command entries advance the index.
	enc := func(c command) []byte {
		b, _ := encodeCommand(c)
		return b
	}
	logs := []*raft.Log{
		{Index: 6, Type: raft.LogCommand, Data: enc(&createDirectoryCmd{Path: "/a", Mode: 0o755})},
		{Index: 7, Type: raft.LogCommand, Data: enc(&createFileCmd{Path: "/a/f", Mode: 0o644})},
		{Index: 8, Type: raft.LogCommand, Data: enc(&createFileCmd{Path: "/none/f", Mode: 0o644})},
		{Index: 9, Type: raft.LogConfiguration},
	}
	res := f.ApplyBatch(logs)
	if len(res) != len(logs) {
		t.Fatalf("%d results for %d entries", len(res), len(logs))
	}
	if r := res[0].(*applyResult); !errors.Is(r.err, syscall.EEXIST) {
		t.Errorf("mkdir of an existing dir: %v", r.err)
	}
	if r := res[1].(*applyResult); r.err != nil || r.value.(FileInfo).Path != "/a/f" {
		t.Errorf("create in the batch: %+v", r)
	}
	if r := res[2].(*applyResult); !errors.Is(r.err, syscall.ENOENT) {
		t.Errorf("create in a missing directory: %v", r.err)
	}
	if a := f.lastApplied(); a != 9 {
		t.Errorf("lastApplied %d, want 9", a)
	}

	// A command of a type this build does not know (a newer master's)
	// stops the master: skipping it would part its state from the
	// group's. Nothing of the batch is applied.
	state = dump(t, f)
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "unknown command type 250") {
				t.Errorf("an unknown command did not stop the master (recovered %v)", r)
			}
		}()
		f.ApplyBatch([]*raft.Log{
			{Index: 10, Type: raft.LogCommand, Data: enc(&createDirectoryCmd{Path: "/c", Mode: 0o755})},
			{Index: 11, Type: raft.LogCommand, Data: []byte{250}},
		})
	}()
	if !maps.Equal(dump(t, f), state) || f.lastApplied() != 9 {
		t.Error("a batch with an unknown command was partly applied")
	}
}

// TestCommandEncoding checks the type byte + JSON encoding round trip.
func TestCommandEncoding(t *testing.T) {
	mode := uint32(0o700)
	cmds := []command{
		&createFileCmd{Path: "/f", Mode: 0o644, Now: 1},
		&setAttrCmd{Path: "/f", Mode: &mode, Now: 2},
		&syncDirCmd{Path: "/", Entries: []ufsEntry{{Name: "x", Size: 3, Fingerprint: "mt:1:3"}}},
	}
	for _, c := range cmds {
		b, err := encodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		if commandType(b[0]) != c.commandType() || !bytes.HasPrefix(b[1:], []byte("{")) {
			t.Errorf("%T encoded as %q", c, b)
		}
		if _, ok := applyTable[commandType(b[0])]; !ok {
			t.Errorf("%T has no apply function", c)
		}
	}
	for typ := cmdCreateFile; typ <= cmdSyncFile; typ++ {
		if applyTable[typ] == nil {
			t.Errorf("command type %d has no apply function", typ)
		}
	}
}

// TestFormat refuses while a master holds the journal and erases only the
// journal's files after Close.
func TestFormat(t *testing.T) {
	e := newEnv(t, -1)
	e.mkdir(t, "/a")
	if err := e.m.node.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(e.cfg.JournalDir, "keep.txt")
	if err := os.WriteFile(keep, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Format(e.cfg.JournalDir)
	if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "master is running") ||
		!strings.Contains(err.Error(), metastoreName) {
		t.Fatalf("Format while running: %v", err)
	}
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Format(e.cfg.JournalDir); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(e.cfg.JournalDir)
	if len(ents) != 1 || ents[0].Name() != "keep.txt" {
		var got []string
		for _, d := range ents {
			got = append(got, d.Name())
		}
		t.Errorf("journal folder after Format: %v", got)
	}
	// A formatted journal starts empty.
	e.m = e.open(t)
	if _, err := e.m.GetStatus(context.Background(), "/a"); err != nil {
		// /a is still in the under-store, so it is loaded again.
		t.Errorf("stat /a after format: %v", err)
	}
	if n := inodeCount(t, e.m); n != 2 {
		t.Errorf("%d inodes after format and one load, want 2", n)
	}
	if err := Format(""); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Format of an empty path: %v", err)
	}
}
