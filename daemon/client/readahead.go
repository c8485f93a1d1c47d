package client

import (
	"context"
	"sync"

	"github.com/alluxio-go/alluxio/daemon/wire"
)

// readAheadWindow is how much a sequential reader's next call fetches in
// one worker call: the kernel asks a FUSE daemon for 128 KiB at a time, and
// one round trip per 128 KiB over TCP costs more than the bytes.
const readAheadWindow = 4 << 20

// readAhead holds bytes fetched ahead of a sequential reader of one file
// version. Its mutex also serialises the fetches, so that concurrent
// kernel read-ahead requests wait for the window rather than each making a
// call of its own.
type readAhead struct {
	mu   sync.Mutex
	fp   string // the version the window holds
	buf  []byte
	off  int64 // file offset of buf[0]
	n    int   // valid bytes in buf
	next int64 // where a sequential reader goes on
}

// read serves p at off from the window, filling it first when the reader
// is sequential. ok is false when the caller should read p itself.
func (ra *readAhead) read(ctx context.Context, c *Client, ref wire.FileRef, p []byte, off int64) (n int, ok bool, err error) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.fp != ref.Fingerprint {
		ra.fp, ra.n, ra.next = ref.Fingerprint, 0, -1
	}
	end := off + int64(len(p))
	if off >= ra.off && end <= ra.off+int64(ra.n) {
		ra.next = end
		return copy(p, ra.buf[off-ra.off:]), true, nil
	}
	sequential := off == ra.next
	ra.next = end
	if !sequential || len(p) >= readAheadWindow/2 {
		return 0, false, nil
	}
	bs := c.blockSize()
	win := min(int64(readAheadWindow), ref.Size-off, (off/bs+1)*bs-off)
	if win < int64(len(p)) {
		return 0, false, nil // p crosses a block boundary: read it as is
	}
	if ra.buf == nil {
		ra.buf = make([]byte, readAheadWindow)
	}
	got, err := c.readBlock(ctx, ref, ra.buf[:win], off)
	ra.off, ra.n = off, got
	if err != nil {
		ra.n = 0
		return 0, true, err
	}
	return copy(p, ra.buf[:got]), true, nil
}
