package meta

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

// Deferred deletes. An unlink of a persisted file in a store that removes
// many files in one request (ufs.BatchFileDeleter: S3's multi-object
// DELETE, Kodo's rs /batch) does not wait for the store. Its journal
// entry takes the file out of the namespace and records its key in
// bucketUfsDeletes, in the same transaction; the leader then removes the recorded keys from the
// store in batches and journals that they are gone (ufsDeletedCmd). The
// record is replicated and survives restarts and failovers, so a file
// unlinked is removed from the store even when the store was down then;
// what the unlink waits for is the journal alone.
//
// While a key is recorded, its object may still be in the store, so:
//   - a listing or lookup of the store never brings it back into the
//     namespace (deferredIn, deferredAt, loadMissing);
//   - anything that writes at that key or under it first removes it for
//     good, waiting for a batch that has it in hand (flushDeletes): a
//     create, symbolic link or directory at the name (an object store's
//     file key hides a directory of that name), a rename to or from a path
//     (a directory's rename copies what is under it), the removal of a
//     directory, and an unmount.
//
// Without the record, a late DELETE could remove the newer file written
// at the same key, and a listing could show the unlinked file again.

// bucketUfsDeletes holds the deferred deletes: mount id (u64 BE) + the
// file's path in that mount's under-store -> empty.
var bucketUfsDeletes = []byte("ufsDeletes")

// errDeferredLeft refuses an unmount while files unlinked from the mount
// are still to leave its store.
var errDeferredLeft = fmt.Errorf("files unlinked from the mount are still to be deleted from its under-store: %w", syscall.EBUSY)

// deferredBatch is the most keys one batch of the leader takes.
const deferredBatch = 1000

// deferredGather is how long the leader waits after an unlink before it
// sends a batch, so that the unlinks of an rm -r share requests: a batch
// costs a request and a journal entry, however few keys it has.
const deferredGather = 50 * time.Millisecond

// deferredRetryMax caps the wait before a failed batch is tried again.
const deferredRetryMax = 30 * time.Second

func deferredKey(mount uint64, rel string) []byte {
	k := make([]byte, 8+len(rel))
	binary.BigEndian.PutUint64(k, mount)
	copy(k[8:], rel)
	return k
}

// deferDelete records that the file at rel in mount's store is to be
// removed.
func (t *txn) deferDelete(mount uint64, rel string) {
	t.fail(t.tx.Bucket(bucketUfsDeletes).Put(deferredKey(mount, rel), []byte{}))
}

// deferred reports whether the file at rel in mount's store is to be
// removed.
func (t *txn) deferred(mount uint64, rel string) bool {
	b := t.tx.Bucket(bucketUfsDeletes)
	return b != nil && b.Get(deferredKey(mount, rel)) != nil
}

// deferredUnder lists up to limit recorded paths of mount at rel or below
// it (every one of the mount when rel is "").
func (t *txn) deferredUnder(mount uint64, rel string, limit int) []string {
	b := t.tx.Bucket(bucketUfsDeletes)
	if b == nil {
		return nil
	}
	var out []string
	if rel != "" && b.Get(deferredKey(mount, rel)) != nil {
		out = append(out, rel)
	}
	prefix := deferredKey(mount, "")
	if rel != "" {
		prefix = deferredKey(mount, rel+"/")
	}
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Next() {
		out = append(out, string(k[8:]))
	}
	return out
}

// deferredIn returns a test of the entries of a listing of directory p
// (names relative to it): whether an entry is a file whose key is
// recorded for removal, which the listing must not bring back.
func deferredIn(t *txn, p string) func(e ufsEntry) bool {
	none := func(ufsEntry) bool { return false }
	b := t.tx.Bucket(bucketUfsDeletes)
	if b == nil {
		return none
	}
	if k, _ := b.Cursor().First(); k == nil {
		return none
	}
	mi, rel, ok := t.mountTable().resolve(p)
	if !ok {
		return none
	}
	return func(e ufsEntry) bool {
		return !e.IsDir && !e.IsSymlink && e.Symlink == "" && b.Get(deferredKey(mi.ID, ufs.Join(rel, e.Name))) != nil
	}
}

// deferredAt reports whether entry e, listed by a lookup at path p (its
// Name is ignored), is a file whose key is recorded for removal.
func deferredAt(t *txn, p string, e ufsEntry) bool {
	dir, name := splitParent(p)
	e.Name = name
	return deferredIn(t, dir)(e)
}

// ufsDeletedCmd records that files of a mount are gone from its store.
type ufsDeletedCmd struct {
	Mount uint64   `json:"mount"`
	Paths []string `json:"paths"`
}

func (*ufsDeletedCmd) commandType() commandType { return cmdUfsDeleted }

func (c *ufsDeletedCmd) apply(t *txn) (any, error) {
	b := t.tx.Bucket(bucketUfsDeletes)
	for _, p := range c.Paths {
		t.fail(b.Delete(deferredKey(c.Mount, p)))
	}
	return nil, t.err
}

// deferrer is the leader's side of deferred deletes: it sends the
// batches, and lets a writer wait for the keys a batch has in hand.
type deferrer struct {
	m    *Master
	kick chan struct{}
	mu   sync.Mutex
	// busy holds the keys (deferredKey as a string) a batch or a flush
	// is removing, each with a channel closed when it is settled.
	busy map[string]chan struct{}
}

func newDeferrer(m *Master) *deferrer {
	return &deferrer{m: m, kick: make(chan struct{}, 1), busy: map[string]chan struct{}{}}
}

// wake tells the loop that there is work.
func (d *deferrer) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// canDefer reports whether an unlink of a file in mi's store may leave
// its removal to the batches: the store removes many files a request,
// and every master of the group applies the record of their removal.
func (m *Master) canDefer(ctx context.Context, mi MountInfo) bool {
	if !m.cfg.DeferUfsDeletes || mi.ReadOnly {
		return false
	}
	u, err := m.ufsFor(mi)
	if err != nil {
		return false
	}
	b, ok := u.(ufs.BatchFileDeleter)
	if !ok || !b.BatchDeletes() {
		return false
	}
	return m.requireLevel(ctx, cmdUfsDeleted, "defer an under-store delete") == nil
}

// run sends batches while this master leads, until stop is closed.
func (d *deferrer) run() {
	defer d.m.watching.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-d.m.stop
		cancel()
	}()
	var (
		retry     time.Duration // the last wait after a failure
		notBefore time.Time     // no batch before it, after a failure
	)
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	more := false
	for {
		if !more {
			select {
			case <-d.m.stop:
				return
			case <-d.kick:
				// Let the unlinks that follow join the batch.
				select {
				case <-time.After(deferredGather):
				case <-d.m.stop:
					return
				}
			case <-timer.C:
			}
		}
		more = false
		next := time.Second
		if wait := time.Until(notBefore); wait > 0 {
			// Backing off from a failure: an unlink does not cut it short.
			next = wait
		} else if d.m.Ready() {
			var err error
			more, err = d.sendBatch(ctx)
			switch {
			case err != nil:
				more = false
				retry = min(max(2*retry, 500*time.Millisecond), deferredRetryMax)
				next, notBefore = retry, time.Now().Add(retry)
				if ctx.Err() == nil {
					d.m.log.Warn("deferred under-store deletes failed; trying again",
						"in", retry, "err", err)
				}
			default:
				retry = 0
			}
		}
		timer.Reset(next)
	}
}

// sendBatch removes up to deferredBatch recorded keys of one mount from
// its store and journals that they are gone. more reports that others
// are left.
func (d *deferrer) sendBatch(ctx context.Context) (more bool, err error) {
	var (
		mount uint64
		paths []string
	)
	err = d.m.fsm.view(func(t *txn) error {
		c := t.tx.Bucket(bucketUfsDeletes).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			id := binary.BigEndian.Uint64(k[:8])
			if len(paths) > 0 && (id != mount || len(paths) == deferredBatch) {
				more = true
				break
			}
			if d.held(string(k)) {
				continue
			}
			mount = id
			paths = append(paths, string(k[8:]))
		}
		return nil
	})
	if err != nil || len(paths) == 0 {
		return false, err
	}
	return more, d.remove(ctx, mount, paths)
}

// held reports whether a batch or a flush is removing key.
func (d *deferrer) held(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.busy[key]
	return ok
}

// remove takes paths of mount in hand, removes those still recorded from
// the store, and journals that they are gone. Keys another batch or flush
// has in hand are waited for first. A flush and a batch can meet on
// keys; removing a key twice is harmless, and the one that comes second
// finds it no longer recorded.
func (d *deferrer) remove(ctx context.Context, mount uint64, paths []string) error {
	for {
		keys, wait := d.claim(mount, paths)
		if wait == nil {
			defer d.release(keys)
			break
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Claimed, the keys cannot change hands; those still recorded are
	// the ones to remove.
	var todo []string
	err := d.m.fsm.view(func(t *txn) error {
		for _, p := range paths {
			if t.deferred(mount, p) {
				todo = append(todo, p)
			}
		}
		return nil
	})
	if err != nil || len(todo) == 0 {
		return err
	}
	mi, ok := d.m.MountByID(mount)
	if ok {
		u, err := d.m.ufsFor(mi)
		if err != nil {
			return err
		}
		// A deposed leader's late batch could take a newer object the
		// new leader let be written: only the leader deletes, and its
		// requests, retries included, end with its term.
		lctx, cancel, err := d.m.leadingContext(ctx)
		if err != nil {
			return err
		}
		err = deleteFiles(lctx, u, todo)
		cancel()
		if err != nil {
			return d.m.ufsError("delete", joinPath(mi.AlluxioPath, todo[0]), mi, err)
		}
	}
	// A mount that is gone took its records' files with it (unmount
	// removes them first); the records are dropped.
	_, err = d.m.propose(ctx, &ufsDeletedCmd{Mount: mount, Paths: todo})
	return err
}

// deleteFiles removes files of an under-store, in batches where it can.
func deleteFiles(ctx context.Context, u ufs.UFS, paths []string) error {
	if b, ok := u.(ufs.BatchFileDeleter); ok {
		return b.DeleteFiles(ctx, paths)
	}
	for _, p := range paths {
		if err := u.Delete(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// claim takes the keys of paths in hand. Keys held by another remover
// stay with it: wait, when not nil, is closed once one of them is
// released, and the caller must then claim again (remove loops).
func (d *deferrer) claim(mount uint64, paths []string) (keys []string, wait chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range paths {
		if ch, ok := d.busy[string(deferredKey(mount, p))]; ok {
			return nil, ch
		}
	}
	ch := make(chan struct{})
	for _, p := range paths {
		k := string(deferredKey(mount, p))
		d.busy[k] = ch
		keys = append(keys, k)
	}
	return keys, nil
}

// release hands keys back and wakes their waiters.
func (d *deferrer) release(keys []string) {
	if len(keys) == 0 {
		return
	}
	d.mu.Lock()
	ch := d.busy[keys[0]]
	for _, k := range keys {
		delete(d.busy, k)
	}
	d.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// flushDeletes removes from mi's store, for good, the recorded files at
// rel and below it (the whole mount when rel is ""), before something is
// written there; a batch that has one in hand is waited for.
func (m *Master) flushDeletes(ctx context.Context, mi MountInfo, rel string) error {
	for {
		var paths []string
		if err := m.fsm.view(func(t *txn) error {
			paths = t.deferredUnder(mi.ID, rel, deferredBatch)
			return nil
		}); err != nil {
			return err
		}
		if len(paths) == 0 {
			return nil
		}
		if err := m.deletes.remove(ctx, mi.ID, paths); err != nil {
			return err
		}
	}
}

// flushPaths is flushDeletes for each of rels.
func (m *Master) flushPaths(ctx context.Context, mi MountInfo, rels ...string) error {
	for _, rel := range rels {
		if err := m.flushDeletes(ctx, mi, rel); err != nil {
			return err
		}
	}
	return nil
}

// hasDeferred reports whether the store of mi has recorded files at rel
// or below it: one read of the records, for the callers of flushDeletes
// that look first.
func hasDeferred(t *txn, mi MountInfo, rel string) bool {
	return len(t.deferredUnder(mi.ID, rel, 1)) > 0
}

// DeferredDeletes counts the files unlinked from the namespace that are
// still to be removed from their under-stores.
func (m *Master) DeferredDeletes() int {
	n := 0
	_ = m.fsm.view(func(t *txn) error {
		if b := t.tx.Bucket(bucketUfsDeletes); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n
}
