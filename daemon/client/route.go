package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/cluster"
	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
)

// How the client keeps its view of the worker cluster.
const (
	// membersTTL is how long a view of the live workers is used before it
	// is asked for again (from the local worker, else the masters).
	membersTTL = 2 * time.Second
	// downFor is how long a worker that failed a call is tried last, while
	// gossip has not yet declared it dead.
	downFor = 10 * time.Second
	// remoteCallTimeout bounds one read from a remote worker, so that a
	// worker that hangs is failed over rather than waited on forever.
	remoteCallTimeout = 30 * time.Second
)

// workerSet routes data calls to the workers: each block of a file has a
// home worker, found by consistent hashing over the live workers, so every
// client agrees on where a block is cached without asking the master.
type workerSet struct {
	c *Client

	// mu guards the fields below.
	mu        sync.Mutex
	ring      *cluster.Ring
	self      string // the local worker's member name; "" if unknown
	refreshed time.Time
	remote    map[string]*rpc.Client // by RPC address
	down      map[string]time.Time   // member name -> when it failed

	// sc is the state of short-circuit reads from the local worker.
	sc shortCircuit
}

// target is one worker to try for a call.
type target struct {
	name string
	rpc  *rpc.Client
}

// view returns the current ring and the local worker's name, refreshing
// them when stale. A failed refresh keeps the last view.
func (ws *workerSet) view(ctx context.Context) (*cluster.Ring, string) {
	ws.mu.Lock()
	if ws.ring != nil && time.Since(ws.refreshed) < membersTTL {
		defer ws.mu.Unlock()
		return ws.ring, ws.self
	}
	ws.refreshed = time.Now() // one refresher at a time; others use the old view
	ring, self := ws.ring, ws.self
	ws.mu.Unlock()

	if r, s, err := ws.fetch(ctx); err == nil {
		ring, self = r, s
		ws.mu.Lock()
		ws.ring, ws.self = r, s
		ws.mu.Unlock()
	} else {
		ws.c.log.Debug("refreshing the worker list failed; keeping the last one", "err", err)
	}
	return ring, self
}

// fetch asks the local worker for the live workers, or the masters when
// there is no local worker.
func (ws *workerSet) fetch(ctx context.Context) (*cluster.Ring, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var localErr error
	if ws.c.worker != nil {
		var resp wire.MembersResponse
		_, err := ws.c.worker.Call(ctx, wire.WorkerMembers, struct{}{}, nil, &resp, nil)
		if err == nil && len(resp.Members) > 0 {
			return cluster.NewRing(resp.Members, resp.VirtualNodes), resp.Self.Name, nil
		}
		localErr = err
	}
	var info wire.InfoResponse
	if err := ws.c.callMaster(ctx, wire.MasterInfo, true, struct{}{}, &info); err != nil {
		return nil, "", errors.Join(localErr, err)
	}
	return RingOf(info.Workers, ws.c.cfg.VirtualNodes), "", nil
}

// client returns the connection to a member: the UNIX socket for the local
// worker, TCP otherwise.
func (ws *workerSet) client(m cluster.Member, self string) *rpc.Client {
	if m.Name == self && ws.c.worker != nil {
		return ws.c.worker
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.remote == nil {
		ws.remote = map[string]*rpc.Client{}
	}
	cl := ws.remote[m.RPCAddr]
	if cl == nil {
		cl = rpc.NewClient("tcp", m.RPCAddr)
		ws.remote[m.RPCAddr] = cl
	}
	return cl
}

// markDown records that a worker failed a call.
func (ws *workerSet) markDown(name string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.down == nil {
		ws.down = map[string]time.Time{}
	}
	ws.down[name] = time.Now()
	ws.refreshed = time.Time{} // ask for the members again soon
}

func (ws *workerSet) isDown(name string) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	at, ok := ws.down[name]
	if ok && time.Since(at) > downFor {
		delete(ws.down, name)
		return false
	}
	return ok
}

// targets lists the workers to try for the block of ref at off, best
// first: the block's home and its successors on the ring (workers that
// failed recently last), then the local worker. A file that is not
// persisted lives only on the worker that wrote it, so that worker is the
// only target. spread reports that the file's blocks have different homes.
func (ws *workerSet) targets(ctx context.Context, ref wire.FileRef, off int64) (ts []target, spread bool) {
	ring, self := ws.view(ctx)
	if !ref.Persisted && ref.Location != "" {
		m := cluster.Member{Name: ref.Location, RPCAddr: ref.Location}
		return []target{{name: m.Name, rpc: ws.client(m, self)}}, false
	}
	var out, later []target
	selfListed := false
	if ring != nil && ring.Len() > 0 {
		for _, m := range ring.Successors(cluster.BlockKey(ref.ID, off/ws.c.blockSize()), 3) {
			selfListed = selfListed || m.Name == self
			t := target{name: m.Name, rpc: ws.client(m, self)}
			if ws.isDown(m.Name) {
				later = append(later, t)
			} else {
				out = append(out, t)
			}
		}
	}
	out = append(out, later...)
	if ws.c.worker != nil && (self == "" || !selfListed) {
		out = append(out, target{name: self, rpc: ws.c.worker})
	}
	return out, ring != nil && ring.Len() > 1
}

// close closes the remote connections.
func (ws *workerSet) close() error {
	ws.sc.close()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	var err error
	for addr, cl := range ws.remote {
		err = errors.Join(err, cl.Close())
		delete(ws.remote, addr)
	}
	return err
}

// failover reports whether err means the worker is gone (the call may be
// retried on another one) rather than an answer that the read failed.
func failover(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var rerr *rpc.Error
	return !errors.As(err, &rerr)
}

// readBlock reads p from ref at off, which must not cross a block
// boundary, from the block's home worker, failing over to the next ones.
func (c *Client) readBlock(ctx context.Context, ref wire.FileRef, p []byte, off int64) (int, error) {
	req := wire.ReadRequest{File: ref, Offset: off, Length: len(p), ReadType: c.cfg.ReadType}
	targets, spread := c.workers.targets(ctx, ref, off)
	if spread {
		req.PrefetchLimit = (off/c.blockSize() + 1) * c.blockSize()
	}
	var errs []error
	for _, t := range targets {
		callCtx, cancel := ctx, context.CancelFunc(func() {})
		if t.rpc != c.worker {
			callCtx, cancel = context.WithTimeout(ctx, remoteCallTimeout)
		}
		res, err := t.rpc.Call(callCtx, wire.WorkerRead, req, nil, nil, p)
		cancel()
		if err == nil {
			return copy(p, res.Data), nil // no copy when the data landed in p
		}
		if !failover(ctx, err) {
			return 0, err
		}
		c.log.Debug("worker failed a read; trying the next one", "worker", t.name, "file", ref.ID, "err", err)
		c.workers.markDown(t.name)
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return 0, fmt.Errorf("read of file %d: no worker to read from: %w", ref.ID, syscall.ENOTCONN)
	}
	return 0, fmt.Errorf("read of file %d at %d: every worker failed: %w: %w", ref.ID, off, syscall.EIO, errors.Join(errs...))
}

// blockSize is the unit of placement (alluxio.user.block.size.bytes.default).
func (c *Client) blockSize() int64 {
	if c.cfg.BlockSize > 0 {
		return c.cfg.BlockSize
	}
	return DefaultBlockSize
}
