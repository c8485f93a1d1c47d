package daemon

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/alluxio-go/alluxio/blockstore"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// sweepInterval is how often the worker looks at the versions it holds as
// the only copy of their bytes; sweepBatch bounds the master calls of one
// sweep.
const (
	sweepInterval = 30 * time.Second
	sweepBatch    = 2000
)

// heldSweeper finds the versions a worker holds pinned as the only copy
// of their bytes (MUST_CACHE files; ASYNC_THROUGH ones until persisted)
// whose file has moved on at the master: removed, or rewritten (a newer
// version complete), or persisted since by other means. Nothing reads
// such a version again, yet its pages, unevictable, would keep their room
// for good, until every pinned write failed with ENOSPC. A version is
// dropped when two sweeps in a row found it so; one persisted is unpinned.
// Versions being written, and those a persist is queued for (the persist
// decides), are left alone.
type heldSweeper struct {
	strikes map[blockstore.FileKey]int
	next    int // where in the list of held versions the next sweep starts
}

func (w *Worker) sweepLoop(ctx context.Context) {
	s := &heldSweeper{strikes: map[blockstore.FileKey]int{}}
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.sweep(ctx, w)
	}
}

// sweep looks at up to sweepBatch held versions.
func (s *heldSweeper) sweep(ctx context.Context, w *Worker) {
	var held []blockstore.CachedFile
	for _, f := range w.store.Files() {
		if f.Held && !f.Writing && !w.persistQueued(f.Key) {
			held = append(held, f)
		}
	}
	// Strikes of versions no longer held (dropped, persisted) go.
	for k := range s.strikes {
		if !slices.ContainsFunc(held, func(f blockstore.CachedFile) bool { return f.Key == k }) {
			delete(s.strikes, k)
		}
	}
	if s.next >= len(held) {
		s.next = 0
	}
	for i := 0; i < len(held) && i < sweepBatch; i++ {
		f := held[(s.next+i)%len(held)]
		var fi meta.FileInfo
		err := w.master.Call(ctx, wire.MasterStatusByID, true, wire.IDRequest{ID: f.Key.ID}, &fi)
		gone := errors.Is(err, fs.ErrNotExist)
		switch {
		case err != nil && !gone:
			return // the master cannot tell now: the next sweep asks again
		case !gone && fi.Fingerprint == f.Key.Fingerprint && fi.Persisted && fi.Completed:
			w.log.Info("unpinning a cached version persisted since", "file", f.Key.ID, "path", fi.Path)
			w.store.Unpin(f.Key)
			delete(s.strikes, f.Key)
		case gone || fi.Fingerprint != f.Key.Fingerprint && fi.Completed:
			if s.strikes[f.Key]++; s.strikes[f.Key] < 2 {
				continue
			}
			w.log.Info("dropping the cached version of a file removed or rewritten since", "file", f.Key.ID,
				"removed", gone, "bytes", f.Size)
			w.store.Remove(f.Key)
			delete(s.strikes, f.Key)
		default:
			delete(s.strikes, f.Key)
		}
	}
	s.next += min(len(held), sweepBatch)
}

// persistQueued reports whether a persist of version key is queued.
func (w *Worker) persistQueued(key blockstore.FileKey) bool {
	_, err := os.Stat(w.queueRecord(wire.FileRef{ID: key.ID, Fingerprint: key.Fingerprint}))
	return err == nil
}
