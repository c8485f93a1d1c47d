package meta

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

// TestLazyLoadAlwaysSync: with SyncInterval 0, entries placed in the
// under-store appear, removed ones vanish and changed ones show new sizes
// and fingerprints.
func TestLazyLoadAlwaysSync(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	m := e.m
	e.writeUFS(t, "/d/x", "xx")
	e.writeUFS(t, "/d/y", "yyy")
	e.writeUFS(t, "/top", "t")
	e.writeUFS(t, "/deep/a/b/c", "cccc")
	if err := os.Chmod(e.path("/deep/a"), 0o711); err != nil {
		t.Fatal(err)
	}

	if got := names(t, m, "/"); !slices.Equal(got, []string{"d", "deep", "top"}) {
		t.Fatalf("list / = %v", got)
	}
	if got := names(t, m, "/d"); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("list /d = %v", got)
	}
	x, err := m.GetStatus(ctx, "/d/x")
	if err != nil {
		t.Fatal(err)
	}
	if x.Size != 2 || !x.Persisted || !x.Completed || x.Mode != 0o640 || x.Fingerprint == "" || x.Fingerprint != x.UfsFingerprint {
		t.Errorf("loaded file %+v", x)
	}

	// A deep path is loaded on its own, with its ancestors.
	c, err := m.GetStatus(ctx, "/deep/a/b/c")
	if err != nil || c.Size != 4 || c.UfsPath != "deep/a/b/c" {
		t.Fatalf("deep load %+v %v", c, err)
	}
	if a, err := m.GetStatus(ctx, "/deep/a"); err != nil || !a.IsDir || a.Mode != 0o711 {
		t.Errorf("ancestor loaded as %+v %v", a, err)
	}

	// Written through the system and unpersisted files survive listings.
	cache, err := m.CreateFile(ctx, "/d/cache", CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CompleteFile(ctx, cache.ID, CompleteOptions{Size: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateFile(ctx, "/d/open", CreateOptions{Persisted: true}); err != nil {
		t.Fatal(err)
	}

	// Changes behind the master's back.
	if err := os.Remove(e.path("/d/x")); err != nil {
		t.Fatal(err)
	}
	e.writeUFS(t, "/d/y", "changed!")
	e.writeUFS(t, "/d/new", "n")

	if _, err := m.GetStatus(ctx, "/d/x"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat of a file removed from the under-store: %v", err)
	}
	y, err := m.GetStatus(ctx, "/d/y")
	if err != nil || y.Size != 8 {
		t.Fatalf("changed file %+v %v", y, err)
	}
	if got := names(t, m, "/d"); !slices.Equal(got, []string{"cache", "new", "open", "y"}) {
		t.Errorf("list /d after changes = %v", got)
	}
	y2, _ := m.GetStatus(ctx, "/d/y")
	time.Sleep(2 * time.Millisecond)
	e.writeUFS(t, "/d/y", "CHANGED!") // same size, new mtime
	y3, err := m.GetStatus(ctx, "/d/y")
	if err != nil || y3.Fingerprint == y2.Fingerprint || y3.ID != y2.ID {
		t.Errorf("rewrite with the same size: fingerprint %q -> %q (%v)", y2.Fingerprint, y3.Fingerprint, err)
	}

	// A directory removed from the under-store leaves with its listing,
	// unless it holds unpersisted data.
	if err := os.RemoveAll(e.path("/deep")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(e.path("/d")); err != nil {
		t.Fatal(err)
	}
	if got := names(t, m, "/"); !slices.Equal(got, []string{"d", "top"}) {
		t.Errorf("list / after removing dirs = %v", got)
	}
	if got := names(t, m, "/d"); !slices.Equal(got, []string{"cache", "open"}) {
		t.Errorf("list /d after removing it from the under-store = %v", got)
	}
}

// TestUnchangedListingWritesNothing: re-listing an unchanged directory
// does not go through Raft.
func TestUnchangedListingWritesNothing(t *testing.T) {
	e := newEnv(t, 0)
	e.writeUFS(t, "/d/x", "xx")
	names(t, e.m, "/d")
	before := e.m.fsm.lastApplied()
	for range 3 {
		if got := names(t, e.m, "/d"); !slices.Equal(got, []string{"x"}) {
			t.Fatalf("list /d = %v", got)
		}
		if _, err := e.m.GetStatus(context.Background(), "/d/x"); err != nil {
			t.Fatal(err)
		}
	}
	if after := e.m.fsm.lastApplied(); after != before {
		t.Errorf("unchanged syncs applied %d entries", after-before)
	}
}

// TestLazyLoadNeverResync: with SyncInterval -1 a loaded directory or file
// is never fetched again.
func TestLazyLoadNeverResync(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	m := e.m
	e.writeUFS(t, "/d/x", "xx")
	e.writeUFS(t, "/d/y", "yyy")
	if got := names(t, m, "/d"); !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("list /d = %v", got)
	}
	y, _ := m.GetStatus(ctx, "/d/y")
	if err := os.Remove(e.path("/d/x")); err != nil {
		t.Fatal(err)
	}
	e.writeUFS(t, "/d/y", "changed!")
	e.writeUFS(t, "/d/new", "n")

	if _, err := m.GetStatus(ctx, "/d/x"); err != nil {
		t.Errorf("removed file re-synced: %v", err)
	}
	if y2, _ := m.GetStatus(ctx, "/d/y"); y2.Size != 3 || y2.Fingerprint != y.Fingerprint {
		t.Errorf("changed file re-synced: %+v", y2)
	}
	if got := names(t, m, "/d"); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("list /d = %v", got)
	}
	if _, err := m.GetStatus(ctx, "/d/new"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("new file in a loaded directory: %v", err)
	}
	// A directory never listed is still loaded on first use.
	e.writeUFS(t, "/e/z", "z")
	if got := names(t, m, "/e"); !slices.Equal(got, []string{"z"}) {
		t.Errorf("list /e = %v", got)
	}
}

// TestLazyLoadInterval: with a positive interval, changes show once it
// has passed.
func TestLazyLoadInterval(t *testing.T) {
	const interval = 300 * time.Millisecond
	e := newEnv(t, interval)
	ctx := context.Background()
	e.writeUFS(t, "/d/y", "yyy")
	if got := names(t, e.m, "/d"); !slices.Equal(got, []string{"y"}) {
		t.Fatalf("list /d = %v", got)
	}
	e.writeUFS(t, "/d/y", "changed!")
	e.writeUFS(t, "/d/new", "n")
	if y, _ := e.m.GetStatus(ctx, "/d/y"); y.Size != 3 {
		t.Errorf("re-synced before the interval: %+v", y)
	}
	time.Sleep(interval + 50*time.Millisecond)
	if y, _ := e.m.GetStatus(ctx, "/d/y"); y.Size != 8 {
		t.Errorf("not re-synced after the interval: %+v", y)
	}
	if got := names(t, e.m, "/d"); !slices.Equal(got, []string{"new", "y"}) {
		t.Errorf("list /d after the interval = %v", got)
	}
}

// slowListUFS counts and slows down listings.
type slowListUFS struct {
	ufs.UFS
	lists atomic.Int32
}

func (s *slowListUFS) List(ctx context.Context, dir string, fn func(ufs.FileInfo) error) error {
	s.lists.Add(1)
	time.Sleep(100 * time.Millisecond)
	return s.UFS.List(ctx, dir, fn)
}

// TestConcurrentListingsShareOneSync checks that concurrent first
// listings of one directory list the under-store once.
func TestConcurrentListingsShareOneSync(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		if err := os.WriteFile(dir+"/"+n, []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, -1)
	slow := &slowListUFS{UFS: &dirUFS{root: dir}}
	e.m.cfg.OpenUFS = func(string, map[string]string) (ufs.UFS, error) { return slow, nil }
	if err := e.m.Mount(context.Background(), "/slow", dir, MountOptions{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := names(t, e.m, "/slow"); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Errorf("list = %v", got)
			}
		})
	}
	wg.Wait()
	if n := slow.lists.Load(); n != 1 {
		t.Errorf("%d under-store listings, want 1", n)
	}
}

// TestLoadMetadataNeverSync: with syncing off (-1), LoadMetadata still
// brings a path and (recursive) its tree up to date with the under-store.
func TestLoadMetadataNeverSync(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	m := e.m
	e.writeUFS(t, "/d/x", "xx")
	e.writeUFS(t, "/d/sub/y", "yyy")
	if got := names(t, m, "/d"); !slices.Equal(got, []string{"sub", "x"}) {
		t.Fatalf("list /d = %v", got)
	}
	x0, err := m.GetStatus(ctx, "/d/x")
	if err != nil {
		t.Fatal(err)
	}
	names(t, m, "/d/sub")

	// Changes behind the namespace's back stay unseen without a load.
	e.writeUFS(t, "/d/x", "changed")
	e.writeUFS(t, "/d/new", "n")
	e.writeUFS(t, "/d/sub/z", "z")
	if err := os.Remove(e.path("/d/sub/y")); err != nil {
		t.Fatal(err)
	}
	if got := names(t, m, "/d"); !slices.Equal(got, []string{"sub", "x"}) {
		t.Fatalf("with sync off, list /d = %v", got)
	}

	// A non-recursive load of /d sees /d's children, not /d/sub's.
	st, err := m.LoadMetadata(ctx, "/d", false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Dirs != 1 {
		t.Errorf("non-recursive load listed %d dirs", st.Dirs)
	}
	if got := names(t, m, "/d"); !slices.Equal(got, []string{"new", "sub", "x"}) {
		t.Fatalf("after loadMetadata /d: list /d = %v", got)
	}
	x1, err := m.GetStatus(ctx, "/d/x")
	if err != nil || x1.Size != 7 || x1.Fingerprint == x0.Fingerprint {
		t.Fatalf("changed file after load: %+v %v (was fingerprint %s)", x1, err, x0.Fingerprint)
	}
	if got := names(t, m, "/d/sub"); !slices.Equal(got, []string{"y"}) {
		t.Fatalf("a non-recursive load changed /d/sub: %v", got)
	}
	if _, err := m.LoadMetadata(ctx, "/d", true); err != nil {
		t.Fatal(err)
	}
	if got := names(t, m, "/d/sub"); !slices.Equal(got, []string{"z"}) {
		t.Fatalf("after a recursive load, list /d/sub = %v", got)
	}

	// A file removed from the under-store vanishes when loaded by name.
	if err := os.Remove(e.path("/d/new")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.LoadMetadata(ctx, "/d/new", false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("load of a removed file: %v", err)
	}
	if _, err := m.GetStatus(ctx, "/d/new"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a removed file is still there: %v", err)
	}
	if _, err := m.LoadMetadata(ctx, "/nowhere", false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("load of a path that exists nowhere: %v", err)
	}
}

// TestCheckConsistency reports what differs from the under-store without
// changing anything; LoadMetadata then repairs it.
func TestCheckConsistency(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	m := e.m
	e.writeUFS(t, "/d/same", "s")
	e.writeUFS(t, "/d/changed", "c")
	e.writeUFS(t, "/d/gone", "g")
	names(t, m, "/d")
	e.writeUFS(t, "/d/changed", "c, longer")
	if err := os.Remove(e.path("/d/gone")); err != nil {
		t.Fatal(err)
	}
	// An unpersisted file is not compared.
	f, err := m.CreateFile(ctx, "/d/cached", CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CompleteFile(ctx, f.ID, CompleteOptions{Size: 3, Location: "127.0.0.1:29999"}); err != nil {
		t.Fatal(err)
	}
	got, err := m.CheckConsistency(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, in := range got {
		paths[in.Path] = in.Reason
	}
	if len(paths) != 2 || !strings.HasPrefix(paths["/d/changed"], "changed") || paths["/d/gone"] != "missing in the under-store" {
		t.Fatalf("CheckConsistency = %+v", got)
	}
	if again, _ := m.CheckConsistency(ctx, "/", 0); len(again) != 2 {
		t.Fatalf("CheckConsistency changed the namespace: second run %+v", again)
	}
	if one, _ := m.CheckConsistency(ctx, "/", 1); len(one) != 1 {
		t.Fatalf("limit 1 gave %+v", one)
	}
	if _, err := m.LoadMetadata(ctx, "/d", false); err != nil {
		t.Fatal(err)
	}
	if after, _ := m.CheckConsistency(ctx, "/", 0); len(after) != 0 {
		t.Fatalf("after LoadMetadata: %+v", after)
	}
}

// waitingFor reports whether a request waits for path p exclusively.
func waitingFor(m *Master, p string) func() bool {
	return func() bool {
		m.locks.mu.Lock()
		defer m.locks.mu.Unlock()
		h := m.locks.held[p]
		return h != nil && h.waiting > 0
	}
}

// A lookup that found its mount before an Unmount of that mount took the
// mount point does not load the unmounted store's files back: it looks
// for its mount again once it holds its path.
func TestLoadRacingUnmount(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	ext := t.TempDir()
	if err := os.WriteFile(ext+"/f", []byte("external"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Mount(ctx, "/mnt", ext, MountOptions{}); err != nil {
		t.Fatal(err)
	}
	// Holding /mnt/f stops the lookup between its look at the mount table
	// and its lock.
	_, release, err := e.m.locks.lock(ctx, "/mnt/f")
	if err != nil {
		t.Fatal(err)
	}
	looked := make(chan error, 1)
	go func() {
		_, err := e.m.GetStatus(ctx, "/mnt/f")
		looked <- err
	}()
	waitFor(t, "the lookup to wait for /mnt/f", waitingFor(e.m, "/mnt/f"))
	unmounted := make(chan error, 1)
	go func() { unmounted <- e.m.Unmount(ctx, "/mnt") }()
	waitFor(t, "the unmount to wait for /mnt", waitingFor(e.m, "/mnt"))
	release()
	if err := <-unmounted; err != nil {
		t.Fatalf("Unmount: %v", err)
	}
	<-looked
	if fi, err := e.m.GetStatus(ctx, "/mnt/f"); err == nil {
		t.Fatalf("after Unmount /mnt, /mnt/f is in the namespace (%d bytes), loaded from the unmounted store", fi.Size)
	}
}

// loadMetadata of a file whose directories the namespace has not loaded
// yet loads them first.
func TestLoadMetadataUnloadedParent(t *testing.T) {
	for _, iv := range []time.Duration{-1, 0, time.Hour} {
		e := newEnv(t, iv)
		ctx := context.Background()
		e.writeUFS(t, "a/b/c", "data")
		if _, err := e.m.LoadMetadata(ctx, "/a/b/c", false); err != nil {
			t.Errorf("interval %v: LoadMetadata /a/b/c: %v", iv, err)
		}
		if _, err := e.m.LoadMetadata(ctx, "/x/y/z", false); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/x/y/z") {
			t.Errorf("interval %v: LoadMetadata of a path in no store: %v, want ENOENT naming it", iv, err)
		}
	}
}

// A root under-store changed in the configuration: every directory of the
// root mount is listed from the new store, not only the root; a nested
// mount's directories keep their listing.
func TestRootUFSChangeRelistsSubdirs(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.writeUFS(t, "a/old", "old store")
	if got := names(t, e.m, "/a"); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("before: /a = %v", got)
	}
	ext := t.TempDir()
	if err := os.MkdirAll(ext+"/d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Mount(ctx, "/a/m", ext, MountOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := names(t, e.m, "/a/m/d"); len(got) != 0 {
		t.Fatalf("/a/m/d = %v", got)
	}
	second := t.TempDir()
	if err := os.MkdirAll(second+"/a", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(second+"/a/new", []byte("new store"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.cfg.RootUFS = second
	e.restart(t)
	if got := names(t, e.m, "/a"); !slices.Equal(got, []string{"m", "new"}) {
		t.Fatalf("after the root mount moved to another store, /a = %v, want [m new]", got)
	}
	var loaded bool
	if err := e.m.fsm.view(func(t *txn) error { loaded = t.walk("/a/m/d").node.Loaded; return nil }); err != nil || !loaded {
		t.Errorf("a nested mount's directory was marked for listing again (%v)", err)
	}
}

// A store's directory is mounted once and not inside another mount's, as
// Alluxio has it; a sibling directory whose name starts alike is no overlap.
func TestMountOverlap(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	ext := t.TempDir()
	for _, d := range []string{"/a/b", "/ab"} {
		if err := os.MkdirAll(ext+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.m.Mount(ctx, "/m1", ext+"/a", MountOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{ext + "/a", "file://" + ext + "/a/", ext + "/a/b", ext, e.path("/")} {
		err := e.m.Mount(ctx, "/m2", uri, MountOptions{})
		if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "overlaps") {
			t.Errorf("mount of %s: %v, want EINVAL saying which mount it overlaps", uri, err)
		}
	}
	if err := e.m.Mount(ctx, "/m2", ext+"/ab", MountOptions{}); err != nil {
		t.Errorf("mount of a sibling directory: %v", err)
	}
	// Buckets of one name behind two endpoints are two stores; s3a:// is s3://.
	mt := newMountTable([]MountInfo{{AlluxioPath: "/s3", UfsURI: "s3://b/d/",
		Options: map[string]string{"alluxio.underfs.s3.endpoint": "http://127.0.0.1:9000", "s3a.secretKey": "k1"}}})
	other := map[string]string{"alluxio.underfs.s3.endpoint": "http://127.0.0.1:9001"}
	same := map[string]string{"Alluxio.Underfs.S3.Endpoint": " http://127.0.0.1:9000/ ", "s3a.secretKey": "k2"}
	if err := checkOverlap(mt, "/x", "s3://b/d/e", other); err != nil {
		t.Errorf("a bucket of the same name behind another endpoint: %v", err)
	}
	if err := checkOverlap(mt, "/x", "s3a://b/", same); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("the same bucket's root through s3a://: %v, want EINVAL", err)
	}
}
