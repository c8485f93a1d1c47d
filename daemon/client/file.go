package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/fuse"
	"github.com/alluxio-go/alluxio/meta"
)

// maxReadCall bounds the bytes asked of a worker in one call.
const maxReadCall = 4 << 20

var _ fuse.SpliceReader = (*FileReader)(nil)

// FileReader reads one version of a file: from the worker's fully cached
// backing file when the worker passed it; else, for blocks whose home is
// the local worker, from leased ranges of its backing file
// (short-circuit); else page ranges over RPC.
type FileReader struct {
	c *Client
	// mu guards the version being read: info, ref, and the worker's
	// backing file with the lease that pins it until Close.
	mu    sync.Mutex
	info  meta.FileInfo
	ref   wire.FileRef
	whole *wholeFile
	// pos is the offset of the next Read (io.Reader use by the CLI).
	pos int64
	// ahead serves sequential page-by-page reads in large calls.
	ahead readAhead
	// local serves reads from the local worker's backing file.
	local leaseReader
}

// wholeFile is a file the worker passed with all the bytes of a version:
// its fully cached backing file or the under-store's own file, under a
// lease, or the staging file of a write session (no lease). Its holder
// has a reference, and so does every read spliced from it until the
// kernel has the bytes; the last reference closes the file and ends the
// lease.
type wholeFile struct {
	c     *Client
	f     *os.File
	fd    uintptr // f's descriptor, for splicing
	lease uint64
	refs  atomic.Int32
}

func newWholeFile(c *Client, f *os.File, lease uint64) *wholeFile {
	w := &wholeFile{c: c, f: f, fd: f.Fd(), lease: lease}
	w.refs.Store(1)
	return w
}

// unref drops a reference; the last closes the file and ends the lease at
// the worker.
func (w *wholeFile) unref() error {
	if w == nil || w.refs.Add(-1) != 0 {
		return nil
	}
	err := w.f.Close()
	if w.lease == 0 {
		return err
	}
	if wc, werr := w.c.workerClient(); werr == nil {
		_, lerr := wc.Call(context.Background(), wire.WorkerReleaseLease, wire.LeaseRequest{Lease: w.lease}, nil, nil, nil)
		err = errors.Join(err, lerr)
	}
	return err
}

// view returns the version being read.
func (r *FileReader) view() (meta.FileInfo, wire.FileRef, *wholeFile) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info, r.ref, r.whole
}

// holdWhole is view, with a reference to the whole file (when the reader
// has it) that the caller drops.
func (r *FileReader) holdWhole() (meta.FileInfo, wire.FileRef, *wholeFile) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.whole != nil {
		r.whole.refs.Add(1)
	}
	return r.info, r.ref, r.whole
}

// Refresh takes the file's current version, by inode id: a truncate by
// path changed the bytes under the reader (fuse.Refresher). Like an open,
// it asks for the whole new version, so that the reader holds its bytes
// even after the name is unlinked and its pages have left the cache.
func (r *FileReader) Refresh(ctx context.Context) error {
	info, _, _ := r.view()
	fi, err := r.c.callInfo(ctx, wire.MasterStatusByID, true, wire.IDRequest{ID: info.ID})
	if err != nil {
		return err
	}
	r.mu.Lock()
	if fi.Fingerprint == r.info.Fingerprint {
		r.info, r.ref = fi, wire.RefOf(fi)
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	whole := r.c.openWhole(ctx, fi)
	r.mu.Lock()
	whole, r.whole = r.whole, whole
	r.info, r.ref = fi, wire.RefOf(fi)
	r.mu.Unlock()
	return whole.unref()
}

// OpenFile opens a file for reading. It asks the worker for the backing
// file when the file is complete and non-empty.
func (c *Client) OpenFile(ctx context.Context, path string) (*FileReader, error) {
	fi, err := c.GetStatus(ctx, path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir {
		return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.EISDIR}
	}
	return &FileReader{c: c, info: fi, ref: wire.RefOf(fi), whole: c.openWhole(ctx, fi)}, nil
}

// openWhole asks the local worker for the whole of version fi when it is
// complete and not empty; nil when the worker does not pass it, and the
// reader reads by range.
func (c *Client) openWhole(ctx context.Context, fi meta.FileInfo) *wholeFile {
	if fi.Size <= 0 || !fi.Completed || c.worker == nil || c.cfg.WorkerNetwork != "unix" {
		return nil
	}
	var resp wire.OpenWholeResponse
	req := wire.OpenWholeRequest{File: wire.RefOf(fi), ReadType: c.cfg.ReadType}
	res, err := c.worker.Call(ctx, wire.WorkerOpenWhole, req, nil, &resp, nil)
	switch {
	case err != nil:
		c.log.Debug("open whole failed; reading by range", "path", fi.Path, "err", err)
	case resp.OK && len(res.Files) == 1:
		return newWholeFile(c, res.Files[0], resp.Lease)
	default:
		for _, f := range res.Files {
			f.Close()
		}
	}
	return nil
}

// Info is the file's metadata as the reader knows it.
func (r *FileReader) Info() meta.FileInfo {
	info, _, _ := r.view()
	return info
}

// Size is the file length.
func (r *FileReader) Size() int64 { return r.Info().Size }

// Version identifies the content being read.
func (r *FileReader) Version() string { return r.Info().Fingerprint }

// Passthrough is the fully cached backing file, or nil.
func (r *FileReader) Passthrough() *os.File {
	_, _, whole := r.view()
	if whole == nil {
		return nil
	}
	return whole.f
}

// ReadAt reads from off; it returns io.EOF with fewer bytes at the end.
func (r *FileReader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	info, ref, whole := r.view()
	if off >= info.Size {
		return 0, io.EOF
	}
	if rest := info.Size - off; int64(len(p)) > rest {
		p = p[:rest]
	}
	if whole != nil {
		return whole.f.ReadAt(p, off)
	}
	if sp, n, ok, err := r.readShort(ctx, ref, p, off); ok {
		if err != nil || sp == nil {
			return n, err
		}
		n, err := sp.win.file.f.ReadAt(p, sp.off)
		sp.done(r.c)
		if err != nil {
			return n, fmt.Errorf("short-circuit read of file %d at %d: %w", ref.ID, off, err)
		}
		return n, nil
	}
	if n, ok, err := r.ahead.read(ctx, r.c, ref, p, off); ok {
		return n, err
	}
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		blockEnd := (pos/r.c.blockSize() + 1) * r.c.blockSize()
		chunk := p[done:min(len(p), done+maxReadCall, done+int(blockEnd-pos))]
		n, err := r.c.readBlock(ctx, ref, chunk, pos)
		done += n
		if err != nil {
			return done, err
		}
		if n < len(chunk) {
			return done, io.ErrUnexpectedEOF
		}
	}
	return done, nil
}

// ReadSplice answers a FUSE read: with a range of the whole file when the
// worker passed it, or of the local worker's backing file when the bytes
// can be leased there (the kernel copies them itself), else into dest as
// ReadAt does.
func (r *FileReader) ReadSplice(ctx context.Context, dest []byte, off int64) (*fuse.Splice, int, error) {
	info, ref, whole := r.holdWhole()
	if off >= info.Size {
		whole.unref()
		return nil, 0, io.EOF
	}
	if rest := info.Size - off; int64(len(dest)) > rest {
		dest = dest[:rest]
	}
	if whole != nil {
		return &fuse.Splice{Fd: whole.fd, Off: off, Len: len(dest), Done: func() { whole.unref() }}, 0, nil
	}
	if sp, n, ok, err := r.readShort(ctx, ref, dest, off); ok {
		if err != nil || sp == nil {
			return nil, n, err
		}
		return &fuse.Splice{Fd: sp.win.file.fd, Off: sp.off, Len: sp.n, Done: func() { sp.done(r.c) }}, 0, nil
	}
	n, err := r.ReadAt(ctx, dest, off)
	return nil, n, err
}

// readShort reads p at off (within the file) by short-circuit when p lies
// in one block whose home is the local worker. ok is false when the read
// is to go through the socket. Otherwise either sp is the bytes' place in
// a backing file (the caller calls sp.done when finished with it) or the
// worker answered with the bytes, in p[:n].
func (r *FileReader) readShort(ctx context.Context, ref wire.FileRef, p []byte, off int64) (sp *leaseSpan, n int, ok bool, err error) {
	if len(p) == 0 || len(p) > maxReadCall || !r.c.shortCircuitable() {
		return nil, 0, false, nil
	}
	bs := r.c.blockSize()
	if off/bs != (off+int64(len(p))-1)/bs {
		return nil, 0, false, nil
	}
	local, spread := r.c.localHome(ctx, ref, off)
	if !local {
		return nil, 0, false, nil
	}
	sp, n, err = r.local.read(ctx, r.c, ref, p, off, spread)
	if errors.Is(err, errNoShortCircuit) {
		return nil, 0, false, nil
	}
	if err == nil && sp == nil && n < len(p) {
		err = io.ErrUnexpectedEOF
	}
	return sp, n, true, err
}

// Read implements io.Reader for sequential use.
func (r *FileReader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(context.Background(), p, r.pos)
	r.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Close releases the backing files and their leases.
func (r *FileReader) Close() error {
	r.local.close(r.c)
	r.mu.Lock()
	whole := r.whole
	r.whole = nil
	r.mu.Unlock()
	return whole.unref()
}

// Truncate is refused on a reader.
func (r *FileReader) Truncate(ctx context.Context, size int64) error {
	return &fs.PathError{Op: "truncate", Path: r.Info().Path, Err: syscall.EBADF}
}
