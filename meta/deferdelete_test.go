package meta

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

// batchStores holds the batchUFS of each test directory, so that a test
// reaches the store its master opened, and a restarted master the same.
var batchStores sync.Map // root directory -> *batchUFS

// batchUFS is a test store that removes files in batches
// (ufs.BatchFileDeleter): each DeleteFiles call is recorded, and can be
// made to fail or to wait.
type batchUFS struct {
	ufs.UFS
	mu      sync.Mutex
	fail    error         // returned by DeleteFiles while set
	hold    chan struct{} // DeleteFiles waits for it to close while set
	entered chan []string // told of each DeleteFiles call while set
	calls   [][]string
	ended   int // DeleteFiles calls that returned
}

func (b *batchUFS) BatchDeletes() bool { return true }

func (b *batchUFS) DeleteFiles(ctx context.Context, paths []string) error {
	defer func() {
		b.mu.Lock()
		b.ended++
		b.mu.Unlock()
	}()
	b.mu.Lock()
	b.calls = append(b.calls, append([]string(nil), paths...))
	fail, hold, entered := b.fail, b.hold, b.entered
	b.mu.Unlock()
	if entered != nil {
		entered <- paths
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		return fail
	}
	for _, p := range paths {
		if err := b.Delete(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// returned reports whether n DeleteFiles calls have returned.
func (b *batchUFS) returned(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ended >= n
}

func (b *batchUFS) setFail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail = err
}

func (b *batchUFS) deleted() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, c := range b.calls {
		out = append(out, c...)
	}
	return out
}

// newBatchEnv is a master over a batchUFS root with deferred deletes on.
func newBatchEnv(t *testing.T) (*testEnv, *batchUFS) {
	t.Helper()
	e := newEnvWith(t, func(c *Config) {
		c.SyncInterval = 0 // every call lists the store: nothing unlinked may come back
		c.DeferUfsDeletes = true
		c.RootOptions = map[string]string{"batch": "true"}
	})
	t.Cleanup(func() { batchStores.Delete(e.ufs) })
	v, ok := batchStores.Load(e.ufs)
	if !ok {
		t.Fatal("the master did not open the batch store")
	}
	return e, v.(*batchUFS)
}

// waitGone waits until the under-store has no file at p.
func waitGone(t *testing.T, e *testEnv, p string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := os.Lstat(e.path(p))
		if errors.Is(err, fs.ErrNotExist) && e.m.DeferredDeletes() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still in the under-store (stat: %v), %d deletes deferred", p, err, e.m.DeferredDeletes())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustExistUFS(t *testing.T, e *testEnv, p, want string) {
	t.Helper()
	b, err := os.ReadFile(e.path(p))
	if err != nil {
		t.Fatalf("under-store %s: %v", p, err)
	}
	if string(b) != want {
		t.Fatalf("under-store %s holds %q, want %q", p, b, want)
	}
}

func TestDeferredDelete(t *testing.T) {
	ctx := context.Background()
	e, b := newBatchEnv(t)
	e.mkdir(t, "/a")
	for _, p := range []string{"/a/f1", "/a/f2", "/a/f3"} {
		e.writeFile(t, p, "old "+p)
	}
	down := errors.New("store down")
	b.setFail(down)
	for _, p := range []string{"/a/f1", "/a/f2"} {
		if err := e.m.Delete(ctx, p, false); err != nil {
			t.Fatalf("unlink %s with the store failing its deletes: %v", p, err)
		}
	}
	if n := e.m.DeferredDeletes(); n != 2 {
		t.Fatalf("%d deletes deferred, want 2", n)
	}
	mustExistUFS(t, e, "/a/f1", "old /a/f1")

	// The store still has them; no listing or lookup brings them back.
	if got := names(t, e.m, "/a"); len(got) != 1 || got[0] != "f3" {
		t.Fatalf("listing of /a after the unlinks: %v, want f3 alone", got)
	}
	if _, err := e.m.GetStatus(ctx, "/a/f1"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("stat of an unlinked file still in the store: %v, want ENOENT", err)
	}

	// A restart keeps the record; the store removes the files once it can.
	e.restart(t)
	if n := e.m.DeferredDeletes(); n != 2 {
		t.Fatalf("after a restart %d deletes deferred, want 2", n)
	}
	b.setFail(nil)
	waitGone(t, e, "/a/f1")
	waitGone(t, e, "/a/f2")
	mustExistUFS(t, e, "/a/f3", "old /a/f3")
}

// The batch that removes unlinked files from the store changes nothing a
// client reads: the namespace version, which keeps every FUSE daemon's
// metadata cache exact, moves once per unlink and not for the batch.
func TestDeferredDeleteKeepsNamespaceVersion(t *testing.T) {
	ctx := context.Background()
	e, b := newBatchEnv(t)
	for _, p := range []string{"/f1", "/f2"} {
		e.writeFile(t, p, "old "+p)
	}
	b.setFail(errors.New("store down")) // the batch waits until the count is read
	epoch, before := e.m.NamespaceVersion()
	for _, p := range []string{"/f1", "/f2"} {
		if err := e.m.Delete(ctx, p, false); err != nil {
			t.Fatal(err)
		}
	}
	if ep, n := e.m.NamespaceVersion(); ep != epoch || n != before+2 {
		t.Fatalf("two unlinks moved the namespace version from %d to %d (epoch %d to %d), want +2", before, n, epoch, ep)
	}
	b.setFail(nil)
	waitGone(t, e, "/f1")
	waitGone(t, e, "/f2")
	if len(b.deleted()) == 0 {
		t.Fatal("the store made no batch delete")
	}
	if ep, n := e.m.NamespaceVersion(); ep != epoch || n != before+2 {
		t.Fatalf("the batch delete moved the namespace version from %d to %d (epoch %d to %d)", before+2, n, epoch, ep)
	}
}

func TestDeferredDeleteThenCreate(t *testing.T) {
	ctx := context.Background()
	e, b := newBatchEnv(t)
	e.writeFile(t, "/f", "old")

	// The store refuses: a create at the name cannot be made safe.
	b.setFail(errors.New("store down"))
	if err := e.m.Delete(ctx, "/f", false); err != nil {
		t.Fatal(err)
	}
	_, err := e.m.CreateFile(ctx, "/f", CreateOptions{Mode: 0o644, Persisted: true})
	if err == nil || !strings.Contains(err.Error(), "store down") {
		t.Fatalf("create over an unlinked file the store cannot delete: %v, want the store's error", err)
	}
	if _, err := e.m.GetStatus(ctx, "/f"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("after a refused create: %v, want ENOENT", err)
	}

	// A batch has the key in hand: the create waits for it.
	hold := make(chan struct{})
	entered := make(chan []string, 16)
	b.mu.Lock()
	b.fail, b.hold, b.entered = nil, hold, entered
	b.mu.Unlock()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch started")
	}
	created := make(chan error, 1)
	go func() {
		_, err := e.m.CreateFile(ctx, "/f", CreateOptions{Mode: 0o644, Persisted: true})
		created <- err
	}()
	select {
	case err := <-created:
		t.Fatalf("create returned (%v) while the batch deleting the old file was under way", err)
	case <-time.After(200 * time.Millisecond):
	}
	b.mu.Lock()
	b.hold, b.entered = nil, nil
	b.mu.Unlock()
	close(hold)
	if err := <-created; err != nil {
		t.Fatalf("create after the batch: %v", err)
	}
	if n := e.m.DeferredDeletes(); n != 0 {
		t.Fatalf("%d deletes still deferred after the create", n)
	}
	// The new file's bytes, as its writer puts them, stay.
	e.writeUFS(t, "/f", "new")
	time.Sleep(3 * deferredGather)
	mustExistUFS(t, e, "/f", "new")
	if _, err := e.m.GetStatus(ctx, "/f"); err != nil {
		t.Fatal(err)
	}
}

func TestDeferredDeleteUnderMovedDirectory(t *testing.T) {
	ctx := context.Background()
	e, b := newBatchEnv(t)
	e.mkdir(t, "/d")
	e.writeFile(t, "/d/x", "x")
	e.writeFile(t, "/d/y", "y")
	b.setFail(errors.New("store down"))
	if err := e.m.Delete(ctx, "/d/x", false); err != nil {
		t.Fatal(err)
	}
	// The store would move the unlinked file along: the rename waits until
	// the store can delete it.
	if err := e.m.Rename(ctx, "/d", "/e"); err == nil {
		t.Fatal("rename of a directory over an unlinked file the store cannot delete succeeded")
	}
	b.setFail(nil)
	if err := e.m.Rename(ctx, "/d", "/e"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(e.path("/e/x")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the unlinked file moved with its directory: %v", err)
	}
	mustExistUFS(t, e, "/e/y", "y")
	if got := names(t, e.m, "/e"); len(got) != 1 || got[0] != "y" {
		t.Fatalf("listing of /e: %v, want y alone", got)
	}

	// rmdir of a directory whose last file is still to go empties it in
	// the store too.
	b.setFail(errors.New("store down"))
	if err := e.m.Delete(ctx, "/e/y", false); err != nil {
		t.Fatal(err)
	}
	b.setFail(nil)
	if err := e.m.Delete(ctx, "/e", false); err != nil {
		t.Fatalf("rmdir: %v", err)
	}
	if _, err := os.Lstat(e.path("/e")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the directory stayed in the store: %v", err)
	}
	if got := b.deleted(); len(got) == 0 {
		t.Fatal("no batch delete was made")
	}
}

// TestDeferredDeleteFailover checks that the deletes a leader recorded
// and could not make are made by the next leader.
func TestDeferredDeleteFailover(t *testing.T) {
	ctx := context.Background()
	var root string
	g := newGroupWith(t, 3, func(c *Config) {
		c.DeferUfsDeletes = true
		c.RootOptions = map[string]string{"batch": "true"}
		root = c.RootUFS
	})
	t.Cleanup(func() { batchStores.Delete(root) })
	li := g.leader(-1)
	leader := g.masters[li]
	e := &testEnv{m: leader, ufs: root}
	e.writeFile(t, "/f", "f")
	v, ok := batchStores.Load(root)
	if !ok {
		t.Fatal("the leader did not open the batch store")
	}
	b := v.(*batchUFS)
	b.setFail(errors.New("store down"))
	if err := leader.Delete(ctx, "/f", false); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, g.masters, leader.node.raft.AppliedIndex())
	leader.node.close() // as a crash: no hand-over
	next := g.masters[g.leader(li)]
	if n := next.DeferredDeletes(); n != 1 {
		t.Fatalf("the new leader has %d deletes deferred, want 1", n)
	}
	mustExistUFS(t, e, "/f", "f")
	b.setFail(nil)
	e.m = next
	waitGone(t, e, "/f")
}

// TestDeferredDeleteEndsWithTerm: a batch whose store request is still
// under way when its master stops leading is called off, so that it
// cannot remove, late, an object the new leader let be written at the
// name.
func TestDeferredDeleteEndsWithTerm(t *testing.T) {
	ctx := context.Background()
	var root string
	g := newGroupWith(t, 3, func(c *Config) {
		c.DeferUfsDeletes = true
		c.RootOptions = map[string]string{"batch": "true"}
		root = c.RootUFS
	})
	t.Cleanup(func() { batchStores.Delete(root) })
	leader := g.masters[g.leader(-1)]
	e := &testEnv{m: leader, ufs: root}
	e.writeFile(t, "/f", "f")
	v, ok := batchStores.Load(root)
	if !ok {
		t.Fatal("the leader did not open the batch store")
	}
	b := v.(*batchUFS)
	hold, entered := make(chan struct{}), make(chan []string, 16)
	defer close(hold)
	b.mu.Lock()
	b.hold, b.entered = hold, entered
	b.mu.Unlock()
	if err := leader.Delete(ctx, "/f", false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch reached the store")
	}
	b.mu.Lock()
	calls := len(b.calls)
	b.mu.Unlock()
	if err := leader.jr.handOff(); err != nil {
		t.Fatalf("leadership transfer: %v", err)
	}
	// The held request must return, cancelled, without hold closing.
	deadline := time.Now().Add(10 * time.Second)
	for !b.returned(calls) {
		if time.Now().After(deadline) {
			t.Fatal("the deposed leader's store request is still under way 10 s after the transfer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustExistUFS(t, e, "/f", "f")
}

// TestDeferredDeleteUnmount checks that an unmount first removes the files
// unlinked from its store, and that the command itself refuses while one
// is recorded (an unlink between the leader's removal and the command).
func TestDeferredDeleteUnmount(t *testing.T) {
	ctx := context.Background()
	e := newEnvWith(t, func(c *Config) { c.SyncInterval = -1; c.DeferUfsDeletes = true })
	dir := t.TempDir()
	t.Cleanup(func() { batchStores.Delete(dir) })
	if err := e.m.Mount(ctx, "/mnt", "file://"+dir, MountOptions{Options: map[string]string{"batch": "true"}}); err != nil {
		t.Fatal(err)
	}
	v, ok := batchStores.Load(dir)
	if !ok {
		t.Fatal("the mount did not open the batch store")
	}
	b := v.(*batchUFS)
	sub := &testEnv{m: e.m, ufs: dir}
	e.writeFile(t, "/mnt/f", "f")
	b.setFail(errors.New("store down"))
	if err := e.m.Delete(ctx, "/mnt/f", false); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Unmount(ctx, "/mnt"); err == nil || !strings.Contains(err.Error(), "store down") {
		t.Fatalf("unmount while the store cannot delete an unlinked file: %v, want the store's error", err)
	}
	mi, ok := mountAt(e.m, "/mnt")
	if !ok {
		t.Fatal("the refused unmount removed the mount")
	}
	if _, err := e.m.propose(ctx, &unmountCmd{Path: "/mnt", Now: time.Now().UnixNano()}); !errors.Is(err, errDeferredLeft) {
		t.Fatalf("unmount command with a delete recorded: %v, want errDeferredLeft", err)
	}
	b.setFail(nil)
	if err := e.m.Unmount(ctx, "/mnt"); err != nil {
		t.Fatal(err)
	}
	if _, ok := mountAt(e.m, "/mnt"); ok {
		t.Fatal("the mount is still there")
	}
	if _, err := os.Lstat(sub.path("/f")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the unlinked file of mount %d stayed in its store: %v", mi.ID, err)
	}
}

// mountAt finds the mount at p.
func mountAt(m *Master, p string) (MountInfo, bool) {
	for _, mi := range m.Mounts() {
		if mi.AlluxioPath == p {
			return mi, true
		}
	}
	return MountInfo{}, false
}
