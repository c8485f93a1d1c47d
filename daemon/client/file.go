package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
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
	if r.lease == 0 {
		return err // the under-store's own file: nothing pinned
	}
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

// FileWriter writes a file through the worker: sequential writes stream to
// the worker (and through it to the under-store as the write type says);
// the file is completed at the master on Flush/Close. Writing after a
// commit starts a new version that keeps the committed bytes (append).
type FileWriter struct {
	c    *Client
	path string

	// mu serialises writes and commits of this handle.
	mu sync.Mutex
	// info is the inode of the version being written or last committed.
	info meta.FileInfo
	// session is the worker's write session, 0 when none is open.
	session uint64
	// size is the length of the file as written through this handle.
	size int64
	// dirty is set by writes since the last commit.
	dirty bool
	// completed is set once the master has the file complete.
	completed bool
}

// CreateOptions tune a new file.
type CreateOptions struct {
	Mode, UID, GID uint32
	// Exclusive fails with EEXIST when the file exists (O_EXCL).
	Exclusive bool
}

// CreateFile creates (or truncates) a file and returns its writer.
func (c *Client) CreateFile(ctx context.Context, path string, o CreateOptions) (*FileWriter, error) {
	var fi meta.FileInfo
	req := wire.CreateFileRequest{Path: path, Options: meta.CreateOptions{
		Mode: o.Mode, UID: o.UID, GID: o.GID, Overwrite: !o.Exclusive, Exclusive: o.Exclusive,
		Persisted: c.persistsOnClose(),
	}}
	if err := c.callMaster(ctx, wire.MasterCreateFile, false, req, &fi); err != nil {
		return nil, err
	}
	return &FileWriter{c: c, path: path, info: fi}, nil
}

// OpenWriter opens an existing file for writing at its end.
func (c *Client) OpenWriter(ctx context.Context, path string) (*FileWriter, error) {
	fi, err := c.GetStatus(ctx, path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir {
		return nil, &fs.PathError{Op: "open", Path: path, Err: syscall.EISDIR}
	}
	return &FileWriter{c: c, path: path, info: fi, size: fi.Size, completed: fi.Completed}, nil
}

// persistsOnClose reports whether the write type has the bytes in the
// under-store by the time the file completes.
func (c *Client) persistsOnClose() bool {
	return c.cfg.WriteType == "CACHE_THROUGH" || c.cfg.WriteType == "THROUGH"
}

// Info is the inode as last known to the writer.
func (w *FileWriter) Info() meta.FileInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.info
}

// Size is the length written so far.
func (w *FileWriter) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

// Version is the fingerprint of the version being written.
func (w *FileWriter) Version() string { return w.Info().Fingerprint }

// Passthrough is never available for writers.
func (w *FileWriter) Passthrough() *os.File { return nil }

// ReadAt reads back committed bytes; bytes of an open session are not
// readable before commit yet.
func (w *FileWriter) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	w.mu.Lock()
	if w.dirty {
		if err := w.commit(ctx); err != nil {
			w.mu.Unlock()
			return 0, err
		}
	}
	info := w.info
	w.mu.Unlock()
	r := &FileReader{c: w.c, info: info, ref: wire.RefOf(info)}
	return r.ReadAt(ctx, p, off)
}

// Write appends p (io.Writer, for the CLI).
func (w *FileWriter) Write(p []byte) (int, error) {
	return w.WriteAt(context.Background(), p, w.Size())
}

var zeros = make([]byte, 1<<20)

// WriteAt writes p at off. Writing at the end (or past it, leaving zeros)
// is supported; rewriting bytes before the end is not yet.
func (w *FileWriter) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if off < w.size {
		return 0, &fs.PathError{Op: fmt.Sprintf("write at offset %d before the end (%d)", off, w.size),
			Path: w.path, Err: syscall.EOPNOTSUPP}
	}
	if w.session == 0 {
		if err := w.open(ctx); err != nil {
			return 0, err
		}
	}
	for w.size < off {
		gap := zeros[:min(int64(len(zeros)), off-w.size)]
		if err := w.send(ctx, gap); err != nil {
			return 0, err
		}
	}
	for done := 0; done < len(p); {
		chunk := p[done:min(len(p), done+maxReadCall)]
		if err := w.send(ctx, chunk); err != nil {
			return done, err
		}
		done += len(chunk)
	}
	return len(p), nil
}

func (w *FileWriter) send(ctx context.Context, b []byte) error {
	_, err := w.c.worker.Call(ctx, wire.WorkerWrite, wire.WriteRequest{Session: w.session, Offset: w.size}, b, nil, nil)
	if err != nil {
		return err
	}
	w.size += int64(len(b))
	w.dirty = true
	return nil
}

// open starts a worker write session, first making a new version at the
// master when the current one is complete.
func (w *FileWriter) open(ctx context.Context) error {
	if _, err := w.c.workerClient(); err != nil {
		return err
	}
	var keep *wire.FileRef
	if w.completed {
		if w.size > 0 {
			old := wire.RefOf(w.info)
			keep = &old
		}
		var fi meta.FileInfo
		req := wire.CreateFileRequest{Path: w.path, Options: meta.CreateOptions{
			Mode: w.info.Mode, UID: w.info.UID, GID: w.info.GID, Overwrite: true,
			Persisted: w.c.persistsOnClose(),
		}}
		if err := w.c.callMaster(ctx, wire.MasterCreateFile, false, req, &fi); err != nil {
			return err
		}
		w.info, w.completed = fi, false
	}
	var resp wire.WriteOpenResponse
	req := wire.WriteOpenRequest{File: wire.RefOf(w.info), WriteType: w.c.cfg.WriteType, Keep: keep}
	if _, err := w.c.worker.Call(ctx, wire.WorkerWriteOpen, req, nil, &resp, nil); err != nil {
		return err
	}
	w.session, w.size = resp.Session, resp.Size
	return nil
}

// commit finishes the session at the worker and completes the file at the
// master.
func (w *FileWriter) commit(ctx context.Context) error {
	if w.session == 0 {
		if w.completed {
			return nil
		}
		if err := w.open(ctx); err != nil {
			return err
		}
	}
	var resp wire.WriteCommitResponse
	_, err := w.c.worker.Call(ctx, wire.WorkerWriteCommit, wire.SessionRequest{Session: w.session}, nil, &resp, nil)
	w.session = 0
	if err != nil {
		return err
	}
	var fi meta.FileInfo
	req := wire.CompleteFileRequest{ID: w.info.ID, Options: meta.CompleteOptions{
		Size: resp.Size, Persisted: resp.Persisted, UfsFingerprint: resp.UfsFingerprint}}
	if err := w.c.callMaster(ctx, wire.MasterCompleteFile, false, req, &fi); err != nil {
		return err
	}
	w.info, w.size, w.dirty, w.completed = fi, resp.Size, false, true
	return nil
}

// Flush commits what was written since the last commit.
func (w *FileWriter) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.dirty && w.completed {
		return nil
	}
	return w.commit(ctx)
}

// Fsync is Flush: a commit returns once the write type's promise holds.
func (w *FileWriter) Fsync(ctx context.Context) error { return w.Flush(ctx) }

// Release commits anything left and ends the writer.
func (w *FileWriter) Release(ctx context.Context) error { return w.Flush(ctx) }

// Close is Release for io.Closer users.
func (w *FileWriter) Close() error { return w.Release(context.Background()) }

// Truncate changes the length: to the current length (no-op) or to zero.
func (w *FileWriter) Truncate(ctx context.Context, size int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if size == w.size {
		return nil
	}
	if size != 0 {
		return &fs.PathError{Op: fmt.Sprintf("truncate to %d (length %d)", size, w.size), Path: w.path, Err: syscall.EOPNOTSUPP}
	}
	if w.session != 0 {
		w.c.worker.Call(ctx, wire.WorkerWriteAbort, wire.SessionRequest{Session: w.session}, nil, nil, nil)
		w.session = 0
	}
	zero := int64(0)
	fi, err := w.c.SetAttr(ctx, w.path, meta.SetAttrOptions{Size: &zero})
	if err != nil {
		return err
	}
	w.info, w.size, w.dirty, w.completed = fi, 0, false, true
	return nil
}
