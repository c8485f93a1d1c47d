package blockstore

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"syscall"
)

// maxRunBytes caps the bytes one Source call fetches for a sequential
// reader. Under-stores charge per request, not per byte: an S3 server on
// the same small machine spends about a millisecond of CPU on each GET,
// more than it spends sending a 1 MiB page over loopback, so one call per
// page made a cold sequential read cost twice what it must. At 16 MiB a
// call's own cost is a few percent of its bytes' and larger runs save
// little, while a run also ties up a connection and is lost whole to a
// failure the under-store cannot resume. A constant rather than a
// property: the depth (Config.PrefetchPages) is what an operator tunes.
const maxRunBytes = 16 << 20

// firstRunPages is the length of a sequential reader's first run fetched
// ahead; each full run doubles the next, up to the cap, so a reader that
// stops early has had little fetched beyond what it read, and the first
// pages ahead arrive soon.
const firstRunPages = 2

// maxPrefetchBytes caps the bytes being fetched ahead of readers for the
// whole store, so that many sequential readers cannot flood the
// under-store. Pages fetched ahead hold no buffer until their bytes arrive.
const maxPrefetchBytes = 256 << 20

// fetch is one page being fetched from a source as part of a run, shared by
// every reader that misses the page meanwhile (single flight).
//
// pk, off, run, done and detached never change. err and buf are set before
// done is closed. The other fields are guarded by Store.indexMu.
type fetch struct {
	pk       pageKey
	off      int64
	run      *run
	done     chan struct{} // closed once the page is fetched (and cached) or failed
	detached bool          // fetched ahead: wanted even when no reader waits

	err       error
	buf       *[]byte // from Store.bufs, nil after a failure; returned when refs drops to 0 after finished
	finished  bool
	abandoned bool  // no reader waits and it was not fetched ahead: out of inflight
	refs      int   // the run plus every reader that will look at buf
	waiters   int   // readers waiting
	cache     bool  // some reader wants the page cached
	file      *file // where to cache the page (a reference is held); nil if nowhere
}

// run is one Source call for consecutive pages of a file, cut into pages as
// the bytes arrive: each page is cached and its readers woken before the
// next page is read.
//
// src, off, n, pages, ctx and cancel never change; next is guarded by
// Store.indexMu.
type run struct {
	src    Source
	off    int64 // file offset of pages[0]
	n      int64 // bytes of all pages
	pages  []*fetch
	ctx    context.Context
	cancel func()
	next   int // pages before next are finished
}

// wantedLocked reports whether some page the run has not finished is still
// wanted by a reader or was fetched ahead.
func (r *run) wantedLocked() bool {
	for _, fe := range r.pages[r.next:] {
		if !fe.abandoned {
			return true
		}
	}
	return false
}

// runCap is the most pages one Source call fetches.
func (s *Store) runCap() int64 {
	return max(1, maxRunBytes/s.pageSize)
}

// prefetchRunCap is the most pages one run fetched ahead holds: at most
// half the prefetch depth, so that a run is in flight while the reader
// consumes the one before it.
func (s *Store) prefetchRunCap() int64 {
	return max(1, min(s.runCap(), int64(s.prefetch)/2))
}

// startRunLocked starts one Source call fetching pages [from, to) of key's
// file, none of which may be in flight, and returns it. f, when set, is
// where the pages are cached if cache (a reference is taken per page).
// detached runs are fetched ahead of readers.
func (s *Store) startRunLocked(ctx context.Context, key FileKey, f *file, size, from, to int64, src Source, cache, detached bool) *run {
	// The run outlives the reader that starts it (others may join, or it
	// is fetched ahead), so it keeps ctx's values but not its
	// cancellation, and stops when the store closes.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(s.ctx, cancel)
	r := &run{
		src:    src,
		off:    from * s.pageSize,
		pages:  make([]*fetch, 0, to-from),
		ctx:    rctx,
		cancel: func() { stop(); cancel() },
	}
	for idx := from; idx < to; idx++ {
		pk := pageKey{key: key, idx: idx, n: pageLen(size, s.pageSize, idx)}
		fe := &fetch{pk: pk, off: idx * s.pageSize, run: r, done: make(chan struct{}),
			detached: detached, refs: 1, cache: cache}
		if f != nil {
			f.refs++
			fe.file = f
		}
		s.inflight[pk] = fe
		if detached {
			s.prefetching += pk.n
		}
		r.pages = append(r.pages, fe)
		r.n += pk.n
	}
	s.fetchers.Add(1)
	go s.runFetch(r)
	return r
}

// joinLocked makes a reader wait for fe; it must call await.
func (s *Store) joinLocked(fe *fetch, f *file, cache bool) {
	fe.refs++
	fe.waiters++
	if cache {
		fe.cache = true
	}
	if fe.file == nil && f != nil {
		f.refs++
		fe.file = f
	}
}

// joinOrStartLocked returns the fetch of page idx for a reader, joining one
// in flight or starting a run of that page alone. The reader must call
// await.
func (s *Store) joinOrStartLocked(ctx context.Context, key FileKey, f *file, size, idx int64, src Source, cache bool) *fetch {
	pk := pageKey{key: key, idx: idx, n: pageLen(size, s.pageSize, idx)}
	fe := s.inflight[pk]
	if fe == nil {
		fe = s.startRunLocked(ctx, key, f, size, idx, idx+1, src, cache, false).pages[0]
	}
	s.joinLocked(fe, f, cache)
	return fe
}

// missLocked adds the fetches of the missing pages of a read from idx to
// misses, joining pages in flight and starting a run for a stretch of pages
// neither present nor in flight: for a sequential reader the whole stretch
// (up to last and the run cap) in one Source call, otherwise page idx
// alone. It returns the last page it covered.
func (s *Store) missLocked(ctx context.Context, key FileKey, f *file, size, idx, last int64, src Source, cache, sequential bool, misses []miss) (int64, []miss) {
	pk := pageKey{key: key, idx: idx, n: pageLen(size, s.pageSize, idx)}
	if fe := s.inflight[pk]; fe != nil {
		s.joinLocked(fe, f, cache)
		return idx, append(misses, miss{idx: idx, fe: fe})
	}
	to := idx + 1
	if sequential {
		for to <= last && to-idx < s.runCap() && !f.has(to) {
			pk := pageKey{key: key, idx: to, n: pageLen(size, s.pageSize, to)}
			if s.inflight[pk] != nil || s.fresh[pk] != nil {
				break
			}
			to++
		}
	}
	r := s.startRunLocked(ctx, key, f, size, idx, to, src, cache, false)
	for _, fe := range r.pages {
		s.joinLocked(fe, f, cache)
		misses = append(misses, miss{idx: fe.pk.idx, fe: fe})
	}
	return to - 1, misses
}

type prefetchLimitKey struct{}

// WithPrefetchLimit returns a context under which ReadAt prefetches no page
// at or past offset end: a worker that is the home of one block of a file
// leaves the next block to its own home.
func WithPrefetchLimit(ctx context.Context, end int64) context.Context {
	return context.WithValue(ctx, prefetchLimitKey{}, end)
}

// prefetchLocked fetches ahead of a sequential reader of f whose read ended
// at page from: the pages of the next s.prefetch that are neither present,
// busy nor in flight, in runs of f.runPages pages that double up to
// prefetchRunCap. A run shorter than that starts only where something
// present or in flight (or the end of the file or of the prefetch limit)
// cuts it; otherwise it waits until the reader has moved on far enough for
// a whole run to fit, so that runs stay long.
func (s *Store) prefetchLocked(ctx context.Context, key FileKey, f *file, size, from int64, src Source) {
	if f.dir.failed || f.moving {
		return // nowhere to cache the pages
	}
	np := numPages(size, s.pageSize)
	if lim, ok := ctx.Value(prefetchLimitKey{}).(int64); ok && lim < size {
		np = numPages(lim, s.pageSize)
	}
	end := min(from+int64(s.prefetch), np)
	want := func(idx int64) bool {
		pk := pageKey{key: key, idx: idx, n: pageLen(size, s.pageSize, idx)}
		return !f.has(idx) && f.busy[idx] == 0 && s.inflight[pk] == nil && s.fresh[pk] == nil
	}
	runCap := s.prefetchRunCap()
	for idx := from; idx < end; {
		if !want(idx) {
			idx++
			continue
		}
		n := min(max(f.runPages, firstRunPages), runCap)
		to := idx + 1
		for to < end && to-idx < n && want(to) {
			to++
		}
		if to-idx < n && to == end && end < np {
			return // the rest of the window waits for a whole run
		}
		var bytes int64
		for i := idx; i < to; i++ {
			bytes += pageLen(size, s.pageSize, i)
		}
		if s.prefetching+bytes > maxPrefetchBytes {
			return
		}
		s.startRunLocked(ctx, key, f, size, idx, to, src, true, true)
		if to-idx == n {
			f.runPages = min(2*n, runCap)
		}
		idx = to
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
// gives up before the fetch finished. A run none of whose unfinished pages
// is wanted any more is cancelled.
func (s *Store) dropFetch(fe *fetch, abandon bool) {
	s.indexMu.Lock()
	fe.refs--
	cancel := false
	if abandon {
		fe.waiters--
		if fe.waiters == 0 && !fe.detached && !fe.finished {
			fe.abandoned = true
			// Later readers start afresh rather than join a page that
			// may be cancelled.
			if s.inflight[fe.pk] == fe {
				delete(s.inflight, fe.pk)
			}
			cancel = !fe.run.wantedLocked()
		}
	}
	var put *[]byte
	if fe.refs == 0 && fe.finished {
		put = fe.buf
	}
	s.indexMu.Unlock()
	if cancel {
		fe.run.cancel()
	}
	if put != nil {
		s.bufs.Put(put)
	}
}

// runFetch is the goroutine of one run: it makes the run's Source call and
// reads the answer page by page into pooled buffers, caching each page if
// wanted and waking its readers before reading the next. When the call
// fails, the pages not read yet fail with its error; the pages before stay
// fetched. It stops when the run's context is cancelled (no unfinished
// page wanted, or Close).
func (s *Store) runFetch(r *run) {
	defer s.fetchers.Done()
	defer r.cancel()
	rc, err := r.src(r.ctx, r.off, r.n)
	if err != nil {
		err = s.runError(r, 0, err)
		rc = nil
	}
	for i, fe := range r.pages {
		var buf *[]byte
		if err == nil {
			buf = s.bufs.Get().(*[]byte)
			data := (*buf)[:fe.pk.n]
			// When a reader wants the page cached, its checksum is
			// computed as its bytes arrive (see readSum) and the page
			// written whole.
			fl, later := s.beginFill(fe)
			var sum *uint32
			if fl != nil {
				sum = &fl.crc
			}
			rerr := readSum(rc, data, sum)
			if rerr == nil && fl != nil {
				fl.write(data)
			}
			if rerr == nil && i == len(r.pages)-1 {
				rerr, rc = rc.Close(), nil
			}
			if rerr != nil {
				if errors.Is(rerr, io.EOF) {
					rerr = io.ErrUnexpectedEOF // the source is shorter than the file
				}
				if fl != nil {
					s.endFill(fl, rerr)
				}
				err = s.runError(r, i, rerr)
				s.bufs.Put(buf)
				buf = nil
			} else {
				s.bytesReadSource.Add(fe.pk.n)
				if fl != nil {
					s.endFill(fl, nil)
				} else if later {
					s.fill(fe, data) // a reader that wants it cached joined meanwhile
				}
			}
		}
		s.finish(r, i, buf, err)
	}
	if rc != nil {
		rc.Close()
	}
}

// runError is the error of the pages of r from pages[i] on after the
// source failed with err there; it is logged at debug level when the run
// was fetched ahead (no reader saw it).
func (s *Store) runError(r *run, i int, err error) error {
	first, last, at := r.pages[0], r.pages[len(r.pages)-1], r.pages[i]
	if len(r.pages) == 1 {
		err = fmt.Errorf("blockstore: fetch file %d page %d (%d bytes at %d) from source: %w",
			first.pk.key.ID, first.pk.idx, r.n, r.off, err)
	} else {
		err = fmt.Errorf("blockstore: fetch file %d pages %d-%d (%d bytes at %d) from source, failed at page %d: %w",
			first.pk.key.ID, first.pk.idx, last.pk.idx, r.n, r.off, at.pk.idx, err)
	}
	if at.detached {
		s.log.Debug("prefetch failed", "file", first.pk.key.ID, "page", at.pk.idx, "err", err)
	}
	return err
}

// finish records the outcome of page i of r (buf holds its bytes unless err
// is set) and wakes its readers.
func (s *Store) finish(r *run, i int, buf *[]byte, err error) {
	fe := r.pages[i]
	s.indexMu.Lock()
	fe.err = err
	fe.buf = buf
	fe.finished = true
	r.next = i + 1
	if s.inflight[fe.pk] == fe {
		delete(s.inflight, fe.pk)
	}
	if fe.detached {
		s.prefetching -= fe.pk.n
	}
	fe.refs--
	putBuf := fe.refs == 0 && buf != nil
	if putBuf && fe.detached && s.keepFreshLocked(fe.pk, buf) {
		// Fetched ahead and no reader waits: keep the bytes for the
		// reader to come.
		putBuf, fe.buf = false, nil
	}
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

// readSum reads len(b) bytes from r into b, as io.ReadFull does (an
// io.EOF after some bytes is io.ErrUnexpectedEOF), and when sum is set
// adds them to the crc32c *sum after each Read: the checksum then reads
// the bytes the socket read has just left in the CPU's cache (each Read
// of a GET body returns a few hundred KiB here) instead of a whole page,
// most of which has been pushed out to memory by the time the page is
// complete. On a 1 GiB cold read from S3 this cut the checksums' share of
// the worker's CPU from about 11% to 7%, without a syscall more (reading
// and writing a page in smaller chunks instead cost more in syscalls and
// scheduling than the cache saved).
func readSum(r io.Reader, b []byte, sum *uint32) error {
	for a := 0; a < len(b); {
		n, err := r.Read(b[a:])
		if sum != nil {
			*sum = crc32.Update(*sum, castagnoli, b[a:a+n])
		}
		a += n
		switch {
		case a == len(b):
			return nil
		case err == io.EOF && a > 0:
			return io.ErrUnexpectedEOF
		case err != nil:
			return err
		}
	}
	return nil
}

// filling is a page being written into its file's backing file as its bytes
// arrive: room is reserved and the page marked busy until endFill.
type filling struct {
	f       *file
	idx     int64
	off     int64 // of the page in the backing file
	n       int64
	written int64
	crc     uint32 // crc32c of the page's bytes, computed by the caller
	err     error  // the first write error; nothing more is written after it
}

// fill writes a fetched page into fe.file's backing file if a reader wants it
// cached and room can be made. Failures only leave the page uncached; a
// write error that says the dir is unusable marks it failed.
func (s *Store) fill(fe *fetch, data []byte) {
	fl, _ := s.beginFill(fe)
	if fl == nil {
		return
	}
	fl.crc = pageCRC(data)
	fl.write(data)
	s.endFill(fl, nil)
}

// beginFill reserves room for fe's page in fe.file's dir and marks the page
// busy, for its bytes to be written with filling.write and the page added
// by endFill. It returns nil when the page is not to be cached: later is
// set when that is only because no reader has asked for it to be cached
// yet (one may join the fetch before its bytes have arrived).
func (s *Store) beginFill(fe *fetch) (fl *filling, later bool) {
	idx, n := fe.pk.idx, fe.pk.n
	s.indexMu.Lock()
	f := fe.file
	if f == nil || !fe.cache {
		s.indexMu.Unlock()
		return nil, true
	}
	if s.closed || f.removed || f.writing || f.moving || f.dir.failed || f.has(idx) ||
		f.busy[idx] != 0 || pageLen(f.size, s.pageSize, idx) != n {
		s.indexMu.Unlock()
		return nil, false
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
		return nil, false
	}
	return &filling{f: f, idx: idx, off: fe.off, n: n}, false
}

// write writes b, the next bytes of the page (already added to fl.crc), at
// their place in the backing file.
func (fl *filling) write(b []byte) {
	if fl.err != nil {
		return
	}
	_, fl.err = fl.f.fd.WriteAt(b, fl.off+fl.written)
	fl.written += int64(len(b))
}

// endFill ends fl: the page becomes present (with its checksum in the page
// log) when all its bytes were written and readErr is nil; otherwise what
// was written is punched out and the room given back. A write error that
// says the dir is unusable marks it failed.
func (s *Store) endFill(fl *filling, readErr error) {
	f, idx, n, err := fl.f, fl.idx, fl.n, fl.err
	if err == nil && readErr == nil && fl.written != n {
		err = fmt.Errorf("blockstore: fill file %d page %d: %d of %d bytes written: %w",
			f.key.ID, idx, fl.written, n, syscall.EIO)
	}
	if err != nil || readErr != nil {
		// A partial write (a full tmpfs) or a page whose source broke
		// off may have allocated blocks; give them back.
		punchHole(f.fd, fl.off, n)
	}

	s.indexMu.Lock()
	delete(f.busy, idx)
	f.dir.reserved -= n
	added := err == nil && readErr == nil && !f.removed
	if added {
		s.markPresentLocked(f, idx, n, fl.crc)
	}
	newly := err != nil && s.markFailedLocked(f.dir, err)
	s.indexMu.Unlock()
	if added {
		s.logAppend(f, logRecord{typ: recPage, crc: fl.crc, value: uint64(idx)})
	}
	if newly {
		s.logFailed(f.dir, err)
	}
	if err != nil {
		s.warnOnce(&f.dir.warnedWrite, "writing a page to the tier dir failed; page served uncached",
			"tier", f.dir.alias, "dir", f.dir.path, "file", f.key.ID, "page", idx, "err", err)
	}
}
