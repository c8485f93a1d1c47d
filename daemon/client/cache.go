package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"

	"github.com/alluxio-go/alluxio/cluster"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// Workers returns the live workers as this client sees them.
func (c *Client) Workers(ctx context.Context) []cluster.Member {
	ring, _ := c.workers.view(ctx)
	if ring == nil {
		return nil
	}
	return ring.Members()
}

// BlockHome is where one block of a file is cached.
type BlockHome struct {
	// Block is the block index; it covers [Offset, Offset+Length).
	Block  int64 `json:"block"`
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
	// Worker is the RPC address of the block's home worker (or of the
	// only worker holding a file that is not persisted).
	Worker string `json:"worker"`
}

// Locations lists the home worker of each block of a file
// (alluxio fs location).
func (c *Client) Locations(ctx context.Context, fi meta.FileInfo) []BlockHome {
	ring, _ := c.workers.view(ctx)
	return BlockHomes(fi, ring, c.blockSize())
}

// BlockHomes lists the home worker of each block of fi on ring, blocks
// being blockSize bytes; a file that is not persisted has all its blocks
// on the worker that holds it.
func BlockHomes(fi meta.FileInfo, ring *cluster.Ring, blockSize int64) []BlockHome {
	var out []BlockHome
	for b := int64(0); b*blockSize < fi.Size; b++ {
		h := BlockHome{Block: b, Offset: b * blockSize, Length: min(blockSize, fi.Size-b*blockSize)}
		switch {
		case !fi.Persisted && fi.Location != "":
			h.Worker = fi.Location
		case ring != nil:
			if m, ok := ring.Home(cluster.BlockKey(fi.ID, b)); ok {
				h.Worker = m.RPCAddr
			}
		}
		out = append(out, h)
	}
	return out
}

// RingOf is the ring of the workers the masters know (from heartbeats),
// named by RPC address as they name themselves: the view of a client with
// no worker of its own to ask.
func RingOf(workers []wire.WorkerInfo, vnodes int) *cluster.Ring {
	members := make([]cluster.Member, 0, len(workers))
	for _, w := range workers {
		members = append(members, cluster.Member{Name: w.Address, RPCAddr: w.Address, Gossip: w.Gossip})
	}
	return cluster.NewRing(members, vnodes)
}

// Load reads a file into the cache of its blocks' home workers
// (alluxio fs load), calling progress after each block with the bytes
// loaded so far.
func (c *Client) Load(ctx context.Context, fi meta.FileInfo, progress func(done int64)) error {
	if fi.IsDir {
		return &fs.PathError{Op: "load", Path: fi.Path, Err: syscall.EISDIR}
	}
	cc := c.WithTypes("CACHE", "")
	ref := wire.RefOf(fi)
	buf := make([]byte, maxReadCall)
	bs := c.blockSize()
	for off := int64(0); off < fi.Size; {
		n := min(int64(len(buf)), fi.Size-off, (off/bs+1)*bs-off)
		got, err := cc.readBlock(ctx, ref, buf[:n], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("load %s at %d: %w", fi.Path, off, err)
		}
		if got == 0 {
			return fmt.Errorf("load %s: the file ended at %d of %d bytes: %w", fi.Path, off, fi.Size, syscall.EIO)
		}
		off += int64(got)
		if progress != nil {
			progress(off)
		}
	}
	return nil
}

// Free drops a file's cached data from every live worker
// (alluxio fs free). A file that is not persisted cannot be freed: its
// cache holds the only copy.
func (c *Client) Free(ctx context.Context, fi meta.FileInfo) error {
	if !fi.IsDir && !fi.Persisted && fi.Completed {
		return &fs.PathError{Op: "free", Path: fi.Path, Err: fmt.Errorf("not persisted yet; persist it first: %w", syscall.EBUSY)}
	}
	if fi.Pinned {
		return &fs.PathError{Op: "free", Path: fi.Path, Err: fmt.Errorf("pinned; unpin it first: %w", syscall.EBUSY)}
	}
	return c.eachWorker(ctx, wire.WorkerFree, wire.IDRequest{ID: fi.ID})
}

// SetPinned tells every live worker to keep (or stop keeping) the cached
// data of an inode from eviction; the master records the pin separately.
func (c *Client) SetPinned(ctx context.Context, id uint64, pinned bool) error {
	return c.eachWorker(ctx, wire.WorkerSetPinned, wire.PinRequest{ID: id, Pinned: pinned})
}

// eachWorker makes one call on every live worker.
func (c *Client) eachWorker(ctx context.Context, method string, req any) error {
	ring, self := c.workers.view(ctx)
	if ring == nil || ring.Len() == 0 {
		if c.worker == nil {
			return fmt.Errorf("%s: no live worker known: %w", method, syscall.ENOTCONN)
		}
		_, err := c.worker.Call(ctx, method, req, nil, nil, nil)
		return err
	}
	var errs []error
	for _, m := range ring.Members() {
		if _, err := c.workers.client(m, self).Call(ctx, method, req, nil, nil, nil); err != nil {
			errs = append(errs, fmt.Errorf("worker %s: %w", m.RPCAddr, err))
		}
	}
	return errors.Join(errs...)
}

// Persist writes a file that is only cached to its under-store
// (alluxio fs persist): the worker holding it copies it out and tells the
// master. A persisted file is left alone.
func (c *Client) Persist(ctx context.Context, fi meta.FileInfo) error {
	if fi.IsDir || fi.Persisted {
		return nil
	}
	if !fi.Completed {
		return &fs.PathError{Op: "persist", Path: fi.Path, Err: fmt.Errorf("still being written: %w", syscall.EBUSY)}
	}
	_, self := c.workers.view(ctx)
	target := c.worker
	if fi.Location != "" && fi.Location != self {
		m := cluster.Member{Name: fi.Location, RPCAddr: fi.Location}
		target = c.workers.client(m, self)
	}
	if target == nil {
		return fmt.Errorf("persist %s: no worker to ask: %w", fi.Path, syscall.ENOTCONN)
	}
	_, err := target.Call(ctx, wire.WorkerPersist, wire.RefOf(fi), nil, nil, nil)
	return err
}

// ClearMetrics sets every live worker's traffic counters back to zero
// (alluxio fsadmin metrics clear); the masters' Cluster.* sums follow at
// the next heartbeats.
func (c *Client) ClearMetrics(ctx context.Context) error {
	return c.eachWorker(ctx, wire.WorkerClearMetrics, struct{}{})
}
