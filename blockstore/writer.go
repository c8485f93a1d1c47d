package blockstore

import (
	"context"
	"fmt"
	"syscall"
)

// Writer caches a new file version as it is written sequentially. Pages
// become present as they fill; Close makes the last partial page present and
// fixes the file's length. A Writer is not safe for concurrent use.
//
// A pinned Writer (Create with pinned=true: the data exists nowhere else yet)
// fails with an error wrapping syscall.ENOSPC when no room can be made. An
// unpinned one (the data also goes to the under-store) instead stops caching
// and drops the version, and keeps accepting writes.
type Writer struct {
	s      *Store
	f      *file
	pinned bool

	off      int64 // bytes written so far
	reserved bool  // a page-size reservation is held for the page at off
	err      error // sticky failure of a pinned writer
	dropped  bool  // gave up caching; writes are accepted and discarded
	done     bool  // Close or Abort was called
}

// Create starts caching a new version of a file that is being written
// sequentially, replacing any cached version with the same key. With pinned
// set, the pages stay unevictable until Unpin.
func (s *Store) Create(key FileKey, pinned bool) (*Writer, error) {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	for {
		if s.closed {
			return nil, errClosed
		}
		s.settleLocked(context.Background(), key)
		old := s.files[key]
		if old == nil {
			break
		}
		gone := s.removeLocked(old)
		s.indexMu.Unlock()
		s.finishRemove(old, gone)
		s.indexMu.Lock()
	}
	f, err := s.installLocked(key, func(f *file) {
		f.writing = true
		f.unevictable = pinned
	})
	if err != nil {
		return nil, err
	}
	return &Writer{s: s, f: f, pinned: pinned}, nil
}

// Write appends p to the file version.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("blockstore: write file %d: writer is closed: %w", w.f.key.ID, syscall.EBADF)
	}
	if w.err != nil {
		return 0, w.err
	}
	ps := w.s.pageSize
	written := 0
	for written < len(p) && !w.dropped {
		if !w.reserved {
			if err := w.reserve(); err != nil {
				if w.pinned {
					w.err = err
					return written, err
				}
				w.drop("no room in the tier dir", err)
				break
			}
		}
		chunk := min(ps-w.off%ps, int64(len(p)-written))
		if _, err := w.f.fd.WriteAt(p[written:written+int(chunk)], w.off); err != nil {
			err = fmt.Errorf("blockstore: write file %d at %d in tier dir %s: %w", w.f.key.ID, w.off, w.f.dir.path, err)
			if w.pinned {
				w.err = err
				return written, err
			}
			w.s.warnOnce(&w.f.dir.warnedWrite, "writing a page to the tier dir failed; file not cached",
				"tier", w.f.dir.alias, "dir", w.f.dir.path, "file", w.f.key.ID, "err", err)
			w.drop("", nil)
			break
		}
		w.off += chunk
		written += int(chunk)
		w.s.bytesWritten.Add(chunk)
		if w.off%ps == 0 {
			w.completePage(ps)
		}
	}
	// Once dropped, the rest of p is accepted: the data also goes to the
	// under-store, caching it was optional.
	w.off += int64(len(p) - written)
	return len(p), nil
}

// reserve makes room for the page at w.off, evicting if need be.
func (w *Writer) reserve() error {
	s, f := w.s, w.f
	s.indexMu.Lock()
	if f.removed {
		s.indexMu.Unlock()
		return fmt.Errorf("blockstore: write file %d: version removed meanwhile: %w", f.key.ID, syscall.ESTALE)
	}
	victims, ok := s.reserveLocked(f.dir, s.pageSize)
	used, quota := f.dir.used+f.dir.reserved, f.dir.quota
	w.reserved = ok
	s.indexMu.Unlock()
	s.punch(victims)
	if !ok {
		return fmt.Errorf("blockstore: write file %d at %d: tier %s dir %s is full (%d of quota %d bytes in use, none evictable): %w",
			f.key.ID, w.off, f.dir.alias, f.dir.path, used, quota, syscall.ENOSPC)
	}
	return nil
}

// completePage makes the page ending at w.off (n bytes) present and releases
// its reservation.
func (w *Writer) completePage(n int64) {
	s, f := w.s, w.f
	idx := (w.off - 1) / s.pageSize
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	f.dir.reserved -= s.pageSize
	w.reserved = false
	if !f.removed {
		f.size = w.off
		s.markPresentLocked(f, idx, n)
	}
}

// drop stops caching: the version is removed and later writes discarded.
func (w *Writer) drop(reason string, err error) {
	if reason != "" {
		w.s.log.Info("file not cached", "file", w.f.key.ID, "reason", reason, "err", err)
	}
	w.dropped = true
	w.discard()
}

// discard releases the reservation and removes the version if it is still
// the cached one.
func (w *Writer) discard() {
	s, f := w.s, w.f
	s.indexMu.Lock()
	if w.reserved {
		f.dir.reserved -= s.pageSize
		w.reserved = false
	}
	if f.removed {
		s.indexMu.Unlock()
		return
	}
	gone := s.removeLocked(f)
	s.indexMu.Unlock()
	s.finishRemove(f, gone)
}

// Close makes the last partial page present and fixes the file's length; the
// version can then be read. After a failed Write, Close removes the version
// and returns that failure.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	defer w.s.release(w.f)
	if w.err != nil {
		w.discard()
		return w.err
	}
	if w.dropped {
		return nil
	}
	s, f := w.s, w.f
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	if w.reserved {
		// The page at w.off is partial (a full one was completed by Write).
		f.dir.reserved -= s.pageSize
		w.reserved = false
		if !f.removed {
			s.markPresentLocked(f, w.off/s.pageSize, w.off%s.pageSize)
		}
	}
	f.size = w.off
	f.writing = false
	return nil
}

// Abort discards the file version being written.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.discard()
	w.s.release(w.f)
}
