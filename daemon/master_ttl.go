package daemon

import (
	"context"
	"errors"
	"io/fs"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// ttlBatch bounds the entries one TTL check acts on; the rest wait for
// the next check.
const ttlBatch = 1000

// ttlLoop applies expired TTLs while this master leads: DELETE removes the
// entry (from the under-store too, as Alluxio does), FREE drops its cached
// data from every worker and clears the TTL.
func (m *Master) ttlLoop(ctx context.Context) {
	t := time.NewTicker(m.cfg.TTLInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !m.meta.IsLeader() {
			continue
		}
		if err := m.checkTTL(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("TTL check failed", "err", err)
		}
	}
}

func (m *Master) checkTTL(ctx context.Context) error {
	expired, err := m.meta.Expired(ctx, time.Now(), ttlBatch)
	if err != nil {
		return err
	}
	for _, fi := range expired {
		var err error
		switch fi.TTLAction {
		case meta.TTLActionFree:
			err = m.freeTree(ctx, fi)
			if err == nil {
				_, err = m.meta.ClearTTL(ctx, fi.ID)
			}
		default:
			err = m.meta.Delete(ctx, fi.Path, true)
		}
		switch {
		case err == nil:
			m.log.Info("TTL expired", "path", fi.Path, "action", fi.TTLAction)
		case errors.Is(err, fs.ErrNotExist):
			// Gone with an expired parent, or removed meanwhile.
		case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EPERM):
			// It can never be done (a mount point, a read-only mount):
			// say so once and stop trying.
			m.log.Warn("TTL action impossible; TTL cleared", "path", fi.Path, "action", fi.TTLAction, "err", err)
			m.meta.ClearTTL(ctx, fi.ID)
		default:
			m.log.Warn("TTL action failed; will retry", "path", fi.Path, "action", fi.TTLAction, "err", err)
		}
	}
	return nil
}

// freeTree tells every live worker to drop the cached data of the file at
// fi, or of every file under it.
func (m *Master) freeTree(ctx context.Context, fi meta.FileInfo) error {
	var ids []uint64
	var walk func(fi meta.FileInfo) error
	walk = func(fi meta.FileInfo) error {
		if !fi.IsDir {
			if fi.Persisted && !fi.Pinned {
				ids = append(ids, fi.ID)
			}
			return nil
		}
		children, err := m.meta.ListStatus(ctx, fi.Path)
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(fi); err != nil {
		return err
	}
	var errs []error
	for _, w := range m.Workers() {
		cl := rpc.NewClient("tcp", w.Address)
		for _, id := range ids {
			if _, err := cl.Call(ctx, wire.WorkerFree, wire.IDRequest{ID: id}, nil, nil, nil); err != nil {
				errs = append(errs, err)
				break
			}
		}
		cl.Close()
	}
	return errors.Join(errs...)
}
