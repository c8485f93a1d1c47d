package blockstore

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"syscall"
)

// Writer caches a new file version as it is written sequentially. Pages
// become present as they fill; Close makes the last partial page present and
// fixes the file's length. A Writer is not safe for concurrent use.
//
// A pinned Writer (Create with pinned=true: the data exists nowhere else yet)
// fails with an error wrapping syscall.ENOSPC when no room can be made, or
// with the tier dir's own error when writing to it fails. An unpinned one
// (the data also goes to the under-store) instead stops caching and drops
// the version, and keeps accepting writes.
//
// Room for a page is made by demotion when a lower tier level can take
// files, as for reads; when the dir is at its quota meanwhile, the Writer
// evicts pages instead rather than failing.
//
// The page log records each completed page and, at Close, the final
// length. After a restart a closed file is recovered whole; a file whose
// Writer had not closed is dropped, unless pinned: then its completed pages
// are kept (see CachedFile.Partial).
type Writer struct {
	s      *Store
	f      *file // nil when nothing could be cached from the start
	key    FileKey
	pinned bool

	off      int64  // bytes written so far
	crc      uint32 // crc32c of the bytes of the page at off written so far
	reserved bool   // a page-size reservation is held for the page at off
	err      error  // sticky failure of a pinned writer
	dropped  bool   // gave up caching; writes are accepted and discarded
	done     bool   // Close or Abort was called
}

// Create starts caching a new version of a file that is being written
// sequentially, replacing any cached version with the same key. With pinned
// set, the pages stay unevictable until Unpin. The version goes to level 0
// (see Config.Tiers). When no tier dir can take it, a pinned Create fails
// with an error wrapping syscall.ENOSPC and an unpinned one returns a
// Writer that caches nothing.
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
	var f *file
	var err error
	// A dir whose file system refuses the file is marked failed; try the
	// next one.
	for range s.dirs {
		f, err = s.installLocked(key, -1, pinned)
		if err == nil || errors.Is(err, errClosed) || errors.Is(err, errNoDir) {
			break
		}
	}
	if errors.Is(err, errClosed) {
		return nil, err
	}
	if err != nil {
		if pinned {
			return nil, fmt.Errorf("blockstore: create pinned file %d: no tier dir can hold it (%v): %w", key.ID, err, syscall.ENOSPC)
		}
		s.log.Info("file not cached", "file", key.ID, "reason", "no tier dir can hold it", "err", err)
		return &Writer{s: s, key: key, dropped: true}, nil
	}
	return &Writer{s: s, f: f, key: key, pinned: pinned}, nil
}

// Write appends p to the file version.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("blockstore: write file %d: writer is closed: %w", w.key.ID, syscall.EBADF)
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
		chunk := p[written : written+int(min(ps-w.off%ps, int64(len(p)-written)))]
		if _, err := w.f.fd.WriteAt(chunk, w.off); err != nil {
			w.s.noteWriteError(w.f.dir, err)
			err = fmt.Errorf("blockstore: write file %d at %d in tier dir %s: %w", w.key.ID, w.off, w.f.dir.path, err)
			if w.pinned {
				w.err = err
				return written, err
			}
			w.s.warnOnce(&w.f.dir.warnedWrite, "writing a page to the tier dir failed; file not cached",
				"tier", w.f.dir.alias, "dir", w.f.dir.path, "file", w.key.ID, "err", err)
			w.drop("", nil)
			break
		}
		w.crc = crc32.Update(w.crc, castagnoli, chunk)
		w.off += int64(len(chunk))
		written += len(chunk)
		w.s.bytesWritten.Add(int64(len(chunk)))
		if w.off%ps == 0 {
			w.completePage(ps)
		}
	}
	// Once dropped, the rest of p is accepted: the data also goes to the
	// under-store, caching it was optional.
	w.off += int64(len(p) - written)
	return len(p), nil
}

// reserve makes room for the page at w.off: by demotion in the background
// when possible, else (or when the dir is at its quota) by eviction.
func (w *Writer) reserve() error {
	s, f := w.s, w.f
	s.indexMu.Lock()
	if f.removed {
		s.indexMu.Unlock()
		return w.errRemoved()
	}
	if f.dir.failed {
		reason := f.dir.reason
		s.indexMu.Unlock()
		return fmt.Errorf("blockstore: write file %d at %d: tier %s dir %s (%s) failed: %s: %w",
			f.key.ID, w.off, f.dir.alias, f.dir.path, f.dir.prop, reason, syscall.ENOSPC)
	}
	victims, ok := s.reserveLocked(f.dir, s.pageSize, true)
	if !ok {
		var more []victim
		more, ok = s.reserveLocked(f.dir, s.pageSize, false)
		victims = append(victims, more...)
	}
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

// completePage makes the page ending at w.off (n bytes) present, releases
// its reservation and records it in the page log.
func (w *Writer) completePage(n int64) {
	s, f := w.s, w.f
	idx := (w.off - 1) / s.pageSize
	crc := w.crc
	w.crc = 0
	s.indexMu.Lock()
	f.dir.reserved -= s.pageSize
	w.reserved = false
	added := !f.removed
	if added {
		f.size = w.off
		s.markPresentLocked(f, idx, n, crc)
	}
	s.indexMu.Unlock()
	switch {
	case !added && w.pinned && w.err == nil:
		// The page is not kept (the store closed, or the version was
		// removed), and it may have been the only copy.
		w.err = w.errRemoved()
	case added:
		if err := s.logAppend(f, logRecord{typ: recPage, crc: crc, value: uint64(idx)}); err != nil && w.pinned && w.err == nil {
			// The page is cached, but a restart would drop it.
			w.err = fmt.Errorf("cache file %d: record page %d in its page log: %w", w.key.ID, idx, err)
		}
	}
}

// errRemoved is the error of a write into a version that was removed while
// it was written, or whose store closed.
func (w *Writer) errRemoved() error {
	return fmt.Errorf("blockstore: write file %d: version removed meanwhile (or the store closed): %w", w.key.ID, syscall.ESTALE)
}

// drop stops caching: the version is removed and later writes discarded.
func (w *Writer) drop(reason string, err error) {
	if reason != "" {
		w.s.log.Info("file not cached", "file", w.key.ID, "reason", reason, "err", err)
	}
	w.dropped = true
	w.discard()
}

// discard releases the reservation and removes the version if it is still
// the cached one.
func (w *Writer) discard() {
	s, f := w.s, w.f
	if f == nil {
		return
	}
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

// Close makes the last partial page present and fixes the file's length
// (recording it in the page log); the version can then be read. After a
// failed Write, Close removes the version and returns that failure.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.f == nil {
		return nil
	}
	defer w.s.release(w.f)
	if w.err != nil {
		w.discard()
		return w.err
	}
	if w.dropped {
		return nil
	}
	s, f := w.s, w.f
	var recs []logRecord
	s.indexMu.Lock()
	if w.reserved {
		// The page at w.off is partial (a full one was completed by Write).
		f.dir.reserved -= s.pageSize
		w.reserved = false
		if !f.removed {
			idx := w.off / s.pageSize
			s.markPresentLocked(f, idx, w.off%s.pageSize, w.crc)
			recs = append(recs, logRecord{typ: recPage, crc: w.crc, value: uint64(idx)})
		}
	}
	f.size = w.off
	f.writing = false
	removed := f.removed
	s.indexMu.Unlock()
	if removed && w.pinned {
		return w.errRemoved()
	}
	if !removed {
		if err := s.logAppend(f, append(recs, logRecord{typ: recSize, value: uint64(w.off)})...); err != nil && w.pinned {
			// The bytes are cached, but a restart would take them for
			// a partial file, or drop them: they may be the only copy.
			return fmt.Errorf("cache file %d: record its end in its page log: %w", w.key.ID, err)
		}
	}
	return nil
}

// Abort discards the file version being written.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	if w.f == nil {
		return
	}
	w.discard()
	w.s.release(w.f)
}
