package client

import (
	"context"
	"sync"
	"time"

	"github.com/alluxio-go/alluxio/daemon/wire"
)

// readAheadWindow is how much a sequential reader's calls fetch at once:
// the kernel asks a FUSE daemon for 128 KiB at a time, and one round trip
// per 128 KiB over TCP costs more than the bytes.
const readAheadWindow = 4 << 20

// window is a range of a file fetched ahead. Until done is closed the
// fetching goroutine owns buf, n and err.
type window struct {
	buf  []byte
	off  int64
	n    int
	err  error
	done chan struct{}
}

func (w *window) covers(off, end int64) bool {
	return w.err == nil && off >= w.off && end <= w.off+int64(w.n)
}

// readAhead serves a sequential reader of one file version from windows
// of readAheadWindow bytes: the current one, and the next one, fetched in
// the background while the reader consumes the current one. Its mutex
// serialises the reader's calls, so concurrent kernel read-ahead requests
// wait for a window rather than each making a call of its own.
type readAhead struct {
	mu    sync.Mutex
	fp    string  // the version the windows hold
	cur   *window // complete, or nil
	nxt   *window // in flight or complete, or nil
	spare []byte  // a buffer to fetch the next window into
	next  int64   // where a sequential reader goes on
}

// read serves p at off from the windows, fetching when the reader is
// sequential. ok is false when the caller should read p itself.
func (ra *readAhead) read(ctx context.Context, c *Client, ref wire.FileRef, p []byte, off int64) (n int, ok bool, err error) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.fp != ref.Fingerprint {
		ra.fp, ra.cur, ra.nxt, ra.next = ref.Fingerprint, nil, nil, -1
	}
	end := off + int64(len(p))
	if ra.cur == nil || !ra.cur.covers(off, end) {
		if ra.nxt != nil && off >= ra.nxt.off && off < ra.nxt.off+int64(len(ra.nxt.buf)) {
			// The reader reached the window being fetched ahead.
			select {
			case <-ra.nxt.done:
			case <-ctx.Done():
				return 0, true, ctx.Err()
			}
			ra.retire(ra.cur)
			ra.cur, ra.nxt = ra.nxt, nil
		}
	}
	if ra.cur != nil && ra.cur.covers(off, end) {
		ra.next = end
		n = copy(p, ra.cur.buf[off-ra.cur.off:ra.cur.n])
		ra.ahead(c, ref, off)
		return n, true, nil
	}
	sequential := off == ra.next
	ra.next = end
	if !sequential || len(p) >= readAheadWindow/2 {
		return 0, false, nil
	}
	w := ra.fetchSync(ctx, c, ref, off)
	if w == nil {
		return 0, false, nil // p crosses a block boundary: read it as is
	}
	if w.err != nil {
		return 0, true, w.err
	}
	ra.retire(ra.cur)
	ra.cur, ra.nxt = w, nil // a window in flight elsewhere is dropped
	n = copy(p, w.buf[:w.n])
	ra.ahead(c, ref, off)
	return n, true, nil
}

// span is the window starting at off: up to readAheadWindow bytes, within
// the file and within off's block (blocks may have different homes).
func span(c *Client, ref wire.FileRef, off int64) int64 {
	bs := c.blockSize()
	return min(int64(readAheadWindow), ref.Size-off, (off/bs+1)*bs-off)
}

func (ra *readAhead) buffer() []byte {
	if b := ra.spare; b != nil {
		ra.spare = nil
		return b
	}
	return make([]byte, readAheadWindow)
}

// retire keeps a finished window's buffer for the next fetch.
func (ra *readAhead) retire(w *window) {
	if w != nil && ra.spare == nil {
		ra.spare = w.buf[:cap(w.buf)]
	}
}

// fetchSync fetches the window at off in the caller's call; nil when
// that window would not hold a reader's request at off (a block boundary
// is too close).
func (ra *readAhead) fetchSync(ctx context.Context, c *Client, ref wire.FileRef, off int64) *window {
	win := span(c, ref, off)
	if win < readAheadWindow/2 && off+win < ref.Size {
		return nil
	}
	w := &window{buf: ra.buffer()[:win], off: off}
	w.n, w.err = c.readBlock(ctx, ref, w.buf, off)
	return w
}

// ahead starts fetching the window after the current one once the reader
// at off is half way through the current one.
func (ra *readAhead) ahead(c *Client, ref wire.FileRef, off int64) {
	cur := ra.cur
	start := cur.off + int64(cur.n)
	if ra.nxt != nil || start >= ref.Size || off < cur.off+int64(cur.n)/2 {
		return
	}
	w := &window{buf: ra.buffer()[:span(c, ref, start)], off: start, done: make(chan struct{})}
	ra.nxt = w
	go func() {
		defer close(w.done)
		// Not the kernel request's context: the fetch outlives it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w.n, w.err = c.readBlock(ctx, ref, w.buf, w.off)
	}()
}
