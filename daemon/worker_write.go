package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/blockstore"
	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
	"github.com/alluxio-go/alluxio/ufs"
	"golang.org/x/sys/unix"
)

// writeSession is one file version being written. A streaming session
// takes bytes in order and passes them straight to the cache and the
// under-store; a staged session takes writes anywhere in a local staging
// file and streams it out on commit.
type writeSession struct {
	// mu serialises the session's operations.
	mu        sync.Mutex
	conn      uint64
	ref       wire.FileRef
	key       blockstore.FileKey
	writeType string
	cache     *blockstore.Writer // nil for THROUGH
	under     ufs.Writer         // nil unless the bytes go through now
	staging   *os.File           // set for staged sessions
	// drained is the staging file a commit uploads from, open until the
	// upload is done: the under-store may read it back (BaseVersion.ReadAt).
	drained *os.File
	// held is the base's fully cached backing file, pinned (until
	// unhold) while a streaming session passes the base's bytes on, for
	// the same purpose.
	held   *os.File
	unhold func()
	// taken says the under-store took the base's bytes on its side
	// (ufs.BaseTaker) instead of having them passed on.
	taken bool
	size  int64
	// fill is the fingerprint of an empty under-store copy the bytes may
	// go into in place (wire.WriteOpenRequest.Fill).
	fill string
	// base is the old version the session started from (Keep), whose
	// bytes the under-store may copy on its side where they did not
	// change (ufs.BaseVersion); since says what did.
	base  *wire.FileRef
	since sinceBase
}

// sinceBase is what a version changed of its base's bytes: the ranges
// written (Changed), and everything from the least length the version had
// (Low).
type sinceBase struct {
	Changed wire.Changes `json:"changed"`
	Low     int64        `json:"low"`
}

// unchanged reports whether the version's bytes [off, end) are still the
// base's (ufs.BaseVersion.Unchanged).
func (c *sinceBase) unchanged(off, end int64) bool {
	return !c.Changed.Anywhere && end <= c.Low && !c.Changed.Ranges.Overlaps(off, end)
}

// change records a write of [off, end) over the base's bytes.
func (s *writeSession) change(off, end int64) {
	if s.base != nil {
		s.since.Changed.Add(off, end)
	}
}

// through reports a write type whose bytes go on to the under-store as
// they are written (openOutputs opens its writer).
func (s *writeSession) through() bool {
	return s.writeType == "CACHE_THROUGH" || s.writeType == "THROUGH"
}

// copyable reports a base the under-store holds, named by a fingerprint,
// in the mount the new version goes to.
func (s *writeSession) copyable() bool {
	b := s.base
	return b != nil && b.Persisted && b.UfsFingerprint != "" && b.MountID == s.ref.MountID
}

// baseVersion is the session's base as the under-store takes it, nil
// unless copyable.
func (s *writeSession) baseVersion() *ufs.BaseVersion {
	if !s.copyable() {
		return nil
	}
	b := s.base
	// The under-store's writer asks Unchanged from a write or the
	// commit, with s.mu held.
	v := &ufs.BaseVersion{Path: b.UfsPath, Fingerprint: b.UfsFingerprint, Size: b.Size, Unchanged: s.since.unchanged}
	switch {
	case s.drained != nil:
		v.ReadAt = s.drained.ReadAt
	case s.held != nil:
		v.ReadAt = s.held.ReadAt // fails once closed, never reads another file
	}
	return v
}

// takeBaseMin is the least size of a base, not cached whole, that a
// streaming session leaves out of its cache: below it, reading it in
// costs little beside the requests that copy it, and keeps the new version
// cached whole.
const takeBaseMin = 16 << 20

// hold pins the base's backing file for a streaming session that goes
// through to the under-store, when the base is small beside the tier (the
// new version's pages need room meanwhile): the under-store reads a part
// back from it should a copy be refused, and the new version's cache is
// filled from it. A base not cached whole is read into the cache first
// when smaller than takeBaseMin.
func (w *Worker) hold(ctx context.Context, s *writeSession) {
	if !s.copyable() || !s.through() || s.base.Size > w.store.Stats().Capacity/4 {
		return
	}
	b := s.base
	f, release, ok := w.store.OpenWhole(keyOf(*b), b.Size)
	if !ok && b.Size < takeBaseMin {
		// A failure here, copyVersion meets again and reports.
		if w.readVersion(ctx, *b, nil) == nil {
			f, release, ok = w.store.OpenWhole(keyOf(*b), b.Size)
		}
	}
	if ok {
		s.held, s.unhold = f, release
	}
}

// takeBase has the under-store take the base's bytes on its side
// (ufs.BaseTaker), and reports whether it did (never for a session that
// does not write through to it). Then nothing of the base is
// read from the store: the new version's cache is filled from the pinned
// base, or, with no base held, the new version is not cached (its pages
// would start past the base's). A store that cannot leaves the bytes to
// copyVersion.
func (w *Worker) takeBase(ctx context.Context, s *writeSession) (bool, error) {
	bt, ok := s.under.(ufs.BaseTaker)
	if !ok || !s.copyable() {
		return false, nil
	}
	if err := bt.TakeBase(s.base.Size); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return false, nil
		}
		return false, err
	}
	// As if streamed: the commit takes off what the store copied.
	w.counters.bytesWrittenUfs.Add(s.base.Size)
	s.taken = true
	switch {
	case s.cache == nil:
	case s.held != nil:
		err := w.readVersion(ctx, *s.base, func(p []byte, off int64) error {
			_, err := s.cache.Write(p)
			return err
		})
		if err != nil {
			return false, err
		}
	default:
		s.cache.Abort()
		s.cache = nil
	}
	s.size = s.base.Size
	return true, nil
}

// openStreaming starts a streaming session's outputs and, for an append,
// the base's bytes in them.
func (w *Worker) openStreaming(ctx context.Context, s *writeSession) error {
	w.hold(ctx, s)
	if err := w.openOutputs(ctx, s); err != nil {
		return err
	}
	if s.base == nil {
		return nil
	}
	if taken, err := w.takeBase(ctx, s); taken || err != nil {
		return err
	}
	return w.copyVersion(ctx, s, *s.base)
}

// settleBase waits for the parts of the base the under-store is copying
// (every one of them is sent by now: a part past the base's end is never
// copied), then unpins the base. A base the store could not take shows
// here, before the session takes a byte.
func (s *writeSession) settleBase() error {
	if s.held == nil && !s.taken {
		return nil
	}
	var err error
	if st, ok := s.under.(ufs.Settler); ok {
		err = st.Settle()
	}
	s.endReadBack()
	return err
}

// endReadBack closes the files the under-store may read back, once its
// upload is done: the staging file of a commit, the base's backing file.
func (s *writeSession) endReadBack() {
	if s.drained != nil {
		s.drained.Close()
		s.drained = nil
	}
	if s.held != nil {
		s.held.Close()
		s.unhold()
		s.held, s.unhold = nil, nil
	}
}

func validWriteType(t string) bool {
	switch t {
	case "MUST_CACHE", "CACHE_THROUGH", "THROUGH", "ASYNC_THROUGH":
		return true
	}
	return false
}

// openOutputs starts the cache and under-store writers the write type asks
// for.
func (w *Worker) openOutputs(ctx context.Context, s *writeSession) error {
	if s.writeType != "THROUGH" {
		pinned := s.writeType == "MUST_CACHE" || s.writeType == "ASYNC_THROUGH"
		cw, err := w.store.Create(s.key, pinned)
		if err != nil {
			return err
		}
		s.cache = cw
	}
	if s.through() {
		u, err := w.ufsOf(ctx, s.ref.MountID)
		if err != nil {
			return err
		}
		uw, err := u.Create(ctx, s.ref.UfsPath, ufs.CreateOptions{Mode: ufsMode(s.ref), SizeHint: -1, Fill: s.fill, Base: s.baseVersion()})
		if err != nil {
			return err
		}
		s.under = uw
	}
	return nil
}

func (w *Worker) handleWriteOpen(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.WriteOpenRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	s, err := w.newSession(ctx, r)
	if err != nil {
		return nil, err
	}
	w.stateMu.Lock()
	w.nextID++
	id := w.nextID
	w.sessions[id] = s
	w.stateMu.Unlock()
	return &rpc.Response{Body: wire.WriteOpenResponse{Session: id, Size: s.size}}, nil
}

// newSession opens a write session as r asks.
func (w *Worker) newSession(ctx context.Context, r wire.WriteOpenRequest) (*writeSession, error) {
	if !validWriteType(r.WriteType) {
		return nil, fmt.Errorf("write of file %d: unknown write type %q: %w", r.File.ID, r.WriteType, syscall.EINVAL)
	}
	conn, _ := rpc.ConnID(ctx)
	s := &writeSession{conn: conn, ref: r.File, key: keyOf(r.File), writeType: r.WriteType, fill: r.Fill}
	if r.Keep != nil {
		keep := *r.Keep
		if keep.ID == r.File.ID && keep.MountID == r.File.MountID && keep.UfsPath != r.File.UfsPath {
			// The writer's ref of the old version names the file where
			// it was opened; renamed since, its old bytes are in the
			// under-store at the name the new version has (with a new
			// fingerprint where the store renames by copying).
			keep.UfsPath, keep.UfsFingerprint = r.File.UfsPath, ""
		}
		s.base, s.since.Low = &keep, keep.Size
	}
	var err error
	if r.Staged {
		err = w.openStaging(s)
		if err == nil && s.base != nil {
			err = w.copyVersion(ctx, s, *s.base)
		}
	} else {
		err = w.openStreaming(ctx, s)
	}
	if err == nil {
		err = s.settleBase()
	}
	if err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

// openStaging makes the session's staging file, next to the tier's data
// folder so that staging lands on the same fast medium.
func (w *Worker) openStaging(s *writeSession) error {
	if err := os.MkdirAll(w.stagingDir, 0o700); err != nil {
		return fmt.Errorf("staging dir %s: %w", w.stagingDir, err)
	}
	f, err := os.CreateTemp(w.stagingDir, fmt.Sprintf("%d-*", s.ref.ID))
	if err != nil {
		return fmt.Errorf("staging file for file %d: %w", s.ref.ID, err)
	}
	// Unlinked at once: the bytes live as long as the descriptor, and a
	// killed worker leaves nothing behind.
	os.Remove(f.Name())
	s.staging = f
	return nil
}

// copyVersion starts a new version with the bytes of an old one (append to
// or rewrite part of an existing file).
func (w *Worker) copyVersion(ctx context.Context, s *writeSession, old wire.FileRef) error {
	if err := w.readVersion(ctx, old, s.writeAt); err != nil {
		return err
	}
	if s.under != nil {
		// Streamed on to the under-store (less what it copies on its
		// side, taken off at the commit).
		w.counters.bytesWrittenUfs.Add(old.Size)
	}
	return nil
}

// readVersion reads version ref whole through the cache, handing each
// piece to each (nil: the cache is all it is read for).
func (w *Worker) readVersion(ctx context.Context, ref wire.FileRef, each func(p []byte, off int64) error) error {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	for off := int64(0); off < ref.Size; {
		n, err := w.store.ReadAt(ctx, keyOf(ref), ref.Size, w.source(ref), *bp, off, blockstore.ReadCache)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if n == 0 {
			return fmt.Errorf("read of file %d: short at %d of %d: %w", ref.ID, off, ref.Size, io.ErrUnexpectedEOF)
		}
		if each != nil {
			if err := each((*bp)[:n], off); err != nil {
				return err
			}
		}
		off += int64(n)
	}
	return nil
}

// writeAt writes p at off: anywhere for a staged session, only at the end
// for a streaming one.
func (s *writeSession) writeAt(p []byte, off int64) error {
	if s.staging != nil {
		if _, err := s.staging.WriteAt(p, off); err != nil {
			return fmt.Errorf("staging write of %s: %w", s.ref.UfsPath, err)
		}
		s.size = max(s.size, off+int64(len(p)))
		return nil
	}
	if off != s.size {
		return &fs.PathError{Op: fmt.Sprintf("write at %d (expected %d)", off, s.size), Path: s.ref.UfsPath, Err: syscall.EINVAL}
	}
	if s.cache != nil {
		if _, err := s.cache.Write(p); err != nil {
			return err
		}
	}
	if s.under != nil {
		if _, err := s.under.Write(p); err != nil {
			return fmt.Errorf("write %s to the under-store: %w", s.ref.UfsPath, err)
		}
	}
	s.size += int64(len(p))
	return nil
}

func (s *writeSession) abort() {
	if s.cache != nil {
		s.cache.Abort()
	}
	if s.under != nil {
		s.under.Abort()
	}
	if s.staging != nil {
		s.staging.Close()
	}
	s.endReadBack()
}

func (w *Worker) session(id uint64) (*writeSession, error) {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	s := w.sessions[id]
	if s == nil {
		return nil, fmt.Errorf("write session %d: not open (aborted or worker restarted): %w", id, syscall.EBADF)
	}
	return s, nil
}

func (w *Worker) handleWrite(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.WriteRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	s, err := w.session(r.Session)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.change(r.Offset, r.Offset+int64(len(req.Data)))
	if err := s.writeAt(req.Data, r.Offset); err != nil {
		return nil, err
	}
	w.countWrite(req.Peer, s, len(req.Data))
	return &rpc.Response{}, nil
}

// countWrite adds n bytes a client wrote into session s to the counters.
func (w *Worker) countWrite(peer string, s *writeSession, n int) {
	if isUnixPeer(peer) {
		w.counters.bytesWrittenDomain.Add(int64(n))
	} else {
		w.counters.bytesWrittenRemote.Add(int64(n))
	}
	if s.under != nil {
		w.counters.bytesWrittenUfs.Add(int64(n))
	}
}

// handleWriteTruncate sets the length of a staged version.
func (w *Worker) handleWriteTruncate(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.TruncateRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	s, err := w.session(r.Session)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staging == nil || r.Size < 0 {
		return nil, &fs.PathError{Op: fmt.Sprintf("truncate to %d", r.Size), Path: s.ref.UfsPath, Err: syscall.EINVAL}
	}
	if err := s.staging.Truncate(r.Size); err != nil {
		return nil, fmt.Errorf("staging truncate of %s: %w", s.ref.UfsPath, err)
	}
	s.size, s.since.Low = r.Size, min(s.since.Low, r.Size)
	return &rpc.Response{}, nil
}

// handleWriteRead reads back a staged version's bytes before commit.
func (w *Worker) handleWriteRead(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.SessionReadRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	s, err := w.session(r.Session)
	if err != nil {
		return nil, err
	}
	if r.Length < 0 || r.Length > 4<<20 || r.Offset < 0 {
		return nil, fmt.Errorf("read of session %d: bad range offset %d length %d: %w", r.Session, r.Offset, r.Length, syscall.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.staging == nil {
		return nil, &fs.PathError{Op: "read back", Path: s.ref.UfsPath, Err: syscall.EINVAL}
	}
	if r.File {
		if !isUnixPeer(req.Peer) {
			return &rpc.Response{}, nil // descriptors travel on UNIX sockets only
		}
		// A descriptor of its own: the response's files are closed once
		// sent, and the session keeps writing through its own.
		fd, err := unix.FcntlInt(s.staging.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("staging file of %s: %w", s.ref.UfsPath, err)
		}
		return &rpc.Response{Body: wire.StagingFileResponse{Writable: true},
			Files: []*os.File{os.NewFile(uintptr(fd), s.staging.Name())}}, nil
	}
	bp := readBufs.Get().(*[]byte)
	buf := (*bp)[:r.Length]
	n, err := s.staging.ReadAt(buf, r.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		readBufs.Put(bp)
		return nil, err
	}
	return &rpc.Response{Data: buf[:n], Done: func() { readBufs.Put(bp) }}, nil
}

func (w *Worker) takeSession(id uint64) (*writeSession, error) {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	s := w.sessions[id]
	if s == nil {
		return nil, fmt.Errorf("write session %d: not open (aborted or worker restarted): %w", id, syscall.EBADF)
	}
	delete(w.sessions, id)
	return s, nil
}

// drainStaging streams a staged version to the cache and under-store. The
// version is the staging file as it is, whose length is the version's: the
// client may have written into the file itself (StagingFileResponse).
func (w *Worker) drainStaging(ctx context.Context, s *writeSession) error {
	staging := s.staging
	s.staging, s.drained, s.size = nil, staging, 0
	st, err := staging.Stat()
	if err != nil {
		return fmt.Errorf("staging file of %s: %w", s.ref.UfsPath, err)
	}
	size := st.Size()
	if err := w.openOutputs(ctx, s); err != nil {
		return err
	}
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	for off := int64(0); off < size; {
		n, err := staging.ReadAt((*bp)[:min(int64(len(*bp)), size-off)], off)
		if n == 0 && err != nil {
			return fmt.Errorf("staging read of %s: %w", s.ref.UfsPath, err)
		}
		if err := s.writeAt((*bp)[:n], off); err != nil {
			return err
		}
		off += int64(n)
	}
	if s.under != nil {
		w.counters.bytesWrittenUfs.Add(size)
	}
	return nil
}

func (w *Worker) handleWriteCommit(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.CommitRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	var (
		s   *writeSession
		err error
	)
	if r.Open != nil && r.Session == 0 {
		// Opened, written and committed in one call.
		s, err = w.newSession(ctx, *r.Open)
	} else {
		s, err = w.takeSession(r.Session)
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.endReadBack()
	if r.Target != "" && r.Target != s.ref.UfsPath {
		// Renamed while being written: land at the new name.
		s.ref.UfsPath = r.Target
		if rt, ok := s.under.(ufs.Retargeter); ok {
			if err := rt.Retarget(ctx, r.Target); err != nil {
				s.abort()
				return nil, err
			}
		} else if s.under != nil {
			s.abort()
			return nil, fmt.Errorf("file %d renamed to %s while written: the under-store cannot move an open upload: %w",
				s.ref.ID, r.Target, syscall.EXDEV)
		}
	}
	if len(req.Data) > 0 {
		// The client's last in-order bytes, sent with the commit: a
		// small file costs one call, and its upload one PutObject.
		if s.staging != nil {
			s.abort()
			return nil, &fs.PathError{Op: "commit with data", Path: s.ref.UfsPath, Err: syscall.EINVAL}
		}
		if r.At != nil && *r.At != s.size {
			s.abort()
			return nil, fmt.Errorf("commit of file %d (%s): its last %d bytes go at %d, but the session holds %d: %w",
				s.ref.ID, s.ref.UfsPath, len(req.Data), *r.At, s.size, syscall.EIO)
		}
		s.change(s.size, s.size+int64(len(req.Data)))
		if err := s.writeAt(req.Data, s.size); err != nil {
			s.abort()
			return nil, err
		}
		w.countWrite(req.Peer, s, len(req.Data))
	}
	if r.Written > 0 {
		w.countWrite(req.Peer, s, int(r.Written))
		if r.Changed == nil {
			s.since.Changed = wire.Changes{Anywhere: true}
		}
		for _, e := range r.Changed {
			s.change(e.Off, e.End)
		}
	}
	if s.staging != nil {
		if err := w.drainStaging(ctx, s); err != nil {
			s.abort()
			return nil, err
		}
	}
	resp := wire.WriteCommitResponse{Size: s.size}
	if s.cache != nil {
		if err := s.cache.Close(); err != nil {
			s.abort()
			return nil, err
		}
	}
	if s.under != nil {
		unlock := w.lands.lock(s.ref.MountID, s.ref.UfsPath)
		fi, err := s.under.Close(ctx)
		unlock()
		if err != nil {
			if s.cache != nil {
				w.store.Remove(s.key)
			}
			return nil, fmt.Errorf("complete %s in the under-store: %w", s.ref.UfsPath, err)
		}
		resp.Persisted, resp.UfsFingerprint, resp.UfsPath = true, fi.Fingerprint(), s.ref.UfsPath
		w.countCopied(s.under)
	}
	if !resp.Persisted {
		resp.Location = w.cfg.RPCAddr // the only copy is here
	}
	if s.writeType == "ASYNC_THROUGH" {
		rec := persistRecord{FileRef: s.ref}
		rec.Size = s.size
		if s.copyable() {
			base, since := *s.base, s.since
			rec.Base, rec.Since = &base, &since
		}
		if err := w.enqueuePersist(rec); err != nil {
			w.store.Remove(s.key)
			return nil, err
		}
		w.persistLater(rec)
	}
	return &rpc.Response{Body: resp}, nil
}

// countCopied takes the bytes an under-store writer copied from the old
// version on its side off the bytes written to it, into the bytes copied.
func (w *Worker) countCopied(uw ufs.Writer) {
	if cr, ok := uw.(ufs.CopyReporter); ok {
		copied := cr.Copied()
		w.counters.bytesCopiedUfs.Add(copied)
		w.counters.bytesWrittenUfs.Add(-copied)
	}
}

// persistLater copies a cached file to its under-store in the background,
// retrying with backoff until it succeeds or the worker stops (an attempt
// under way is finished first), then tells the master and unpins the
// pages.
func (w *Worker) persistLater(rec persistRecord) {
	ref := rec.FileRef
	w.counters.pendingPersists.Add(1)
	w.persists.Add(1)
	go func() {
		defer w.persists.Done()
		defer w.counters.pendingPersists.Add(-1)
		backoff := 100 * time.Millisecond
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			err := w.persist(ctx, rec)
			cancel()
			if err == nil || errors.Is(err, errSuperseded) {
				w.dequeuePersist(ref)
				w.store.Unpin(keyOf(ref))
				return
			}
			level := slog.LevelWarn
			switch {
			case attempt%10 == 0:
				level = slog.LevelError
			case errors.Is(err, errNotComplete), errors.Is(err, errMoved), errors.Is(err, errNewerIncomplete):
				level = slog.LevelDebug
			}
			w.log.Log(context.Background(), level, "async persist failed; will retry", "file", ref.ID, "path", ref.UfsPath, "attempt", attempt, "err", err)
			select {
			case <-w.bgCtx.Done():
				// Stopping: the record stays queued and the next
				// start of this worker resumes the persist.
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Minute)
		}
	}()
}

// errSuperseded says a file version is no longer the file's content.
var errSuperseded = errors.New("file removed or rewritten since")

// persist uploads the cached version rec names to its under-store, at the
// file's place now, and tells the master. With a base the store still
// holds, the upload copies the parts the version did not change from it,
// on the store's side (ufs.BaseVersion), reading a part back from the
// cached version should a copy be refused.
func (w *Worker) persist(ctx context.Context, rec persistRecord) error {
	ref := rec.FileRef
	now, ok, err := w.stillCurrent(ctx, ref)
	if err != nil {
		return err
	} else if !ok {
		w.log.Info("not persisting a file removed or rewritten since it was written", "file", ref.ID, "path", ref.UfsPath)
		return errSuperseded
	}
	// Renamed since it was written: its bytes go to its new name.
	to := ref
	to.MountID, to.UfsPath = now.MountID, now.UfsPath
	defer w.lands.lock(to.MountID, to.UfsPath)()
	u, err := w.ufsOf(ctx, to.MountID)
	if err != nil {
		return err
	}
	opts := ufs.CreateOptions{Mode: ufsMode(ref), SizeHint: ref.Size}
	if b := rec.Base; b != nil && rec.Since != nil && b.MountID == to.MountID {
		if f, release, ok := w.store.OpenWhole(keyOf(ref), ref.Size); ok {
			defer release()
			defer f.Close()
			opts.Base = &ufs.BaseVersion{Path: b.UfsPath, Fingerprint: b.UfsFingerprint, Size: b.Size,
				Unchanged: rec.Since.unchanged, ReadAt: f.ReadAt}
		}
	}
	uw, err := u.Create(ctx, to.UfsPath, opts)
	if err != nil {
		return err
	}
	cached := ref
	cached.Persisted = false // the bytes can only come from the cache
	err = w.readVersion(ctx, cached, func(p []byte, off int64) error {
		_, err := uw.Write(p)
		return err
	})
	if err != nil {
		uw.Abort()
		return err
	}
	fi, err := uw.Close(ctx)
	if err != nil {
		return err
	}
	w.counters.bytesWrittenUfs.Add(ref.Size)
	w.countCopied(uw)
	req := wire.PersistedRequest{ID: ref.ID, UfsFingerprint: fi.Fingerprint(), Version: ref.Fingerprint,
		MountID: to.MountID, UfsPath: to.UfsPath}
	err = w.master.Call(ctx, wire.MasterMarkPersisted, true, req, nil)
	if !errors.Is(err, syscall.ESTALE) && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Rewritten, moved or removed while it was uploaded. A new version
	// is persisted by its own record, over what this one left. A moved
	// file is uploaded again, to its new name, and a removed one not at
	// all: this upload is taken back from where it went.
	now, ok, cerr := w.stillCurrent(ctx, ref)
	switch {
	case cerr != nil:
		return cerr
	case ok:
		w.takeBack(ctx, u, to.UfsPath, fi.Fingerprint())
		return fmt.Errorf("persist %s: %w", to.UfsPath, errMoved)
	case now.ID == 0:
		w.log.Info("taking back the upload of a file removed while it was uploaded", "file", ref.ID, "path", to.UfsPath)
		w.takeBack(ctx, u, to.UfsPath, fi.Fingerprint())
	default:
		w.log.Info("not marking a file persisted that was rewritten while it was uploaded", "file", ref.ID, "path", to.UfsPath)
	}
	return errSuperseded
}

// errMoved says a file was renamed while its version was uploaded; the
// persist is tried again, at its new name.
var errMoved = fmt.Errorf("file renamed while it was uploaded: %w", syscall.EAGAIN)

// takeBack removes the object an upload left at rel when no other upload
// replaced it since (its fingerprint is still fingerprint).
func (w *Worker) takeBack(ctx context.Context, u ufs.UFS, rel, fingerprint string) {
	fi, err := u.Stat(ctx, rel)
	if err != nil || fi.Fingerprint() != fingerprint {
		return
	}
	del := u.Delete
	if fd, ok := u.(ufs.FileDeleter); ok {
		del = fd.DeleteFile // a file's: no second look at what it is
	}
	if err := del(ctx, rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.log.Warn("could not remove an upload left at a file's old name", "path", rel, "err", err)
	}
}

func (w *Worker) handleWriteAbort(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.SessionRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	if s, err := w.takeSession(r.Session); err == nil {
		s.mu.Lock()
		s.abort()
		s.mu.Unlock()
	}
	return &rpc.Response{}, nil
}

// ufsMode is the permission a write gives the file in the under-store:
// the file's own, as Alluxio creates under-store files with the mode of
// the file written.
func ufsMode(ref wire.FileRef) fs.FileMode {
	if ref.Mode == 0 {
		return 0o644
	}
	return meta.FileMode(ref.Mode)
}
