package daemon

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/alluxio-go/alluxio/blockstore"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/internal/atomicfile"
	"github.com/alluxio-go/alluxio/meta"
)

// The persist queue: an ASYNC_THROUGH file's record is written (and
// synced) before its commit is acknowledged and removed once the file is
// persisted, so that a worker that restarts, even after kill -9, persists
// what its cache still holds. One small JSON file per file version, in a
// directory beside the staging directory.

// PersistQueueDir is where a worker keeps the records of the
// ASYNC_THROUGH files it has yet to upload; `alluxio formatWorker` refuses
// while it holds any.
func PersistQueueDir(c blockstore.Config) string {
	return strings.TrimSuffix(stagingDir(c), ".staging") + ".persist"
}

func (w *Worker) queueRecord(ref wire.FileRef) string {
	sum := sha1.Sum([]byte(ref.Fingerprint))
	return filepath.Join(w.persistDir, fmt.Sprintf("%d-%s.json", ref.ID, hex.EncodeToString(sum[:8])))
}

// persistRecord is a file version waiting to be persisted. Base, when
// set, is the version it was written from, which the under-store holds
// still, and Since what it changed of it: the upload copies the rest from
// the base on the store's side. A record from before they were kept is a
// plain wire.FileRef, read as one without a base.
type persistRecord struct {
	wire.FileRef
	Base  *wire.FileRef `json:"base,omitempty"`
	Since *sinceBase    `json:"since,omitempty"`
}

// enqueuePersist records rec durably.
func (w *Worker) enqueuePersist(rec persistRecord) error {
	if err := os.MkdirAll(w.persistDir, 0o700); err != nil {
		return fmt.Errorf("persist queue %s: %w", w.persistDir, err)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	name := w.queueRecord(rec.FileRef)
	if err := atomicfile.Write(name, data, 0o600); err != nil {
		return fmt.Errorf("persist queue record %s: %w", name, err)
	}
	return nil
}

// dequeuePersist forgets ref.
func (w *Worker) dequeuePersist(ref wire.FileRef) {
	if err := os.Remove(w.queueRecord(ref)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.log.Warn("removing a persist queue record", "file", ref.ID, "err", err)
	}
}

// resumePersists re-queues the persists a previous run of this worker left
// unfinished, for the files whose bytes its cache still holds whole.
func (w *Worker) resumePersists(ctx context.Context) {
	entries, err := os.ReadDir(w.persistDir)
	if err != nil {
		return
	}
	// A tier directory that could not be opened (not mounted yet, full)
	// may hold the pages still: its files come back once it can be used.
	failed := false
	for _, t := range w.store.Stats().Tiers {
		failed = failed || t.Failed
	}
	for _, e := range entries {
		name := filepath.Join(w.persistDir, e.Name())
		if !strings.HasSuffix(name, ".json") {
			os.Remove(name)
			continue
		}
		rec, err := readRecord(name)
		ref := rec.FileRef
		if err != nil {
			w.log.Error("unreadable persist queue record dropped", "record", name, "err", err)
			os.Remove(name)
			continue
		}
		if pages, total := w.store.Cached(keyOf(ref), ref.Size); pages < total {
			if failed {
				w.log.Warn("a file waiting to be persisted is missing cached pages while a tier directory cannot be used; its persist waits for them",
					"file", ref.ID, "path", ref.UfsPath, "pages", pages, "of", total)
				w.persistLater(rec)
				continue
			}
			w.log.Error("a file waiting to be persisted lost cached pages across the restart; it cannot be persisted",
				"file", ref.ID, "path", ref.UfsPath, "pages", pages, "of", total)
			os.Remove(name)
			continue
		}
		w.log.Info("resuming the persist of a file", "file", ref.ID, "path", ref.UfsPath)
		w.persistLater(rec)
	}
}

// readRecord reads the persist queue record in file name.
func readRecord(name string) (persistRecord, error) {
	var rec persistRecord
	data, err := os.ReadFile(name)
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	return rec, err
}

// queued is the persist queue's record of ref, or ref alone when it has
// none.
func (w *Worker) queued(ref wire.FileRef) persistRecord {
	rec, err := readRecord(w.queueRecord(ref))
	if err != nil || rec.ID != ref.ID || rec.Fingerprint != ref.Fingerprint {
		return persistRecord{FileRef: ref}
	}
	rec.FileRef = ref
	return rec
}

// stillCurrent reports whether ref is still the content of its inode,
// and the file's status now (its place in the under-store may have changed
// since ref was recorded: renamed before its upload); a removed file is not
// current, and its status is the zero FileInfo.
func (w *Worker) stillCurrent(ctx context.Context, ref wire.FileRef) (meta.FileInfo, bool, error) {
	var fi meta.FileInfo
	err := w.master.Call(ctx, wire.MasterStatusByID, true, wire.IDRequest{ID: ref.ID}, &fi)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return meta.FileInfo{}, false, nil
	case err != nil:
		return fi, false, err
	}
	if fi.Fingerprint == ref.Fingerprint && !fi.Completed {
		// The commit that queued the persist has yet to complete the
		// version at the master (a rewrite of a persisted file says
		// persisted until then).
		return fi, false, errNotComplete
	}
	if fi.Fingerprint != ref.Fingerprint && !fi.Completed {
		// A newer version is being written. Until it is complete this
		// one is not superseded: should its writer fail, the master
		// gives the file this version back (RestoreVersion), whose
		// bytes exist only here.
		return fi, false, errNewerIncomplete
	}
	return fi, fi.Fingerprint == ref.Fingerprint && !fi.Persisted, nil
}

// errNewerIncomplete says a version queued for persisting has a newer one
// being written: the persist is tried again once that one is complete (or
// given up, and this version given back).
var errNewerIncomplete = fmt.Errorf("a newer version of the file is being written: %w", syscall.EAGAIN)

// errNotComplete says a version queued for persisting is not complete at
// the master yet: the persist is tried again.
var errNotComplete = fmt.Errorf("file version not completed by its writer yet: %w", syscall.EAGAIN)

// landLocks orders the moments this worker lands objects at one place of
// an under-store: a background persist holds the lock of its file's place
// from the check that its version is current through the upload and the
// master's mark (or the taking back of an upload the master refused), and
// a synchronous writer holds it while its upload completes. So an older
// version's upload never lands after a newer one's there, nor a removed
// file's after a new file's of the same name, which would leave the store
// holding the older bytes. Uploads through other workers are not ordered
// by it.
type landLocks struct {
	mu   sync.Mutex
	held map[string]*landLock
}

type landLock struct {
	mu    sync.Mutex
	users int
}

// lock takes the lock of place ufsPath in mount; the returned function
// gives it back.
func (l *landLocks) lock(mount uint64, ufsPath string) (unlock func()) {
	key := fmt.Sprintf("%d\x00%s", mount, ufsPath)
	l.mu.Lock()
	if l.held == nil {
		l.held = map[string]*landLock{}
	}
	k := l.held[key]
	if k == nil {
		k = &landLock{}
		l.held[key] = k
	}
	k.users++
	l.mu.Unlock()
	k.mu.Lock()
	return func() {
		k.mu.Unlock()
		l.mu.Lock()
		if k.users--; k.users == 0 {
			delete(l.held, key)
		}
		l.mu.Unlock()
	}
}
