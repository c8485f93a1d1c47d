package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/alluxio-go/alluxio/blockstore"
	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
)

// maxLeaseWindow bounds the bytes one short-circuit read leases.
const maxLeaseWindow = 16 << 20

// handleReadLocal serves a short-circuit read of the node's FUSE daemon:
// the range is made cached as for a read (prefetch included) and leased,
// and the answer says where the bytes lie in the backing file, whose
// descriptor goes with it when the caller does not hold it yet. The lease
// pins the pages until the caller releases it (in a later call's Release)
// or its connection goes away. When the range cannot be leased the answer
// carries the bytes, as handleRead's does.
func (w *Worker) handleReadLocal(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.ReadLocalRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	conn, _ := rpc.ConnID(ctx)
	w.releaseLeases(conn, r.Release)
	if r.Length < 0 || r.Length > 4<<20 || r.Offset < 0 || r.Window < 0 || r.Window > maxLeaseWindow {
		return nil, fmt.Errorf("local read of file %d: bad range offset %d length %d window %d: %w",
			r.File.ID, r.Offset, r.Length, r.Window, syscall.EINVAL)
	}
	window := int64(max(r.Window, r.Length))
	if !isUnixPeer(req.Peer) {
		window = 0 // descriptors travel on UNIX sockets only: answer with bytes
	}
	if r.PrefetchLimit > 0 {
		ctx = blockstore.WithPrefetchLimit(ctx, r.PrefetchLimit)
	}
	if r.File.Pinned {
		w.notePinned(r.File.ID)
	}
	key, src, rt := keyOf(r.File), w.source(r.File), readTypeOf(r.ReadType)
	bp := readBufs.Get().(*[]byte)
	buf := (*bp)[:r.Length]
	answer := func(n int) (*rpc.Response, error) {
		w.countRead(req, int64(n))
		return &rpc.Response{Body: wire.ReadLocalResponse{Length: n}, Data: buf[:n], Done: func() { readBufs.Put(bp) }}, nil
	}
	if window == 0 {
		n, err := w.store.ReadAt(ctx, key, r.File.Size, src, buf, r.Offset, rt)
		if err != nil && !errors.Is(err, io.EOF) {
			readBufs.Put(bp)
			return nil, err
		}
		return answer(n)
	}
	l, n, err := w.store.ReadLease(ctx, key, r.File.Size, src, buf, r.Offset, window, rt)
	if err != nil && !errors.Is(err, io.EOF) {
		readBufs.Put(bp)
		return nil, err
	}
	if l == nil {
		return answer(n)
	}
	id := l.Backing()
	resp := wire.ReadLocalResponse{Length: n, Backing: wire.Backing{Dev: id.Dev, Ino: id.Ino}}
	var files []*os.File
	if resp.Backing != r.Have {
		f, err := l.Open()
		if err != nil {
			// Answer with the bytes instead.
			l.Release()
			w.log.Debug("short-circuit read: cannot open the backing file; answering with bytes", "file", r.File.ID, "err", err)
			n, err := w.store.ReadAt(ctx, key, r.File.Size, src, buf, r.Offset, rt)
			if err != nil && !errors.Is(err, io.EOF) {
				readBufs.Put(bp)
				return nil, err
			}
			return answer(n)
		}
		files = []*os.File{f}
		w.counters.shortCircuitFiles.Add(1)
	}
	readBufs.Put(bp)
	resp.Lease = w.addLease(conn, l.Release)
	w.counters.bytesShortCircuit.Add(int64(n))
	return &rpc.Response{Body: resp, Files: files}, nil
}

// releaseLeases ends the leases ids of connection conn; ids of other
// connections (or of an earlier worker run) are ignored.
func (w *Worker) releaseLeases(conn uint64, ids []uint64) {
	if len(ids) == 0 {
		return
	}
	var releases []func()
	w.stateMu.Lock()
	for _, id := range ids {
		if l, ok := w.leases[id]; ok && l.conn == conn {
			releases = append(releases, l.release)
			delete(w.leases, id)
		}
	}
	w.stateMu.Unlock()
	for _, release := range releases {
		release()
	}
}
