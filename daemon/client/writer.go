package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/cluster"
	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/fuse"
	"github.com/alluxio-go/alluxio/meta"
	"golang.org/x/sys/unix"
)

// FileWriter writes a file through the worker. Writes in order stream to
// the worker, and through it to the cache and the under-store as the write
// type says. The first write before the end, truncate to a non-zero length
// or read-back of unwritten bytes switches the handle to a staged session:
// the worker keeps the new version in a staging file that takes writes
// anywhere and streams it out on commit; the node's own worker passes the
// file, and the handle then writes into it and reads from it itself, with
// no worker call per write. The file is completed at the
// master on Flush/Fsync/Release; writing after a commit starts a new
// version that keeps the committed bytes.
type FileWriter struct {
	c    *Client
	path string

	// mu serialises the handle's operations.
	mu sync.Mutex
	// info is the inode of the version being written or last committed.
	info meta.FileInfo
	// session is the worker's write session, 0 when none is open; staged
	// says which kind it is.
	session uint64
	staged  bool
	// size is the length of the file as written through this handle.
	size int64
	// dirty is set by changes since the last commit.
	dirty bool
	// completed is set once the master has the file complete.
	completed bool
	// base is the version a new version made by open starts from, held
	// until a session opens with it: an open that failed (the worker's
	// copy of the old bytes, say) is tried again from it, never from
	// nothing, which would commit the file without its old bytes.
	base *wire.FileRef
	// prior is the complete version the new version this writer made
	// replaces, until the new one is complete: what the file is given
	// back should the writer fail (restore).
	prior *meta.FileInfo
	// unacked is a completion the master has not taken yet: the worker
	// committed the session (its bytes are cached and, by the write type,
	// in the under-store), but the completion failed or its answer was
	// lost. Until the master takes it nothing else is done with the file:
	// a session opened now would start from nothing and commit the file
	// empty over the bytes just written.
	unacked *unackedCompletion
	// failed is set once a commit failed at the worker: the bytes since
	// the commit before went with the session, so nothing more is
	// committed (it would replace the file with fewer bytes), and every
	// write and commit returns it.
	failed error
	// born is set while the file is the empty version the master made
	// complete at its creation (meta.CreateOptions.Complete): the first
	// commit replaces that version, with no new version made first.
	born bool
	// gone is set once the file was removed while open: writes go on in
	// the staging file, and nothing is ever committed.
	gone bool
	// wc is the worker of the open session: the node's own, or, when it
	// has none that answers, the home worker of the file's first block.
	wc *rpc.Client
	// kept are attributes set on the file while this handle has it open,
	// which its next completion gives the file (meta.KeptAttrs).
	kept meta.KeptAttrs
	// pend holds small in-order writes of a streaming session not sent to
	// the worker yet: the bytes [size-len(pend), size). They go in one
	// call when the buffer fills, and before anything else the worker
	// must see them (drain).
	pend []byte
	// rd reads the version in info while no session is open: an open for
	// writing that wrote nothing yet, or nothing since its last commit.
	// It is kept from one read to the next so that its read-ahead and
	// short-circuit leases carry over, as a read-only open's do.
	rd *FileReader
	// staging is the staging file of the staged session, which the
	// node's own worker passes for reads; it goes when the session ends
	// (commit, Release). stagingOf is the session it was last asked of,
	// so that a worker that does not pass it is asked once a session.
	// stagingWritable says the worker lets this handle write into it
	// too; written counts the bytes written so since the last commit,
	// and changed says where they went, for the worker to copy the rest
	// of the old version on the under-store's side.
	staging         *wholeFile
	stagingOf       uint64
	stagingWritable bool
	written         int64
	changed         wire.Changes
}

var _ fuse.SpliceReader = (*FileWriter)(nil)

// unackedCompletion is FileWriter.unacked: the completion and the answer
// of the worker's commit it reports.
type unackedCompletion struct {
	req    wire.CompleteFileRequest
	resp   wire.WriteCommitResponse
	target string // the under-store path the commit wrote, when it moved
	tries  int
}

// writeBehind bounds pend: the kernel hands a FUSE daemon each write(2)
// as it comes (4 KiB for many programs), and one worker call per 4 KiB
// costs far more than the bytes.
const writeBehind = 1 << 20

// drain sends the pending in-order writes to the worker.
func (w *FileWriter) drain(ctx context.Context) error {
	if len(w.pend) == 0 {
		return nil
	}
	off := w.size - int64(len(w.pend))
	if _, err := w.wc.Call(ctx, wire.WorkerWrite, wire.WriteRequest{Session: w.session, Offset: off}, w.pend, nil, nil); err != nil {
		return fmt.Errorf("write %s at %d: %w", w.path, off, err)
	}
	w.pend = w.pend[:0]
	return nil
}

// CreateOptions tune a new file.
type CreateOptions struct {
	Mode, UID, GID uint32
	// Exclusive fails with EEXIST when the file exists (O_EXCL).
	Exclusive bool
}

// CreateFile creates (or truncates) a file and returns its writer.
func (c *Client) CreateFile(ctx context.Context, path string, o CreateOptions) (*FileWriter, error) {
	// A new file is complete and empty from the start, as closing it
	// unwritten would make it (completeEmpty), with one call fewer, when
	// the write type puts the bytes in the under-store on close: its
	// first commit replaces the empty copy there.
	persist := c.persistsOnClose()
	req := wire.CreateFileRequest{Path: path, Options: meta.CreateOptions{
		Mode: o.Mode, UID: o.UID, GID: o.GID, Overwrite: !o.Exclusive, Exclusive: o.Exclusive,
		Persisted: persist, Complete: persist,
	}}
	fi, err := c.callInfo(ctx, wire.MasterCreateFile, false, req)
	if err != nil {
		return nil, err
	}
	return &FileWriter{c: c, path: path, info: fi, completed: fi.Completed, born: fi.Completed}, nil
}

// OpenWriter opens an existing file for writing.
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

// ReadAt reads the file as written through this handle, including bytes
// not committed yet.
func (w *FileWriter) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.readAt(ctx, p, off)
}

// readAt is ReadAt; caller holds w.mu.
func (w *FileWriter) readAt(ctx context.Context, p []byte, off int64) (int, error) {
	if w.lazy() {
		// Every byte is still here.
		if off >= w.size {
			return 0, io.EOF
		}
		n := copy(p, w.pend[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	if w.session != 0 && !w.staged {
		// Streamed bytes cannot be read back; stage the rest.
		if err := w.restage(ctx); err != nil {
			return 0, err
		}
	}
	if w.session == 0 {
		return w.reader(ctx).ReadAt(ctx, p, off)
	}
	if off >= w.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), w.size-off)]
	if f := w.stagingFile(ctx); f != nil {
		n, err := f.f.ReadAt(p, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
		// A hole at the end of a sparse staging file reads as zeros.
		clear(p[n:])
		return len(p), nil
	}
	done := 0
	for done < len(p) {
		chunk := p[done:min(len(p), done+maxReadCall)]
		req := wire.SessionReadRequest{Session: w.session, Offset: off + int64(done), Length: len(chunk)}
		res, err := w.wc.Call(ctx, wire.WorkerWriteRead, req, nil, nil, chunk)
		if err != nil {
			return done, err
		}
		n := copy(chunk, res.Data)
		done += n
		if n < len(chunk) {
			// A hole at the end of a sparse staging file reads as zeros.
			clear(chunk[n:])
			done = len(p)
		}
	}
	return done, nil
}

// ReadSplice answers a FUSE read (fuse.SpliceReader): while no session is
// open, from the committed version as a read-only open would, so that the
// kernel copies leased ranges of the local worker's backing file itself;
// else as ReadAt.
func (w *FileWriter) ReadSplice(ctx context.Context, dest []byte, off int64) (*fuse.Splice, int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.session == 0 && !w.lazy() {
		return w.reader(ctx).ReadSplice(ctx, dest, off)
	}
	if sp := w.spliceStaged(ctx, dest, off); sp != nil {
		return sp, 0, nil
	}
	n, err := w.readAt(ctx, dest, off)
	return nil, n, err
}

// spliceStaged answers a read of a staged session from its staging file,
// or returns nil. Caller holds w.mu.
func (w *FileWriter) spliceStaged(ctx context.Context, dest []byte, off int64) *fuse.Splice {
	if w.session == 0 || !w.staged || off >= w.size {
		return nil
	}
	f := w.stagingFile(ctx)
	if f == nil {
		return nil
	}
	n := min(int64(len(dest)), w.size-off)
	// A splice ends where the file ends: a hole at its end (a sparse
	// file truncated up) is read, as zeros, by readAt.
	var st unix.Stat_t
	if err := unix.Fstat(int(f.fd), &st); err != nil || off+n > st.Size {
		return nil
	}
	f.refs.Add(1)
	return &fuse.Splice{Fd: f.fd, Off: off, Len: int(n), Done: func() { f.unref() }}
}

// stagingFile returns the staging file of the open staged session, asking
// the node's own worker for it once per session; nil when the session is
// elsewhere or the worker does not pass it. Caller holds w.mu.
func (w *FileWriter) stagingFile(ctx context.Context) *wholeFile {
	if w.staging != nil || w.session == 0 || !w.staged || w.stagingOf == w.session ||
		w.wc != w.c.worker || !w.c.shortCircuitable() {
		return w.staging
	}
	w.stagingOf = w.session
	var sf wire.StagingFileResponse
	res, err := w.wc.Call(ctx, wire.WorkerWriteRead, wire.SessionReadRequest{Session: w.session, File: true}, nil, &sf, nil)
	switch {
	case err != nil:
		w.c.log.Debug("staging file not passed; reading through the worker", "path", w.path, "err", err)
	case len(res.Files) == 1:
		w.staging = newWholeFile(w.c, res.Files[0], 0)
		w.stagingWritable = sf.Writable
	default:
		for _, f := range res.Files {
			f.Close()
		}
	}
	return w.staging
}

// dropStaging lets go of the staging file of a session that ended.
// Caller holds w.mu.
func (w *FileWriter) dropStaging() {
	if w.staging != nil {
		w.staging.unref()
		w.staging = nil
	}
	w.stagingWritable = false
}

// reader returns the reader of the version in info, replacing one of an
// earlier version; like a read-only open, it reads the whole file when the
// worker passes it. Caller holds w.mu.
func (w *FileWriter) reader(ctx context.Context) *FileReader {
	ref := wire.RefOf(w.info)
	if w.rd != nil && w.rd.ref == ref {
		return w.rd
	}
	w.closeReader()
	w.rd = &FileReader{c: w.c, info: w.info, ref: ref, whole: w.c.openWhole(ctx, w.info)}
	return w.rd
}

// closeReader ends the reader of the committed version, if any, with the
// leases it holds. Caller holds w.mu.
func (w *FileWriter) closeReader() {
	if w.rd == nil {
		return
	}
	if err := w.rd.Close(); err != nil {
		w.c.log.Debug("closing the reader of a file open for writing", "path", w.path, "err", err)
	}
	w.rd = nil
}

// Write appends p (io.Writer, for the CLI).
func (w *FileWriter) Write(p []byte) (int, error) {
	return w.WriteAt(context.Background(), p, w.Size())
}

var zeros = make([]byte, 1<<20)

// WriteAt writes p at off.
func (w *FileWriter) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.kept.Mtime = nil // a write makes the file's time its own
	if w.failed != nil {
		return 0, w.failed
	}
	if err := w.settle(ctx); err != nil {
		return 0, err
	}
	if w.gone && w.session == 0 {
		// Removed while open, with nothing staged: the bytes have
		// nowhere to go, as on a local file system they have no name.
		w.size = max(w.size, off+int64(len(p)))
		return len(p), nil
	}
	switch {
	case w.session == 0 && w.unfinished() && off == w.size && w.size+int64(len(p)) <= writeBehind &&
		(w.size == 0 || w.lazy()):
		// A new file's first bytes, in order: the session waits, so
		// that a small file is opened, written and committed in one
		// worker call.
		return w.hold(p), nil
	case w.session == 0:
		if err := w.open(ctx, off < w.size); err != nil {
			return 0, err
		}
	case !w.staged && off < w.size:
		if err := w.restage(ctx); err != nil {
			return 0, err
		}
	}
	if w.staged {
		if n, ok, err := w.writeStaging(ctx, p, off); ok {
			return n, err
		}
	}
	if !w.staged && off == w.size && len(p) < writeBehind {
		if len(w.pend)+len(p) > writeBehind {
			if err := w.drain(ctx); err != nil {
				return 0, err
			}
		}
		return w.hold(p), nil
	}
	if err := w.drain(ctx); err != nil {
		return 0, err
	}
	if !w.staged {
		for w.size < off { // a gap past the end reads as zeros
			gap := zeros[:min(int64(len(zeros)), off-w.size)]
			if err := w.send(ctx, gap, w.size); err != nil {
				return 0, err
			}
		}
	}
	for done := 0; done < len(p); {
		chunk := p[done:min(len(p), done+maxReadCall)]
		if err := w.send(ctx, chunk, off+int64(done)); err != nil {
			return done, err
		}
		done += len(chunk)
	}
	return len(p), nil
}

// writeStaging writes p at off straight into the staging file of the
// staged session, when the node's own worker lets this handle write into
// it: no worker call per write, as a database's page writes would
// otherwise cost. ok is false when the bytes must go through the worker.
// Caller holds w.mu.
func (w *FileWriter) writeStaging(ctx context.Context, p []byte, off int64) (n int, ok bool, err error) {
	f := w.stagingFile(ctx)
	if f == nil || !w.stagingWritable {
		return 0, false, nil
	}
	if err := w.drain(ctx); err != nil {
		return 0, true, err
	}
	n, err = f.f.WriteAt(p, off)
	if n > 0 {
		w.size = max(w.size, off+int64(n))
		w.dirty = true
		w.written += int64(n)
		w.changed.Add(off, off+int64(n))
	}
	if err != nil {
		return n, true, fmt.Errorf("write %s into its staging file: %w", w.path, err)
	}
	return n, true, nil
}

func (w *FileWriter) send(ctx context.Context, b []byte, off int64) error {
	_, err := w.wc.Call(ctx, wire.WorkerWrite, wire.WriteRequest{Session: w.session, Offset: off}, b, nil, nil)
	if err != nil {
		return err
	}
	w.size = max(w.size, off+int64(len(b)))
	w.dirty = true
	return nil
}

// restage commits the streaming session and continues in a staged one.
func (w *FileWriter) restage(ctx context.Context) error {
	if err := w.commit(ctx); err != nil {
		return err
	}
	return w.open(ctx, true)
}

// open starts a worker write session, first making a new version at the
// master when the current one is complete; the new version starts with
// the bytes of the old one.
func (w *FileWriter) open(ctx context.Context, staged bool) error {
	made := false // a new version, replacing w.prior, made here
	if w.completed && !w.born {
		var base *wire.FileRef
		if w.size > 0 {
			old := wire.RefOf(w.info)
			base = &old
		}
		// A new version of the same inode, wherever it is now.
		fi, err := w.c.callInfo(ctx, wire.MasterNewVersion, false, wire.IDRequest{ID: w.info.ID})
		if err != nil {
			return err
		}
		prior := w.info
		w.info, w.completed, w.base, w.prior, made = fi, false, base, &prior, true
	}
	if w.born {
		// A lookup failure leaves the path as it was: the commit
		// finds the file, or finds it gone, by its id.
		if now, err := w.c.callInfo(ctx, wire.MasterStatusByID, true, wire.IDRequest{ID: w.info.ID}); err == nil {
			w.here(now)
		}
	}
	lazy := w.lazy()
	var resp wire.WriteOpenResponse
	req := wire.WriteOpenRequest{File: wire.RefOf(w.info), WriteType: w.c.cfg.WriteType, Keep: w.base, Staged: staged, Fill: w.fill()}
	wc, err := w.c.openSession(ctx, req, &resp)
	if err != nil {
		if made {
			w.restore(ctx)
		}
		return err
	}
	w.wc, w.session, w.staged, w.base = wc, resp.Session, staged, nil
	w.closeReader() // reads go to the session now
	if !lazy {
		w.size = resp.Size
		return nil
	}
	// The new file's first bytes, held back for a commit that would open
	// the session itself, go first.
	return w.drain(ctx)
}

// restore gives the file back its version w.prior, which the new version
// this writer made was to replace, when no session could start it or its
// commit failed: the file is then as before the write that failed, not
// empty and incomplete. When the master cannot, the writer keeps the new
// version and its base, and the next write or the close tries the session
// again.
func (w *FileWriter) restore(ctx context.Context) {
	if w.prior == nil {
		return
	}
	req := wire.RestoreVersionRequest{ID: w.info.ID, Made: w.info.Fingerprint, Old: meta.VersionOf(*w.prior)}
	fi, err := w.c.callInfo(context.WithoutCancel(ctx), wire.MasterRestoreVersion, false, req)
	if err != nil {
		w.c.log.Warn("a file whose new version could not start writing stays incomplete until its writer commits it",
			"path", w.path, "err", err)
		return
	}
	w.info, w.size, w.completed, w.base, w.prior = fi, fi.Size, true, nil, nil
}

// recheck has the master compare the file given back its old version
// (restore) with its under-store copy: a commit whose answer was lost may
// have replaced that copy, and the file is then the store's new bytes
// rather than a version the store no longer has.
func (w *FileWriter) recheck(ctx context.Context) {
	if !w.completed || !w.info.Persisted {
		return
	}
	if _, err := w.c.LoadMetadata(context.WithoutCancel(ctx), w.info.Path, false); err != nil {
		w.c.log.Warn("could not compare a file given back its old version with its under-store copy", "path", w.info.Path, "err", err)
	}
}

// hold appends the in-order bytes p to pend and returns their length.
// pend grows by doubling from 32 KiB up to writeBehind, so that a small
// file does not cost the zeroing of a whole megabyte.
func (w *FileWriter) hold(p []byte) int {
	if need := len(w.pend) + len(p); need > cap(w.pend) {
		grown := make([]byte, len(w.pend), max(min(2*cap(w.pend), writeBehind), need, 32<<10))
		copy(grown, w.pend)
		w.pend = grown
	}
	w.pend = append(w.pend, p...)
	w.size += int64(len(p))
	w.dirty = true
	return len(p)
}

// lazy reports bytes written before any session was opened: the first
// bytes of a new file, all of them in pend.
func (w *FileWriter) lazy() bool {
	return w.session == 0 && len(w.pend) > 0 && int64(len(w.pend)) == w.size
}

// openSession starts a write session on the node's own worker, or, when
// there is none or it does not answer, on the home worker of the file's
// first block (then its successors on the ring): a client on a node
// without a worker writes through the cluster.
func (c *Client) openSession(ctx context.Context, req wire.WriteOpenRequest, resp *wire.WriteOpenResponse) (*rpc.Client, error) {
	return c.onWriter(ctx, req.File, func(wc *rpc.Client) error {
		_, err := wc.Call(ctx, wire.WorkerWriteOpen, req, nil, resp, nil)
		return err
	})
}

// onWriter makes call on the worker that takes the writes of file: the
// node's own, or the home worker of its first block and its successors,
// the next one tried when one cannot be reached.
func (c *Client) onWriter(ctx context.Context, file wire.FileRef, call func(wc *rpc.Client) error) (*rpc.Client, error) {
	var errs []error
	if c.worker != nil {
		err := call(c.worker)
		if err == nil || !failover(ctx, err) {
			return c.worker, err
		}
		errs = append(errs, err)
	}
	ring, self := c.workers.view(ctx)
	if ring != nil {
		for _, m := range ring.Successors(cluster.BlockKey(file.ID, 0), 3) {
			if m.Name == self {
				continue // the local worker, tried above
			}
			wc := c.workers.client(m, self)
			err := call(wc)
			if err == nil || !failover(ctx, err) {
				return wc, err
			}
			c.workers.markDown(m.Name)
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("write %s: no worker to write through: %w", file.UfsPath, syscall.ENOTCONN)
	}
	return nil, fmt.Errorf("write %s: no worker answered: %w: %w", file.UfsPath, syscall.EIO, errors.Join(errs...))
}

// commit finishes the session at the worker and completes the file at the
// master. The file is followed by inode id: renamed while open, it lands
// at its new name; removed while open, nothing is committed.
func (w *FileWriter) commit(ctx context.Context) error {
	if w.gone {
		return nil
	}
	if w.failed != nil {
		return w.failed
	}
	if w.unacked != nil {
		return w.complete(ctx)
	}
	lazy := w.session == 0 && w.lazy()
	if w.session == 0 && !lazy {
		if w.completed {
			if w.born && !w.kept.Empty() {
				return w.applyKept(ctx)
			}
			return nil
		}
		if w.size == 0 && w.c.cfg.WriteType != "MUST_CACHE" {
			return w.completeEmpty(ctx)
		}
		if err := w.open(ctx, false); err != nil {
			return err
		}
	}
	now, ok, err := w.locate(ctx)
	if !ok {
		return err
	}
	w.path = now.Path
	if lazy {
		w.here(now)
	}
	// Changed is nil when the writes may be anywhere.
	req := wire.CommitRequest{Session: w.session, Written: w.written, Changed: w.changed.Ranges}
	direct := w.written > 0
	w.written, w.changed = 0, wire.Changes{}
	if now.UfsPath != w.info.UfsPath || now.MountID != w.info.MountID {
		if now.MountID != w.info.MountID {
			return &fs.PathError{Op: "commit", Path: now.Path, Err: syscall.EXDEV}
		}
		req.Target = now.UfsPath
	}
	// The pending in-order bytes go with the commit: a small file is one
	// worker call (and one PutObject), not a write and then a commit.
	var resp wire.WriteCommitResponse
	pend := len(w.pend)
	if pend > 0 {
		at := w.size - int64(pend)
		req.At = &at
	}
	if lazy {
		// No session yet: every byte is in pend, and the session is
		// opened by the commit itself, one worker call in all.
		req.Open = &wire.WriteOpenRequest{File: wire.RefOf(w.info), WriteType: w.c.cfg.WriteType, Fill: w.fill()}
		for range 3 {
			w.wc, err = w.c.onWriter(ctx, req.Open.File, func(wc *rpc.Client) error {
				_, err := wc.Call(ctx, wire.WorkerWriteCommit, req, w.pend, &resp, nil)
				return err
			})
			if !errors.Is(err, fs.ErrNotExist) || !w.movedSince(ctx, req.Open) {
				break
			}
		}
		if errors.Is(err, syscall.EBADF) {
			// A worker from before commits opened sessions: open
			// one (which sends it the bytes), then commit it.
			req.Open = nil
			if err = w.open(ctx, false); err == nil {
				req.Session = w.session
				_, err = w.wc.Call(ctx, wire.WorkerWriteCommit, req, w.pend, &resp, nil)
			}
		}
	} else {
		_, err = w.wc.Call(ctx, wire.WorkerWriteCommit, req, w.pend, &resp, nil)
	}
	w.pend = w.pend[:0]
	w.session, w.staged = 0, false
	w.dropStaging()
	if err != nil {
		w.failed = fmt.Errorf("commit %s: %w", w.path, err)
		if w.prior != nil {
			w.restore(ctx)
			w.recheck(ctx)
		}
		return err
	}
	if (pend > 0 || direct) && resp.Size != w.size {
		// A worker that does not take data with a commit, or a staging
		// file that is not as this handle wrote it. The worker has
		// committed what it had: nothing more is, by this handle.
		w.failed = fmt.Errorf("commit %s: the worker committed %d bytes of %d: %w", w.path, resp.Size, w.size, syscall.EIO)
		return w.failed
	}
	complete := wire.CompleteFileRequest{ID: w.info.ID, Options: meta.CompleteOptions{
		Size: resp.Size, Persisted: resp.Persisted, UfsFingerprint: resp.UfsFingerprint, Location: resp.Location,
		Kept: w.kept, UfsPath: resp.UfsPath}}
	if w.born {
		complete.Options.Replaces = w.info.Fingerprint
	}
	w.unacked = &unackedCompletion{req: complete, resp: resp, target: req.Target}
	return w.complete(ctx)
}

// movedSince reports whether the file has moved since open, a commit that
// opens its session, was made (then open names its new place): the
// under-store had no directory at the old place (ENOENT), as another
// client renamed a directory above the file in between. The master
// answers once such a rename is in the namespace too (Settled). Nothing
// was written: the commit can be made again at the new place.
func (w *FileWriter) movedSince(ctx context.Context, open *wire.WriteOpenRequest) bool {
	now, err := w.c.callInfo(ctx, wire.MasterStatusByID, true, wire.IDRequest{ID: w.info.ID, Settled: true})
	if err != nil || now.MountID != w.info.MountID || now.UfsPath == open.File.UfsPath {
		return false
	}
	w.here(now)
	w.path = now.Path
	open.File = wire.RefOf(w.info)
	return true
}

// settle gives the master the completion it has not taken yet, if any,
// before anything else is done with the file.
func (w *FileWriter) settle(ctx context.Context) error {
	if w.unacked == nil || w.gone {
		return nil
	}
	return w.complete(ctx)
}

// complete asks the master to complete the file as the worker committed
// it (w.unacked), and on success makes the handle's state the completed
// file's. On failure unacked stays, and the next flush, write or close
// asks again. A completion asked again may find that the master took an
// earlier one after all (its answer was lost, or it came with an error
// about the kept attributes, which the master drops, EPERM): the file
// complete with this commit's bytes is that success.
func (w *FileWriter) complete(ctx context.Context) error {
	u := w.unacked
	resp := u.resp
	fi, err := w.c.callInfo(ctx, wire.MasterCompleteFile, false, u.req)
	if err != nil && u.tries > 0 && errors.Is(err, syscall.EINVAL) {
		fi, err = w.completedBefore(ctx, err)
	}
	if err != nil && w.born && resp.Persisted && errors.Is(err, syscall.EINVAL) {
		fi, err = w.completeSynced(ctx, resp, err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		// Deleted (on another node) while this commit was under way:
		// the file is gone, as a closed unlinked file is; take back
		// what the commit wrote into the under-store.
		w.unacked = nil
		if resp.Persisted {
			orphan := wire.OrphanRequest{MountID: w.info.MountID, UfsPath: u.target, UfsFingerprint: resp.UfsFingerprint}
			if orphan.UfsPath == "" {
				orphan.UfsPath = w.info.UfsPath
			}
			if err := w.c.callMaster(ctx, wire.MasterDropOrphan, true, orphan, nil); err != nil {
				w.c.log.Warn("could not remove a file written back after its deletion", "path", w.path, "err", err)
			}
		}
		return w.lose(ctx)
	}
	if err != nil {
		u.tries++
		return err
	}
	w.unacked = nil
	w.info, w.size, w.dirty, w.completed, w.born, w.kept, w.prior = fi, resp.Size, false, true, false, meta.KeptAttrs{}, nil
	return nil
}

// completedBefore answers a completion asked again and refused (refusal)
// as made already: the file as the master has it now, when that is the
// version this handle wrote, complete with the bytes the worker
// committed; otherwise refusal stands.
func (w *FileWriter) completedBefore(ctx context.Context, refusal error) (meta.FileInfo, error) {
	now, ok, err := w.locate(ctx)
	if !ok || err != nil {
		return now, cmp.Or(err, fs.ErrNotExist)
	}
	resp := w.unacked.resp
	same := now.Completed && now.Size == resp.Size && now.Persisted == resp.Persisted
	if resp.Persisted {
		same = same && now.UfsFingerprint == resp.UfsFingerprint
	} else {
		same = same && now.Fingerprint == w.info.Fingerprint
	}
	if !same {
		return now, refusal
	}
	return now, nil
}

// completeSynced completes a file made at its creation whose empty version
// the master no longer has, refused (refusal) because a sync of the file
// took what its under-store copy held while this writer filled it (an
// explicit loadMetadata): this writer's commit has written that very copy
// since, so a sync of the file now takes the writer's bytes. The file is
// complete when the under-store holds exactly what the commit wrote
// (resp), with the attributes the writer kept set after it; otherwise
// refusal stands.
func (w *FileWriter) completeSynced(ctx context.Context, resp wire.WriteCommitResponse, refusal error) (meta.FileInfo, error) {
	now, ok, err := w.locate(ctx)
	if !ok || err != nil {
		return now, cmp.Or(err, fs.ErrNotExist)
	}
	if _, err := w.c.LoadMetadata(ctx, now.Path, false); err != nil {
		return now, refusal
	}
	now, ok, err = w.locate(ctx)
	if !ok || err != nil {
		return now, cmp.Or(err, fs.ErrNotExist)
	}
	if !now.Completed || !now.Persisted || now.Size != resp.Size || now.UfsFingerprint != resp.UfsFingerprint {
		return now, refusal
	}
	w.c.log.Info("a file synced from the under-store while written is complete with its writer's bytes", "path", now.Path, "size", now.Size)
	if w.kept.Empty() {
		return now, nil
	}
	k := w.kept
	return w.c.SetAttr(ctx, now.Path, meta.SetAttrOptions{Mode: k.Mode, UID: k.UID, GID: k.GID, Mtime: k.Mtime, Atime: k.Atime})
}

// here points the writer at where its file is now in the under-store
// (now: the master's status of it), for a session about to open: a file
// made at its creation may have moved since (a rename, an exchange), and
// what stands at its old name may be another file or a directory.
func (w *FileWriter) here(now meta.FileInfo) {
	if now.ID == w.info.ID && now.MountID == w.info.MountID {
		w.info.UfsPath = now.UfsPath
	}
}

// locate finds the file by inode id where it is now; when it was removed
// meanwhile (on another node) the handle loses it and ok is false.
func (w *FileWriter) locate(ctx context.Context) (now meta.FileInfo, ok bool, err error) {
	now, err = w.c.callInfo(ctx, wire.MasterStatusByID, true, wire.IDRequest{ID: w.info.ID})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return now, false, w.lose(ctx)
	case err != nil:
		return now, false, err
	}
	return now, true, nil
}

// applyKept gives a born file that ends empty the attributes kept for
// it, at the master.
func (w *FileWriter) applyKept(ctx context.Context) error {
	now, ok, err := w.locate(ctx)
	if !ok {
		return err
	}
	k := w.kept
	fi, err := w.c.SetAttr(ctx, now.Path, meta.SetAttrOptions{Mode: k.Mode, UID: k.UID, GID: k.GID, Mtime: k.Mtime, Atime: k.Atime})
	if err != nil {
		return err
	}
	w.info, w.path, w.dirty, w.kept = fi, fi.Path, false, meta.KeptAttrs{}
	return nil
}

// fill is the fingerprint of the born file's empty under-store copy, which
// the worker may write into in place ("" when not born).
func (w *FileWriter) fill() string {
	if w.born {
		return w.info.UfsFingerprint
	}
	return ""
}

// unfinished reports that the file's first version is still this
// handle's to complete: not completed yet, or the empty one it was born
// with.
func (w *FileWriter) unfinished() bool { return !w.completed || w.born }

// completeEmpty completes a file that was never written in one call: the
// master makes the empty file in the under-store (every write type but
// MUST_CACHE persists it; there are no bytes for ASYNC_THROUGH to wait
// for), with no worker session.
func (w *FileWriter) completeEmpty(ctx context.Context) error {
	req := wire.CompleteEmptyRequest{ID: w.info.ID, Persist: true, Kept: w.kept}
	fi, err := w.c.callInfo(ctx, wire.MasterCompleteEmpty, false, req)
	if errors.Is(err, fs.ErrNotExist) {
		return w.lose(ctx) // removed while open (on another node)
	}
	if err != nil {
		return err
	}
	w.info, w.path, w.dirty, w.completed, w.kept, w.prior = fi, fi.Path, false, true, meta.KeptAttrs{}, nil
	return nil
}

// KeepAttr takes a change of mode, owner or times made while this handle
// has its file open and not completed (tar -x and cp -p chmod, chown and
// set times before they close) and gives it to the file with the
// completion, one master command instead of one per change; it returns
// the file's attributes with the change. ok is false when the file is
// completed (the change goes to the master now; a write after it starts
// a new version, whose completion stamps its own time) or gone.
func (w *FileWriter) KeepAttr(s fuse.SetAttr) (a fuse.Attr, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A born file keeps them too: its first commit gives them, or, when
	// it stays empty, its close (applyKept).
	if !w.unfinished() || w.gone || w.unacked != nil || s.Size != nil {
		return fuse.Attr{}, false
	}
	now := time.Now().UnixNano()
	if s.Mode != nil {
		m := *s.Mode & 0o7777
		w.kept.Mode, w.info.Mode = &m, m
	}
	if s.UID != nil {
		u := *s.UID
		w.kept.UID, w.info.UID = &u, u
	}
	if s.GID != nil {
		g := *s.GID
		w.kept.GID, w.info.GID = &g, g
	}
	if s.Mtime != nil {
		t := s.Mtime.UnixNano()
		w.kept.Mtime, w.info.Mtime = &t, t
	}
	if s.Atime != nil {
		t := s.Atime.UnixNano()
		w.kept.Atime, w.info.Atime = &t, t
	}
	w.info.Ctime = now
	a = AttrOf(w.info)
	a.Size = w.size
	return a, true
}

// Kept returns a with the changes this handle keeps for its completion
// (fuse.AttrKeeper), so that a stat shows them before it.
func (w *FileWriter) Kept(a fuse.Attr) fuse.Attr {
	w.mu.Lock()
	k := w.kept
	ctime := w.info.Ctime
	w.mu.Unlock()
	if k.Empty() {
		return a
	}
	if k.Mode != nil {
		a.Perm = *k.Mode & 0o7777
	}
	if k.UID != nil {
		a.UID = *k.UID
	}
	if k.GID != nil {
		a.GID = *k.GID
	}
	if k.Mtime != nil {
		a.Mtime = time.Unix(0, *k.Mtime)
	}
	if k.Atime != nil {
		a.Atime = time.Unix(0, *k.Atime)
	}
	if t := time.Unix(0, ctime); t.After(a.Ctime) {
		a.Ctime = t
	}
	return a
}

// Unlink calls remove, which takes the file's name away at the master,
// with the handle's commits held off (fuse.Unlinkable). What was written
// so far moves to a staged session first, so the handle goes on reading
// and writing it after the name is gone; once remove succeeded nothing is
// committed any more, and the staged bytes live until the last handle
// closes. Holding the lock throughout keeps out a commit from another
// open of the file, which would otherwise write the file back into the
// under-store after the master deleted it there.
func (w *FileWriter) Unlink(ctx context.Context, remove func(context.Context) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.stage(ctx); err != nil {
		// The name goes anyway; the handle keeps what it can.
		w.c.log.Warn("could not stage an open file before unlinking it", "path", w.path, "err", err)
	}
	if err := remove(ctx); err != nil {
		return err
	}
	return w.lose(ctx)
}

// stage moves what was written so far into a staged session.
func (w *FileWriter) stage(ctx context.Context) error {
	if err := w.settle(ctx); err != nil {
		return err
	}
	switch {
	case w.gone || w.staged:
		return nil
	case w.session == 0:
		return w.open(ctx, true)
	}
	return w.restage(ctx)
}

// Move calls rename, which moves the file at the master, with the
// handle's commits held off (fuse.Movable): a commit looks the file up by
// inode id and then writes the under-store at the name it found, so a
// move in between would leave the new bytes at the old name.
//
// A streaming session is committed first, at the name it was opened at:
// its upload may have begun, and an object store's multipart upload cannot
// change its key (ufs.Retargeter). The writes after the move start a new
// version at the new name.
func (w *FileWriter) Move(ctx context.Context, rename func(context.Context) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.session != 0 && !w.staged && !w.gone {
		if err := w.commit(ctx); err != nil {
			return err
		}
	}
	return rename(ctx)
}

// lose handles a file removed while open: a staged session lives on for
// this handle's reads and writes; a streaming one is dropped.
func (w *FileWriter) lose(ctx context.Context) error {
	w.gone, w.kept = true, meta.KeptAttrs{}
	w.pend = w.pend[:0] // the streaming session goes, with what it had
	if w.session != 0 && !w.staged {
		w.wc.Call(ctx, wire.WorkerWriteAbort, wire.SessionRequest{Session: w.session}, nil, nil, nil)
		w.session = 0
	}
	return nil
}

// Flush commits what was written since the last commit.
func (w *FileWriter) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.dirty && w.completed && w.kept.Empty() {
		return nil
	}
	return w.commit(ctx)
}

// Fsync is Flush: a commit returns once the write type's promise holds.
func (w *FileWriter) Fsync(ctx context.Context) error { return w.Flush(ctx) }

// Release commits anything left and ends the writer.
func (w *FileWriter) Release(ctx context.Context) error {
	err := w.Flush(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closeReader()
	w.dropStaging()
	if w.gone && w.session != 0 {
		w.wc.Call(ctx, wire.WorkerWriteAbort, wire.SessionRequest{Session: w.session}, nil, nil, nil)
		w.session = 0
	}
	return err
}

// Close is Release for io.Closer users.
func (w *FileWriter) Close() error { return w.Release(context.Background()) }

// Truncate changes the length of the file.
func (w *FileWriter) Truncate(ctx context.Context, size int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: w.path, Err: syscall.EINVAL}
	}
	if err := w.settle(ctx); err != nil {
		return err
	}
	if size == w.size {
		return nil
	}
	w.kept.Mtime = nil
	if size == 0 && !w.staged {
		return w.truncateToZero(ctx)
	}
	switch {
	case w.session == 0:
		if err := w.open(ctx, true); err != nil {
			return err
		}
	case !w.staged:
		if err := w.restage(ctx); err != nil {
			return err
		}
	}
	_, err := w.wc.Call(ctx, wire.WorkerWriteTrunc, wire.TruncateRequest{Session: w.session, Size: size}, nil, nil, nil)
	if err != nil {
		return fmt.Errorf("truncate %s to %d: %w", w.path, size, err)
	}
	w.size, w.dirty = size, true
	return nil
}

// truncateToZero drops what a streaming session wrote and empties the file
// at the master (and in the under-store).
func (w *FileWriter) truncateToZero(ctx context.Context) error {
	w.pend = w.pend[:0] // the bytes are cut off anyway
	if w.session != 0 {
		_, err := w.wc.Call(ctx, wire.WorkerWriteAbort, wire.SessionRequest{Session: w.session}, nil, nil, nil)
		w.session = 0
		if err != nil && !errors.Is(err, syscall.EBADF) {
			return err
		}
	}
	if w.unfinished() {
		// A new file not committed yet: nothing to empty at the master;
		// Release completes it empty (or it was born so).
		w.size, w.dirty, w.base = 0, false, nil
		return nil
	}
	// The file may have been renamed since it was opened: find it by id.
	now, err := w.c.callInfo(ctx, wire.MasterStatusByID, true, wire.IDRequest{ID: w.info.ID})
	if err != nil {
		return err
	}
	w.path = now.Path
	zero := int64(0)
	fi, err := w.c.SetAttr(ctx, w.path, meta.SetAttrOptions{Size: &zero})
	if err != nil {
		return err
	}
	w.info, w.size, w.dirty, w.completed, w.prior = fi, 0, false, true, nil
	return nil
}
