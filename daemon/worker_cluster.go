package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/cluster"
	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
)

// self is this worker as a member of the worker cluster.
func (w *Worker) self() cluster.Member {
	return cluster.Member{Name: w.cfg.RPCAddr, RPCAddr: w.cfg.RPCAddr, WebAddr: w.cfg.WebAddr,
		Gossip: w.cfg.GossipAddr, StartTime: w.start.UnixMilli()}
}

// joinCluster starts gossiping with the other workers, found from
// cfg.Seeds or, while this worker knows no other, from the masters. A
// worker without a gossip address serves alone.
func (w *Worker) joinCluster(ctx context.Context) error {
	if w.cfg.GossipAddr == "" {
		return nil
	}
	ms, err := cluster.Start(ctx, cluster.Config{
		Self:         w.self(),
		Seeds:        w.cfg.Seeds,
		SeedFunc:     w.seedsFromMasters,
		VirtualNodes: w.cfg.VirtualNodes,
		Logger:       w.log,
		OnChange: func(r *cluster.Ring) {
			w.log.Info("worker cluster changed", "workers", r.Len())
		},
	})
	if err != nil {
		return err
	}
	w.members.Store(ms)
	return nil
}

// seedsFromMasters asks the masters which workers they know.
func (w *Worker) seedsFromMasters(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var info wire.InfoResponse
	if err := w.master.Call(ctx, wire.MasterInfo, true, struct{}{}, &info); err != nil {
		return nil
	}
	var seeds []string
	for _, wi := range info.Workers {
		if wi.Gossip != "" && wi.Gossip != w.cfg.GossipAddr {
			seeds = append(seeds, wi.Gossip)
		}
	}
	return seeds
}

// ring is the consistent-hash ring of the live workers; a worker alone
// has a ring of itself.
func (w *Worker) ring() *cluster.Ring {
	if m := w.members.Load(); m != nil {
		return m.Ring()
	}
	return cluster.NewRing([]cluster.Member{w.self()}, w.cfg.VirtualNodes)
}

// homeOfAll reports whether this worker is the home of every block of a
// file, so that it may serve the whole file by passthrough.
func (w *Worker) homeOfAll(ref wire.FileRef) bool {
	r := w.ring()
	if r.Len() <= 1 {
		return true
	}
	bs := w.blockSize()
	for b := int64(0); b*bs < ref.Size; b++ {
		if m, ok := r.Home(cluster.BlockKey(ref.ID, b)); !ok || m.Name != w.cfg.RPCAddr {
			return false
		}
	}
	return true
}

func (w *Worker) blockSize() int64 {
	if w.cfg.BlockSize > 0 {
		return w.cfg.BlockSize
	}
	return client.DefaultBlockSize
}

func (w *Worker) handleMembers(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	r := w.ring()
	return &rpc.Response{Body: wire.MembersResponse{Self: w.self(), Members: r.Members(), VirtualNodes: w.cfg.VirtualNodes}}, nil
}

// handleFree drops the cached data of an inode (alluxio fs free); data
// that exists nowhere else stays.
func (w *Worker) handleFree(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.IDRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	if kept := w.store.FreeID(r.ID); kept > 0 {
		w.log.Info("free kept the cached versions of a file that exist nowhere else (being written, or not persisted yet)",
			"file", r.ID, "kept", kept)
	}
	return &rpc.Response{Body: wire.FreeResponse{}}, nil
}

// tiers describes each tier directory for the masters' report.
func (w *Worker) tiers() []wire.TierInfo {
	var out []wire.TierInfo
	for _, t := range w.store.Stats().Tiers {
		out = append(out, wire.TierInfo{Level: t.Level, Alias: t.Alias, Dir: t.Dir, MediumType: t.MediumType,
			Capacity: t.Capacity, Used: t.Used, Failed: t.Failed, Reason: t.Reason})
	}
	return out
}

// handleSetPinned keeps an inode's cached data from eviction, or lets it
// go (alluxio fs pin|unpin).
func (w *Worker) handleSetPinned(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.PinRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	if r.Pinned {
		w.pinned.Store(r.ID, true)
	} else {
		w.pinned.Delete(r.ID)
	}
	w.store.SetPinned(r.ID, r.Pinned)
	return &rpc.Response{}, nil
}

// handlePersist copies a file held only in this worker's cache to its
// under-store now (alluxio fs persist), then lets its pages be evicted.
func (w *Worker) handlePersist(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var ref wire.FileRef
	if err := req.Decode(&ref); err != nil {
		return nil, err
	}
	if _, total := w.store.Cached(keyOf(ref), ref.Size); total > 0 {
		if pages, _ := w.store.Cached(keyOf(ref), ref.Size); pages < total {
			return nil, fmt.Errorf("persist file %d (%s): this worker holds %d of its %d pages: %w",
				ref.ID, ref.UfsPath, pages, total, syscall.EIO)
		}
	}
	err := w.persist(ctx, w.queued(ref))
	for try := 1; errors.Is(err, errMoved) && try < 3; try++ {
		err = w.persist(ctx, w.queued(ref)) // again, at its new name
	}
	if errors.Is(err, errSuperseded) {
		return nil, fmt.Errorf("persist file %d (%s): %w: %w", ref.ID, ref.UfsPath, err, syscall.ESTALE)
	} else if err != nil {
		return nil, err
	}
	w.dequeuePersist(ref)
	w.store.Unpin(keyOf(ref))
	return &rpc.Response{}, nil
}

// notePinned makes sure the store keeps a pinned inode's pages, for pins
// the store has not heard of (made while no version of it was cached).
func (w *Worker) notePinned(id uint64) {
	if _, known := w.pinned.LoadOrStore(id, true); !known {
		w.store.SetPinned(id, true)
	}
}

// handleClearMetrics sets the worker's traffic counters back to zero
// (alluxio fsadmin metrics clear).
func (w *Worker) handleClearMetrics(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	w.store.ResetCounters()
	c := &w.counters
	for _, n := range []*atomic.Int64{&c.bytesReadDomain, &c.bytesReadRemote, &c.bytesWrittenDomain,
		&c.bytesWrittenRemote, &c.bytesWrittenUfs, &c.bytesCopiedUfs, &c.passthroughOpens, &c.bytesPassedThrough, &c.ufsPassthroughOpens} {
		n.Store(0)
	}
	w.log.Info("metrics cleared")
	return &rpc.Response{}, nil
}
