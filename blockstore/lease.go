package blockstore

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// BackingID identifies a backing file by device and inode number. A
// process that holds a descriptor of the file keeps the inode alive, so no
// other file can carry the same BackingID meanwhile: a holder of a
// descriptor with this identity reads exactly the file a Lease names.
type BackingID struct {
	Dev, Ino uint64
}

// Lease pins the pages of a range of one cached file version, so that the
// bytes stay at their own offsets in the backing file (Backing) for a
// reader in another process that reads them there: none of the pages is
// evicted, punched or rewritten until Release. The file may still be
// demoted, promoted or removed meanwhile (a new version, a delete); that
// unlinks the backing file without touching its bytes, so a descriptor
// opened before stays right.
type Lease struct {
	s           *Store
	f           *file
	id          BackingID
	first, last int64 // the pinned pages
	once        sync.Once
}

// Backing is the identity of the backing file holding the leased bytes.
func (l *Lease) Backing() BackingID { return l.id }

// Open returns a read-only descriptor of the leased backing file, which the
// caller closes. It names the same inode even if the file was unlinked
// since (removed, moved to another tier).
func (l *Lease) Open() (*os.File, error) {
	rc, err := l.f.fd.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nf *os.File
	var oerr error
	err = rc.Control(func(fd uintptr) {
		// Reopening through /proc gives a read-only descriptor of the
		// same inode whatever became of its name.
		nf, oerr = os.Open("/proc/self/fd/" + strconv.Itoa(int(fd)))
	})
	if err == nil && oerr != nil {
		nf, oerr = os.Open(l.f.path) // no /proc: the name, checked below
	}
	if err == nil {
		err = oerr
	}
	if err != nil {
		return nil, fmt.Errorf("blockstore: open backing file of file %d (%s): %w", l.f.key.ID, l.f.path, err)
	}
	if id, err := backingID(nf); err != nil || id != l.id {
		nf.Close()
		return nil, fmt.Errorf("blockstore: open backing file of file %d (%s): the name holds another file now: %w",
			l.f.key.ID, l.f.path, syscall.ESTALE)
	}
	return nf, nil
}

// Release ends the lease: its pages may be evicted again. It may be called
// any number of times.
func (l *Lease) Release() {
	l.once.Do(func() {
		s := l.s
		s.indexMu.Lock()
		for idx := l.first; idx <= l.last; idx++ {
			l.f.unpin(idx)
		}
		after := s.releaseLocked(l.f)
		s.indexMu.Unlock()
		if after != nil {
			after()
		}
	})
}

// backingID is the device and inode of f.
func backingID(f *os.File) (BackingID, error) {
	fi, err := f.Stat()
	if err != nil {
		return BackingID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return BackingID{}, fmt.Errorf("blockstore: stat %s: no device and inode: %w", f.Name(), syscall.EOPNOTSUPP)
	}
	return BackingID{Dev: uint64(st.Dev), Ino: st.Ino}, nil
}

// ReadLease is ReadAt for a reader that reads the cached bytes from the
// backing file itself: it makes the pages of [off, off+n) of key's file
// (of length size) present, fetching the missing ones from src as ReadAt
// does (prefetching ahead of a sequential reader included), and returns a
// Lease that pins them, with the number of leased bytes (n cut at the end
// of the file; io.EOF when cut).
//
// When it cannot lease the range it reads the first len(p) bytes of it
// into p as ReadAt would and returns a nil Lease with the bytes read:
// when a page cannot be cached (no room, a failing dir, a file being
// written, rt ReadNoCache with pages missing) or, on a tier that verifies
// reads, a page was not verified since it was written (the read through p
// verifies it, so the next lease of it succeeds). p may be shorter than n,
// even empty.
func (s *Store) ReadLease(ctx context.Context, key FileKey, size int64, src Source, p []byte, off, n int64, rt ReadType) (*Lease, int, error) {
	if off < 0 || size < 0 || n < int64(len(p)) || src == nil {
		return nil, 0, fmt.Errorf("blockstore: lease file %d at %d (size %d, length %d, buffer %d, source set %t): %w",
			key.ID, off, size, n, len(p), src != nil, syscall.EINVAL)
	}
	if off >= size {
		return nil, 0, io.EOF
	}
	end := min(off+n, size)
	pend := min(off+int64(len(p)), size)
	eof := func(got int64, want int64) (int, error) {
		if got < want {
			return int(got), io.EOF
		}
		return int(got), nil
	}
	if n == 0 {
		return nil, 0, nil
	}
	cache := rt != ReadNoCache
	f, err := s.acquire(ctx, key, size, cache)
	if err != nil {
		return nil, 0, fmt.Errorf("blockstore: lease file %d at %d: %w", key.ID, off, err)
	}
	if f == nil || !s.leasable(f, key, size, off, end, rt) {
		err := s.readRange(ctx, key, f, size, src, p[:pend-off], off, rt)
		if f != nil {
			s.release(f)
		}
		if err != nil {
			return nil, 0, err
		}
		m, err := eof(pend-off, int64(len(p)))
		return nil, m, err
	}
	l, err := s.leaseRange(ctx, key, f, size, src, p[:pend-off], off, end, rt)
	if l == nil {
		s.release(f) // a lease keeps f's reference until Release
	}
	if err != nil {
		return nil, 0, err
	}
	if l == nil {
		m, err := eof(pend-off, int64(len(p)))
		return nil, m, err
	}
	m, err := eof(end-off, n)
	return l, m, err
}

// leasable reports whether a lease of [off, end) of f can be tried without
// fetching anything in vain: pages not verified on a tier that verifies
// reads, or (rt ReadNoCache) pages missing, would end in a read through
// the caller's buffer.
func (s *Store) leasable(f *file, key FileKey, size, off, end int64, rt ReadType) bool {
	ps := s.pageSize
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	if f.writing || f.removed {
		return false
	}
	for idx := off / ps; idx <= (end-1)/ps; idx++ {
		has := f.has(idx)
		if !has && rt == ReadNoCache {
			return false
		}
		if has && f.dir.verify && !f.isVerified(idx) {
			return false
		}
	}
	return true
}

// leaseRange is ReadLease for a cached file f: it pins the present pages
// of [off, end), fetches the missing ones and pins them once cached. If
// one could not be cached it fills p (within [off, end)) from the pages
// pinned and fetched, unpins them and returns nil.
func (s *Store) leaseRange(ctx context.Context, key FileKey, f *file, size int64, src Source, p []byte, off, end int64, rt ReadType) (*Lease, error) {
	ps := s.pageSize
	first, last := off/ps, (end-1)/ps
	var hitBuf [8]hit
	var missBuf [8]miss
	var freshBuf [4]*freshPage
	hits, misses, fresh := hitBuf[:0], missBuf[:0], freshBuf[:0]

	s.indexMu.Lock()
	if s.closed {
		s.indexMu.Unlock()
		return nil, errClosed
	}
	sequential := f.lastEnd == off
	f.lastEnd = end
	if !sequential {
		f.runPages = 0
	}
	for idx := first; idx <= last; idx++ {
		pk := pageKey{key: key, idx: idx, n: pageLen(size, ps, idx)}
		if f.has(idx) {
			if fp := s.fresh[pk]; fp != nil && end >= idx*ps+pk.n {
				s.dropFreshLocked(fp) // its reader reads the tier instead
			}
			f.pin(idx)
			s.touchLocked(f, idx)
			hits = append(hits, hit{idx: idx, crc: f.crc(idx)})
			continue
		}
		if fp := s.takeFreshLocked(pk, end >= idx*ps+pk.n); fp != nil {
			// Fetched ahead, and no longer (or not yet) cached: the
			// page is cached from the kept bytes below.
			fresh = append(fresh, fp)
			continue
		}
		idx, misses = s.missLocked(ctx, key, f, size, idx, last, src, true, sequential, misses)
	}
	if sequential && s.prefetch > 0 {
		s.prefetchLocked(ctx, key, f, size, last+1, src)
	}
	if rt == ReadCachePromote && len(hits) > 0 && f.dir.level > 0 {
		s.queuePromoteLocked(f)
	}
	s.indexMu.Unlock()

	// Cache the pages fetched ahead whose bytes were kept; a page that
	// cannot be cached is copied into p below.
	for _, fp := range fresh {
		s.fill(&fetch{pk: fp.pk, off: fp.pk.idx * ps, file: f, cache: true}, (*fp.buf)[:fp.pk.n])
	}

	// Wait for the misses without copying: the bytes are read from the
	// backing file once the pages are cached.
	var werr error
	for _, m := range misses {
		select {
		case <-m.fe.done:
			if m.fe.err != nil && werr == nil {
				werr = m.fe.err
			}
		case <-ctx.Done():
			werr = fmt.Errorf("blockstore: lease file %d page %d: %w", key.ID, m.idx, ctx.Err())
		}
		if werr != nil {
			break
		}
	}
	unpin := func(pages []hit) {
		s.indexMu.Lock()
		for _, h := range pages {
			f.unpin(h.idx)
		}
		s.indexMu.Unlock()
	}
	if werr != nil {
		for _, m := range misses {
			s.dropFetch(m.fe, !isDone(m.fe))
		}
		for _, fp := range fresh {
			s.doneFresh(fp)
		}
		unpin(hits)
		return nil, werr
	}

	// Pin the fetched pages that were cached (and are still present).
	var late []hit
	cached := true
	usable := func(idx int64) bool {
		return f.has(idx) && f.busy[idx] == 0 && !f.removed && !(f.dir.verify && !f.isVerified(idx))
	}
	s.indexMu.Lock()
	for _, m := range misses {
		if usable(m.idx) {
			f.pin(m.idx)
			late = append(late, hit{idx: m.idx})
		} else {
			cached = false
		}
	}
	for _, fp := range fresh {
		if usable(fp.pk.idx) {
			f.pin(fp.pk.idx)
			late = append(late, hit{idx: fp.pk.idx})
		} else {
			cached = false
		}
	}
	s.indexMu.Unlock()
	if cached {
		for _, m := range misses {
			s.dropFetch(m.fe, false)
		}
		for _, fp := range fresh {
			s.doneFresh(fp)
		}
		id, err := s.identity(f)
		if err != nil {
			unpin(hits)
			unpin(late)
			return nil, err
		}
		return &Lease{s: s, f: f, id: id, first: first, last: last}, nil
	}

	// A page could not be cached: answer through p as ReadAt does, from
	// the pages pinned before and the fetched buffers.
	pend := off + int64(len(p))
	var inP []hit
	for _, h := range hits {
		if h.idx*ps < pend {
			inP = append(inP, h)
		}
	}
	var bad, good []int64
	if len(inP) > 0 {
		if f.dir.verify {
			good, bad = s.readVerified(f, size, inP, p, off)
		} else {
			bad = s.readHits(f, inP, p, off)
		}
	}
	unpin(hits)
	unpin(late)
	if len(good) > 0 {
		s.indexMu.Lock()
		for _, idx := range good {
			if f.has(idx) {
				f.setVerified(idx)
			}
		}
		s.indexMu.Unlock()
	}
	for _, fp := range fresh {
		pageOff := fp.pk.idx * ps
		if a, b := max(pageOff, off), min(pageOff+fp.pk.n, pend); a < b {
			copy(p[a-off:b-off], (*fp.buf)[a-pageOff:b-pageOff])
		}
		s.doneFresh(fp)
	}
	var rerr error
	for _, m := range misses {
		pageOff := m.idx * ps
		a, b := max(pageOff, off), min(pageOff+m.fe.pk.n, pend)
		if a >= b {
			s.dropFetch(m.fe, false)
			continue
		}
		if err := s.await(ctx, m.fe, p[a-off:b-off], a-pageOff); err != nil && rerr == nil {
			rerr = err
		}
	}
	if len(bad) > 0 && rerr == nil {
		var again []miss
		again = s.refetch(ctx, key, f, size, src, bad, true, again)
		for _, m := range again {
			pageOff := m.idx * ps
			a, b := max(pageOff, off), min(pageOff+m.fe.pk.n, pend)
			if err := s.await(ctx, m.fe, p[a-off:b-off], a-pageOff); err != nil && rerr == nil {
				rerr = err
			}
		}
	}
	return nil, rerr
}

// isDone reports whether fe finished.
func isDone(fe *fetch) bool {
	select {
	case <-fe.done:
		return true
	default:
		return false
	}
}

// identity returns the BackingID of f's backing file, computed once.
func (s *Store) identity(f *file) (BackingID, error) {
	s.indexMu.Lock()
	id, ok := f.ident, f.identOK
	s.indexMu.Unlock()
	if ok {
		return id, nil
	}
	id, err := backingID(f.fd)
	if err != nil {
		return BackingID{}, fmt.Errorf("blockstore: backing file of file %d: %w", f.key.ID, err)
	}
	s.indexMu.Lock()
	f.ident, f.identOK = id, true
	s.indexMu.Unlock()
	return id, nil
}
