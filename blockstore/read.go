package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
)

// Source fetches n bytes of a file at off from where the file lives (the
// under-store). The store calls it for whole pages (the last page may be
// short), once at a time per page: concurrent misses of a page share one
// fetch. Its context is cancelled when every reader waiting for the page has
// given up (a new miss then starts a new fetch, possibly while the cancelled
// one is still returning) or when the store closes; Close waits for it.
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

// fetch is one page being fetched from a source, shared by every reader that
// misses the page meanwhile (single flight).
//
// pk, off, src, ctx, cancel, done and detached never change. err and buf are
// set before done is closed. The other fields are guarded by Store.indexMu.
type fetch struct {
	pk       pageKey
	off      int64
	src      Source
	ctx      context.Context
	cancel   func()
	done     chan struct{} // closed once the page is fetched (and cached) or failed
	detached bool          // a prefetch: runs on even when no reader waits

	err      error
	buf      *[]byte // from Store.bufs; returned when refs drops to 0 after finished
	finished bool
	refs     int   // the fetch goroutine plus every reader that will look at buf
	waiters  int   // readers waiting; a non-detached fetch is cancelled at 0
	cache    bool  // some reader wants the page cached
	file     *file // where to cache the page (a reference is held); nil if nowhere
}

// ReadAt fills p with the bytes of key's file (of length size) at off, from
// cached pages or by fetching missing pages from src (caching them unless rt
// is ReadNoCache). It returns n < len(p) only at the end of the file, with
// io.EOF. When a reader is sequential (this call starts where the previous
// ReadAt of key ended) the next pages are fetched in the background.
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
	hits, misses := hitBuf[:0], missBuf[:0]

	s.indexMu.Lock()
	if s.closed {
		s.indexMu.Unlock()
		return errClosed
	}
	sequential := false
	if f != nil {
		sequential = f.lastEnd == off
		f.lastEnd = end
	}
	for idx := first; idx <= last; idx++ {
		if f != nil && f.has(idx) {
			f.pin(idx)
			s.touchLocked(f, idx)
			hits = append(hits, hit{idx: idx, crc: f.crc(idx)})
			continue
		}
		fe := s.joinOrStartLocked(ctx, key, f, size, idx, src, cache, false)
		misses = append(misses, miss{idx: idx, fe: fe})
	}
	if sequential && cache && s.prefetch > 0 {
		s.prefetchLocked(ctx, key, f, size, last+1, src)
	}
	if rt == ReadCachePromote && len(hits) > 0 && f.dir.level > 0 {
		s.queuePromoteLocked(f)
	}
	s.indexMu.Unlock()

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
		if f.has(idx) && f.busy[idx] == 0 {
			victims = append(victims, s.dropPageLocked(f, idx))
		}
	}
	s.indexMu.Unlock()
	// Punch before fetching, so the fetched page can be cached again.
	s.punch(victims)
	s.indexMu.Lock()
	for _, idx := range bad {
		misses = append(misses, miss{idx: idx, fe: s.joinOrStartLocked(ctx, key, f, size, idx, src, cache, false)})
	}
	s.indexMu.Unlock()
	return misses
}

// joinOrStartLocked returns the fetch of page idx, joining one in flight or
// starting one. A reader joining (prefetch false) must call await.
func (s *Store) joinOrStartLocked(ctx context.Context, key FileKey, f *file, size, idx int64, src Source, cache, prefetch bool) *fetch {
	pk := pageKey{key: key, idx: idx, n: pageLen(size, s.pageSize, idx)}
	fe := s.inflight[pk]
	if fe == nil {
		// The fetch outlives the reader that starts it (others may join, or
		// it is a prefetch), so it keeps ctx's values but not its
		// cancellation, and stops when the store closes.
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(s.ctx, cancel)
		fe = &fetch{
			pk:       pk,
			off:      idx * s.pageSize,
			src:      src,
			ctx:      fctx,
			cancel:   func() { stop(); cancel() },
			done:     make(chan struct{}),
			detached: prefetch,
			refs:     1,
		}
		s.inflight[pk] = fe
		if prefetch {
			s.prefetching++
		}
		s.fetchers.Add(1)
		go s.runFetch(fe)
	}
	if !prefetch {
		fe.refs++
		fe.waiters++
	}
	if cache {
		fe.cache = true
	}
	if fe.file == nil && f != nil {
		f.refs++
		fe.file = f
	}
	return fe
}

type prefetchLimitKey struct{}

// WithPrefetchLimit returns a context under which ReadAt prefetches no page
// at or past offset end: a worker that is the home of one block of a file
// leaves the next block to its own home.
func WithPrefetchLimit(ctx context.Context, end int64) context.Context {
	return context.WithValue(ctx, prefetchLimitKey{}, end)
}

// prefetchLocked starts background fetches of the pages from idx on that are
// neither present nor in flight.
func (s *Store) prefetchLocked(ctx context.Context, key FileKey, f *file, size, from int64, src Source) {
	if f.dir.failed || f.moving {
		return // nowhere to cache the pages
	}
	np := numPages(size, s.pageSize)
	if lim, ok := ctx.Value(prefetchLimitKey{}).(int64); ok && lim < size {
		np = numPages(lim, s.pageSize)
	}
	for idx := from; idx < from+int64(s.prefetch) && idx < np; idx++ {
		if s.prefetching >= maxPrefetching {
			return
		}
		if f.has(idx) || f.busy[idx] != 0 {
			continue
		}
		if s.inflight[pageKey{key: key, idx: idx, n: pageLen(size, s.pageSize, idx)}] != nil {
			continue
		}
		s.joinOrStartLocked(ctx, key, f, size, idx, src, true, true)
	}
}

// await waits for fe and copies its page bytes from srcOff into dst.
func (s *Store) await(ctx context.Context, fe *fetch, dst []byte, srcOff int64) error {
	select {
	case <-fe.done:
		err := fe.err
		if err == nil {
			copy(dst, (*fe.buf)[srcOff:])
		}
		s.dropFetch(fe, false)
		return err
	case <-ctx.Done():
		s.dropFetch(fe, true)
		return fmt.Errorf("blockstore: read file %d page %d: %w", fe.pk.key.ID, fe.pk.idx, ctx.Err())
	}
}

// dropFetch ends a reader's interest in fe; abandon is set when the reader
// gives up before the fetch finished.
func (s *Store) dropFetch(fe *fetch, abandon bool) {
	s.indexMu.Lock()
	fe.refs--
	cancel := false
	if abandon {
		fe.waiters--
		if fe.waiters == 0 && !fe.detached && !fe.finished {
			cancel = true
			// Later readers start afresh rather than join a cancelled fetch.
			if s.inflight[fe.pk] == fe {
				delete(s.inflight, fe.pk)
			}
		}
	}
	putBuf := fe.refs == 0 && fe.finished
	s.indexMu.Unlock()
	if cancel {
		fe.cancel()
	}
	if putBuf {
		s.bufs.Put(fe.buf)
	}
}

// runFetch is the goroutine of one fetch: it reads the page from the source
// into a pooled buffer, caches it if wanted, and wakes the readers. It stops
// when the fetch's context is cancelled (all readers gone, or Close).
func (s *Store) runFetch(fe *fetch) {
	defer s.fetchers.Done()
	defer fe.cancel()
	buf := s.bufs.Get().(*[]byte)
	data := (*buf)[:fe.pk.n]
	err := s.fetchPage(fe, data)
	if err == nil {
		s.bytesReadSource.Add(fe.pk.n)
		s.fill(fe, data)
	} else if fe.detached {
		s.log.Debug("prefetch failed", "file", fe.pk.key.ID, "page", fe.pk.idx, "err", err)
	}

	s.indexMu.Lock()
	fe.err = err
	fe.buf = buf
	fe.finished = true
	if s.inflight[fe.pk] == fe {
		delete(s.inflight, fe.pk)
	}
	if fe.detached {
		s.prefetching--
	}
	fe.refs--
	putBuf := fe.refs == 0
	var after func()
	if fe.file != nil {
		after = s.releaseLocked(fe.file)
	}
	s.indexMu.Unlock()
	if putBuf {
		s.bufs.Put(buf)
	}
	close(fe.done)
	if after != nil {
		after()
	}
}

// fetchPage reads the whole page of fe from its source into data.
func (s *Store) fetchPage(fe *fetch, data []byte) error {
	fail := func(err error) error {
		return fmt.Errorf("blockstore: fetch file %d page %d (%d bytes at %d) from source: %w",
			fe.pk.key.ID, fe.pk.idx, len(data), fe.off, err)
	}
	rc, err := fe.src(fe.ctx, fe.off, int64(len(data)))
	if err != nil {
		return fail(err)
	}
	_, err = io.ReadFull(rc, data)
	if cerr := rc.Close(); err == nil && cerr != nil {
		return fail(cerr)
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // the source is shorter than the file
	}
	if err != nil {
		return fail(err)
	}
	return nil
}

// fill writes a fetched page into fe.file's backing file if a reader wants it
// cached and room can be made. Failures only leave the page uncached; a
// write error that says the dir is unusable marks it failed.
func (s *Store) fill(fe *fetch, data []byte) {
	idx, n := fe.pk.idx, fe.pk.n
	s.indexMu.Lock()
	f := fe.file
	if f == nil || !fe.cache || s.closed || f.removed || f.writing || f.moving || f.dir.failed || f.has(idx) ||
		f.busy[idx] != 0 || pageLen(f.size, s.pageSize, idx) != n {
		s.indexMu.Unlock()
		return
	}
	victims, ok := s.reserveLocked(f.dir, n, true)
	if ok {
		f.setBusy(idx, pageFilling)
	}
	s.indexMu.Unlock()
	s.punch(victims)
	if !ok {
		s.log.Debug("no room to cache page; served uncached", "tier", f.dir.alias, "dir", f.dir.path,
			"file", f.key.ID, "page", idx)
		return
	}

	crc := pageCRC(data)
	_, err := f.fd.WriteAt(data, fe.off)
	if err != nil {
		// A partial write (a full tmpfs) may have allocated blocks; give
		// them back.
		punchHole(f.fd, fe.off, n)
	}

	s.indexMu.Lock()
	delete(f.busy, idx)
	f.dir.reserved -= n
	added := err == nil && !f.removed
	if added {
		s.markPresentLocked(f, idx, n, crc)
	}
	newly := err != nil && s.markFailedLocked(f.dir, err)
	s.indexMu.Unlock()
	if added {
		s.logAppend(f, logRecord{typ: recPage, crc: crc, value: uint64(idx)})
	}
	if newly {
		s.logFailed(f.dir, err)
	}
	if err != nil {
		s.warnOnce(&f.dir.warnedWrite, "writing a page to the tier dir failed; page served uncached",
			"tier", f.dir.alias, "dir", f.dir.path, "file", f.key.ID, "page", idx, "err", err)
	}
}
