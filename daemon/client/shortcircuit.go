package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
)

// Short-circuit reads: when a block's home is the node's own worker, the
// client asks it (WorkerReadLocal) to make a window of the file cached and
// lease it, and reads the bytes from the worker's backing file itself,
// through a descriptor the worker passes once per backing file. The lease
// pins the pages until the client is done with the window; releases ride
// on the next call, or on a call of their own after releaseDelay.
const (
	// releaseDelay is how long a finished lease waits for the next local
	// read to carry its release before a call of its own does.
	releaseDelay = 20 * time.Millisecond
	// unsupportedFor is how long a worker that does not know
	// WorkerReadLocal (an older worker) is not asked again.
	unsupportedFor = time.Minute
	// noLeaseFor is how long a reader whose range the worker could not
	// lease (no room to cache, a tier that verifies reads) reads through
	// the socket before it tries again.
	noLeaseFor = time.Second
)

// shortCircuit is the client-wide state of short-circuit reads.
type shortCircuit struct {
	off atomic.Bool // alluxio.user.short.circuit.enabled=false

	// mu guards the fields below.
	mu          sync.Mutex
	pending     []uint64 // leases done with, to release
	timer       *time.Timer
	unsupported time.Time // the worker answered ENOSYS until then
	closed      bool
}

// SetShortCircuit turns short-circuit reads from the local worker's backing
// files on or off (alluxio.user.short.circuit.enabled; on by default).
// Clients made by WithTypes share the setting.
func (c *Client) SetShortCircuit(enabled bool) { c.workers.sc.off.Store(!enabled) }

// shortCircuitable reports whether reads may try the local worker's
// backing files at all.
func (c *Client) shortCircuitable() bool {
	if c.worker == nil || c.cfg.WorkerNetwork != "unix" || c.workers.sc.off.Load() {
		return false
	}
	sc := &c.workers.sc
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return !sc.closed && time.Now().After(sc.unsupported)
}

// localHome reports whether the block of ref at off is served by the
// local worker, and whether the file's blocks have different homes.
func (c *Client) localHome(ctx context.Context, ref wire.FileRef, off int64) (local, spread bool) {
	ts, spread := c.workers.targets(ctx, ref, off)
	return len(ts) > 0 && ts[0].rpc == c.worker, spread
}

// release queues a lease to be released with the next local read, or after
// releaseDelay by a call of its own.
func (sc *shortCircuit) release(c *Client, id uint64) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return // the connection goes, and the worker ends its leases
	}
	sc.pending = append(sc.pending, id)
	if sc.timer == nil {
		sc.timer = time.AfterFunc(releaseDelay, func() { sc.flush(c) })
	}
}

// take removes the queued releases, for a call to carry.
func (sc *shortCircuit) take() []uint64 {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	ids := sc.pending
	sc.pending = nil
	return ids
}

// requeue puts back releases a failed call may not have delivered; the
// worker ignores a second release of a lease.
func (sc *shortCircuit) requeue(c *Client, ids []uint64) {
	for _, id := range ids {
		sc.release(c, id)
	}
}

// flush releases the queued leases in a call of their own (the timer's
// goroutine; it ends with the call).
func (sc *shortCircuit) flush(c *Client) {
	sc.mu.Lock()
	sc.timer = nil
	ids := sc.pending
	sc.pending = nil
	closed := sc.closed
	sc.mu.Unlock()
	if len(ids) == 0 || closed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.worker.Call(ctx, wire.WorkerReleaseLease, wire.LeaseRequest{Leases: ids}, nil, nil, nil); err != nil {
		// A broken connection ended the leases at the worker.
		c.log.Debug("releasing short-circuit leases failed", "leases", len(ids), "err", err)
	}
}

// close stops the release timer; the leases end with the connection.
func (sc *shortCircuit) close() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.closed = true
	if sc.timer != nil {
		sc.timer.Stop()
		sc.timer = nil
	}
	sc.pending = nil
}

// backingFile is a descriptor of a worker's backing file, shared by the
// windows read from it and closed when the last lets go.
type backingFile struct {
	f    *os.File
	fd   uintptr // f's descriptor, for splicing
	id   wire.Backing
	refs atomic.Int32
}

func newBackingFile(f *os.File, id wire.Backing) *backingFile {
	b := &backingFile{f: f, fd: f.Fd(), id: id}
	b.refs.Store(1)
	return b
}

func (b *backingFile) ref() { b.refs.Add(1) }

func (b *backingFile) unref() {
	if b.refs.Add(-1) == 0 {
		b.f.Close()
	}
}

// leaseWin is a window of a file leased from the local worker. Until done
// is closed the call that fetches it owns id, n, file and err.
type leaseWin struct {
	off  int64
	want int // bytes asked for
	n    int // bytes leased; 0 when not leased
	id   uint64
	file *backingFile
	// alive reports whether the connection that holds the lease is up: a
	// worker that restarted knows nothing of it, and may evict its pages.
	alive func() bool
	err   error
	done  chan struct{}
	// refs counts the reader's hold on the window and the spans of it in
	// use; at 0 the lease is released.
	refs atomic.Int32
}

func (w *leaseWin) covers(off, end int64) bool {
	return w.id != 0 && off >= w.off && end <= w.off+int64(w.n) && w.alive()
}

// unref drops a reference; the last releases the lease.
func (w *leaseWin) unref(c *Client) {
	if w.refs.Add(-1) != 0 {
		return
	}
	if w.id != 0 {
		c.workers.sc.release(c, w.id)
	}
	if w.file != nil {
		w.file.unref()
	}
}

// leaseSpan is the bytes of one read in a leased window.
type leaseSpan struct {
	win *leaseWin
	off int64
	n   int
}

// leaseReader serves one file reader's reads by short-circuit: the current
// window, and for a sequential reader the next one, leased in the
// background while the reader consumes the current one. Its mutex
// serialises the reader's calls, as readAhead's does.
type leaseReader struct {
	mu     sync.Mutex
	fp     string    // the version the windows are of
	cur    *leaseWin // leased, or nil
	nxt    *leaseWin // in flight or done, or nil
	next   int64     // where a sequential reader goes on
	paused time.Time // reads go through the socket until then
	closed bool

	// fileMu guards file, the last backing file the worker passed
	// (held until close; background calls install it too), and
	// fileClosed.
	fileMu     sync.Mutex
	file       *backingFile
	fileClosed bool
}

// errNoShortCircuit says a read is to go through the socket.
var errNoShortCircuit = errors.New("short-circuit read not possible")

// read serves p at off (within one block whose home is the local worker)
// from a leased window: sp is the bytes' place in the backing file (the
// caller calls done when finished with it), or, when the worker answered
// with the bytes instead, they are in p[:n]. It returns errNoShortCircuit
// when the read is to go through the socket.
func (lr *leaseReader) read(ctx context.Context, c *Client, ref wire.FileRef, p []byte, off int64, spread bool) (sp *leaseSpan, n int, err error) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.closed || time.Now().Before(lr.paused) {
		return nil, 0, errNoShortCircuit
	}
	if lr.fp != ref.Fingerprint {
		lr.dropLocked(c)
		lr.fp, lr.next = ref.Fingerprint, -1
	}
	end := off + int64(len(p))
	if (lr.cur == nil || !lr.cur.covers(off, end)) && lr.nxt != nil &&
		off >= lr.nxt.off && off < lr.nxt.off+int64(lr.nxt.want) {
		// The reader reached the window leased ahead.
		select {
		case <-lr.nxt.done:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
		lr.retire(c, lr.cur)
		lr.cur, lr.nxt = lr.nxt, nil
	}
	if lr.cur != nil && lr.cur.covers(off, end) {
		lr.next = end
		sp = lr.spanLocked(off, len(p))
		lr.aheadLocked(c, ref, spread)
		return sp, 0, nil
	}
	sequential := off == lr.next
	lr.next = end
	want := len(p)
	if sequential {
		want = max(want, int(span(c, ref, off)))
	}
	w := &leaseWin{off: off, want: want, done: make(chan struct{})}
	w.refs.Store(1)
	n, err = lr.call(ctx, c, ref, p, w, spread)
	close(w.done)
	if err != nil {
		return nil, 0, err
	}
	if w.id == 0 {
		w.unref(c)
		lr.paused = time.Now().Add(noLeaseFor)
		return nil, n, nil
	}
	sp = &leaseSpan{win: w, off: off, n: len(p)}
	w.refs.Add(1)
	if !sequential {
		// A read out of the sequential stream (a random reader, or the
		// kernel's requests arriving out of order) keeps the stream's
		// window: its own is released once the span is done.
		w.unref(c)
		return sp, 0, nil
	}
	lr.retire(c, lr.cur)
	lr.cur = w
	lr.aheadLocked(c, ref, spread)
	return sp, 0, nil
}

// spanLocked returns the span of the current window at off.
func (lr *leaseReader) spanLocked(off int64, n int) *leaseSpan {
	lr.cur.refs.Add(1)
	return &leaseSpan{win: lr.cur, off: off, n: n}
}

// aheadLocked leases the window after the current one in the background
// once the reader is half way through the current one, when its block's
// home is the local worker too.
func (lr *leaseReader) aheadLocked(c *Client, ref wire.FileRef, spread bool) {
	cur := lr.cur
	start := cur.off + int64(cur.n)
	if lr.nxt != nil || start >= ref.Size || lr.next < cur.off+int64(cur.n)/2 {
		return
	}
	if spread {
		if local, _ := c.localHome(context.Background(), ref, start); !local {
			return
		}
	}
	w := &leaseWin{off: start, want: int(span(c, ref, start)), done: make(chan struct{})}
	w.refs.Store(1)
	lr.nxt = w
	go func() {
		defer close(w.done)
		// Not the kernel request's context: the call outlives it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, w.err = lr.call(ctx, c, ref, nil, w, spread)
	}()
}

// call asks the local worker to lease w (the bytes of p as well when it
// cannot) and records the lease in w. It returns the bytes the worker put
// in p instead, or errNoShortCircuit when the socket path should serve
// the read (an older worker, a broken connection, an inconsistent answer).
func (lr *leaseReader) call(ctx context.Context, c *Client, ref wire.FileRef, p []byte, w *leaseWin, spread bool) (int, error) {
	sc := &c.workers.sc
	lr.fileMu.Lock()
	var have wire.Backing
	if lr.file != nil {
		have = lr.file.id
	}
	lr.fileMu.Unlock()
	req := wire.ReadLocalRequest{
		ReadRequest: wire.ReadRequest{File: ref, Offset: w.off, Length: len(p), ReadType: c.cfg.ReadType},
		Window:      w.want,
		Have:        have,
		Release:     sc.take(),
	}
	if spread {
		req.PrefetchLimit = (w.off/c.blockSize() + 1) * c.blockSize()
	}
	var resp wire.ReadLocalResponse
	res, err := c.worker.Call(ctx, wire.WorkerReadLocal, req, nil, &resp, p)
	if err != nil {
		sc.requeue(c, req.Release)
		var rerr *rpc.Error
		switch {
		case errors.Is(err, syscall.ENOSYS):
			sc.mu.Lock()
			sc.unsupported = time.Now().Add(unsupportedFor)
			sc.mu.Unlock()
			c.log.Debug("the local worker does not serve short-circuit reads; reading through the socket", "err", err)
			return 0, errNoShortCircuit
		case !errors.As(err, &rerr) && ctx.Err() == nil:
			return 0, errNoShortCircuit // the socket path fails over
		}
		return 0, err
	}
	if resp.Lease == 0 {
		closeAll(res.Files)
		if resp.Length > len(p) || len(res.Data) < resp.Length {
			return 0, fmt.Errorf("local read of file %d at %d: worker answered %d bytes of %d asked: %w",
				ref.ID, w.off, len(res.Data), len(p), syscall.EIO)
		}
		return copy(p, res.Data[:resp.Length]), nil
	}
	file, err := lr.install(res.Files, resp.Backing)
	if err != nil || resp.Length < min(len(p), int(ref.Size-w.off)) {
		// Never read a lease from a file we cannot prove is its own.
		sc.release(c, resp.Lease)
		if err == nil {
			file.unref()
		}
		c.log.Debug("short-circuit answer unusable; reading through the socket", "file", ref.ID, "err", err)
		return 0, errNoShortCircuit
	}
	w.id, w.n, w.file, w.alive = resp.Lease, resp.Length, file, res.Alive
	if w.alive == nil {
		w.alive = func() bool { return true }
	}
	return 0, nil
}

// install returns the backing file the worker named (a reference held
// for the caller): the descriptor it passed, checked to be that file and
// kept for later calls, or the one held already.
func (lr *leaseReader) install(files []*os.File, id wire.Backing) (*backingFile, error) {
	lr.fileMu.Lock()
	defer lr.fileMu.Unlock()
	if lr.fileClosed || len(files) > 1 {
		closeAll(files)
		return nil, fmt.Errorf("worker passed %d descriptors to a reader (closed %t): %w", len(files), lr.fileClosed, syscall.EPROTO)
	}
	if len(files) == 1 {
		got, err := backingOf(files[0])
		if err != nil || got != id {
			files[0].Close()
			return nil, fmt.Errorf("passed descriptor is %v (%v), the lease names %v: %w", got, err, id, syscall.EPROTO)
		}
		if lr.file != nil {
			lr.file.unref()
		}
		lr.file = newBackingFile(files[0], id)
	}
	if lr.file == nil || lr.file.id != id {
		return nil, fmt.Errorf("lease names backing file %v, which was not passed: %w", id, syscall.EPROTO)
	}
	lr.file.ref()
	return lr.file, nil
}

// retire drops the reader's hold on w; its lease is released once no span
// of it is in use. A window still in flight is retired when it lands.
func (lr *leaseReader) retire(c *Client, w *leaseWin) {
	if w == nil {
		return
	}
	select {
	case <-w.done:
		w.unref(c)
	default:
		go func() { // ends when the call does
			<-w.done
			w.unref(c)
		}()
	}
}

// dropLocked retires both windows.
func (lr *leaseReader) dropLocked(c *Client) {
	lr.retire(c, lr.cur)
	lr.retire(c, lr.nxt)
	lr.cur, lr.nxt = nil, nil
}

// close retires the windows and lets go of the backing file; spans in use
// keep what they need until done.
func (lr *leaseReader) close(c *Client) {
	lr.mu.Lock()
	lr.dropLocked(c)
	lr.closed = true
	lr.mu.Unlock()
	lr.fileMu.Lock()
	lr.fileClosed = true
	if lr.file != nil {
		lr.file.unref()
		lr.file = nil
	}
	lr.fileMu.Unlock()
}

// done ends the use of a span.
func (sp *leaseSpan) done(c *Client) { sp.win.unref(c) }

// backingOf is the device and inode of f.
func backingOf(f *os.File) (wire.Backing, error) {
	fi, err := f.Stat()
	if err != nil {
		return wire.Backing{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return wire.Backing{}, fmt.Errorf("stat %s: no device and inode: %w", f.Name(), syscall.EOPNOTSUPP)
	}
	return wire.Backing{Dev: uint64(st.Dev), Ino: st.Ino}, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
