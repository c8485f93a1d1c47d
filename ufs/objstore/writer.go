package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

// partGrowth is how many parts are uploaded at one part size before the
// size doubles, keeping a stream of unknown length under MaxParts.
const partGrowth = 1000

// copiesInFlight bounds the parts of one upload copied on the server at
// once when the writer need not hold their bytes (ufs.BaseVersion.ReadAt).
const copiesInFlight = 8

// abortTimeout bounds the clean-up of a failed upload, which runs after
// the caller's context may have ended.
const abortTimeout = time.Minute

// Create starts writing the file p. Nothing is visible until Close. The
// parent is not checked, nor that p is not a directory: an object store has
// neither constraint, and the master has checked both. opts.Mode is not
// kept; opts.SizeHint, when known, picks a part size that fits the file in
// MaxParts parts.
//
// The writer buffers one part. If Close comes before the first part is
// full the file is written with one PutObject; otherwise a multipart
// upload starts and each part is sent as it fills, in the background
// while the next one fills (Config.PartsInFlight at once, or up to 8 parts
// copied from opts.Base when it can read their bytes back); a failure shows
// at the next Write that fills a part, or at Close. The upload is
// completed on Close and aborted on Abort or on any error, so an
// unfinished file is never visible and leaves no parts behind. The part
// size doubles every 1000 parts. Parts sent from Write run under the
// Create context's values but not its cancellation (Create is typically
// called from a request whose context ends before the writes do); Abort
// cancels them.
//
// With opts.Base (an older version of the file, still stored) and a
// client that copies parts on the server (PartCopier), a part whose bytes
// are the base's own at the same offsets is copied from the base object,
// on condition of its ETag, instead of uploaded; the first copy that fails
// (the base replaced or gone since) ends the copying, and that part and
// the rest are uploaded from the bytes written.
func (s *Store) Create(ctx context.Context, p string, opts ufs.CreateOptions) (ufs.Writer, error) {
	const op = "create"
	c, err := s.begin(ctx, op, p)
	if err != nil {
		return nil, err
	}
	if c == "" {
		return nil, s.pathErr(op, "", syscall.EISDIR)
	}
	partSize := s.cfg.PartSize
	if opts.SizeHint > 0 {
		partSize = s.partSizeFor(opts.SizeHint, s.cfg.MaxParts, partSize)
	}
	mp, _ := s.client.(Multipart)
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &writer{s: s, mp: mp, key: s.key(c), name: path.Base(c), ctx: wctx, cancel: cancel, partSize: partSize}
	w.copier, w.base, w.baseKey, w.baseETag = s.baseOf(ctx, mp, opts.Base)
	return w, nil
}

// partSizeFor is the part size, at least least and at most MaxPartSize,
// in whole MiB once above least, that fits size bytes in parts parts.
func (s *Store) partSizeFor(size int64, parts int, least int64) int64 {
	const mb = 1 << 20
	need := (size + int64(parts) - 1) / int64(parts)
	need = (need + mb - 1) / mb * mb
	return min(max(least, need), s.cfg.MaxPartSize)
}

// baseOf returns what a writer copies parts from: the client's PartCopier,
// the base version, its key and its ETag; nil when nothing can be copied.
func (s *Store) baseOf(ctx context.Context, mp Multipart, b *ufs.BaseVersion) (PartCopier, *ufs.BaseVersion, string, string) {
	pc, ok := s.client.(PartCopier)
	if !ok || mp == nil || b == nil || b.Unchanged == nil || b.Size <= 0 {
		return nil, nil, "", ""
	}
	etag := etagOf(b.Fingerprint)
	if etag == "" {
		return nil, nil, "", ""
	}
	c, err := s.begin(ctx, "create", b.Path)
	if err != nil || c == "" {
		return nil, nil, "", ""
	}
	return pc, b, s.key(c), etag
}

// writer is the ufs.Writer of Create: one buffered part, then a multipart
// upload once a part is full.
type writer struct {
	s      *Store
	mp     Multipart       // nil: the whole file goes in one PutObject
	ctx    context.Context // for parts uploaded from Write
	cancel context.CancelFunc

	mu       sync.Mutex // guards everything below but copied and noCopy
	key      string
	name     string
	buf      []byte
	spare    []byte // the buffer of a part sent, for the next
	partSize int64
	upload   string // multipart upload id, "" before the first part
	parts    []Part
	sending  []*partSend // the parts being sent, in order
	size     int64
	err      error // the first failure; the upload is then aborted
	done     bool  // Close or Abort has run

	// copier, when set, takes parts from base (at baseKey, whose ETag is
	// baseETag) on the server; copied counts the bytes it took, and
	// noCopy is set once a copy failed.
	copier   PartCopier
	base     *ufs.BaseVersion
	baseKey  string
	baseETag string
	copied   atomic.Int64
	noCopy   atomic.Bool
	readBack sync.Mutex // one refused copy's bytes read back at a time
}

// partSend is a part being sent in the background: from buf, or, for a
// part copied without its bytes held, n bytes at off.
type partSend struct {
	buf  []byte
	off  int64
	n    int64
	part Part
	err  error
	done chan struct{}
}

// Write buffers b, uploading each part as it fills.
func (w *writer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return 0, w.s.pathErr("write", w.key, syscall.EBADF)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.mp == nil {
		w.buf = append(w.buf, b...)
		w.size += int64(len(b))
		return len(b), nil
	}
	written := 0
	for len(b) > 0 {
		take := min(int(w.partSize)-len(w.buf), len(b))
		if cap(w.buf)-len(w.buf) < take {
			// Grow by doubling up to one part, never beyond it.
			nc := min(int(w.partSize), max(2*cap(w.buf), len(w.buf)+take, 64<<10))
			nb := make([]byte, len(w.buf), nc)
			copy(nb, w.buf)
			w.buf = nb
		}
		w.buf = append(w.buf, b[:take]...)
		b = b[take:]
		written += take
		w.size += int64(take)
		if len(w.buf) == int(w.partSize) {
			if err := w.flushPart(w.ctx); err != nil {
				return written, w.fail(err)
			}
		}
	}
	return written, nil
}

// flushPart sends the buffer as the next part, in the background, starting
// the multipart upload first if needed.
func (w *writer) flushPart(ctx context.Context) error {
	if err := w.startUpload(ctx); err != nil {
		return err
	}
	// Whether to copy is settled here, with the caller's lock held, as
	// ufs.BaseVersion.Unchanged asks.
	off, end := w.size-int64(len(w.buf)), w.size
	copyIt := w.copier != nil && !w.noCopy.Load() && end <= w.base.Size && w.base.Unchanged(off, end)
	// A part copied from a base that can read its bytes back holds none.
	light := copyIt && w.base.ReadAt != nil
	var buf []byte
	if !light {
		buf = w.buf
	}
	if err := w.send(ctx, off, end, buf, copyIt); err != nil {
		return err
	}
	if light {
		w.buf = w.buf[:0]
	} else {
		w.buf, w.spare = w.spare[:0], nil
	}
	return nil
}

// startUpload starts the multipart upload, once.
func (w *writer) startUpload(ctx context.Context) error {
	if w.upload != "" {
		return nil
	}
	id, err := w.mp.CreateUpload(ctx, w.key)
	if err != nil {
		return w.s.pathErr("write", w.key, err)
	}
	w.upload = id
	return nil
}

// send sends the file's bytes [off, end) as the next part, in the
// background: buf's (nil for a part copied without its bytes held, read
// back should the copy be refused), or the base's copied on the server
// when copyIt. It first waits for the oldest part in flight when
// PartsInFlight parts holding their bytes are, or 8 parts in all.
func (w *writer) send(ctx context.Context, off, end int64, buf []byte, copyIt bool) error {
	s := w.s
	n := len(w.parts) + len(w.sending) + 1
	if n > s.cfg.MaxParts {
		return s.pathErr("write", w.key, fmt.Errorf("more than %d parts: %w", s.cfg.MaxParts, syscall.EFBIG))
	}
	for len(w.sending) >= copiesInFlight || buf != nil && w.heavy() >= s.cfg.PartsInFlight {
		if err := w.settle(); err != nil {
			return err
		}
	}
	p := &partSend{buf: buf, off: off, n: end - off, done: make(chan struct{})}
	upload := w.upload
	go func() {
		defer close(p.done)
		p.part, p.err = w.sendPart(ctx, upload, n, p, copyIt)
		if p.err != nil {
			p.err = s.pathErr("write", w.key, fmt.Errorf("part %d: %w", n, p.err))
		}
	}()
	w.sending = append(w.sending, p)
	if n%partGrowth == 0 && 2*w.partSize <= s.cfg.MaxPartSize {
		w.partSize *= 2
	}
	return nil
}

// TakeBase makes the file's first n bytes the base version's own, taken
// on the store's side (ufs.BaseTaker): copied from the base object part
// by part, up to 8 parts at once, and read from it where a part would be
// too small to copy (below Config.MinPartSize, unless it is the last) or
// the store refuses a copy, always on condition of the base's ETag. It
// must come before any Write. A writer without a base it can copy from
// fails with an error wrapping errors.ErrUnsupported, and takes nothing.
func (w *writer) TakeBase(n int64) error {
	const op = "take base"
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.s
	switch {
	case w.done:
		return s.pathErr(op, w.key, syscall.EBADF)
	case w.err != nil:
		return w.err
	case w.copier == nil:
		return s.pathErr(op, w.key, fmt.Errorf("no stored base version to copy from: %w", errors.ErrUnsupported))
	case w.size != 0 || n < 0 || n > w.base.Size:
		return s.pathErr(op, w.key, fmt.Errorf("%d bytes of a %d-byte base after %d written: %w", n, w.base.Size, w.size, syscall.EINVAL))
	}
	if n == 0 {
		return nil
	}
	minPart := min(s.cfg.MinPartSize, w.partSize)
	if n < minPart {
		// Too small to be a part before the new bytes: they go in the
		// buffer.
		w.buf = make([]byte, n, max(n, 64<<10))
		if err := w.readBase(w.ctx, w.buf, 0); err != nil {
			return w.fail(s.pathErr(op, w.key, err))
		}
		w.size = n
		return nil
	}
	// The parts fit in half of MaxParts, leaving the rest to the new
	// bytes.
	if half := max(1, s.cfg.MaxParts/2); n > int64(half)*w.partSize {
		w.partSize = s.partSizeFor(n, half, w.partSize)
	}
	if err := w.startUpload(w.ctx); err != nil {
		return w.fail(err)
	}
	for off := int64(0); off < n; {
		end := min(off+w.partSize, n)
		if rest := n - end; rest > 0 && rest < minPart {
			// The last part would be too small: this one takes it
			// too, or leaves it a part of the least size.
			end = n
			if end-off > s.cfg.MaxPartSize {
				end = n - minPart
			}
		}
		if err := w.send(w.ctx, off, end, nil, true); err != nil {
			return w.fail(err)
		}
		off = end
		w.size = end
	}
	return nil
}

// readBase reads the base's bytes at off into p, on condition of its
// ETag: from BaseVersion.ReadAt when set, else from the base object.
func (w *writer) readBase(ctx context.Context, p []byte, off int64) error {
	if w.base.ReadAt != nil {
		got, err := w.base.ReadAt(p, off)
		if got < len(p) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading the base's bytes back: %d of %d: %w", got, len(p), err)
		}
		return nil
	}
	body, _, err := w.s.client.GetObject(ctx, w.baseKey, off, int64(len(p)), w.baseETag)
	if err != nil {
		return fmt.Errorf("reading %s: %w", w.s.uri(w.baseKey), err)
	}
	defer body.Close()
	if got, err := io.ReadFull(body, p); err != nil {
		return fmt.Errorf("reading %s: %d of %d bytes at %d: %w", w.s.uri(w.baseKey), got, len(p), off, err)
	}
	return nil
}

// heavy counts the parts in flight that hold their bytes.
func (w *writer) heavy() int {
	n := 0
	for _, p := range w.sending {
		if p.buf != nil {
			n++
		}
	}
	return n
}

// settle waits for the oldest part in flight and takes its answer.
func (w *writer) settle() error {
	p := w.sending[0]
	<-p.done
	w.sending = w.sending[1:]
	if p.err != nil {
		return p.err
	}
	part := p.part
	part.Size = p.n
	w.parts = append(w.parts, part)
	if p.buf != nil && int64(cap(p.buf)) >= w.partSize {
		w.spare = p.buf
	}
	return nil
}

// settleAll waits for every part in flight; the first failure is returned.
func (w *writer) settleAll() error {
	var first error
	for len(w.sending) > 0 {
		if err := w.settle(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sendPart uploads p as part n of the upload, or copies it from the base
// version on the server when copyIt says p holds the base's own bytes. A
// copy refused falls back to the bytes (read back when p does not hold
// them), and ends the copying.
func (w *writer) sendPart(ctx context.Context, upload string, n int, p *partSend, copyIt bool) (Part, error) {
	buf := p.buf
	if copyIt && !w.noCopy.Load() {
		part, err := w.copier.CopyPart(ctx, w.key, upload, n, w.baseKey, p.off, p.n, w.baseETag)
		if err == nil {
			w.copied.Add(p.n)
			return part, nil
		}
		if cerr := ContextError(ctx); cerr != nil {
			return Part{}, cerr
		}
		// Replaced or gone since, or a store that refuses: the bytes
		// are here.
		w.noCopy.Store(true)
		slog.Info("cannot copy a part of the file's older version on the store; uploading its bytes",
			"component", w.s.cfg.Component, "object", w.s.uri(w.key), "from", w.s.uri(w.baseKey), "part", n, "err", err.Error())
	}
	if buf == nil {
		// One part read back at a time: the copies in flight may all
		// be refused at once.
		w.readBack.Lock()
		defer w.readBack.Unlock()
		buf = make([]byte, p.n)
		if err := w.readBase(ctx, buf, p.off); err != nil {
			return Part{}, err
		}
	}
	return w.mp.UploadPart(ctx, w.key, upload, n, buf)
}

// Settle waits for the parts in flight (ufs.Settler); a failure fails the
// writer, as at its next Write.
func (w *writer) Settle() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.settleAll(); err != nil {
		return w.fail(err)
	}
	return nil
}

// Copied is how many bytes were copied from the base version on the
// server (ufs.CopyReporter).
func (w *writer) Copied() int64 { return w.copied.Load() }

// fail records the first failure and aborts the multipart upload, once
// the parts in flight are done.
func (w *writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	w.buf, w.spare = nil, nil
	w.settleAll()
	if w.upload != "" {
		w.s.abortUpload(w.ctx, w.mp, w.key, w.upload)
		w.upload = ""
	}
	return w.err
}

// Close uploads what is buffered (PutObject when no part was uploaded yet,
// else the last part and the completion of the upload) and describes the
// new object. On failure nothing is left behind and the old file, if any,
// is intact.
func (w *writer) Close(ctx context.Context) (ufs.FileInfo, error) {
	const op = "close"
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.s
	if w.done {
		return ufs.FileInfo{}, s.pathErr(op, w.key, syscall.EBADF)
	}
	w.done = true
	defer w.cancel()
	if w.err != nil {
		return ufs.FileInfo{}, w.err
	}
	if err := ContextError(ctx); err != nil {
		return ufs.FileInfo{}, w.fail(s.pathErr(op, w.key, err))
	}
	var etag string
	if w.upload == "" {
		e, err := s.client.PutObject(ctx, w.key, w.buf)
		if err != nil {
			return ufs.FileInfo{}, w.fail(s.pathErr(op, w.key, err))
		}
		etag = e
	} else {
		if len(w.buf) > 0 {
			if err := w.flushPart(ctx); err != nil {
				return ufs.FileInfo{}, w.fail(err)
			}
		}
		if err := w.settleAll(); err != nil {
			return ufs.FileInfo{}, w.fail(err)
		}
		e, err := w.mp.CompleteUpload(ctx, w.key, w.upload, w.parts)
		if err != nil {
			return ufs.FileInfo{}, w.fail(s.pathErr(op, w.key, err))
		}
		etag = e
		w.upload = ""
	}
	w.buf = nil
	if etag != "" {
		// The store's answer named the content: that is the file's
		// fingerprint, and its size is what was written. Its exact
		// Last-Modified is not worth a HEAD per file.
		return s.fileInfo(w.name, Object{Size: w.size, ModTime: time.Now(), ETag: etag}), nil
	}
	o, err := s.client.HeadObject(ctx, w.key)
	if err != nil {
		// The object is written; describe it from what is known.
		slog.Warn("cannot describe a newly written object", "component", s.cfg.Component,
			"object", s.uri(w.key), "err", err.Error())
		return s.fileInfo(w.name, Object{Size: w.size, ModTime: time.Now(), ETag: etag}), nil
	}
	return s.fileInfo(w.name, o), nil
}

// Retarget makes Close land the file at p instead (ufs.Retargeter), as
// long as no part has been uploaded yet: parts of a multipart upload belong
// to its key, and completing it at the old key would touch whatever is
// there now. Past the first part it fails with EXDEV.
func (w *writer) Retarget(ctx context.Context, p string) error {
	const op = "retarget"
	s := w.s
	c, err := s.begin(ctx, op, p)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.done:
		return s.pathErr(op, w.key, syscall.EBADF)
	case c == "":
		return s.pathErr(op, "", syscall.EISDIR)
	case w.upload != "" || len(w.parts) > 0:
		return s.pathErr(op, w.key, fmt.Errorf("cannot move to %s: %d bytes already uploaded under this key: %w",
			s.uri(s.key(c)), w.size-int64(len(w.buf)), syscall.EXDEV))
	}
	w.key, w.name = s.key(c), path.Base(c)
	return nil
}

// Abort discards the file: the multipart upload, if one started, is
// aborted so that its parts are freed. The target is left as it was.
func (w *writer) Abort() error {
	w.cancel() // stops a part upload in progress in Write
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	w.buf, w.spare = nil, nil
	w.settleAll()
	if w.upload != "" {
		err := w.s.abortUpload(w.ctx, w.mp, w.key, w.upload)
		w.upload = ""
		return err
	}
	return nil
}

// abortUpload aborts a multipart upload, even when ctx has ended. A
// failure is logged (the parts stay until the store expires them) and
// returned.
func (s *Store) abortUpload(ctx context.Context, mp Multipart, key, id string) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	err := mp.AbortUpload(actx, key, id)
	if err == nil {
		return nil
	}
	err = s.pathErr("abort", key, err)
	slog.Warn("cannot abort a multipart upload; its parts stay until the store expires them",
		"component", s.cfg.Component, "object", s.uri(key), "err", err.Error())
	return err
}
