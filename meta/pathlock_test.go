package meta

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

// TestPathLocks: a path held exclusively excludes the path, everything
// below it and its ancestors' exclusive holders; shared ancestors let
// siblings run side by side; a waiting exclusive request holds new shared
// ones back; a request's own locks cover what it asks again.
func TestPathLocks(t *testing.T) {
	l := newPathLocks()
	ctx := context.Background()
	quick := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 50*time.Millisecond) }

	_, unlockA, err := l.lock(ctx, "/d/a")
	if err != nil {
		t.Fatal(err)
	}
	// A sibling runs beside it.
	_, unlockB, err := l.lock(ctx, "/d/b")
	if err != nil {
		t.Fatalf("sibling: %v", err)
	}
	unlockB()
	// The directory, the path itself and what is below it wait.
	for _, p := range []string{"/d", "/d/a", "/d/a/x", "/"} {
		qctx, cancel := quick()
		if _, _, err := l.lock(qctx, p); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("lock %s while /d/a is held: %v, want to wait", p, err)
		}
		cancel()
	}
	// A request waiting for /d exclusively holds back new shared holders
	// of /d (a create of /d/c), and gets it once /d/a is released.
	got := make(chan error, 1)
	go func() {
		_, unlock, err := l.lock(ctx, "/d")
		if err == nil {
			unlock()
		}
		got <- err
	}()
	waitFor(t, "the request for /d to wait", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.held["/d"] != nil && l.held["/d"].waiting == 1
	})
	qctx, cancel := quick()
	if _, _, err := l.lock(qctx, "/d/c"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a create in /d while a listing of /d waits: %v, want to wait behind it", err)
	}
	cancel()
	unlockA()
	if err := <-got; err != nil {
		t.Fatalf("lock /d after /d/a was released: %v", err)
	}
	// Within a request: covered locks are free, others refused.
	rctx, unlock, err := l.lock(ctx, "/d")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.lock(rctx, "/d/x/y"); err != nil {
		t.Errorf("a path below one the request holds: %v", err)
	}
	if _, _, err := l.lock(rctx, "/e"); !errors.Is(err, syscall.EDEADLK) {
		t.Errorf("a path the request does not hold: %v, want EDEADLK", err)
	}
	unlock()
	if n := l.size(); n != 0 {
		t.Errorf("%d paths still held or waited for after every request ended", n)
	}
}

// waitFor polls cond until it holds, for at most 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// hookStore runs a hook inside the store's Rename, Delete or List, once:
// a request racing the master's own.
type hookStore struct {
	ufs.UFS
	mu                         sync.Mutex
	onRename, onDelete, onList func()
}

func (h *hookStore) take(f *func()) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := *f
	*f = nil
	return g
}

func (h *hookStore) Rename(ctx context.Context, a, b string) error {
	if f := h.take(&h.onRename); f != nil {
		f()
	}
	return h.UFS.Rename(ctx, a, b)
}

func (h *hookStore) Delete(ctx context.Context, p string) error {
	if f := h.take(&h.onDelete); f != nil {
		f()
	}
	return h.UFS.Delete(ctx, p)
}

func (h *hookStore) List(ctx context.Context, dir string, fn func(ufs.FileInfo) error) error {
	err := h.UFS.List(ctx, dir, fn)
	if f := h.take(&h.onList); f != nil {
		f()
	}
	return err
}

// hookBatchStore is a hookStore over a store that deletes in batches.
type hookBatchStore struct {
	*hookStore
	ufs.BatchFileDeleter
}

var hookStores sync.Map // root directory -> *hookStore

// newHookEnv starts a master whose root store runs hooks; batch makes
// its unlinks deferred.
func newHookEnv(t *testing.T, batch bool) (*testEnv, *hookStore) {
	e := newEnvWith(t, func(c *Config) {
		c.SyncInterval = -1
		c.DeferUfsDeletes = batch
		if batch {
			c.RootOptions = map[string]string{"batch": "true"}
		}
		c.OpenUFS = func(uri string, opts map[string]string) (ufs.UFS, error) {
			u, err := testOpenUFS(uri, opts)
			if err != nil {
				return nil, err
			}
			v, _ := hookStores.LoadOrStore(uri, &hookStore{})
			h := v.(*hookStore)
			h.UFS = u
			if b, ok := u.(*batchUFS); ok {
				return hookBatchStore{h, b}, nil
			}
			return h, nil
		}
	})
	t.Cleanup(func() { hookStores.Delete(e.ufs); batchStores.Delete(e.ufs) })
	v, _ := hookStores.Load(e.ufs)
	return e, v.(*hookStore)
}

// race starts op beside the request whose hook calls it, and returns once
// op has finished or waits for a path lock: with the locks, the racing
// request runs after the hooked one. done gives op's error.
func race(t *testing.T, e *testEnv, op func() error) (done chan error) {
	done = make(chan error, 1)
	go func() { done <- op() }()
	waitFor(t, "the racing request to finish or wait", func() bool {
		if len(done) > 0 {
			return true
		}
		e.m.locks.mu.Lock()
		defer e.m.locks.mu.Unlock()
		for _, h := range e.m.locks.held {
			if h.waiting > 0 {
				return true
			}
		}
		return false
	})
	return done
}

// writeNew creates, writes through the store and completes a file, with
// errors returned (for a racing goroutine).
func writeNew(e *testEnv, p, data string) error {
	ctx := context.Background()
	fi, err := e.m.CreateFile(ctx, p, CreateOptions{Mode: 0o644, Persisted: true})
	if err != nil {
		return err
	}
	u, err := e.m.UFS(fi.MountID)
	if err != nil {
		return err
	}
	w, err := u.Create(ctx, fi.UfsPath, ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(data)); err != nil {
		return err
	}
	ufi, err := w.Close(ctx)
	if err != nil {
		return err
	}
	_, err = e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: int64(len(data)), Persisted: true, UfsFingerprint: ufi.Fingerprint()})
	return err
}

// agree checks that the namespace's file at p and the store's copy agree:
// both there with the same length, or both gone (persisted files only).
func agree(t *testing.T, e *testEnv, p string) {
	t.Helper()
	fi, nerr := e.m.GetStatus(context.Background(), p)
	st, serr := os.Stat(e.path(p))
	switch {
	case nerr != nil && errors.Is(serr, fs.ErrNotExist):
	case nerr == nil && !fi.Persisted:
	case nerr == nil && serr == nil && st.Size() == fi.Size:
	default:
		t.Errorf("%s: the namespace has %+v (%v), the store %v; they disagree", p, fi, nerr, serr)
	}
}

// TestRenameRacingCreate: a create at a rename's destination made while
// the store moves the file waits for the rename: the file's bytes stay
// where the namespace says they are.
func TestRenameRacingCreate(t *testing.T) {
	e, h := newHookEnv(t, false)
	ctx := context.Background()
	e.writeFile(t, "/a", "precious")
	var created chan error
	h.onRename = func() {
		created = race(t, e, func() error { return writeNew(e, "/b", "other") })
	}
	if err := e.m.RenameWith(ctx, "/a", "/b", RenameOptions{NoReplace: true}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if err := <-created; !errors.Is(err, fs.ErrExist) {
		t.Errorf("create of the rename's destination after it: %v, want EEXIST", err)
	}
	if b, err := os.ReadFile(e.path("b")); err != nil || string(b) != "precious" {
		t.Errorf("store's b: %q, %v; want the renamed bytes", b, err)
	}
	agree(t, e, "/a")
	agree(t, e, "/b")
}

// TestRenameRacingDeleteOfSource: the source of a rename over a persisted
// file removed while the store removes the destination: the rename goes
// first, then the delete finds no source.
func TestRenameRacingDeleteOfSource(t *testing.T) {
	e, h := newHookEnv(t, false)
	ctx := context.Background()
	e.writeFile(t, "/b", "keep me")
	fi, err := e.m.CreateFile(ctx, "/a", CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 3, Location: "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	var deleted chan error
	h.onDelete = func() {
		deleted = race(t, e, func() error { return e.m.Delete(ctx, "/a", false) })
	}
	if err := e.m.Rename(ctx, "/a", "/b"); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if err := <-deleted; !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("delete of the rename's source after it: %v, want ENOENT", err)
	}
	if b, err := e.m.GetStatus(ctx, "/b"); err != nil || b.ID != fi.ID {
		t.Errorf("/b after the rename: %+v, %v; want the renamed file", b, err)
	}
	agree(t, e, "/b")
}

// TestDeferredDeleteRacingRename: an unlink of a rename's destination made
// while the store moves the file waits for the rename, and then removes
// the renamed file, from the namespace and the store alike.
func TestDeferredDeleteRacingRename(t *testing.T) {
	e, h := newHookEnv(t, true)
	ctx := context.Background()
	e.writeFile(t, "/a", "old")
	e.writeFile(t, "/b", "new data")
	var deleted chan error
	h.onRename = func() {
		deleted = race(t, e, func() error { return e.m.Delete(ctx, "/a", false) })
	}
	if err := e.m.Rename(ctx, "/b", "/a"); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitFor(t, "the deferred deletes", func() bool { return e.m.DeferredDeletes() == 0 })
	agree(t, e, "/a")
	agree(t, e, "/b")
}

// TestSyncRacingComplete: a file written in a directory while its listing
// is taken from the store waits for the listing's command, so the listing
// does not take it for removed.
func TestSyncRacingComplete(t *testing.T) {
	e, h := newHookEnv(t, false)
	e.writeUFS(t, "d/old", "x")
	var written chan error
	h.onList = func() {
		written = race(t, e, func() error { return writeNew(e, "/d/new", "fresh data") })
	}
	names(t, e.m, "/d")
	if err := <-written; err != nil {
		t.Fatalf("write /d/new: %v", err)
	}
	if fi, err := e.m.GetStatus(context.Background(), "/d/new"); err != nil || fi.Size != 10 {
		t.Fatalf("/d/new after the listing: %+v, %v; want the file written", fi, err)
	}
	agree(t, e, "/d/new")
}

// TestRetryWaitsForFirstAttempt: a retried request (same request id)
// that comes while the first attempt holds its paths waits for it, and
// is answered with the first attempt's result.
func TestRetryWaitsForFirstAttempt(t *testing.T) {
	e, h := newHookEnv(t, false)
	e.writeFile(t, "/a", "data")
	ctx := WithRequestID(context.Background(), NewRequestID())
	var retried chan error
	h.onRename = func() {
		retried = race(t, e, func() error { return e.m.Rename(ctx, "/a", "/b") })
	}
	if err := e.m.Rename(ctx, "/a", "/b"); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if err := <-retried; err != nil {
		t.Errorf("the retry of the rename that came while it ran: %v, want its result (success)", err)
	}
	agree(t, e, "/a")
	agree(t, e, "/b")
}

// TestLoadMetadataAfterListingInFlight: loadMetadata lists the store
// itself, after a listing in flight when it was asked for, instead of
// taking that listing's answer, which may predate what the user wants
// loaded.
func TestLoadMetadataAfterListingInFlight(t *testing.T) {
	e, h := newHookEnv(t, false)
	e.writeUFS(t, "old", "x")
	loaded := make(chan error, 1)
	h.onList = func() {
		e.writeUFS(t, "new", "y") // after the store was listed
		go func() {
			_, err := e.m.LoadMetadata(context.Background(), "/", false)
			loaded <- err
		}()
		time.Sleep(300 * time.Millisecond) // for it to ask while this listing is in flight
	}
	names(t, e.m, "/")
	if err := <-loaded; err != nil {
		t.Fatalf("LoadMetadata /: %v", err)
	}
	if got := names(t, e.m, "/"); !slices.Contains(got, "new") {
		t.Errorf("after loadMetadata, / = %v, without the file written before it was asked for", got)
	}
}
