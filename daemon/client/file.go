package client

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// maxReadCall bounds the bytes asked of a worker in one call.
const maxReadCall = 4 << 20

// FileReader reads one version of a file: from the worker's fully cached
// backing file when the worker passed it, else page ranges over RPC.
type FileReader struct {
	c    *Client
	info meta.FileInfo
	ref  wire.FileRef
	// whole is the worker's backing file, pinned by lease until Close.
	whole *os.File
	lease uint64
	// pos is the offset of the next Read (io.Reader use by the CLI).
	pos int64
	// stale is set when the file changed under the reader (truncated by
	// path); the next read looks the file up again.
	stale atomic.Bool
}

// Invalidate makes the next read look the file up again (fuse.Invalidator).
func (r *FileReader) Invalidate() { r.stale.Store(true) }

// refresh takes the file's current version, by inode id.
func (r *FileReader) refresh(ctx context.Context) error {
	var fi meta.FileInfo
	if err := r.c.callMaster(ctx, wire.MasterStatusByID, true, wire.IDRequest{ID: r.info.ID}, &fi); err != nil {
		return err
	}
	if fi.Fingerprint != r.info.Fingerprint && r.whole != nil {
		r.Close()
	}
	r.info, r.ref = fi, wire.RefOf(fi)
	return nil
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
	r := &FileReader{c: c, info: fi, ref: wire.RefOf(fi)}
	if fi.Size > 0 && fi.Completed && c.worker != nil && c.cfg.WorkerNetwork == "unix" {
		var resp wire.OpenWholeResponse
		req := wire.OpenWholeRequest{File: r.ref, ReadType: c.cfg.ReadType}
		res, err := c.worker.Call(ctx, wire.WorkerOpenWhole, req, nil, &resp, nil)
		switch {
		case err != nil:
			c.log.Debug("open whole failed; reading by range", "path", path, "err", err)
		case resp.OK && len(res.Files) == 1:
			r.whole, r.lease = res.Files[0], resp.Lease
		default:
			for _, f := range res.Files {
				f.Close()
			}
		}
	}
	return r, nil
}

// Info is the file's metadata at open.
func (r *FileReader) Info() meta.FileInfo { return r.info }

// Size is the file length.
func (r *FileReader) Size() int64 { return r.info.Size }

// Version identifies the content being read.
func (r *FileReader) Version() string { return r.info.Fingerprint }

// Passthrough is the fully cached backing file, or nil.
func (r *FileReader) Passthrough() *os.File { return r.whole }

// ReadAt reads from off; it returns io.EOF with fewer bytes at the end.
func (r *FileReader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if r.stale.Swap(false) {
		if err := r.refresh(ctx); err != nil {
			return 0, err
		}
	}
	if off >= r.info.Size {
		return 0, io.EOF
	}
	if rest := r.info.Size - off; int64(len(p)) > rest {
		p = p[:rest]
	}
	if r.whole != nil {
		return r.whole.ReadAt(p, off)
	}
	w, err := r.c.workerClient()
	if err != nil {
		return 0, err
	}
	done := 0
	for done < len(p) {
		chunk := p[done:min(len(p), done+maxReadCall)]
		req := wire.ReadRequest{File: r.ref, Offset: off + int64(done), Length: len(chunk), ReadType: r.c.cfg.ReadType}
		res, err := w.Call(ctx, wire.WorkerRead, req, nil, nil, chunk)
		if err != nil {
			return done, err
		}
		n := copy(chunk, res.Data) // no copy when the data landed in chunk
		done += n
		if n < len(chunk) {
			return done, io.ErrUnexpectedEOF
		}
	}
	return done, nil
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

// Close releases the backing file and its lease.
func (r *FileReader) Close() error {
	if r.whole == nil {
		return nil
	}
	err := r.whole.Close()
	r.whole = nil
	if w, werr := r.c.workerClient(); werr == nil {
		_, lerr := w.Call(context.Background(), wire.WorkerReleaseLease, wire.LeaseRequest{Lease: r.lease}, nil, nil, nil)
		err = errors.Join(err, lerr)
	}
	return err
}

// Truncate is refused on a reader.
func (r *FileReader) Truncate(ctx context.Context, size int64) error {
	return &fs.PathError{Op: "truncate", Path: r.info.Path, Err: syscall.EBADF}
}
