package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
)

// Source fetches n bytes of a file at off from where the file lives (the
// under-store). The store calls it for runs of whole consecutive pages (the
// last page of the file may be short): one page for a random reader, up to
// 16 MiB for a sequential one, each page in at most one call at a time:
// concurrent misses of a page share one fetch. Its context is cancelled
// when no reader waits for any page of the run it has not delivered yet and
// none of them was fetched ahead (a new miss then starts a new fetch,
// possibly while the cancelled one is still returning) or when the store
// closes; Close waits for it.
type Source func(ctx context.Context, off, n int64) (io.ReadCloser, error)

// ReadType says whether a read fills the cache, with Alluxio's meanings.
type ReadType int

const (
	// ReadCache caches the pages a read fetches (Alluxio's CACHE).
	ReadCache ReadType = iota
	// ReadCachePromote is CACHE_PROMOTE: like ReadCache, and a read that
	// hits a file on a lower tier level asks for the file to be moved to
	// level 0 in the background (when it fits there below the high
	// watermark). With a single level it is ReadCache.
	ReadCachePromote
	// ReadNoCache serves cached pages but caches nothing new (NO_CACHE).
	ReadNoCache
)

// String returns Alluxio's name of the read type.
func (rt ReadType) String() string {
	switch rt {
	case ReadCache:
		return "CACHE"
	case ReadCachePromote:
		return "CACHE_PROMOTE"
	case ReadNoCache:
		return "NO_CACHE"
	}
	return fmt.Sprintf("ReadType(%d)", int(rt))
}

// pageKey names one page fetch: the page index and its length, so callers
// that disagree on a file's length never share a buffer of the wrong size.
type pageKey struct {
	key FileKey
	idx int64
	n   int64
}

// ReadAt fills p with the bytes of key's file (of length size) at off, from
// cached pages or by fetching missing pages from src (caching them unless rt
// is ReadNoCache). It returns n < len(p) only at the end of the file, with
// io.EOF. When a reader is sequential (this call starts where the previous
// ReadAt of key ended) its missing pages are fetched with one Source call,
// and the next pages in the background, in runs of pages that grow to
// 16 MiB per call.
//
// A page that cannot be cached (no evictable room, or the tier's file system
// failing) is served from the fetched bytes. A cached page that fails its
// checksum (on tiers that verify reads) or cannot be read is punched out and
// fetched again like a miss. Only a failing source or ctx make ReadAt fail.
func (s *Store) ReadAt(ctx context.Context, key FileKey, size int64, src Source, p []byte, off int64, rt ReadType) (int, error) {
	if off < 0 || size < 0 || src == nil {
		return 0, fmt.Errorf("blockstore: read file %d at %d (size %d, source set %t): %w",
			key.ID, off, size, src != nil, syscall.EINVAL)
	}
	if off >= size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := min(off+int64(len(p)), size)
	cache := rt != ReadNoCache
	f, err := s.acquire(ctx, key, size, cache)
	if err != nil {
		return 0, fmt.Errorf("blockstore: read file %d at %d: %w", key.ID, off, err)
	}
	err = s.readRange(ctx, key, f, size, src, p[:end-off], off, rt)
	if f != nil {
		s.release(f)
	}
	if err != nil {
		return 0, err
	}
	if n := int(end - off); n < len(p) {
		return n, io.EOF
	}
	return len(p), nil
}

// miss is a page of a read that was not present.
type miss struct {
	idx int64
	fe  *fetch
}

// hit is a present page of a read, with the checksum it had when pinned.
type hit struct {
	idx int64
	crc uint32
}

// readRange fills p (within the file) from off. f is the cached version or
// nil when this read must not touch the cache.
func (s *Store) readRange(ctx context.Context, key FileKey, f *file, size int64, src Source, p []byte, off int64, rt ReadType) error {
	ps := s.pageSize
	cache := rt != ReadNoCache
	end := off + int64(len(p))
	first, last := off/ps, (end-1)/ps
	var hitBuf [4]hit
	var missBuf [4]miss
	var freshBuf [4]*freshPage
	hits, misses, fresh := hitBuf[:0], missBuf[:0], freshBuf[:0]

	s.indexMu.Lock()
	if s.closed {
		s.indexMu.Unlock()
		return errClosed
	}
	sequential := false
	if f != nil {
		sequential = f.lastEnd == off
		f.lastEnd = end
		if !sequential {
			f.runPages = 0
		}
	}
	for idx := first; idx <= last; idx++ {
		pk := pageKey{key: key, idx: idx, n: pageLen(size, ps, idx)}
		if fp := s.takeFreshLocked(pk, end >= idx*ps+pk.n); fp != nil {
			if f != nil && f.has(idx) {
				s.touchLocked(f, idx)
			}
			fresh = append(fresh, fp)
			continue
		}
		if f != nil && f.has(idx) {
			f.pin(idx)
			s.touchLocked(f, idx)
			hits = append(hits, hit{idx: idx, crc: f.crc(idx)})
			continue
		}
		idx, misses = s.missLocked(ctx, key, f, size, idx, last, src, cache, sequential, misses)
	}
	if sequential && cache && s.prefetch > 0 {
		s.prefetchLocked(ctx, key, f, size, last+1, src)
	}
	if rt == ReadCachePromote && len(hits) > 0 && f.dir.level > 0 {
		s.queuePromoteLocked(f)
	}
	s.indexMu.Unlock()

	// Pages fetched ahead whose bytes are still in memory.
	for _, fp := range fresh {
		pageOff := fp.pk.idx * ps
		a, b := max(pageOff, off), min(pageOff+fp.pk.n, end)
		copy(p[a-off:b-off], (*fp.buf)[a-pageOff:b-pageOff])
		s.bytesReadCache.Add(b - a)
		s.doneFresh(fp)
	}

	// Hits: pread runs of consecutive present pages straight into p. The
	// pages are pinned, so no eviction punches them meanwhile.
	var bad []int64 // pages that failed their checksum or could not be read
	var good []int64
	if len(hits) > 0 {
		if f.dir.verify {
			good, bad = s.readVerified(f, size, hits, p, off)
		} else {
			bad = s.readHits(f, hits, p, off)
		}
	}
	if len(hits) > 0 {
		s.indexMu.Lock()
		for _, h := range hits {
			f.unpin(h.idx)
		}
		for _, idx := range good {
			if f.has(idx) {
				f.setVerified(idx)
			}
		}
		s.indexMu.Unlock()
	}
	if len(bad) > 0 {
		misses = s.refetch(ctx, key, f, size, src, bad, cache, misses)
	}

	// Misses: wait for each page's shared fetch and copy the wanted range.
	var rerr error
	for _, m := range misses {
		pageOff := m.idx * ps
		a, b := max(pageOff, off), min(pageOff+m.fe.pk.n, end)
		if err := s.await(ctx, m.fe, p[a-off:b-off], a-pageOff); err != nil && rerr == nil {
			rerr = err
		}
	}
	return rerr
}

// readHits preads runs of consecutive present pages of f straight into p
// (which starts at file offset off), and returns the pages of the runs that
// could not be read.
func (s *Store) readHits(f *file, hits []hit, p []byte, off int64) (bad []int64) {
	ps := s.pageSize
	end := off + int64(len(p))
	for i := 0; i < len(hits); {
		j := i
		for j+1 < len(hits) && hits[j+1].idx == hits[j].idx+1 {
			j++
		}
		a, b := max(hits[i].idx*ps, off), min((hits[j].idx+1)*ps, end)
		if _, err := f.fd.ReadAt(p[a-off:b-off], a); err == nil {
			s.bytesReadCache.Add(b - a)
			i = j + 1
			continue
		}
		// Find out page by page which pages of the run are unreadable.
		for k := i; k <= j; k++ {
			a, b := max(hits[k].idx*ps, off), min((hits[k].idx+1)*ps, end)
			if _, err := f.fd.ReadAt(p[a-off:b-off], a); err != nil {
				if errors.Is(err, io.EOF) {
					// A present page lies past the backing file's end:
					// the file was damaged, not the dir.
					err = io.ErrUnexpectedEOF
				}
				s.corrupt(f, hits[k].idx, err)
				bad = append(bad, hits[k].idx)
				continue
			}
			s.bytesReadCache.Add(b - a)
		}
		i = j + 1
	}
	return bad
}

// readVerified is readHits for a tier that verifies reads: runs of pages
// that p covers whole are pread into p and checked there; a page p covers
// only in part is read whole into a pooled buffer, checked, and copied.
func (s *Store) readVerified(f *file, size int64, hits []hit, p []byte, off int64) (good, bad []int64) {
	ps := s.pageSize
	end := off + int64(len(p))
	whole := func(h hit) bool {
		return h.idx*ps >= off && h.idx*ps+pageLen(size, ps, h.idx) <= end
	}
	check := func(h hit, page []byte, err error) bool {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil || pageCRC(page) != h.crc {
			s.corrupt(f, h.idx, err)
			bad = append(bad, h.idx)
			return false
		}
		good = append(good, h.idx)
		return true
	}
	for i := 0; i < len(hits); {
		h := hits[i]
		if !whole(h) {
			n := pageLen(size, ps, h.idx)
			bp := s.bufs.Get().(*[]byte)
			page := (*bp)[:n]
			_, err := f.fd.ReadAt(page, h.idx*ps)
			if check(h, page, err) {
				a, b := max(h.idx*ps, off), min(h.idx*ps+n, end)
				copy(p[a-off:b-off], page[a-h.idx*ps:])
				s.bytesReadCache.Add(b - a)
			}
			s.bufs.Put(bp)
			i++
			continue
		}
		j := i
		for j+1 < len(hits) && hits[j+1].idx == hits[j].idx+1 && whole(hits[j+1]) {
			j++
		}
		a := hits[i].idx * ps
		b := hits[j].idx*ps + pageLen(size, ps, hits[j].idx)
		_, err := f.fd.ReadAt(p[a-off:b-off], a)
		for k := i; k <= j; k++ {
			pa, n := hits[k].idx*ps, pageLen(size, ps, hits[k].idx)
			page := p[pa-off : pa-off+n]
			perr := err
			if perr != nil {
				// Find out page by page which pages are unreadable.
				_, perr = f.fd.ReadAt(page, pa)
			}
			if check(hits[k], page, perr) {
				s.bytesReadCache.Add(n)
			}
		}
		i = j + 1
	}
	return good, bad
}

// refetch punches out cached pages of f that failed their checksum or could
// not be read, and fetches them again as misses (appended to misses).
func (s *Store) refetch(ctx context.Context, key FileKey, f *file, size int64, src Source, bad []int64, cache bool, misses []miss) []miss {
	var victims []victim
	s.indexMu.Lock()
	for _, idx := range bad {
		// A page pinned by another reader or a lease stays until they are
		// done with it; the fetch below is then served uncached.
		if f.has(idx) && f.busy[idx] == 0 && f.pins[idx] == 0 {
			victims = append(victims, s.dropPageLocked(f, idx))
		}
	}
	s.indexMu.Unlock()
	// Punch before fetching, so the fetched page can be cached again.
	s.punch(victims)
	s.indexMu.Lock()
	for _, idx := range bad {
		misses = append(misses, miss{idx: idx, fe: s.joinOrStartLocked(ctx, key, f, size, idx, src, cache)})
	}
	s.indexMu.Unlock()
	return misses
}
